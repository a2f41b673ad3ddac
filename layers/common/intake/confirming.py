"""The confirm's idempotency: persistence layer, config and idempotent start of creation, made once.

`upload_service.confirm_upload` imports this module with the first confirm: it loads Powertools' idempotency (and
boto3 under it), which no other API request needs. The idempotency key is the command's upload and options, and a
record is named after `upload_service._start_creation`, the function made idempotent.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from intake import upload_service
from intake.dal.idempotency import SettingsPersistenceLayer

persistence = SettingsPersistenceLayer()
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[upload_id, skip_invalid_rows, move_existing]",
    expires_after_seconds=upload_service.CONFIRM_IDEMPOTENCY_SECONDS,
)
start_creation_once = idempotent_function(
    data_keyword_argument="command", persistence_store=persistence, config=idempotency_config
)(upload_service._start_creation)
