"""The sweep that ends unconfirmed uploads: EXPIRED once past their expiry, their file and plan deleted."""

from __future__ import annotations

from intake import clock
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, UploadStatus
from intake.observability import logger, metrics
from intake.upload_service import expire_if_due


def sweep_expired() -> int:
    """Expire every unfinished upload past its expiry (safe to run twice or concurrently); how many it expired."""
    expired = 0
    for upload in upload_store.due_for_expiry(clock.utc_now().isoformat(), set(UNFINISHED)):
        if expire_if_due(upload).status is UploadStatus.EXPIRED:
            expired += 1
    logger.info("expiry sweep done", extra={"expired": expired})
    metrics.add_metric(name="UploadsExpired", unit="Count", value=expired)
    return expired
