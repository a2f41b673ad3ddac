"""The SAM template keeps its security and reliability promises (read through infra.template, transformed offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.lint_transformed import transform_file
from infra.template import TEMPLATE_PATH, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]

ROUTES = {
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/facilities"),
    ("GET", "/facilities/{facilityId}/template"),
    ("GET", "/facilities/{facilityId}/uploads"),
    ("POST", "/learners"),
    ("GET", "/learners"),
    ("GET", "/learners/{learnerId}"),
    ("POST", "/learners/{learnerId}/move"),
    ("POST", "/uploads"),
    ("GET", "/uploads/{uploadId}"),
    ("POST", "/uploads/{uploadId}/confirm"),
}
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/openapi.json")}
DEAD_LETTER_FUNCTIONS = {"ValidationDeadLetterFunction", "CreationDeadLetterFunction"}  # consume the DLQs


def _resources() -> dict[str, dict[str, Any]]:
    """Logical id → resource of template.yaml."""
    return load_template()["Resources"]


def _of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id → resource, for one resource type."""
    return {name: res for name, res in _resources().items() if res["Type"] == resource_type}


def _target(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at (None for anything else)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            get_att = value["Fn::GetAtt"]
            return str(get_att[0] if isinstance(get_att, list) else get_att.split(".")[0])
    return None


def _as_list(value: Any) -> list[Any]:
    """A policy field (one value or a list) as a list."""
    return value if isinstance(value, list) else [value]


def _function_timeout(function: dict[str, Any]) -> int:
    """A function's timeout, falling back to Globals.Function.Timeout."""
    globals_timeout = load_template().get("Globals", {}).get("Function", {}).get("Timeout", 3)
    return int(function["Properties"].get("Timeout", globals_timeout))


def _sqs_events() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(function logical id, function, SQS event properties) for every SQS event source."""
    return [
        (name, function, event["Properties"])
        for name, function in _of_type("AWS::Serverless::Function").items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def _is_wildcard_action(action: Any) -> bool:
    """True for '*' or a whole-service wildcard such as 's3:*'."""
    return isinstance(action, str) and (action == "*" or action.endswith(":*"))


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    """The CloudFormation the SAM transform makes of template.yaml."""
    return transform_file(TEMPLATE_PATH)


def test_bucket_policy_allows_tls_only() -> None:
    # Given the uploads bucket's policy
    policies = list(_of_type("AWS::S3::BucketPolicy").values())
    assert [_target(p["Properties"]["Bucket"]) for p in policies] == ["UploadsBucket"]
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]

    # When looking for a deny on insecure transport
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]

    # Then every S3 action is denied on the bucket and its objects, to everyone
    assert len(deny) == 1
    assert deny[0]["Principal"] == "*"
    assert deny[0]["Action"] in ("s3:*", ["s3:*"])
    resources = _as_list(deny[0]["Resource"])
    assert {"Fn::GetAtt": ["UploadsBucket", "Arn"]} in resources
    assert {"Fn::Sub": "${UploadsBucket.Arn}/*"} in resources


def test_bucket_blocks_all_public_access() -> None:
    # Given the uploads bucket
    bucket = _resources()["UploadsBucket"]["Properties"]

    # When reading its public access block and ownership
    block = bucket["PublicAccessBlockConfiguration"]

    # Then all four switches are on and ACLs are disabled
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_encrypts_with_the_customer_managed_key() -> None:
    # Given the uploads bucket's default encryption
    rules = _resources()["UploadsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    # When reading its one rule
    assert len(rules) == 1
    default = rules[0]["ServerSideEncryptionByDefault"]

    # Then it is SSE-KMS with the template's own rotating key, with an S3 bucket key
    assert default["SSEAlgorithm"] == "aws:kms"
    key_id = _target(default["KMSMasterKeyID"])
    assert key_id == "ReportsKey"
    key = _resources()[key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert rules[0]["BucketKeyEnabled"] is True


def test_lifecycle_expires_incoming_plans_and_reports() -> None:
    # Given the uploads bucket's lifecycle rules
    rules = _resources()["UploadsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]

    # When indexing the enabled expiry rules by prefix
    expiry = {
        rule.get("Prefix", rule.get("Filter", {}).get("Prefix")): rule["ExpirationInDays"]
        for rule in rules
        if rule["Status"] == "Enabled" and "ExpirationInDays" in rule
    }

    # Then incoming files, plans and reports are short-lived, and stale multipart uploads are aborted
    assert 0 < expiry["incoming/"] <= 2
    assert 0 < expiry["plans/"] <= 2
    assert 0 < expiry["reports/"] <= 7
    assert any(rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 1 for rule in rules)


def test_bucket_notifies_the_validation_queue_of_incoming_files() -> None:
    # Given the uploads bucket's notifications
    bucket = _resources()["UploadsBucket"]
    queues = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]

    # When reading the one queue configuration
    assert len(queues) == 1

    # Then created objects under incoming/ go to ValidationQueue, once its policy lets S3 send
    assert queues[0]["Event"] == "s3:ObjectCreated:*"
    assert _target(queues[0]["Queue"]) == "ValidationQueue"
    assert queues[0]["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "incoming/"}]
    assert "ValidationQueuePolicy" in _as_list(bucket["DependsOn"])


def test_consumed_queues_have_a_dlq_and_six_times_the_function_timeout() -> None:
    # Given every queue a function consumes (but the DLQs themselves)
    events = [event for event in _sqs_events() if event[0] not in DEAD_LETTER_FUNCTIONS]
    assert {name for name, _, _ in events} == {"ValidatorFunction", "WorkerFunction"}

    for name, function, event in events:
        # When resolving its queue and that queue's redrive policy
        queue_id = _target(event["Queue"])
        assert queue_id is not None, name
        queue = _resources()[queue_id]["Properties"]
        redrive = queue["RedrivePolicy"]
        dlq_id = _target(redrive["deadLetterTargetArn"])

        # Then failed messages land in a DLQ after a few tries, and a message outlives six function timeouts
        assert dlq_id is not None and _resources()[dlq_id]["Type"] == "AWS::SQS::Queue", queue_id
        assert 1 <= int(redrive["maxReceiveCount"]) <= 5, queue_id
        assert int(queue["VisibilityTimeout"]) >= 6 * _function_timeout(function), queue_id
        assert int(_resources()[dlq_id]["Properties"]["MessageRetentionPeriod"]) == 14 * 24 * 3600, dlq_id


def test_event_source_mappings_report_batch_item_failures() -> None:
    # Given both SQS event sources
    events = _sqs_events()

    # When reading their response types
    response_types = {name: event.get("FunctionResponseTypes", []) for name, _, event in events}

    # Then a failed record is retried alone, not the whole batch
    assert response_types == {
        "ValidatorFunction": ["ReportBatchItemFailures"],
        "WorkerFunction": ["ReportBatchItemFailures"],
        "ValidationDeadLetterFunction": ["ReportBatchItemFailures"],
        "CreationDeadLetterFunction": ["ReportBatchItemFailures"],
    }


def test_no_wildcard_action_or_resource_in_function_policy_statements() -> None:
    # Given the inline statements of every function's Policies
    statements = [
        (name, statement)
        for name, function in _of_type("AWS::Serverless::Function").items()
        for policy in function["Properties"].get("Policies", [])
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]
    assert statements

    for name, statement in statements:
        # When reading each statement's actions and resources
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])

        # Then none is a wildcard
        assert not any(_is_wildcard_action(action) for action in actions), (name, statement)
        assert "*" not in resources, (name, statement)
        assert "NotAction" not in statement and "NotResource" not in statement, (name, statement)


def test_no_wildcard_in_generated_function_role_policies(transformed: dict[str, Any]) -> None:
    # Given the inline policies SAM generates for each function's role (policy templates expanded)
    roles = {
        name: resource
        for name, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and name.endswith("FunctionRole")
    }
    assert set(roles) == {
        "ApiFunctionRole",
        "ValidatorFunctionRole",
        "WorkerFunctionRole",
        "ValidationDeadLetterFunctionRole",
        "CreationDeadLetterFunctionRole",
        "SweeperFunctionRole",
    }

    for name, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                # When reading each statement
                actions = _as_list(statement["Action"])
                resources = _as_list(statement["Resource"])

                # Then no action or resource is a bare wildcard
                assert not any(_is_wildcard_action(action) for action in actions), (name, statement)
                assert "*" not in resources, (name, statement)


def test_each_dlq_has_an_alarm() -> None:
    # Given the dead-letter queues and the alarms
    dlqs = {
        _target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in _of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    alarms = _of_type("AWS::CloudWatch::Alarm").values()
    assert dlqs == {"ValidationDLQ", "CreationDLQ"}

    for dlq in dlqs:
        # When looking for an alarm on the DLQ's visible messages
        matching = [
            a["Properties"]
            for a in alarms
            if a["Properties"]["Namespace"] == "AWS/SQS"
            and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and any(_target(d["Value"]) == dlq for d in a["Properties"]["Dimensions"])
        ]

        # Then one fires on the first message and notifies someone
        assert len(matching) == 1, dlq
        assert matching[0]["ComparisonOperator"] == "GreaterThanThreshold"
        assert matching[0]["Threshold"] == 0
        assert [_target(action) for action in matching[0]["AlarmActions"]] == ["AlarmTopic"]


def test_each_function_has_an_errors_alarm() -> None:
    # Given the functions and the Lambda alarms
    functions = set(_of_type("AWS::Serverless::Function"))
    alarms = [a["Properties"] for a in _of_type("AWS::CloudWatch::Alarm").values()]

    # When collecting the functions whose Errors metric is alarmed
    alarmed = {
        _target(d["Value"])
        for a in alarms
        if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"
        for d in a["Dimensions"]
        if d["Name"] == "FunctionName"
    }

    # Then every function is covered
    assert alarmed == functions


def test_api_is_throttled_and_logged() -> None:
    # Given the API
    api = _resources()["IntakeApi"]["Properties"]

    # When reading its stage-wide method settings
    settings = [s for s in api["MethodSettings"] if s["ResourcePath"] == "/*" and s["HttpMethod"] == "*"]

    # Then every method has a burst and rate limit, logging on, and request bodies (passwords) kept out of logs
    assert len(settings) == 1
    assert settings[0]["ThrottlingBurstLimit"] > 0
    assert settings[0]["ThrottlingRateLimit"] > 0
    assert settings[0]["LoggingLevel"] in ("ERROR", "INFO")
    assert settings[0]["DataTraceEnabled"] is False
    assert _target(api["AccessLogSetting"]["DestinationArn"]) == "ApiAccessLogGroup"


def test_api_routes_need_cognito_except_health_and_openapi() -> None:
    # Given the API's default authorizer and the API function's events
    api = _resources()["IntakeApi"]["Properties"]
    events = _resources()["ApiFunction"]["Properties"]["Events"].values()

    # When collecting routes and their authorizer overrides
    routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]): e["Properties"] for e in events}

    # Then exactly the contract's routes exist, on IntakeApi, and only the two public ones skip the Cognito authorizer
    assert set(routes) == ROUTES
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoAuthorizer"
    assert api["Auth"]["Authorizers"]["CognitoAuthorizer"]["Identity"]["Header"] == "Authorization"
    assert _target(api["Auth"]["Authorizers"]["CognitoAuthorizer"]["UserPoolArn"]) == "UserPool"
    for route, properties in routes.items():
        assert _target(properties["RestApiId"]) == "IntakeApi", route
        authorizer = properties.get("Auth", {}).get("Authorizer")
        assert authorizer == ("NONE" if route in PUBLIC_ROUTES else None), route


def test_worker_has_reserved_concurrency() -> None:
    # Given the worker function
    worker = _resources()["WorkerFunction"]["Properties"]

    # When reading its reserved concurrency
    reserved = worker["ReservedConcurrentExecutions"]

    # Then creation cannot starve the API of concurrency, and the queue never drives it past the reservation
    assert 0 < reserved <= 50
    event = next(e for n, _, e in _sqs_events() if n == "WorkerFunction")
    assert event["BatchSize"] == 1
    assert event["ScalingConfig"]["MaximumConcurrency"] <= reserved


def test_each_function_has_a_log_group_with_retention() -> None:
    # Given the functions and the log groups
    functions = set(_of_type("AWS::Serverless::Function"))
    log_groups = [g["Properties"] for g in _of_type("AWS::Logs::LogGroup").values()]

    for function in functions:
        # When looking for the function's /aws/lambda log group
        matching = [g for g in log_groups if g.get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}]

        # Then there is exactly one, with the retention parameter
        assert len(matching) == 1, function
        assert matching[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, function


def test_point_in_time_recovery_on_every_table() -> None:
    # Given every DynamoDB table
    tables = _of_type("AWS::DynamoDB::Table")
    assert set(tables) == {
        "AgenciesTable",
        "LocationsTable",
        "StaffTable",
        "LearnersTable",
        "UploadsTable",
        "IdempotencyTable",
    }

    for name, table in tables.items():
        # When reading its backup, billing and encryption settings
        properties = table["Properties"]

        # Then point-in-time recovery and encryption are on, and it bills per request
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert properties["SSESpecification"]["SSEEnabled"] is True, name
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name


def test_learners_table_keys_and_indexes() -> None:
    # Given the learners table
    properties = _resources()["LearnersTable"]["Properties"]

    # When reading its key schema and indexes
    key = [(k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]]
    indexes = {i["IndexName"]: i for i in properties["GlobalSecondaryIndexes"]}

    # Then one learner per (agency, DOC ID), findable by learnerId and by facility, and protected from deletion
    assert key == [("agencyId", "HASH"), ("docId", "RANGE")]
    assert [(k["AttributeName"], k["KeyType"]) for k in indexes["byLearnerId"]["KeySchema"]] == [("learnerId", "HASH")]
    assert indexes["byLearnerId"]["Projection"] == {"ProjectionType": "ALL"}
    assert [(k["AttributeName"], k["KeyType"]) for k in indexes["byFacility"]["KeySchema"]] == [
        ("facilityId", "HASH"),
        ("docId", "RANGE"),
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert types == {"agencyId": "S", "docId": "S", "learnerId": "S", "facilityId": "S"}
    assert properties["DeletionProtectionEnabled"] is True


def test_idempotency_and_uploads_tables_expire_items() -> None:
    # Given the two tables of short-lived items
    resources = _resources()

    # When reading their TTL settings
    ttl = {
        name: resources[name]["Properties"]["TimeToLiveSpecification"] for name in ("IdempotencyTable", "UploadsTable")
    }

    # Then Powertools' expiration attribute and the uploads' ttl attribute are honoured
    assert ttl["IdempotencyTable"] == {"AttributeName": "expiration", "Enabled": True}
    assert ttl["UploadsTable"] == {"AttributeName": "ttl", "Enabled": True}


def test_lint_transformed_exits_zero() -> None:
    # Given the repository's template

    # When transforming it offline and linting the result, as `make cfn-lint` does
    result = subprocess.run(
        [sys.executable, "-m", "infra.lint_transformed", "template.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then the transform succeeds and cfn-lint finds no error
    assert result.returncode == 0, result.stdout + result.stderr
