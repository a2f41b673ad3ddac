"""Learners. One per (agency, DOC ID), enforced by a conditional put on the table's key; one username per learner
of an agency, enforced by a conditional claim in UsernamesTable owned by the DOC ID, written just before the put.

Only this module writes the computed keys of a learner item: `roster` (f"{facilityId}#{status}") and the sort keys
`nameKey`, `firstKey`, `docKey` of the three roster indexes, from intake.rules.search_key. A roster page is one Query
per status partition; a prefix search at most three.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from intake import clock
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import HistoryAttribute, LearnerItem, UsernameItem, bind_tables
from intake.domain import HistoryEntry, HistoryKind, Learner, LearnerEdit, LearnerStatus, Location, RosterLearner
from intake.errors import Conflict, FieldError, LearnerExists, StorageUnavailable, UsernameTaken, ValidationFailed
from intake.rules import search_key

BATCH_GET_LIMIT = 100
_CURSOR_KEYS = ("agencyId", "docId", "roster", "nameKey")
_CHANGED_MESSAGE = "The learner was changed by someone else meanwhile; reload and try again"


# ------------------------------------------------------------------ keys and mapping


def roster_of(facility_id: str, status: LearnerStatus) -> str:
    """The roster partition of a facility's learners of one status."""
    return f"{facility_id}#{status.value}"


def name_keys(first_name: str, last_name: str, doc_id: str) -> dict[str, str]:
    """The roster indexes' sort keys of a learner (by last then first name, by first then last, by DOC ID)."""
    first, last = search_key(first_name), search_key(last_name)
    return {"nameKey": f"{last}{first}#{doc_id}", "firstKey": f"{first}{last}#{doc_id}", "docKey": search_key(doc_id)}


def _entry(attribute: HistoryAttribute) -> HistoryEntry:
    kind = HistoryKind(attribute.kind) if attribute.kind else HistoryKind.MOVED  # v1 entries were all moves
    at = attribute.at or attribute.movedAt
    by = attribute.by or attribute.movedBy
    return HistoryEntry(
        kind=kind,
        at=at,
        by=by or "",
        upload_id=attribute.uploadId,
        from_location_id=attribute.fromLocationId,
        from_facility_id=attribute.fromFacilityId,
        to_location_id=attribute.toLocationId,
        to_facility_id=attribute.toFacilityId,
        moved_at=attribute.movedAt,
        moved_by=attribute.movedBy,
        fields=tuple(attribute.fields or ()),
    )


def _attribute(entry: HistoryEntry) -> HistoryAttribute:
    return HistoryAttribute(
        kind=entry.kind.value,
        at=entry.at,
        by=entry.by,
        fields=list(entry.fields) or None,
        fromLocationId=entry.from_location_id,
        fromFacilityId=entry.from_facility_id,
        toLocationId=entry.to_location_id,
        toFacilityId=entry.to_facility_id,
        movedAt=entry.moved_at,
        movedBy=entry.moved_by,
        uploadId=entry.upload_id,
    )


def _learner(item: LearnerItem) -> Learner:
    created = HistoryEntry(kind=HistoryKind.CREATED, at=item.createdAt, by=item.createdBy, upload_id=item.uploadId)
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
        status=LearnerStatus(item.status) if item.status else LearnerStatus.ACTIVE,  # un-migrated items: ACTIVE
        updated_at=item.updatedAt,
        version=int(item.version or 1),
        history=(created, *(_entry(entry) for entry in item.history or ())),
    )


def _item(learner: Learner, password_hash: str) -> LearnerItem:
    keys = name_keys(learner.first_name, learner.last_name, learner.doc_id)
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
        history=[_attribute(e) for e in learner.history if e.kind is not HistoryKind.CREATED],
        version=learner.version,
        username=learner.username,
        status=learner.status.value,
        updatedAt=learner.updated_at or learner.created_at,
        roster=roster_of(learner.facility_id, learner.status),
        nameKey=keys["nameKey"],
        firstKey=keys["firstKey"],
        docKey=keys["docKey"],
    )


def _key_item(learner: Learner) -> LearnerItem:
    return LearnerItem(agencyId=learner.agency_id, docId=learner.doc_id)


def _version_is(version: int) -> Condition:
    """The item is at this version (an item never updated may lack the attribute: version 1)."""
    condition = LearnerItem.version == version
    return condition | LearnerItem.version.does_not_exist() if version == 1 else condition


def _status_is(status: LearnerStatus) -> Condition:
    """The stored status is this one (a missing status, on an item not yet migrated, is ACTIVE)."""
    condition = LearnerItem.status == status.value
    return condition | LearnerItem.status.does_not_exist() if status is LearnerStatus.ACTIVE else condition


def _fill_missing_keys(learner: Learner) -> list[Action]:
    """SET the name keys only where missing (if_not_exists): migrates an old item, never undoes an edit's keys."""
    keys = name_keys(learner.first_name, learner.last_name, learner.doc_id)
    return [
        LearnerItem.nameKey.set(LearnerItem.nameKey | keys["nameKey"]),
        LearnerItem.firstKey.set(LearnerItem.firstKey | keys["firstKey"]),
        LearnerItem.docKey.set(LearnerItem.docKey | keys["docKey"]),
    ]


def _changed(entries: Sequence[HistoryEntry], at: datetime) -> list[Action]:
    """What every change also writes: its history entries, the next version, when."""
    return [
        LearnerItem.history.set(LearnerItem.history.append([_attribute(e) for e in entries])),
        # An item never updated has no version and reads as version 1: the next is 2 (ADD would make it 1, and a
        # writer that read it at version 1 before this change would pass its condition: a lost update).
        LearnerItem.version.set((LearnerItem.version | 1) + 1),
        LearnerItem.updatedAt.set(at),
    ]


def _update(item: LearnerItem, actions: list[Action], condition: Condition, what: str) -> bool:
    """One conditional UpdateItem; False when the condition refused it (nothing changed)."""
    with storage_call(what):
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True


# ------------------------------------------------------------------ create and read


def insert_learner(learner: Learner, password_hash: str) -> Learner:
    """Claim the learner's username for its DOC ID, then store the learner: two conditional writes, no transaction
    (which would cost each item and each index entry twice).

    The claim goes first, owned by the DOC ID: a claim held by another DOC ID is UsernameTaken; one already held by
    this DOC ID (a retry of the same row, or a concurrent creation of the same person) is taken over as it is. Then
    the learner's put, conditional on the DOC ID: LearnerExists if the agency has it. So a username is only ever on
    the learner of the DOC ID its claim names, and no two learners share one. A refused put (the DOC ID was there)
    removes its claim again if the stored learner does not hold it, in one transaction with that check (a rare
    path); a crash between the two writes leaves a claim without a learner, which keeps its username from others and
    is taken over by the next creation of that DOC ID."""
    if not learner.username:
        raise ValueError("a learner is stored with its username (intake.learner_creation picks one)")
    bind_tables()
    item = _item(learner, password_hash)
    claim = UsernameItem(agencyId=learner.agency_id, username=learner.username)
    with storage_call("save the learner"):
        try:
            claim.update(
                actions=[
                    UsernameItem.docId.set(learner.doc_id),
                    UsernameItem.learnerId.set(UsernameItem.learnerId | learner.learner_id),
                    UsernameItem.createdAt.set(UsernameItem.createdAt | learner.created_at),
                ],
                condition=UsernameItem.username.does_not_exist() | (UsernameItem.docId == learner.doc_id),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise UsernameTaken(learner.username) from exc
            raise
        try:
            item.save(condition=LearnerItem.docId.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            _release_claim(learner)
            _raise_exists(learner, exc)
        if claim.learnerId != learner.learner_id:  # the claim was another attempt's at this DOC ID: it is ours now
            claim.update(
                actions=[UsernameItem.learnerId.set(learner.learner_id)],
                condition=UsernameItem.docId == learner.doc_id,
            )
    return _learner(item)


def _release_claim(learner: Learner) -> None:
    """After a refused put: delete this DOC ID's claim of the username unless the stored learner holds it (checked
    in the same transaction). Best effort: a claim left behind only keeps its username from others."""
    claim = UsernameItem(agencyId=learner.agency_id, username=learner.username)
    with (
        contextlib.suppress(StorageUnavailable),
        storage_call("release the username"),
        TransactWrite(connection=LearnerItem._get_connection().connection) as transaction,
    ):
        transaction.condition_check(
            LearnerItem,
            learner.agency_id,
            learner.doc_id,
            condition=LearnerItem.username.does_not_exist() | (LearnerItem.username != learner.username),
        )
        transaction.delete(claim, condition=UsernameItem.docId == learner.doc_id)


def _raise_exists(learner: Learner, exc: Exception) -> None:
    existing = get_by_doc_id(learner.agency_id, learner.doc_id)
    if existing is None:  # deleted between the refusal and the read: still a refusal
        raise Conflict("The DOC ID changed while saving; try again") from exc
    raise LearnerExists(existing.learner_id, existing.facility_id, existing.location_id) from exc


def replace_password_hash(agency_id: str, doc_id: str, upload_id: str, password_hash: str) -> None:
    """Set a new password hash on a learner this upload created or reactivated (a retried chunk lost its passwords)."""
    bind_tables()
    with storage_call("reset the learner's password"):
        LearnerItem(agencyId=agency_id, docId=doc_id).update(
            actions=[LearnerItem.passwordHash.set(password_hash)],
            condition=(LearnerItem.uploadId == upload_id) | (LearnerItem.lastUploadId == upload_id),
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


def stored_password_hash(agency_id: str, doc_id: str) -> str | None:
    """The stored hash (for tests and audits of the storage format; never returned by the API)."""
    bind_tables()
    with storage_call("read the learner"):
        try:
            return LearnerItem.get(agency_id, doc_id, consistent_read=True).passwordHash
        except LearnerItem.DoesNotExist:
            return None


# ------------------------------------------------------------------ changes


def move_learner(learner: Learner, destination: Location, move: HistoryEntry) -> Learner:
    """Move a learner if it is still where, and as, the caller saw it; the history gains the move."""
    bind_tables()
    item = _key_item(learner)
    actions = [
        LearnerItem.locationId.set(destination.location_id),
        LearnerItem.facilityId.set(destination.facility_id),
        LearnerItem.status.set(learner.status.value),
        LearnerItem.roster.set(roster_of(destination.facility_id, learner.status)),
        *_fill_missing_keys(learner),
        *_changed([move], move.at),
    ]
    condition = (
        (LearnerItem.learnerId == learner.learner_id)
        & (LearnerItem.locationId == learner.location_id)
        & _status_is(learner.status)
    )
    if not _update(item, actions, condition, "move the learner"):
        raise Conflict("The learner was moved or changed by someone else meanwhile; reload and try again")
    return _learner(item)


def update_details(
    learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
) -> Learner:
    """Apply an edit to the learner at the version the caller saw (Conflict otherwise); the name keys follow."""
    bind_tables()
    item = _key_item(learner)
    first = changes.first_name if changes.first_name is not None else learner.first_name
    last = changes.last_name if changes.last_name is not None else learner.last_name
    actions: list[Action] = [
        LearnerItem.firstName.set(first),
        LearnerItem.lastName.set(last),
        *(getattr(LearnerItem, name).set(value) for name, value in name_keys(first, last, learner.doc_id).items()),
        LearnerItem.status.set(learner.status.value),
    ]
    if changes.date_of_birth is not None:
        actions.append(LearnerItem.dateOfBirth.set(changes.date_of_birth))
    facility_id = learner.facility_id
    if destination is not None:
        facility_id = destination.facility_id
        actions += [
            LearnerItem.locationId.set(destination.location_id),
            LearnerItem.facilityId.set(destination.facility_id),
        ]
    actions += [LearnerItem.roster.set(roster_of(facility_id, learner.status)), *_changed([entry], entry.at)]
    condition = (LearnerItem.learnerId == learner.learner_id) & _version_is(learner.version)
    if not _update(item, actions, condition, "save the learner's details"):
        raise Conflict(_CHANGED_MESSAGE)
    return _learner(item)


def set_status(learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None:
    """Give the learner this status in one UpdateItem; None when it already had it (nothing written).

    Conflict if the learner is not the one the caller saw any more (another id, or moved to another facility)."""
    written = _write_status(learner, status, entry, at_version=False)
    if written is not None:
        return written
    now = get_by_doc_id(learner.agency_id, learner.doc_id)  # read after a refused write, to say why
    if now is not None and now.learner_id == learner.learner_id and now.status is status:
        return None
    raise Conflict(_CHANGED_MESSAGE)


def update_at_version(
    learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
) -> bool:
    """A sync's update: SET only the changed details (None: unchanged; a housing unit of the same facility) and, when
    a name changes, the name keys of `learner`'s names (as they are after the change) — in one UpdateItem, only if
    the item is still this learner at `learner.version`. False when the condition refused it (nothing written).

    `learner` need not be read first: its key, id, version and names are all the write uses."""
    bind_tables()
    actions: list[Action] = []
    if changes.first_name is not None:
        actions.append(LearnerItem.firstName.set(changes.first_name))
    if changes.last_name is not None:
        actions.append(LearnerItem.lastName.set(changes.last_name))
    if changes.first_name is not None or changes.last_name is not None:
        first = changes.first_name if changes.first_name is not None else learner.first_name
        last = changes.last_name if changes.last_name is not None else learner.last_name
        actions += [
            getattr(LearnerItem, name).set(value) for name, value in name_keys(first, last, learner.doc_id).items()
        ]
    if changes.date_of_birth is not None:
        actions.append(LearnerItem.dateOfBirth.set(changes.date_of_birth))
    if destination is not None:
        actions.append(LearnerItem.locationId.set(destination.location_id))
    actions += _changed([entry], entry.at)
    condition = (LearnerItem.learnerId == learner.learner_id) & _version_is(learner.version)
    return _update(_key_item(learner), actions, condition, "save the learner's details")


def set_status_at_version(learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool:
    """Give the learner this status in one UpdateItem only if it is still exactly as the caller read it: the same
    learner, in the same facility, with the other status, at the same version (a sync's deactivation, an undo's
    reactivation). False when the condition refused it (nothing written): the caller reads to learn why."""
    return _write_status(learner, status, entry, at_version=True) is not None


def _write_status(learner: Learner, status: LearnerStatus, entry: HistoryEntry, *, at_version: bool) -> Learner | None:
    """The one UpdateItem of a status change: only if the item is still this learner, in its facility, with the other
    status (and, at_version, at the caller's version); the learner as written, or None when the condition refused."""
    bind_tables()
    item = _key_item(learner)
    actions = [
        LearnerItem.status.set(status.value),
        LearnerItem.roster.set(roster_of(learner.facility_id, status)),
        *_fill_missing_keys(learner),
        *_changed([entry], entry.at),
    ]
    other = LearnerStatus.INACTIVE if status is LearnerStatus.ACTIVE else LearnerStatus.ACTIVE
    condition = (
        (LearnerItem.learnerId == learner.learner_id)
        & (LearnerItem.facilityId == learner.facility_id)
        & _status_is(other)
    )
    if at_version:
        condition &= _version_is(learner.version)
    if _update(item, actions, condition, "change the learner's status"):
        return _learner(item)
    return None


def set_password_hash(learner: Learner, password_hash: str, entry: HistoryEntry) -> Learner:
    """Replace the learner's password hash (the old one stops working at once); the history says when and by whom."""
    bind_tables()
    actions = [LearnerItem.passwordHash.set(password_hash), *_changed([entry], entry.at)]
    condition = LearnerItem.learnerId == learner.learner_id
    # Nothing is read back (ReturnValues NONE): the learner is the one given plus this change, and a card run of 500
    # resets would otherwise spend a third of its own CPU turning returned items into objects.
    with storage_call("reset the learner's password"):
        try:
            LearnerItem._get_connection().update_item(
                learner.agency_id, learner.doc_id, actions=actions, condition=condition, return_values="NONE"
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict(_CHANGED_MESSAGE) from exc
            raise
    return learner.model_copy(
        update={"history": (*learner.history, entry), "version": learner.version + 1, "updated_at": entry.at}
    )


def reactivate(
    learner: Learner,
    destination: Location,
    password_hash: str,
    entries: list[HistoryEntry],
    upload_id: str | None = None,
) -> Learner:
    """Make an inactive learner active again at a destination with a new password hash (Conflict if it is not
    inactive any more or not this learner). The upload that does it may later replace the hash (a retried chunk)."""
    bind_tables()
    item = _key_item(learner)
    at = entries[-1].at if entries else clock.utc_now()
    actions: list[Action] = [
        LearnerItem.status.set(LearnerStatus.ACTIVE.value),
        LearnerItem.locationId.set(destination.location_id),
        LearnerItem.facilityId.set(destination.facility_id),
        LearnerItem.roster.set(roster_of(destination.facility_id, LearnerStatus.ACTIVE)),
        LearnerItem.passwordHash.set(password_hash),
        *_fill_missing_keys(learner),
        *_changed(entries, at),
    ]
    if upload_id is not None:
        actions.append(LearnerItem.lastUploadId.set(upload_id))
    condition = (LearnerItem.learnerId == learner.learner_id) & (LearnerItem.status == LearnerStatus.INACTIVE.value)
    if not _update(item, actions, condition, "reactivate the learner"):
        raise Conflict("The learner is not inactive any more, or was changed meanwhile; reload and try again")
    return _learner(item)


# ------------------------------------------------------------------ roster and search


@dataclass(frozen=True, slots=True)
class _Page:
    items: list[dict[str, Any]]  # raw DynamoDB items, in index order
    last_key: dict[str, Any] | None


def _one_page(
    index: Any, roster: str, limit: int | None, start: dict[str, Any] | None = None, **conditions: Any
) -> _Page:
    """Exactly one Query request on a roster index (PynamoDB would fetch more pages to fill a filtered limit)."""
    results = index.query(roster, page_size=limit, last_evaluated_key=start, **conditions)
    page = next(results.page_iter)
    return _Page(page.get("Items", []), page.get("LastEvaluatedKey"))


def _location_filter(location_id: str | None) -> Condition | None:
    return None if location_id is None else LearnerItem.locationId == location_id


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed([FieldError("cursor", "INVALID_VALUE", "cursor is not one this list gave: start again")])


def _encode_cursor(positions: dict[str, dict[str, str] | None]) -> str:
    raw = json.dumps(positions, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, rosters: dict[str, str]) -> dict[str, dict[str, str] | None]:
    """The positions of a cursor, each checked to be one of these roster partitions (else ValidationFailed)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_cursor() from exc
    if not isinstance(decoded, dict) or set(decoded) != set(rosters.values()):
        raise _invalid_cursor()
    positions: dict[str, dict[str, str] | None] = {}
    for roster, position in decoded.items():
        if position is None or position == {}:  # read to its end / not started
            positions[roster] = position
            continue
        if (
            not isinstance(position, dict)
            or set(position) != set(_CURSOR_KEYS)
            or not all(isinstance(v, str) for v in position.values())
            or position["roster"] != roster
        ):
            raise _invalid_cursor()
        positions[roster] = position
    return positions


def list_roster(
    facility_id: str,
    statuses: tuple[LearnerStatus, ...],
    location_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Learner], str | None]:
    """A page of the facility's learners of these statuses, by last then first name, and the cursor of the next.

    One Query per status partition (a housing-unit filter may make a page shorter than `limit`; the cursor goes on).
    The cursor is validated against the facility and statuses asked for."""
    bind_tables()
    rosters = {status.value: roster_of(facility_id, status) for status in dict.fromkeys(statuses)}
    positions: dict[str, dict[str, str] | None] = {roster: {} for roster in rosters.values()}  # {}: from the start
    if cursor:
        positions = _decode_cursor(cursor, rosters)
    pages: dict[str, _Page] = {}
    with storage_call("list the learners"):
        for roster, position in positions.items():
            if position is None:  # that partition was read to its end
                continue
            start = {k: {"S": v} for k, v in position.items()} or None
            pages[roster] = _one_page(
                LearnerItem.by_roster_name, roster, limit, start, filter_condition=_location_filter(location_id)
            )
    merged = sorted(
        ((raw["nameKey"]["S"], roster, raw) for roster, page in pages.items() for raw in page.items),
        key=lambda entry: entry[0],
    )
    taken = merged[:limit]
    following: dict[str, dict[str, str] | None] = dict.fromkeys(positions)
    for roster, page in pages.items():
        mine = [raw for _, r, raw in taken if r == roster]
        if len(mine) < len(page.items):  # some of this page were not shown: go on after the last shown
            last = mine[-1] if mine else None
            following[roster] = {k: last[k]["S"] for k in _CURSOR_KEYS} if last else positions[roster]
        elif page.last_key is not None:
            following[roster] = {k: page.last_key[k]["S"] for k in _CURSOR_KEYS}
    learners = [_learner(LearnerItem.from_raw_data(raw)) for _, _, raw in taken]
    more = any(position is not None for position in following.values())
    return learners, _encode_cursor(following) if more else None


# What a learner is without its history: reading every learner's history entries back into objects is most of a
# whole roster's CPU, and what reads whole rosters (cards, sync) needs none of it.
_WITHOUT_HISTORY = [
    name for name, attribute in LearnerItem.get_attributes().items() if name not in ("history", "passwordHash")
]


def whole_roster(facility_id: str, statuses: tuple[LearnerStatus, ...]) -> Iterator[Learner]:
    """Every learner of the facility with these statuses, WITHOUT its history (only the CREATED entry made from the
    item), from the roster index in pages of up to 1 MB: a few Queries for a whole facility, against one look-up per
    learner by id. Eventually consistent, as every index."""
    bind_tables()
    for status in dict.fromkeys(statuses):
        with storage_call("read the facility's learners"):
            items = list(
                LearnerItem.by_roster_name.query(roster_of(facility_id, status), attributes_to_get=_WITHOUT_HISTORY)
            )
        yield from (_learner(item) for item in items)


# What a sync's diff reads of each active learner (RosterLearner): the index's projection of the Query is only these.
_ROSTER_DIFF = ["docId", "learnerId", "locationId", "firstName", "lastName", "dateOfBirth", "version"]


def active_roster(facility_id: str) -> Iterator[RosterLearner]:
    """The facility's ACTIVE learners as a sync diffs them, from the roster index in pages of up to 1 MB (a few
    Queries for a whole facility), read from the raw items without a model per learner: repeated values (housing
    units, names, dates of birth) share one string. Eventually consistent, as every index."""
    bind_tables()
    pages = LearnerItem.by_roster_name.query(
        roster_of(facility_id, LearnerStatus.ACTIVE), attributes_to_get=_ROSTER_DIFF
    ).page_iter
    shared: dict[str, str] = {}
    share = shared.setdefault
    while True:
        with storage_call("read the facility's learners"):
            page = next(pages, None)
        if page is None:
            return
        for raw in page.get("Items", ()):
            version = raw.get("version")
            yield RosterLearner(
                raw["docId"]["S"],
                raw["learnerId"]["S"],
                share(raw["locationId"]["S"], raw["locationId"]["S"]),
                share(raw["firstName"]["S"], raw["firstName"]["S"]),
                share(raw["lastName"]["S"], raw["lastName"]["S"]),
                share(raw["dateOfBirth"]["S"], raw["dateOfBirth"]["S"]),
                int(version["N"]) if version else 1,
            )


def _search_queries(nq: str) -> Iterator[tuple[Any, str, Condition | None]]:
    """(index, prefix, filter) of each Query of a search for nq (a search key)."""
    if any(char.isdigit() for char in nq):
        yield LearnerItem.by_roster_doc_id, nq, None
        letters = nq[: len(nq) - len(nq.lstrip("abcdefghijklmnopqrstuvwxyz"))]
        if letters:  # a username: its letters start the name key; the rest is checked by a filter
            yield LearnerItem.by_roster_name, letters, LearnerItem.username.startswith(nq)
        return
    yield LearnerItem.by_roster_name, nq, None
    yield LearnerItem.by_roster_first, nq, None
    yield LearnerItem.by_roster_doc_id, nq, None


def search_roster(
    facility_id: str, statuses: tuple[LearnerStatus, ...], q: str, location_id: str | None, limit: int
) -> list[Learner]:
    """The facility's learners whose DOC ID or username starts with q, or whose last, first or "first last" name
    does (case and accents ignored): at most three Queries per status partition, the first `limit` by name."""
    nq = search_key(q)
    if not nq:
        return list_roster(facility_id, statuses, location_id, limit, None)[0]
    bind_tables()
    found: dict[str, dict[str, Any]] = {}
    with storage_call("search the learners"):
        for status in dict.fromkeys(statuses):
            roster = roster_of(facility_id, status)
            for index, prefix, extra in _search_queries(nq):
                key = index.Meta.index_name
                sort = {"byRosterName": LearnerItem.nameKey, "byRosterFirst": LearnerItem.firstKey}.get(
                    key, LearnerItem.docKey
                )
                filters = [c for c in (extra, _location_filter(location_id)) if c is not None]
                condition = None
                for c in filters:
                    condition = c if condition is None else condition & c
                # with a filter, one page of up to 1 MB is read (a Limit would count items the filter drops)
                page = _one_page(
                    index,
                    roster,
                    None if condition is not None else limit,
                    range_key_condition=sort.startswith(prefix),
                    filter_condition=condition,
                )
                for raw in page.items:
                    found.setdefault(raw["learnerId"]["S"], raw)
    ordered = sorted(found.values(), key=lambda raw: raw["nameKey"]["S"])[:limit]
    return [_learner(LearnerItem.from_raw_data(raw)) for raw in ordered]


# ------------------------------------------------------------------ the migration of items stored before v2


def unmigrated(page_size: int = 100) -> Iterator[Learner]:
    """Every learner item that lacks a v2 attribute (status, username, roster keys or updatedAt), by a Scan."""
    bind_tables()
    missing = (
        LearnerItem.status.does_not_exist()
        | LearnerItem.username.does_not_exist()
        | LearnerItem.roster.does_not_exist()
        | LearnerItem.nameKey.does_not_exist()
        | LearnerItem.firstKey.does_not_exist()
        | LearnerItem.docKey.does_not_exist()
        | LearnerItem.updatedAt.does_not_exist()
    )
    with storage_call("scan the learners"):
        for item in LearnerItem.scan(filter_condition=missing, page_size=page_size):
            yield _learner(item)


def migrate_item(learner: Learner, username: str) -> bool:
    """Give an item stored before v2 its username (claimed in the same transaction), status, roster keys and
    updatedAt, keeping whatever it already has. False if the item changed meanwhile or is migrated already.

    UsernameTaken if another learner holds the username (the caller tries the next candidate)."""
    bind_tables()
    status = learner.status
    keys = name_keys(learner.first_name, learner.last_name, learner.doc_id)
    item = _key_item(learner)
    actions: list[Action] = [
        LearnerItem.username.set(username),
        LearnerItem.status.set(LearnerItem.status | status.value),
        LearnerItem.roster.set(LearnerItem.roster | roster_of(learner.facility_id, status)),
        LearnerItem.nameKey.set(LearnerItem.nameKey | keys["nameKey"]),
        LearnerItem.firstKey.set(LearnerItem.firstKey | keys["firstKey"]),
        LearnerItem.docKey.set(LearnerItem.docKey | keys["docKey"]),
        LearnerItem.updatedAt.set(LearnerItem.updatedAt | (learner.updated_at or learner.created_at)),
    ]
    condition = (
        (LearnerItem.learnerId == learner.learner_id)
        & (LearnerItem.facilityId == learner.facility_id)
        & (LearnerItem.username.does_not_exist())
    )
    if learner.username:  # it has its username already: only the other attributes are missing
        actions[0] = LearnerItem.username.set(learner.username)
        condition = (
            (LearnerItem.learnerId == learner.learner_id)
            & (LearnerItem.facilityId == learner.facility_id)
            & (LearnerItem.username == learner.username)
        )
        return _update(item, actions, condition, "migrate the learner")
    claim = UsernameItem(
        agencyId=learner.agency_id,
        username=username,
        learnerId=learner.learner_id,
        docId=learner.doc_id,
        createdAt=learner.created_at,
    )
    with storage_call("migrate the learner"):
        try:
            with TransactWrite(connection=LearnerItem._get_connection().connection) as transaction:
                transaction.save(claim, condition=UsernameItem.username.does_not_exist())
                transaction.update(item, actions=actions, condition=condition)
        except TransactWriteError as exc:
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                return False
            if len(codes) == 2 and codes[0] == "ConditionalCheckFailed":
                raise UsernameTaken(username) from exc
            raise
    return True
