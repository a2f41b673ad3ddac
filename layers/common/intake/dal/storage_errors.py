"""Turns storage failures into domain errors, so nothing above the data-access layer sees botocore or PynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from intake.errors import StorageUnavailable


def is_condition_failure(exc: BaseException) -> bool:
    """Whether a PynamoDB/botocore error is a failed condition (the write was refused, nothing changed)."""
    code = getattr(exc, "cause_response_code", None)
    if code is None and isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


@contextmanager
def storage_call(what: str) -> Iterator[None]:
    """Wrap one storage call: any storage error becomes StorageUnavailable naming what failed."""
    try:
        yield
    except (PynamoDBException, ClientError, BotoCoreError) as exc:
        raise StorageUnavailable(f"Could not {what} right now; try again in a moment") from exc
