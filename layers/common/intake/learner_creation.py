"""Creating one learner, shared by POST /learners and the bulk worker: build it, hash, conditional insert under a
free username, audit; and re-entry, giving an inactive learner its account back.

Storage goes through a LearnerRepository port: STORE (the DynamoDB tables through intake.dal) in production, an
in-memory one in unit tests. The callers decide where and with which password (scope checks, given or generated
passwords); this module makes the learner exist exactly once, under a username no other learner of its agency
ever had, and says what the audit trail records for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from itertools import islice
from typing import Protocol

from intake import audit, clock, passwords, rules
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import (
    AuditEntry,
    HistoryEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    Location,
    history_entry,
    move_of,
)
from intake.errors import Conflict, UsernameTaken

# How many usernames one creation tries (base, base2, base3, ...) before giving up: far more than any agency needs.
USERNAME_TRIES = 1000


class LearnerRepository(Protocol):
    """Where learners are created, read and changed, and locations read."""

    def get_location(self, location_id: str) -> Location | None: ...

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner: ...

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None: ...

    def get_by_id(self, learner_id: str) -> Learner | None: ...

    def move_learner(self, learner: Learner, destination: Location, move: HistoryEntry) -> Learner: ...

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner: ...

    def update_details(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> Learner: ...

    def set_status(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None: ...

    def update_at_version(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> bool: ...

    def set_status_at_version(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool: ...

    def set_password_hash(self, learner: Learner, password_hash: str, entry: HistoryEntry) -> Learner: ...

    def list_roster(
        self,
        facility_id: str,
        statuses: tuple[LearnerStatus, ...],
        location_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Learner], str | None]: ...

    def search_roster(
        self, facility_id: str, statuses: tuple[LearnerStatus, ...], q: str, location_id: str | None, limit: int
    ) -> list[Learner]: ...


class StoredLearners:
    """The repository of the deployed app: the learners and directory tables (each call looked up when made)."""

    def get_location(self, location_id: str) -> Location | None:
        return directory.get_location(location_id)

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner:
        return learner_store.insert_learner(learner, password_hash)

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None:
        return learner_store.get_by_doc_id(agency_id, doc_id)

    def get_by_id(self, learner_id: str) -> Learner | None:
        return learner_store.get_by_id(learner_id)

    def move_learner(self, learner: Learner, destination: Location, move: HistoryEntry) -> Learner:
        return learner_store.move_learner(learner, destination, move)

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner:
        return learner_store.reactivate(learner, destination, password_hash, entries, upload_id)

    def update_details(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> Learner:
        return learner_store.update_details(learner, changes, entry, destination)

    def set_status(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None:
        return learner_store.set_status(learner, status, entry)

    def update_at_version(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> bool:
        return learner_store.update_at_version(learner, changes, entry, destination)

    def set_status_at_version(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool:
        return learner_store.set_status_at_version(learner, status, entry)

    def set_password_hash(self, learner: Learner, password_hash: str, entry: HistoryEntry) -> Learner:
        return learner_store.set_password_hash(learner, password_hash, entry)

    def list_roster(
        self,
        facility_id: str,
        statuses: tuple[LearnerStatus, ...],
        location_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Learner], str | None]:
        return learner_store.list_roster(facility_id, statuses, location_id, limit, cursor)

    def search_roster(
        self, facility_id: str, statuses: tuple[LearnerStatus, ...], q: str, location_id: str | None, limit: int
    ) -> list[Learner]:
        return learner_store.search_roster(facility_id, statuses, q, location_id, limit)


STORE = StoredLearners()


def new_learner_id() -> str:
    """A new, random learner id."""
    return str(uuid.uuid4())


def new_learner(
    *,
    agency_id: str,
    doc_id: str,
    first_name: str,
    last_name: str,
    date_of_birth: str,
    location_id: str,
    facility_id: str,
    created_by: str,
    upload_id: str | None = None,
) -> Learner:
    """A learner not yet stored, with a new id, created now by `created_by` (from an upload, if given)."""
    return Learner(
        learner_id=new_learner_id(),
        agency_id=agency_id,
        doc_id=doc_id,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        location_id=location_id,
        facility_id=facility_id,
        created_at=clock.utc_now(),
        created_by=created_by,
        upload_id=upload_id,
    )


# What turns a password into its stored hash: passwords.hash_password, or the bulk worker's hashes made ahead.
Hasher = Callable[[str], str]


def insert(
    learner: Learner, password: str, repository: LearnerRepository = STORE, *, hasher: Hasher | None = None
) -> Learner:
    """Hash the password once (with `hasher`, passwords.hash_password by default) and store the learner if its
    agency has no learner with its DOC ID (LearnerExists if so), under the first of its username candidates no other
    learner of the agency holds; the stored learner, with its username, is returned.

    Each try claims the username and puts the learner in one conditional transaction, so two creations racing for
    the same username cannot both have it: the loser's claim fails (UsernameTaken) and it tries the next candidate.
    """
    password_hash = (hasher or passwords.hash_password)(password)
    candidates = rules.username_candidates(learner.first_name, learner.last_name, learner.doc_id)
    for candidate in islice(candidates, USERNAME_TRIES):
        try:
            return repository.insert_learner(learner.model_copy(update={"username": candidate}), password_hash)
        except UsernameTaken:
            continue
    raise Conflict("No free username was found for this learner; try again")


def reactivate(
    existing: Learner,
    destination: Location,
    password: str,
    by: str,
    upload_id: str | None = None,
    repository: LearnerRepository = STORE,
    *,
    hasher: Hasher | None = None,
) -> Learner:
    """Give an inactive learner its account back at a destination with a new password (Conflict if it is no
    longer inactive): a MOVED entry when the location changes, then REACTIVATED, in one conditional write. The
    password is hashed with `hasher` (passwords.hash_password by default)."""
    now = clock.utc_now()
    entries: list[HistoryEntry] = []
    if destination.location_id != existing.location_id:
        entries.append(move_of(existing, destination, now, by, upload_id))
    entries.append(history_entry(HistoryKind.REACTIVATED, now, by, upload_id))
    password_hash = (hasher or passwords.hash_password)(password)
    return repository.reactivate(existing, destination, password_hash, entries, upload_id)


def reactivation_audit(
    learner: Learner,
    by: str,
    *,
    upload_id: str | None = None,
    from_facility_id: str | None = None,
    at: datetime | None = None,
    key: str | None = None,
) -> list[AuditEntry]:
    """The audit entries of a reactivated learner, by `by` (from an upload, if given; keyed so a retried part
    overwrites), filed under the facility it left too if it changed facility."""
    details: audit.Details = {"locationId": learner.location_id}
    if upload_id is not None:
        details = {"uploadId": upload_id, "locationId": learner.location_id}
    return audit.entries_for(
        by,
        "LEARNER_REACTIVATED",
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id, *([from_facility_id] if from_facility_id else [])],
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
        details=details,
        at=at,
        key=key,
    )


def creation_audit(learner: Learner, *, at: datetime | None = None, key: str | None = None) -> list[AuditEntry]:
    """The audit entries of a created learner, by its creator; an upload's are keyed so a retried part overwrites."""
    details: audit.Details = {"locationId": learner.location_id}
    if learner.upload_id is not None:
        details = {"uploadId": learner.upload_id, "locationId": learner.location_id}
    return audit.entries_for(
        learner.created_by,
        "LEARNER_CREATED",
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id],
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
        details=details,
        at=at,
        key=key,
    )
