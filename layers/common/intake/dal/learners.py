"""Learners. One per (agency, DOC ID), enforced by a conditional put on the table's key."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import PutError, UpdateError

from intake import clock
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import LearnerItem, MoveAttribute, bind_tables
from intake.domain import HistoryEntry, HistoryKind, Learner, LearnerEdit, LearnerStatus, Location
from intake.errors import Conflict, LearnerExists

BATCH_GET_LIMIT = 100


def _learner(item: LearnerItem) -> Learner:
    return Learner(
        learner_id=item.learnerId,
        agency_id=item.agencyId,
        doc_id=item.docId,
        first_name=item.firstName,
        last_name=item.lastName,
        date_of_birth=item.dateOfBirth,
        location_id=item.locationId,
        facility_id=item.facilityId,
        role=item.role,
        created_at=item.createdAt,
        created_by=item.createdBy,
        upload_id=item.uploadId,
        username=item.username,
        status=LearnerStatus(item.status or "ACTIVE"),
        updated_at=item.updatedAt,
        version=int(item.version or 1),
        history=tuple(
            HistoryEntry(
                kind=HistoryKind(m.kind or "MOVED"),
                at=m.at or m.movedAt,
                by=m.by or m.movedBy,
                from_location_id=m.fromLocationId,
                from_facility_id=m.fromFacilityId,
                to_location_id=m.toLocationId,
                to_facility_id=m.toFacilityId,
                moved_at=m.movedAt,
                moved_by=m.movedBy,
                upload_id=m.uploadId,
                fields=tuple(m.fields or ()),
            )
            for m in item.history or ()
        ),
    )


def _item(learner: Learner, password_hash: str) -> LearnerItem:
    return LearnerItem(
        agencyId=learner.agency_id,
        docId=learner.doc_id,
        learnerId=learner.learner_id,
        firstName=learner.first_name,
        lastName=learner.last_name,
        dateOfBirth=learner.date_of_birth,
        locationId=learner.location_id,
        facilityId=learner.facility_id,
        role=learner.role,
        passwordHash=password_hash,
        createdAt=learner.created_at,
        createdBy=learner.created_by,
        uploadId=learner.upload_id,
        username=learner.username,
        status=learner.status.value,
        history=[],
    )


def insert_learner(learner: Learner, password_hash: str) -> Learner:
    """Store a new learner; LearnerExists if the agency already has the DOC ID (checked atomically by DynamoDB)."""
    bind_tables()
    item = _item(learner, password_hash)
    with storage_call("save the learner"):
        try:
            item.save(condition=LearnerItem.docId.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            existing = get_by_doc_id(learner.agency_id, learner.doc_id)
            if existing is None:  # deleted between the refusal and the read: still a refusal
                raise Conflict("The DOC ID changed while saving; try again") from exc
            raise LearnerExists(existing.learner_id, existing.facility_id, existing.location_id) from exc
    return learner


def replace_password_hash(agency_id: str, doc_id: str, upload_id: str, password_hash: str) -> None:
    """Set a new password hash on a learner this upload created (a retried chunk that lost its passwords)."""
    bind_tables()
    with storage_call("reset the learner's password"):
        LearnerItem(agencyId=agency_id, docId=doc_id).update(
            actions=[LearnerItem.passwordHash.set(password_hash)],
            condition=LearnerItem.uploadId == upload_id,
        )


def get_by_doc_id(agency_id: str, doc_id: str) -> Learner | None:
    """The agency's learner with this DOC ID, or None."""
    bind_tables()
    with storage_call("read the learner"):
        try:
            return _learner(LearnerItem.get(agency_id, doc_id, consistent_read=True))
        except LearnerItem.DoesNotExist:
            return None


def get_by_id(learner_id: str) -> Learner | None:
    """The learner with this id, or None."""
    bind_tables()
    with storage_call("read the learner"):
        for key in LearnerItem.by_learner_id.query(learner_id, limit=1):
            try:
                return _learner(LearnerItem.get(key.agencyId, key.docId, consistent_read=True))
            except LearnerItem.DoesNotExist:
                return None
    return None


def find_by_doc_ids(agency_id: str, doc_ids: Iterable[str]) -> dict[str, Learner]:
    """The agency's learners for many DOC IDs, read in batches of 100 keys (one request per batch)."""
    keys = [(agency_id, doc_id) for doc_id in dict.fromkeys(doc_ids)]
    if not keys:
        return {}
    bind_tables()
    with storage_call("look up DOC IDs"):
        return {item.docId: _learner(item) for item in LearnerItem.batch_get(keys)}


def _entry(entry: HistoryEntry) -> MoveAttribute:
    return MoveAttribute(
        kind=entry.kind.value,
        at=entry.at,
        by=entry.by,
        fromLocationId=entry.from_location_id,
        fromFacilityId=entry.from_facility_id,
        toLocationId=entry.to_location_id,
        toFacilityId=entry.to_facility_id,
        movedAt=entry.moved_at,
        movedBy=entry.moved_by,
        uploadId=entry.upload_id,
        fields=list(entry.fields) or None,
    )


def _update(learner: Learner, what: str, actions: list, condition: object, conflict: str) -> Learner:
    item = LearnerItem(agencyId=learner.agency_id, docId=learner.doc_id)
    with storage_call(what):
        try:
            item.update(actions=actions, condition=condition)  # type: ignore[arg-type]
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict(conflict) from exc
            raise
    return _learner(item)


def update_details(
    learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
) -> Learner:
    """Change a learner's details if no one changed it since it was read (Conflict otherwise)."""
    bind_tables()
    actions = [
        LearnerItem.history.set(LearnerItem.history.append([_entry(entry)])),
        LearnerItem.version.set(learner.version + 1),
        LearnerItem.updatedAt.set(entry.at),
    ]
    if changes.first_name is not None:
        actions.append(LearnerItem.firstName.set(changes.first_name))
    if changes.last_name is not None:
        actions.append(LearnerItem.lastName.set(changes.last_name))
    if changes.date_of_birth is not None:
        actions.append(LearnerItem.dateOfBirth.set(changes.date_of_birth))
    if destination is not None:
        actions.append(LearnerItem.locationId.set(destination.location_id))
    condition = (LearnerItem.learnerId == learner.learner_id) & (
        (LearnerItem.version == learner.version) | LearnerItem.version.does_not_exist()
    )
    return _update(learner, "edit the learner", actions, condition, "The learner was changed meanwhile; reload")


def set_status(learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None:
    """Give a learner a status; None when it already had it (nothing written)."""
    bind_tables()
    actions = [
        LearnerItem.status.set(status.value),
        LearnerItem.history.set(LearnerItem.history.append([_entry(entry)])),
        LearnerItem.version.add(1),
        LearnerItem.updatedAt.set(entry.at),
    ]
    unchanged = LearnerItem.status == status.value
    if status is LearnerStatus.INACTIVE:
        condition = (LearnerItem.learnerId == learner.learner_id) & ~unchanged
    else:
        condition = (LearnerItem.learnerId == learner.learner_id) & (LearnerItem.status == "INACTIVE")
    try:
        return _update(learner, "change the learner's status", actions, condition, "unchanged")
    except Conflict:
        return None


def set_password_hash(learner: Learner, password_hash: str, entry: HistoryEntry) -> Learner:
    """Replace a learner's password hash."""
    bind_tables()
    actions = [
        LearnerItem.passwordHash.set(password_hash),
        LearnerItem.history.set(LearnerItem.history.append([_entry(entry)])),
        LearnerItem.version.add(1),
        LearnerItem.updatedAt.set(entry.at),
    ]
    condition = LearnerItem.learnerId == learner.learner_id
    return _update(learner, "reset the learner's password", actions, condition, "The learner changed; reload")


def reactivate(
    learner: Learner,
    destination: Location,
    password_hash: str,
    entries: list[HistoryEntry],
    upload_id: str | None = None,
) -> Learner:
    """Make an inactive learner active again at a destination with a new password hash (Conflict otherwise)."""
    bind_tables()
    actions = [
        LearnerItem.status.set(LearnerStatus.ACTIVE.value),
        LearnerItem.locationId.set(destination.location_id),
        LearnerItem.facilityId.set(destination.facility_id),
        LearnerItem.passwordHash.set(password_hash),
        LearnerItem.history.set(LearnerItem.history.append([_entry(entry) for entry in entries])),
        LearnerItem.version.add(1),
        LearnerItem.updatedAt.set(clock.utc_now()),
    ]
    condition = (LearnerItem.learnerId == learner.learner_id) & (LearnerItem.status == "INACTIVE")
    return _update(learner, "reactivate the learner", actions, condition, "The learner is no longer inactive")


def list_roster(
    facility_id: str,
    statuses: tuple[LearnerStatus, ...],
    location_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Learner], str | None]:
    """A page of a facility's learners (the DAL helper's version reads the roster index)."""
    raise NotImplementedError("placeholder: the DAL helper's list_roster")


def search_roster(
    facility_id: str, statuses: tuple[LearnerStatus, ...], q: str, location_id: str | None, limit: int
) -> list[Learner]:
    """A facility's learners matching a prefix (the DAL helper's version reads the roster indexes)."""
    raise NotImplementedError("placeholder: the DAL helper's search_roster")


def move_learner(learner: Learner, destination: Location, move: HistoryEntry) -> Learner:
    """Move a learner if it is still where the caller saw it; the history gains the move."""
    bind_tables()
    entry = _entry(move)
    item = LearnerItem(agencyId=learner.agency_id, docId=learner.doc_id)
    with storage_call("move the learner"):
        try:
            item.update(
                actions=[
                    LearnerItem.locationId.set(destination.location_id),
                    LearnerItem.facilityId.set(destination.facility_id),
                    LearnerItem.history.set(LearnerItem.history.append([entry])),
                    LearnerItem.version.add(1),
                ],
                condition=(LearnerItem.learnerId == learner.learner_id)
                & (LearnerItem.locationId == learner.location_id),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict(
                    "The learner was moved or changed by someone else meanwhile; reload and try again"
                ) from exc
            raise
    return _learner(item)


def stored_password_hash(agency_id: str, doc_id: str) -> str | None:
    """The stored hash (for tests and audits of the storage format; never returned by the API)."""
    bind_tables()
    with storage_call("read the learner"):
        try:
            return LearnerItem.get(agency_id, doc_id, consistent_read=True).passwordHash
        except LearnerItem.DoesNotExist:
            return None
