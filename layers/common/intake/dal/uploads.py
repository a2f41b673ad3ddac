"""Uploads: their status transitions (each a conditional write) and their atomic counters."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterator, Sequence
from enum import Enum
from typing import Any, Final

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from intake.dal.audit import delete_entries, put_entries
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import UploadItem, bind_tables
from intake.domain import AuditEntry, Upload, UploadMode, UploadStatus

PAGE_SIZE = 50


def _upload(item: UploadItem) -> Upload:
    return Upload(
        upload_id=item.uploadId,
        facility_id=item.facilityId,
        agency_id=item.agencyId,
        source=item.source,
        file_name=item.fileName,
        object_key=item.objectKey,
        object_etag=item.objectEtag,
        status=UploadStatus(item.status),
        created_at=item.createdAt,
        created_by=item.createdBy,
        expires_at=item.expiresAt,
        encoding=item.encoding,
        reason=item.reason,
        counts=_counts(item),
        errors=list(_plain(item.errors or [])),
        warnings=list(_plain(item.warnings or [])),
        error_report_key=item.errorReportKey,
        result_report_key=item.resultReportKey,
        chunks_total=int(item.chunksTotal or 0),
        chunks_done=int(item.chunksDone or 0),
        skip_invalid_rows=item.skipInvalidRows,
        move_existing=item.moveExisting,
        confirmed_by=item.confirmedBy,
        confirmed_at=item.confirmedAt,
        data_key=item.dataKey,
        result_passwords_key=item.resultPasswordsKey,
        passwords_until=item.passwordsUntil,
        passwords_claimed_by=item.passwordsClaimedBy,
        mode=UploadMode(item.mode or UploadMode.CREATE.value),
        hold=json.loads(item.hold) if item.hold else None,
        allow_mass_deactivation=item.allowMassDeactivation,
        plan_report_key=item.planReportKey,
        completed_at=item.completedAt,
        deactivations_undone_at=item.deactivationsUndoneAt,
        deactivations_undone_by=item.deactivationsUndoneBy,
    )


CREATION_COUNTS = ("created", "moved", "reactivated", "updated", "deactivated", "skipped", "failed")


def _counts(item: UploadItem) -> dict[str, int]:
    counts = {key: int(value) for key, value in (item.counts.as_dict() if item.counts else {}).items()}
    counts.update({name: int(getattr(item, name) or 0) for name in CREATION_COUNTS})
    return counts


def _plain(values: list[Any]) -> list[dict]:
    return [value.as_dict() if hasattr(value, "as_dict") else dict(value) for value in values]


def insert_upload(upload: Upload, ttl: int) -> bool:
    """Store a new upload; False if one with this id already exists (a duplicated event)."""
    bind_tables()
    item = UploadItem(
        uploadId=upload.upload_id,
        facilityId=upload.facility_id,
        agencyId=upload.agency_id,
        source=upload.source,
        fileName=upload.file_name,
        objectKey=upload.object_key,
        status=upload.status.value,
        createdAt=upload.created_at,
        createdBy=upload.created_by,
        expiresAt=upload.expires_at,
        counts={},
        mode=None if upload.mode is UploadMode.CREATE else upload.mode.value,
        ttl=ttl,
    )
    with storage_call("save the upload"):
        try:
            item.save(condition=UploadItem.uploadId.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True


def get_upload(upload_id: str) -> Upload | None:
    """One upload, read consistently, or None."""
    if not upload_id:
        return None
    bind_tables()
    with storage_call("read the upload"):
        try:
            return _upload(UploadItem.get(upload_id, consistent_read=True))
        except UploadItem.DoesNotExist:
            return None


def list_uploads(facility_id: str, limit: int = PAGE_SIZE) -> list[Upload]:
    """A facility's uploads, newest first."""
    return list_upload_page(facility_id, limit)[0]


def list_upload_page(
    facility_id: str, limit: int = PAGE_SIZE, after: tuple[str, str] | None = None
) -> tuple[list[Upload], tuple[str, str] | None]:
    """One page of a facility's uploads, newest first, from after (createdAt, uploadId) of the previous page's last.

    One Query of limit + 1 items: the extra one says whether there is a next page, which starts after the last
    returned upload (so a next page is never empty). Returns the page and that position, or None at the end.
    """
    bind_tables()
    start = None
    if after is not None:
        created_at, upload_id = after
        start = {
            "facilityId": {"S": facility_id},
            "createdAt": {"S": created_at},
            "uploadId": {"S": upload_id},
        }
    with storage_call("list uploads"):
        items = list(
            UploadItem.by_facility.query(
                facility_id,
                scan_index_forward=False,
                limit=limit + 1,
                page_size=limit + 1,
                last_evaluated_key=start,
            )
        )
    page = [_upload(item) for item in items[:limit]]
    more = len(items) > limit
    return page, ((page[-1].created_at, page[-1].upload_id) if more else None)


class Keep(Enum):
    """The value of an UploadChange field the change leaves as it is."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclasses.dataclass(frozen=True)
class UploadChange:
    """What a transition writes besides the status: each field KEEP (left as it is), None (removed) or its value."""

    reason: str | Keep | None = KEEP
    counts: dict[str, int] | Keep | None = KEEP
    errors: list[dict[str, Any]] | Keep | None = KEEP
    warnings: list[dict[str, Any]] | Keep | None = KEEP
    encoding: str | Keep | None = KEEP
    error_report_key: str | Keep | None = KEEP
    chunks_total: int | Keep | None = KEEP
    data_key: str | Keep | None = KEEP
    skip_invalid_rows: bool | Keep | None = KEEP
    move_existing: bool | Keep | None = KEEP
    confirmed_by: str | Keep | None = KEEP
    confirmed_at: str | Keep | None = KEEP
    result_report_key: str | Keep | None = KEEP
    completed_at: str | Keep | None = KEEP
    result_passwords_key: str | Keep | None = KEEP
    passwords_until: str | Keep | None = KEEP
    hold: dict[str, str | int] | Keep | None = KEEP
    allow_mass_deactivation: bool | Keep | None = KEEP
    plan_report_key: str | Keep | None = KEEP


NO_CHANGE: Final = UploadChange()

# The item's attribute of each UploadChange field: attribute names stay inside the data layer.
_ATTRIBUTES: Final = {
    "reason": "reason",
    "counts": "counts",
    "errors": "errors",
    "warnings": "warnings",
    "encoding": "encoding",
    "error_report_key": "errorReportKey",
    "chunks_total": "chunksTotal",
    "data_key": "dataKey",
    "skip_invalid_rows": "skipInvalidRows",
    "move_existing": "moveExisting",
    "confirmed_by": "confirmedBy",
    "confirmed_at": "confirmedAt",
    "result_report_key": "resultReportKey",
    "completed_at": "completedAt",
    "result_passwords_key": "resultPasswordsKey",
    "passwords_until": "passwordsUntil",
    "hold": "hold",
    "allow_mass_deactivation": "allowMassDeactivation",
    "plan_report_key": "planReportKey",
}


def _attribute_values(change: UploadChange) -> dict[str, Any]:
    """The attributes a change writes (None: removed), by attribute name; KEEP fields are not written."""
    values = {_ATTRIBUTES[field.name]: getattr(change, field.name) for field in dataclasses.fields(change)}
    if isinstance(values["hold"], dict):
        values["hold"] = json.dumps(values["hold"], separators=(",", ":"), sort_keys=True)
    return {name: value for name, value in values.items() if value is not KEEP}


def transition(
    upload_id: str, allowed_from: Collection[UploadStatus], to: UploadStatus, change: UploadChange = NO_CHANGE
) -> Upload | None:
    """Move an upload to a new status if it is in one of the allowed ones; None if it was not (nothing changed).

    Only the upload lifecycle (intake.bulk.lifecycle) calls this: its table says which moves are allowed.
    """
    condition = UploadItem.status.is_in(*(status.value for status in allowed_from))
    return _transition(upload_id, condition, to, _attribute_values(change))


def claim_object(upload_id: str, etag: str, allowed_from: Collection[UploadStatus]) -> Upload | None:
    """Start validating an upload from one object (its ETag): the first object to claim the upload is the only one.

    allowed_from (AWAITING_FILE or VALIDATING) → VALIDATING, recording objectEtag, in one conditional write: only if
    no object was claimed yet or it is this one (a redelivered event re-enters, another object never). None if
    refused. Only the upload lifecycle (intake.bulk.lifecycle) calls this.
    """
    etag = etag.strip('"')
    condition = UploadItem.status.is_in(*(status.value for status in allowed_from))
    condition &= UploadItem.objectEtag.does_not_exist() | (UploadItem.objectEtag == etag)
    return _transition(upload_id, condition, UploadStatus.VALIDATING, {"objectEtag": etag})


def keep_data_key(upload_id: str, sealed_key: str) -> str | None:
    """The upload's one data key (its KMS ciphertext): this one, stored now if the upload has none yet, or else the
    one stored first; None if there is no such upload.

    Two validations of one upload can run at once (its object event redelivered while the first still runs). Both
    write the same plan chunks, sealing given passwords as they go, and either's chunk may be the one left: both must
    seal with the key the upload keeps. One conditional write (a retry whose first attempt was applied finds its own
    key), read back only when refused."""
    bind_tables()
    item = UploadItem(uploadId=upload_id)
    with storage_call("update the upload"):
        try:
            item.update(
                actions=[UploadItem.dataKey.set(sealed_key)],
                condition=UploadItem.uploadId.exists() & UploadItem.dataKey.does_not_exist(),
            )
            return sealed_key
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
        try:
            return UploadItem.get(upload_id, consistent_read=True).dataKey
        except UploadItem.DoesNotExist:
            return None


def _transition(upload_id: str, condition: Condition, to: UploadStatus, fields: dict[str, Any]) -> Upload | None:
    bind_tables()
    actions: list[Action] = [UploadItem.status.set(to.value)]
    for name, value in fields.items():
        attribute = getattr(UploadItem, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    item = UploadItem(uploadId=upload_id)
    with storage_call("update the upload"):
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            # The SDK retries a call whose response was lost: if the item holds exactly this update, it was ours.
            try:
                current = UploadItem.get(upload_id, consistent_read=True)
            except UploadItem.DoesNotExist:
                return None
            if current.status != to.value or any(
                _plain_value(getattr(current, name)) != _plain_value(value) for name, value in fields.items()
            ):
                return None
            return _upload(current)
    return _upload(item)


def _plain_value(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, list):
        return [_plain_value(entry) for entry in value]
    if isinstance(value, dict):
        return {key: _plain_value(entry) for key, entry in value.items()}
    return value


def record_part(
    upload_id: str, part: str, counts: dict[str, int], finishes_chunk: bool, entries: Sequence[AuditEntry] = ()
) -> Upload | None:
    """Add one processed part's counts exactly once, its audit entries filed first; None if not recorded (already
    recorded, or the upload is not creating any more).

    The entries go first, in keyed batch writes (1 WCU each; in a transaction each would cost 2), and the part record
    last, one conditional UpdateItem. The entries are keyed by upload and line, so every attempt of a part writes the
    same items. That keeps "the trail holds a part's learners exactly when its counts do":
    - a crash between the two leaves the entries without the counts only until the message is redelivered: the
      replay writes the same entries again (overwriting them) and records the part;
    - a refused record is read once, consistently: a part already recorded keeps its entries (an earlier attempt
      wrote the same ones before recording); for an upload no longer creating, the entries just written are deleted
      again (the repair), so neither holds the part.
    """
    bind_tables()
    actions: list[Action] = [UploadItem.partsDone.add({part})]
    actions += [getattr(UploadItem, name).add(counts.get(name, 0)) for name in CREATION_COUNTS]
    if finishes_chunk:
        actions.append(UploadItem.chunksDone.add(1))
    condition = UploadItem.partsDone.does_not_exist() | ~UploadItem.partsDone.contains(part)
    condition &= UploadItem.status == UploadStatus.CREATING.value
    item = UploadItem(uploadId=upload_id)
    put_entries(entries)
    with storage_call("count created learners"):
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            refused = True
        else:
            refused = False
    if not refused:
        return _upload(item)
    if entries and not _part_recorded(upload_id, part):
        delete_entries(entries)
    return None


def _part_recorded(upload_id: str, part: str) -> bool:
    """Whether the upload's counts hold this part (read consistently: a refused record is explained by it)."""
    with storage_call("count created learners"):
        try:
            stored = UploadItem.get(upload_id, consistent_read=True, attributes_to_get=["partsDone"])
        except UploadItem.DoesNotExist:
            return False
    return part in (stored.partsDone or set())


def mark_deactivations_undone(upload_id: str, at: str, by: str, finished: Collection[UploadStatus]) -> Upload | None:
    """Record once when (and by whom) a finished sync's deactivations were first undone: a repeat keeps the first
    instant, so every entry an undo files is keyed the same on every attempt. The upload as stored after; None if it
    is not (or no longer) a finished upload."""
    bind_tables()
    condition = UploadItem.status.is_in(*(status.value for status in finished))
    condition &= UploadItem.deactivationsUndoneAt.does_not_exist()
    item = UploadItem(uploadId=upload_id)
    actions: list[Action] = [UploadItem.deactivationsUndoneAt.set(at), UploadItem.deactivationsUndoneBy.set(by)]
    with storage_call("update the upload"):
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
    stored = get_upload(upload_id)
    if stored is None or stored.status not in finished or stored.deactivations_undone_at is None:
        return None
    return stored


def due_for_expiry(now_iso: str, unfinished: set[UploadStatus]) -> Iterator[Upload]:
    """Every upload still unfinished whose expiry is before now (a paginated scan: the sweeper runs rarely)."""
    bind_tables()
    condition = UploadItem.status.is_in(*(status.value for status in unfinished)) & (UploadItem.expiresAt < now_iso)
    with storage_call("list uploads due to expire"):
        for item in UploadItem.scan(filter_condition=condition, page_size=PAGE_SIZE * 4):
            yield _upload(item)


def claim_result_passwords(upload_id: str, username: str) -> bool:
    """Make `username` the one staff member who gets an upload's generated passwords, unless another already is."""
    bind_tables()
    condition = UploadItem.resultPasswordsKey.exists() & (
        UploadItem.passwordsClaimedBy.does_not_exist() | (UploadItem.passwordsClaimedBy == username)
    )
    with storage_call("update the upload"):
        try:
            UploadItem(uploadId=upload_id).update(
                actions=[UploadItem.passwordsClaimedBy.set(username)], condition=condition
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True


def due_for_password_expiry(now_iso: str) -> Iterator[Upload]:
    """Every upload whose results with passwords outlived their time (a paginated scan: the sweeper runs hourly)."""
    bind_tables()
    condition = UploadItem.resultPasswordsKey.exists() & (UploadItem.passwordsUntil < now_iso)
    with storage_call("list uploads with expired passwords"):
        for item in UploadItem.scan(filter_condition=condition, page_size=PAGE_SIZE * 4):
            yield _upload(item)


def forget_result_passwords(upload_id: str, key: str) -> None:
    """The results with passwords are deleted: the upload no longer names them (a repeat changes nothing)."""
    bind_tables()
    with storage_call("update the upload"):
        try:
            UploadItem(uploadId=upload_id).update(
                actions=[UploadItem.resultPasswordsKey.remove()], condition=UploadItem.resultPasswordsKey == key
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
