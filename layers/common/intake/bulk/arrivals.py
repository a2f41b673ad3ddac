"""Which upload an object in incoming/ is: a presigned link's, or a new drop; then its validation starts.

An upload takes exactly one object. An object that is not ours is deleted at once; another object for an upload
that already took one is refused (and deleted); a dead-lettered object event fails its upload.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_plus

from intake import clock
from intake.bulk import keys, lifecycle
from intake.bulk.validation import validate_upload
from intake.dal import directory, objects
from intake.dal import staff as staff_store
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, Location, LocationKind, Role, StaffMember, Upload, UploadStatus
from intake.observability import logger, metrics

SECOND_FILE_REASON = (
    "A second file was sent with this upload's link and replaced the first, so neither is used: "
    "ask for a new link and upload one file"
)
DEAD_LETTER_REASON = (
    "The file could not be checked after several attempts: upload it again, and if that fails too, contact support"
)


def drop_upload_id(key: str, etag: str, put: str = "") -> str:
    """The id of a dropped file: one PUT of one object (key, content and the PUT's identity) gives one upload.

    `put` is the event's identity of the PUT (ObjectEvent.put_id: its sequencer and time), the same in every
    delivery of the event, so a redelivered or duplicated event finds the upload it started; a facility that puts the
    same roster under the same name the next night (its nightly job) is a new PUT, so a new upload, planned again.
    """
    return "drop-" + hashlib.sha256(f"{key}\n{etag}\n{put}".encode()).hexdigest()[:32]


def facility_scope(facility: Location) -> StaffMember:
    """The requestor a drop is validated as: the facility itself, with its own scope."""
    return StaffMember(
        username=f"drop:{facility.location_id}",
        role=Role.FACILITY_ADMIN,
        agency_id=facility.agency_id,
        facility_ids=(facility.location_id,),
    )


def upload_for_object(raw_key: str, etag: str, put: str = "") -> tuple[Upload, Location] | None:
    """The upload an incoming object belongs to (a presigned link's, or a new drop); None if not ours to validate.

    An object that is not ours (a key outside the layout, an unknown facility's prefix) is deleted at once, only
    while it is still the object the event names: it may hold passwords, and nothing will ever read it.
    """
    parsed = keys.parse_incoming_key(raw_key)
    if parsed is None:
        _ignore_object(unquote_plus(raw_key), etag, "object outside the incoming layout ignored", {})
        return None
    facility_id, name = parsed
    key = f"{keys.INCOMING}{facility_id}/{name}"
    facility = directory.get_location(facility_id)
    if facility is None or facility.kind is not LocationKind.FACILITY:
        _ignore_object(key, etag, "object under an unknown facility ignored", {"facility_id": facility_id})
        return None
    linked = upload_store.get_upload(name.removesuffix(".csv")) if name.endswith(".csv") else None
    if linked is not None and linked.source == "link" and linked.object_key == key:
        return linked, facility
    current = objects.object_etag(key)
    if current is not None and etag and current != etag.strip('"'):
        # An event for an older version of a replaced file, delivered late: the newer version's event will follow.
        # Nothing to delete: the bucket keeps no versions, and the current object is the newer file's.
        logger.info("event for a replaced file ignored", extra={"facility_id": facility_id})
        metrics.add_metric(name="StaleObjectEvents", unit="Count", value=1)
        return None
    now = clock.utc_now()
    upload = Upload(
        upload_id=drop_upload_id(key, etag, put),
        facility_id=facility_id,
        agency_id=facility.agency_id,
        source="drop",
        file_name=name,
        object_key=key,
        status=UploadStatus.AWAITING_FILE,
        created_at=now.isoformat(),
        created_by=f"drop:{facility_id}",
        expires_at=lifecycle.expiry_of(now),
        mode=facility.drop_mode,  # the facility's dropMode: sync diffs each drop against its roster
    )
    if not upload_store.insert_upload(upload, ttl=lifecycle.record_ttl(now)):
        existing = upload_store.get_upload(upload.upload_id)
        if existing is None:
            return None
        upload = existing
    return upload, facility


def _ignore_object(key: str, etag: str, why: str, extra: dict[str, str]) -> None:
    """Delete an object Intake will never validate, unless another object has replaced it meanwhile."""
    deleted = key.startswith(keys.INCOMING) and objects.delete_if_current(key, etag)
    logger.warning(why, extra={**extra, "deleted": deleted})
    metrics.add_metric(name="IgnoredObjectsDeleted" if deleted else "IgnoredObjects", unit="Count", value=1)


def validate_object(raw_key: str, etag: str, put: str = "") -> Upload | None:
    """Validate the file of one S3 object-created event; a duplicate event of a validated file changes nothing.

    An upload takes exactly one object: the first event claims the upload for its object's ETag (a conditional
    write), and validation reads that version only. Any other object for the same upload is refused and deleted.
    """
    found = upload_for_object(raw_key, etag, put)
    if found is None:
        return None
    upload, facility = found
    started = lifecycle.start_validating(upload, etag)
    if started is None:
        _refuse_object(upload, etag)
        return upload
    if upload.source == "drop":
        requestor = facility_scope(facility)
    else:
        requestor = staff_store.get_staff(upload.created_by) or StaffMember(
            username=upload.created_by, role=Role.EDUCATOR
        )
    result = validate_upload(started, requestor, etag=started.object_etag)
    if (
        result is not None
        and result.status is UploadStatus.VALIDATED
        and result.source == "drop"
        and facility.auto_confirm_drops
        and result.hold is None  # a sync held for MASS_DEACTIVATION waits for staff, always
    ):
        from intake.bulk.creation import begin_creation  # auto-confirmed drops only

        begin_creation(result, skip_invalid_rows=False, move_existing=False, confirmed_by=requestor.username)
    return result


def _refuse_object(upload: Upload, etag: str) -> None:
    """An object event for an upload that does not take it: a redelivery of its own object, or another object.

    Its own object (same ETag) is kept while the upload may still need it, and deleted once the upload is finished.
    Another object is deleted if it is still the current one; it then replaced the upload's own file, so an upload
    not yet creating fails (what was validated can no longer be read back) rather than use a file it never checked.
    """
    current = upload_store.get_upload(upload.upload_id) or upload
    own = current.object_etag is not None and current.object_etag == etag.strip('"')
    if own and (current.status in UNFINISHED or current.status is UploadStatus.CREATING):
        logger.info("duplicate object event ignored", extra={"upload_id": upload.upload_id})
        return
    deleted = objects.delete_if_current(current.object_key, etag)
    logger.warning(
        "object refused: the upload takes one object",
        extra={"upload_id": upload.upload_id, "status": current.status.value, "own": own, "deleted": deleted},
    )
    metrics.add_metric(name="RefusedObjects", unit="Count", value=1)
    if deleted and not own and current.object_etag is not None and current.status in UNFINISHED:
        lifecycle.fail_replaced(current, SECOND_FILE_REASON)


def fail_unvalidated(raw_key: str, etag: str, put: str = "") -> Upload | None:
    """A dead-lettered object event: its upload (if any is ours) becomes FAILED with a reason staff can act on.

    Only the upload the object belongs to: an object another one had already claimed the upload for is refused.
    """
    found = upload_for_object(raw_key, etag, put)
    if found is None:
        return None
    upload = found[0]
    if upload.object_etag is not None and upload.object_etag != etag.strip('"'):
        _refuse_object(upload, etag)
        return None
    return lifecycle.fail(upload, DEAD_LETTER_REASON, etag=etag or None)
