"""The sweep that ends unconfirmed uploads: EXPIRED once past their expiry, their file and plan deleted."""

from __future__ import annotations

from intake import clock
from intake.bulk import keys
from intake.dal import objects
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, Upload, UploadStatus
from intake.observability import logger, metrics
from intake.settings import get_settings


def sweep_expired() -> int:
    """Expire every unfinished upload past its expiry (safe to run twice or concurrently); how many it expired."""
    now = clock.utc_now().isoformat()
    expired = sum(1 for upload in upload_store.due_for_expiry(now, set(UNFINISHED)) if _expire(upload, now))
    logger.info("expiry sweep done", extra={"expired": expired})
    metrics.add_metric(name="UploadsExpired", unit="Count", value=expired)
    return expired


def _expire(upload: Upload, now: str) -> bool:
    days = get_settings().upload_expiry_days
    reason = f"Not confirmed within {days} days: upload the file again"
    # completedAt (this sweep's own instant) tells this sweep's transition apart from a concurrent sweep's.
    expired = upload_store.transition(
        upload.upload_id, set(UNFINISHED), UploadStatus.EXPIRED, reason=reason, completedAt=now
    )
    if expired is None:
        return False
    objects.delete_keys([upload.object_key])  # it may hold passwords
    objects.delete_prefix(keys.plan_prefix(upload.facility_id, upload.upload_id))
    logger.info("upload expired", extra={"upload_id": upload.upload_id})
    return True
