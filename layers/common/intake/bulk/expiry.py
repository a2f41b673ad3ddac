"""The hourly sweep: unconfirmed uploads become EXPIRED past their expiry (file and plan deleted), and results
with generated passwords are deleted once their 24 hours are over (an S3 lifecycle rule on passwords/ is the
backstop)."""

from __future__ import annotations

from intake import clock
from intake.bulk import lifecycle
from intake.dal import objects
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, Upload
from intake.observability import logger, metrics


def sweep_expired() -> int:
    """Expire every unfinished upload past its expiry (safe to run twice or concurrently); how many it expired."""
    now = clock.utc_now().isoformat()
    expired = sum(1 for upload in upload_store.due_for_expiry(now, set(UNFINISHED)) if _expire(upload, now))
    forgotten = sweep_result_passwords(now)
    logger.info("expiry sweep done", extra={"expired": expired, "passwords_deleted": forgotten})
    metrics.add_metric(name="UploadsExpired", unit="Count", value=expired)
    return expired


def sweep_result_passwords(now: str | None = None) -> int:
    """Delete every results-with-passwords copy past its time, then the upload's link to it; how many it deleted."""
    now = now or clock.utc_now().isoformat()
    deleted = 0
    for upload in upload_store.due_for_password_expiry(now):
        key = upload.result_passwords_key
        if not key:
            continue
        objects.delete_keys([key])  # first the object: a sweep that stops here deletes it again next hour
        upload_store.forget_result_passwords(upload.upload_id, key)
        logger.info("results with passwords deleted", extra={"upload_id": upload.upload_id})
        deleted += 1
    metrics.add_metric(name="ResultPasswordsDeleted", unit="Count", value=deleted)
    return deleted


def _expire(upload: Upload, now: str) -> bool:
    return lifecycle.expire(upload, swept_at=now) is not None
