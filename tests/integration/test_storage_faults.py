"""Throttling, transient 500s and lost responses on every call the bulk path makes: retried to success, rows once.

Each test runs one upload (new learners and moves, three creation chunks) through validator, confirm and workers with
a fault armed at the boto boundary (tests/integration/fault_injection.py), then checks every row ended exactly once.
"""

from __future__ import annotations

import pytest

from tests.integration import fault_flows
from tests.integration.fault_injection import Faults, Rule, install

# (service, operation, table) of every call the asynchronous path and the confirm make (see test_calls_covered).
CALLS = [
    ("dynamodb", "GetItem", "UploadsTable"),
    ("dynamodb", "GetItem", "LocationsTable"),
    ("dynamodb", "GetItem", "StaffTable"),
    ("dynamodb", "GetItem", "LearnersTable"),
    ("dynamodb", "BatchGetItem", None),
    ("dynamodb", "UpdateItem", "UsernamesTable"),
    ("dynamodb", "PutItem", "LearnersTable"),
    ("dynamodb", "PutItem", "IdempotencyTable"),
    ("dynamodb", "PutItem", "AuditTable"),
    ("dynamodb", "UpdateItem", "UploadsTable"),
    ("dynamodb", "UpdateItem", "LearnersTable"),
    ("dynamodb", "UpdateItem", "IdempotencyTable"),
    ("dynamodb", "BatchWriteItem", "AuditTable"),
    ("s3", "HeadObject", None),
    ("s3", "GetObject", None),
    ("s3", "PutObject", None),
    ("s3", "ListObjectsV2", None),
    ("s3", "DeleteObject", None),
    ("s3", "DeleteObjects", None),
    ("sqs", "SendMessageBatch", None),
    ("kms", "GenerateDataKey", None),
    ("kms", "Decrypt", None),
]
WRITES = [
    ("dynamodb", "UpdateItem", "UsernamesTable"),
    ("dynamodb", "PutItem", "LearnersTable"),
    ("dynamodb", "PutItem", "AuditTable"),
    ("dynamodb", "UpdateItem", "UploadsTable"),
    ("dynamodb", "UpdateItem", "LearnersTable"),
    ("dynamodb", "BatchWriteItem", "AuditTable"),
    ("s3", "PutObject", None),
    ("s3", "DeleteObject", None),
    ("s3", "DeleteObjects", None),
    ("sqs", "SendMessageBatch", None),
]
SERVER_ERROR = {
    "dynamodb": "InternalServerError",
    "s3": "InternalError",
    "sqs": "InternalError",
    "kms": "KMSInternalException",
}


def _label(call: tuple[str, str, str | None]) -> str:
    return "-".join(part for part in call if part)


@pytest.fixture
def faults(aws, directory, monkeypatch) -> Faults:
    monkeypatch.setenv("CREATION_CHUNK_SIZE", "5")  # three chunks: fan-out, parts and finishing all run
    from intake.settings import get_settings

    get_settings.cache_clear()
    return install(monkeypatch)


def test_calls_covered(call_api, aws, faults):
    # Given no fault
    # When one upload runs end to end
    flow = fault_flows.run(call_api, aws, faults)
    # Then it completes once, and the calls it made are exactly those the fault tests parametrise over
    fault_flows.assert_exactly_once(call_api, aws, flow)
    made = {(service, operation) for service, operation in faults.calls}
    assert made == {(service, operation) for service, operation, _ in CALLS}


@pytest.mark.parametrize("service", ["dynamodb", "s3", "sqs", "kms"])
def test_transient_500_on_every_call_is_retried(call_api, aws, faults, service):
    # Given two 500s in a row on the first of each call of one service
    rules = {
        _label(call): faults.add(Rule(service, call[1], code=SERVER_ERROR[service], status=500, table=call[2], times=2))
        for call in CALLS
        if call[0] == service
    }
    # When one upload runs end to end
    flow = fault_flows.run(call_api, aws, faults)
    # Then the SDK retried each with backoff, and every row ended exactly once
    assert {label: rule.fired for label, rule in rules.items()} == dict.fromkeys(rules, 2)
    assert len(faults.delays) >= 2 * len(rules)
    fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_dynamodb_throttling_on_every_call_is_retried(call_api, aws, faults, code):
    # Given every DynamoDB call throttled twice the first time it is made
    rules = [
        faults.add(Rule(service, operation, code=code, status=400, table=table, times=2))
        for service, operation, table in CALLS
        if service == "dynamodb"
    ]
    # When one upload runs end to end
    flow = fault_flows.run(call_api, aws, faults)
    # Then each was retried to success, and every row ended exactly once
    assert [rule.fired for rule in rules] == [2] * len(rules)
    fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("service", ["dynamodb", "s3", "sqs"])
def test_writes_applied_but_their_responses_lost_are_retried_safely(call_api, aws, faults, service):
    # Given every write of one service applied but answered with a 500 (each retry then meets its own effect)
    rules = [
        faults.add(Rule(s, operation, kind="lost", code=SERVER_ERROR[s], table=table, times=1000, period=2))
        for s, operation, table in WRITES
        if s == service
    ]
    # When one upload runs end to end
    flow = fault_flows.run(call_api, aws, faults)
    # Then nothing was done twice or reported failed, and every row ended exactly once
    assert all(rule.fired >= 1 for rule in rules)
    fault_flows.assert_exactly_once(call_api, aws, flow)


def test_throttling_longer_than_sdk_retries_is_retried_by_sqs(call_api, aws, faults):
    # Given learner writes, upload updates and part records throttled more times in a row than the SDK retries
    # (4 attempts)
    calls = (
        ("PutItem", "LearnersTable"),
        ("UpdateItem", "UploadsTable"),
        ("BatchWriteItem", "AuditTable"),
    )
    rules = [
        faults.add(Rule("dynamodb", operation, code="ThrottlingException", status=400, table=table, times=5))
        for operation, table in calls
    ]
    # When one upload runs end to end (the failed messages are redelivered)
    flow = fault_flows.run(call_api, aws, faults)
    # Then the redeliveries finished the work, and every row ended exactly once
    assert [rule.fired for rule in rules] == [5, 5, 5]
    fault_flows.assert_exactly_once(call_api, aws, flow)
