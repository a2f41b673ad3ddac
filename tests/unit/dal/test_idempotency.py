"""intake.dal.idempotency: a Powertools DynamoDB persistence layer that waits for its first use to make its client and
read the settings' table, then keeps them until unbound."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from intake.dal import idempotency
from intake.dal.idempotency import SettingsPersistenceLayer
from intake.settings import get_settings


@pytest.fixture
def clients_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The service names of every client a boto3 Session makes (Powertools makes its own through one)."""
    made: list[str] = []
    real = boto3.session.Session.client

    def spy(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        return real(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", spy)
    return made


def _records(table: str) -> list[dict]:
    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table, ConsistentRead=True)["Items"]


def test_constructing_it_makes_no_client_and_reads_no_settings(monkeypatch, clients_made):
    # Given settings that cannot be read (any read fails the test)
    def no_settings() -> None:
        raise AssertionError("settings read at construction")

    monkeypatch.setattr(idempotency, "get_settings", no_settings)
    # When a persistence layer is made (as a module does at import)
    layer = SettingsPersistenceLayer()
    # Then no client was made, it names no table, and it is not bound
    assert clients_made == []
    assert not hasattr(layer, "client") and not hasattr(layer, "table_name")
    assert layer._bound is False and layer.configured is False


def test_bind_makes_the_client_once_with_the_settings_table(aws, clients_made):
    # Given a new persistence layer, in moto with the template's tables
    layer = SettingsPersistenceLayer()
    # When it is bound twice
    first = layer.bind()
    second = layer.bind()
    # Then one DynamoDB client was made, kept, and the table is the settings' idempotency table
    assert clients_made == ["dynamodb"]
    assert first is second is layer.client
    assert layer.table_name == get_settings().idempotency_table == aws.tables["IdempotencyTable"]


def test_unbind_forgets_so_the_next_bind_reads_the_settings_again(aws, monkeypatch, clients_made):
    # Given a bound layer
    layer = SettingsPersistenceLayer()
    old = layer.bind()
    # When it is unbound, the settings change, and it is bound again
    layer.unbind()
    assert layer._bound is False and layer.configured is False
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "another-table")
    get_settings.cache_clear()
    new = layer.bind()
    # Then it made a second client and took the new table name
    assert clients_made == ["dynamodb", "dynamodb"]
    assert new is not old
    assert layer.table_name == "another-table"


def test_a_second_call_with_the_same_key_answers_the_stored_result(aws, lambda_context):
    # Given a function made idempotent on its command's "key" with a new layer (nothing bound yet)
    layer = SettingsPersistenceLayer()
    config = IdempotencyConfig(event_key_jmespath="key")
    config.register_lambda_context(lambda_context)
    calls: list[dict] = []

    @idempotent_function(data_keyword_argument="command", persistence_store=layer, config=config)
    def work(command: dict) -> dict:
        calls.append(command)
        return {"answer": len(calls), "key": command["key"]}

    table = aws.tables["IdempotencyTable"]
    # When it is called once
    assert work(command={"key": "k-1", "noise": 1}) == {"answer": 1, "key": "k-1"}
    # Then the call bound the layer and its result is stored COMPLETED in the moto table
    assert layer._bound is True and layer.table_name == table
    (record,) = _records(table)
    assert record["status"]["S"] == "COMPLETED"
    assert record["data"]["S"].replace(" ", "") == '{"answer":1,"key":"k-1"}'
    assert "work" in record["id"]["S"]
    # When the stored answer is changed in the table and the function is called again with the same key
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=table,
        Key={"id": record["id"]},
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"S": '{"answer": 41, "key": "k-1"}'}},
    )
    again = work(command={"key": "k-1", "noise": 2})
    # Then the function did not run again: the answer is the one read from the table
    assert len(calls) == 1
    assert again == {"answer": 41, "key": "k-1"}
    # And another key runs the function and stores a second record
    assert work(command={"key": "k-2"}) == {"answer": 2, "key": "k-2"}
    assert len(_records(table)) == 2
