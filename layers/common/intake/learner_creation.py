"""Creating one learner, shared by POST /learners and the bulk worker: build it, hash, conditional insert, audit.

Storage goes through a LearnerRepository port: STORE (the DynamoDB tables through intake.dal) in production, an
in-memory one in unit tests. The callers decide where and with which password (scope checks, given or generated
passwords); this module makes the learner exist exactly once and says what the audit trail records for it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from intake import audit, clock, passwords
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import AuditEntry, HistoryEntry, HistoryKind, Learner, Location, Move, history_entry, move_of


class LearnerRepository(Protocol):
    """Where learners are created and moved, and locations read."""

    def get_location(self, location_id: str) -> Location | None: ...

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner: ...

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None: ...

    def move_learner(self, learner: Learner, destination: Location, move: Move) -> Learner: ...

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner: ...


class StoredLearners:
    """The repository of the deployed app: the learners and directory tables (each call looked up when made)."""

    def get_location(self, location_id: str) -> Location | None:
        return directory.get_location(location_id)

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner:
        return learner_store.insert_learner(learner, password_hash)

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None:
        return learner_store.get_by_doc_id(agency_id, doc_id)

    def move_learner(self, learner: Learner, destination: Location, move: Move) -> Learner:
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


def insert(learner: Learner, password: str, repository: LearnerRepository = STORE) -> Learner:
    """Hash the password and store the learner if its agency has no learner with its DOC ID (LearnerExists if so)."""
    return repository.insert_learner(learner, passwords.hash_password(password))


def reactivate(
    existing: Learner,
    destination: Location,
    password: str,
    by: str,
    upload_id: str | None = None,
    repository: LearnerRepository = STORE,
) -> Learner:
    """Reactivate an inactive learner at a destination with a new password: a MOVED entry if the location changes,
    then REACTIVATED (Conflict if it is no longer inactive)."""
    now = clock.utc_now()
    entries: list[HistoryEntry] = []
    if existing.location_id != destination.location_id:
        entries.append(move_of(existing, destination, now, by, upload_id))
    entries.append(history_entry(HistoryKind.REACTIVATED, now, by, upload_id))
    return repository.reactivate(existing, destination, passwords.hash_password(password), entries, upload_id)


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
