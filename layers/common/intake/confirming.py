"""The confirm's idempotency: persistence layer, config and idempotent start of creation, made once.

`upload_service.confirm_upload` imports this module with the first confirm: it loads Powertools' idempotency (and
boto3 under it), which no other API request needs. The idempotency key is the command's upload and options, and a
record is named after `_start_creation`, the function made idempotent. This module imports nothing of
upload_service, so the two make no loop.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from pydantic import BaseModel

from intake.dal import uploads as upload_store
from intake.dal.idempotency import SettingsPersistenceLayer
from intake.domain import CONFIRMABLE, UploadStatus
from intake.errors import Conflict, NotFound
from intake.observability import logger, metrics

CONFIRM_IDEMPOTENCY_SECONDS = 3600


class ConfirmCommand(BaseModel):
    """What a confirm asks for; also the idempotency key of the call."""

    upload_id: str
    skip_invalid_rows: bool = False
    move_existing: bool = False
    # A sync held for MASS_DEACTIVATION is confirmed only with it; part of the key, so that a retry with the flag is
    # never answered from a confirm without it.
    allow_mass_deactivation: bool = False
    confirmed_by: str


def _start_creation(command: ConfirmCommand) -> dict:
    from intake.bulk.creation import begin_creation, fan_out  # the creation side, only when a confirm runs

    upload = upload_store.get_upload(command.upload_id)
    if upload is None:
        raise NotFound("No such upload")
    same_options = (upload.skip_invalid_rows, upload.move_existing) == (
        command.skip_invalid_rows,
        command.move_existing,
    )
    if upload.status is UploadStatus.CREATING and same_options:
        # A retry after a crash between the status change and the fan-out: resend (workers ignore done parts).
        fan_out(upload)
        return {"uploadId": upload.upload_id, "status": UploadStatus.CREATING.value}
    if upload.status in CONFIRMABLE and upload.hold and not command.allow_mass_deactivation:
        hold = upload.hold
        raise Conflict(
            f"This sync would deactivate {hold.get('toDeactivate')} of the facility's {hold.get('activeLearners')} "
            "active learners: check plan.csv, then confirm with allowMassDeactivation",
            reason="MASS_DEACTIVATION",
        )
    if upload.status is UploadStatus.VALIDATED_WITH_ERRORS and not command.skip_invalid_rows:
        raise Conflict(
            "This upload has rows with errors: fix the file and upload it again, or confirm with skipInvalidRows"
        )
    if upload.status not in CONFIRMABLE:
        raise Conflict(f"This upload is {upload.status.value} and cannot be confirmed")
    started = begin_creation(
        upload,
        command.skip_invalid_rows,
        command.move_existing,
        command.confirmed_by,
        allow_mass_deactivation=command.allow_mass_deactivation if upload.hold else None,
    )
    if started is None:
        raise Conflict("This upload was confirmed or changed meanwhile; reload it")
    metrics.add_metric(name="UploadsConfirmed", unit="Count", value=1)
    logger.info("upload confirmed", extra={"upload_id": upload.upload_id, "chunks": started.chunks_total})
    return {"uploadId": upload.upload_id, "status": UploadStatus.CREATING.value}


persistence = SettingsPersistenceLayer()
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[upload_id, skip_invalid_rows, move_existing, allow_mass_deactivation]",
    expires_after_seconds=CONFIRM_IDEMPOTENCY_SECONDS,
)
start_creation_once = idempotent_function(
    data_keyword_argument="command", persistence_store=persistence, config=idempotency_config
)(_start_creation)
