"""moto's DynamoDB as Intake relies on it: one winner among racing conditional writes; transactions roll back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.moto_atomic import make_dynamodb_atomic

THREADS = 8
KEYS = 5


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto import mock_aws
    from moto.dynamodb.models import table as moto_table

    parse = moto_table.get_filter_expression

    def slow_parse(*args: object, **kwargs: object) -> object:
        time.sleep(0.005)  # moto parses the condition between reading the item and writing it: widen that window
        return parse(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow_parse)
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="race",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield "race"


def winners(table: str) -> list[int]:
    """For each key, how many of THREADS concurrent conditional puts succeeded."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    start = threading.Barrier(THREADS)

    def put_all(writer: int) -> list[bool]:
        start.wait(timeout=30)
        won = []
        for key in range(KEYS):
            try:
                client.put_item(
                    TableName=table,
                    Item={"k": {"S": str(key)}, "w": {"N": str(writer)}},
                    ConditionExpression="attribute_not_exists(k)",
                )
                won.append(True)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
                won.append(False)
        return won

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(put_all, range(THREADS)))
    return [sum(result[key] for result in results) for key in range(KEYS)]


def test_concurrent_conditional_puts_have_exactly_one_winner_per_key(table: str) -> None:
    # Given moto's DynamoDB made atomic per call
    make_dynamodb_atomic()
    # When 8 threads race to create each of 5 keys with attribute_not_exists
    counts = winners(table)
    # Then every key was created exactly once
    assert counts == [1] * KEYS


@pytest.fixture
def ledger() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "k", "AttributeType": "S"},
                {"AttributeName": "n", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(3):
            client.put_item(TableName="ledger", Item={"k": {"S": "a"}, "n": {"N": str(n)}, "v": {"N": "0"}})
        yield client


def _rows(client: Any) -> list[tuple[str, str, str]]:
    items = client.scan(TableName="ledger")["Items"]
    return sorted((i["k"]["S"], i["n"]["N"], i["v"]["N"]) for i in items)


def _transaction(fail: bool) -> list[dict[str, Any]]:
    """Update item a/0 in place, overwrite a/1, add a/9; the last item's condition fails when `fail`."""
    return [
        {
            "Update": {
                "TableName": "ledger",
                "Key": {"k": {"S": "a"}, "n": {"N": "0"}},
                "UpdateExpression": "ADD v :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": "ledger", "Item": {"k": {"S": "a"}, "n": {"N": "1"}, "v": {"N": "5"}}}},
        {
            "Put": {
                "TableName": "ledger",
                "Item": {"k": {"S": "a"}, "n": {"N": "9"}, "v": {"N": "7"}},
                "ConditionExpression": "attribute_exists(k)" if fail else "attribute_not_exists(k)",
            }
        },
    ]


def test_cancelled_transaction_leaves_every_item_as_it_was(ledger: Any) -> None:
    # Given moto's DynamoDB patched, and a table of three items
    make_dynamodb_atomic()
    before = _rows(ledger)
    # When a transaction updating one item in place, overwriting one and adding one is cancelled by its last condition
    with pytest.raises(ClientError) as cancelled:
        ledger.transact_write_items(TransactItems=_transaction(fail=True))
    # Then nothing it wrote is left
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _rows(ledger) == before


def test_committed_transaction_applies_every_item(ledger: Any) -> None:
    # Given moto's DynamoDB patched
    make_dynamodb_atomic()
    # When a transaction whose conditions hold is written
    ledger.transact_write_items(TransactItems=_transaction(fail=False))
    # Then all three writes are there
    assert _rows(ledger) == [("a", "0", "1"), ("a", "1", "5"), ("a", "2", "0"), ("a", "9", "7")]


def test_rollback_copy_shares_the_items_a_transaction_does_not_name(ledger: Any) -> None:
    # Given moto's DynamoDB patched, and the stored item a/2 that no transaction names
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    make_dynamodb_atomic()
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["ledger"]
    (untouched,) = [
        item for range_value, item in table.items[next(iter(table.items))].items() if range_value.value == "2"
    ]
    # When a transaction is cancelled (the table is restored from its rollback copy)
    with pytest.raises(ClientError):
        ledger.transact_write_items(TransactItems=_transaction(fail=True))
    # Then the restored table holds that same item object: only named items were copied
    restored = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["ledger"]
    assert restored is not table
    assert any(item is untouched for item in restored.items[next(iter(restored.items))].values())
