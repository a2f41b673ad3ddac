"""Conditional writes to moto's DynamoDB from many threads: exactly one wins, as on AWS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.moto_atomic import make_dynamodb_atomic

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
