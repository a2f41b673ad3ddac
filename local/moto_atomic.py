"""moto's DynamoDB made to behave as AWS's where Intake relies on it: atomic calls, and transactions at item cost.

moto checks a write's condition, then writes, as two steps: threads can both pass the check. DynamoDB applies a
condition and its write atomically, and Intake's uniqueness (one learner per agency and DOC ID) rests on that. The
local stack serves concurrent requests (API, several pollers per queue), and tests call handlers from threads, so
moto's DynamoDB calls are serialised here: each call is atomic, as on AWS.

moto's TransactWriteItems deep-copies every table it touches, once per item, to roll back a cancelled transaction:
a part's record (its counts and up to 99 audit entries) copied the whole audit table ~50 times, and a 10,000-row
upload took the local stack to 9 GB. Here the rollback copy shares the untouched items and deep-copies only the
items the transaction names, which restores the same state.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from functools import wraps
from types import SimpleNamespace
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
    _snapshot_transactions_by_item()


def _snapshot_transactions_by_item() -> None:
    """TransactWriteItems' rollback copy made of the items it names, not of whole tables (under _LOCK)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        touched: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
        for item in transact_items:
            for operation in item.values():
                table = self.tables.get(operation.get("TableName"))
                if table is not None:
                    key = operation.get("Key") or operation.get("Item") or {}
                    hash_value, range_value = key.get(table.hash_key_attr), key.get(table.range_key_attr or "")
                    touched[table.name].append(
                        (hash_value and DynamoType(hash_value), range_value and DynamoType(range_value))
                    )
        snapshots: dict[str, Table] = {}

        def deepcopy(value: Any, memo: Any = None) -> Any:
            if not isinstance(value, Table):
                return copy.deepcopy(value, memo)
            if value.name not in snapshots:
                snapshots[value.name] = _rollback_copy(value, touched[value.name])
            return snapshots[value.name]

        models.copy = SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)  # type: ignore[assignment]
        try:
            return original(self, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _rollback_copy(table: Any, keys: list[tuple[Any, Any]]) -> Any:
    """The table as it is now: its item maps copied, the items at `keys` deep-copied, every other item shared."""
    snapshot = copy.copy(table)
    if table.range_key_attr:
        snapshot.items = defaultdict(dict, {hash_value: dict(by_range) for hash_value, by_range in table.items.items()})
        for hash_value, range_value in keys:
            if range_value in snapshot.items.get(hash_value, {}):
                snapshot.items[hash_value][range_value] = copy.deepcopy(snapshot.items[hash_value][range_value])
    else:
        snapshot.items = defaultdict(dict, table.items)
        for hash_value, _ in keys:
            if hash_value in snapshot.items:
                snapshot.items[hash_value] = copy.deepcopy(snapshot.items[hash_value])
    return snapshot
