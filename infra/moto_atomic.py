"""moto's DynamoDB checks a write's condition, then writes, as two steps: threads can both pass the check.

DynamoDB applies a condition and its write atomically, and Intake's uniqueness (one learner per agency and DOC ID)
rests on that. The local stack serves concurrent requests (API, several pollers per queue), and tests call handlers
from threads, so moto's DynamoDB calls are serialised here: each call is atomic, as on AWS.
"""

from __future__ import annotations

import threading
from functools import wraps
from typing import Any

_LOCK = threading.RLock()
_MARK = "_intake_atomic"


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB API calls in this process (idempotent); in-process mock and server mode alike."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    @wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
