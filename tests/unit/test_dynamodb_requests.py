"""The local stack's DynamoDB request counter: requests by operation and table, read over HTTP, bodies untouched."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from local.dynamodb_requests import COUNTER_PATH, DynamoDbRequests, counting_moto_server, tables_of


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = _free_port()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    moto = counting_moto_server("127.0.0.1", port, DynamoDbRequests())
    moto.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto.stop()


def _dynamodb(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _counts(endpoint: str) -> dict[tuple[str, str], int]:
    response = requests.get(endpoint + COUNTER_PATH, timeout=10)
    assert response.status_code == 200
    return {(r["operation"], r["table"]): r["count"] for r in response.json()["requests"]}


def test_requests_are_counted_by_operation_and_table_and_still_answered(server: str) -> None:
    # Given the counting moto server with one table
    client = _dynamodb(server)
    client.create_table(
        TableName="t1",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    # When items are written one by one and in a batch, then read
    client.put_item(TableName="t1", Item={"k": {"S": "a"}})
    client.put_item(TableName="t1", Item={"k": {"S": "b"}})
    client.batch_write_item(RequestItems={"t1": [{"PutRequest": {"Item": {"k": {"S": "c"}}}}]})
    item = client.get_item(TableName="t1", Key={"k": {"S": "c"}}, ConsistentRead=True)

    # Then moto answered each as before (the body reached it whole), and each request is counted once
    assert item["Item"] == {"k": {"S": "c"}}
    assert _counts(server) == {
        ("CreateTable", "t1"): 1,
        ("PutItem", "t1"): 2,
        ("BatchWriteItem", "t1"): 1,
        ("GetItem", "t1"): 1,
    }


def test_the_tables_of_batches_and_transactions_are_named() -> None:
    # Given request bodies of each shape / When their tables are read / Then each table is named once
    assert tables_of({"TableName": "a"}) == ["a"]
    assert tables_of({"RequestItems": {"a": [], "b": []}}) == ["a", "b"]
    assert tables_of({"TransactItems": [{"Put": {"TableName": "a"}}, {"Update": {"TableName": "b"}}]}) == ["a", "b"]
    assert tables_of({}) == []
