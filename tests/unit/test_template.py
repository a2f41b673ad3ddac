"""The SAM template keeps its security and reliability promises (read through local.template, transformed offline)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.template import TEMPLATE_PATH, load_template
from tools.lint_transformed import lint_transformed, transform_file

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
    # a learner's account life (issue 15)
    ("GET", "/facilities/{facilityId}/learners"),
    ("PATCH", "/learners/{learnerId}"),
    ("POST", "/learners/{learnerId}/deactivate"),
    ("POST", "/learners/{learnerId}/reactivate"),
    ("POST", "/learners/{learnerId}/password"),
    ("POST", "/facilities/{facilityId}/learners/status"),
    ("POST", "/facilities/{facilityId}/learner-cards"),
    ("POST", "/uploads"),
    ("GET", "/uploads/{uploadId}"),
    ("POST", "/uploads/{uploadId}/confirm"),
    ("POST", "/uploads/{uploadId}/undo-deactivations"),
    *{("GET", "/"), ("GET", "/docs"), ("GET", "/static/{file}"), ("GET", "/client-config")},
}
# Learner sign-in (issue 16): the tablet client's access token with this scope only
SCOPED_ROUTES = {("POST", "/learner-sign-ins"): ["intake/learner-sign-ins"]}
ROUTES |= set(SCOPED_ROUTES)
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/openapi.json")} | {
    ("GET", "/"),
    ("GET", "/docs"),
    ("GET", "/static/{file}"),
    ("GET", "/client-config"),
}
# Administration (issue 9)
ROUTES |= {
    ("GET", "/agencies"),
    ("POST", "/agencies"),
    ("POST", "/agencies/{agencyId}/rename"),
    ("GET", "/agencies/{agencyId}/locations"),
    ("POST", "/facilities"),
    ("POST", "/facilities/{facilityId}/housing-units"),
    ("GET", "/facilities/{facilityId}/settings"),
    ("POST", "/facilities/{facilityId}/settings"),
    ("GET", "/facilities/{facilityId}/audit"),
    ("POST", "/locations/{locationId}/rename"),
    ("POST", "/locations/{locationId}/deactivate"),
    ("POST", "/locations/{locationId}/reactivate"),
    ("POST", "/locations/{locationId}/delete"),
    ("GET", "/staff"),
    ("POST", "/staff"),
    ("POST", "/staff/{username}/scope"),
    ("POST", "/staff/{username}/grants"),
    ("POST", "/staff/{username}/grants/remove"),
    ("POST", "/staff/{username}/disable"),
    ("POST", "/staff/{username}/enable"),
}

# The only "*" resource a function may be granted: X-Ray has no resource-level permissions for these actions.
XRAY_EXCEPTION_SID = "XRayHasNoResourceLevelPermissions"
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# The only AWS-managed policy the stack attaches: API Gateway's account-wide logging role, not a function's.
ALLOWED_AWS_MANAGED = {("ApiGatewayCloudWatchRole", "service-role/AmazonAPIGatewayPushToCloudWatchLogs")}
SQS_CONSUMER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


def _resources() -> dict[str, dict[str, Any]]:
    """Logical id → resource of template.yaml."""
    return load_template()["Resources"]


def _of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id → resource, for one resource type."""
    return {name: res for name, res in _resources().items() if res["Type"] == resource_type}


def _target(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at (None for anything else); for an Fn::If, the one its default (false)
    branch points at: an event source mapping names the function, or its alias when SnapStart is on."""
    if isinstance(value, dict):
        if "Fn::If" in value:
            return _target(value["Fn::If"][2])
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
    """(function logical id, function, mapping properties) for every SQS event source, mapping or SAM event."""
    functions = _of_type("AWS::Serverless::Function")
    sources = [
        (name, function, {**event["Properties"], "EventSourceArn": event["Properties"]["Queue"]})
        for name, function in functions.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    for mapping in _of_type("AWS::Lambda::EventSourceMapping").values():
        name = _target(mapping["Properties"]["FunctionName"])
        assert name in functions, mapping
        sources.append((str(name), functions[str(name)], mapping["Properties"]))
    return sources


def _names_a_resource(value: Any, logical_ids: set[str]) -> bool:
    """True when a policy Resource is a Ref, GetAtt or Sub of one of the template's own resources."""
    if _target(value) in logical_ids:
        return True
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        named = {part.split(".")[0] for part in re.findall(r"\$\{([^}!]+)\}", text)}
        return bool(named & logical_ids) or any(_names_a_resource(v, logical_ids) for v in variables.values())
    return False


def _function_roles(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Function logical id → (role logical id, role) of every AWS::Lambda::Function of a transformed template."""
    resources = template["Resources"]
    roles: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, function in resources.items():
        if function["Type"] == "AWS::Lambda::Function":
            role_id = _target(function["Properties"]["Role"])
            assert role_id in resources and resources[role_id]["Type"] == "AWS::IAM::Role", (name, role_id)
            roles[name] = (role_id, resources[role_id])
    return roles


def _role_statements(template: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement a role grants: inline policies and the template's own managed policies it attaches."""
    statements = [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
    ]
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        policy = template["Resources"].get(_target(arn) or "", {})
        assert policy.get("Type") == "AWS::IAM::ManagedPolicy", f"an AWS-managed policy on a function role: {arn}"
        statements += _as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


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


def test_bucket_policy_refuses_old_tls_and_weaker_encryption() -> None:
    # Given the uploads bucket policy's deny statements
    statements = _resources()["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    denies = {s["Sid"]: s for s in statements if s["Effect"] == "Deny"}
    objects = {"Fn::Sub": "${UploadsBucket.Arn}/*"}

    # When reading the TLS-version and encryption conditions
    tls = denies["DenyTlsOlderThan12"]
    not_kms = denies["DenyEncryptionOtherThanKms"]
    other_key = denies["DenyKmsKeysOtherThanReportsKey"]
    no_key = denies["DenyKmsWithoutReportsKeyId"]

    # Then TLS < 1.2 is refused, and a write may only leave encryption to the default or name the reports key
    assert tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}}
    assert objects in _as_list(tls["Resource"]) and tls["Principal"] == "*"
    for deny in (not_kms, other_key, no_key):
        assert deny["Principal"] == "*" and deny["Action"] == "s3:PutObject" and deny["Resource"] == objects
    assert not_kms["Condition"] == {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    assert other_key["Condition"] == {
        "StringNotEqualsIfExists": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": {"Fn::GetAtt": ["ReportsKey", "Arn"]}
        }
    }
    assert no_key["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"},
    }


def test_queues_and_alarm_topic_refuse_insecure_transport() -> None:
    # Given every queue, the queue policies and the alarm topic's policy
    queues = set(_of_type("AWS::SQS::Queue"))
    policies = list(_of_type("AWS::SQS::QueuePolicy").values()) + list(_of_type("AWS::SNS::TopicPolicy").values())

    # When collecting, per queue or topic, the policies that deny requests without TLS
    covered: dict[str, int] = {}
    for policy in policies:
        targets = [_target(t) for t in policy["Properties"].get("Queues", policy["Properties"].get("Topics", []))]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            insecure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
            if statement["Effect"] == "Deny" and insecure and statement["Principal"] == "*":
                resources = {_target(r) for r in _as_list(statement["Resource"])}
                for target in targets:
                    assert target in resources, (target, statement)
                    covered[str(target)] = covered.get(str(target), 0) + 1

    # Then each queue and the topic has exactly one such policy
    assert covered == dict.fromkeys([*queues, "AlarmTopic"], 1), "add a new queue to QueuesTlsOnlyPolicy"


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
    # Given every queue a function consumes, and the queues that are some queue's DLQ
    events = _sqs_events()
    assert {"ValidatorFunction", "WorkerFunction"} <= {name for name, _, _ in events}
    dlqs = {
        _target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in _of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }

    for name, function, event in events:
        # When resolving its queue and that queue's redrive policy
        queue_id = _target(event["EventSourceArn"])
        assert queue_id is not None, name
        queue = _resources()[queue_id]["Properties"]
        assert int(queue.get("VisibilityTimeout", 30)) >= 6 * _function_timeout(function), queue_id
        if queue_id in dlqs:
            continue  # a dead-letter handler's own queue: what it cannot handle stays there for 14 days
        redrive = queue["RedrivePolicy"]
        dlq_id = _target(redrive["deadLetterTargetArn"])

        # Then failed messages land in a DLQ after a few tries, and a message outlives six function timeouts
        assert dlq_id is not None and _resources()[dlq_id]["Type"] == "AWS::SQS::Queue", queue_id
        assert 1 <= int(redrive["maxReceiveCount"]) <= 5, queue_id
        assert int(_resources()[dlq_id]["Properties"]["MessageRetentionPeriod"]) == 14 * 24 * 3600, dlq_id


def test_event_source_mappings_report_batch_item_failures() -> None:
    # Given every SQS event source
    events = _sqs_events()

    # When reading their response types
    response_types = {name: event.get("FunctionResponseTypes", []) for name, _, event in events}

    # Then a failed record is retried alone, not the whole batch
    assert {"ValidatorFunction", "WorkerFunction"} <= set(response_types)
    assert all(types == ["ReportBatchItemFailures"] for types in response_types.values()), response_types


def test_every_function_has_its_own_explicit_role() -> None:
    # Given the functions and the template's roles
    functions = _of_type("AWS::Serverless::Function")
    roles = _of_type("AWS::IAM::Role")

    # When resolving each function's Role
    role_of = {name: _target(function["Properties"].get("Role")) for name, function in functions.items()}

    # Then each has one of its own, only Lambda may assume it, and no SAM Policies (dropped silently beside a Role)
    for name, function in functions.items():
        assert role_of[name] in roles, f"{name}: give it an explicit Role (SAM-generated ones grant logs on '*')"
        assert "Policies" not in function["Properties"], f"{name}: SAM ignores Policies when Role is set"
        trust = roles[str(role_of[name])]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [(s["Principal"], s["Action"]) for s in trust] == [
            ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")
        ]
    assert len(set(role_of.values())) == len(functions)


def test_function_roles_name_every_resource_except_xray(transformed: dict[str, Any]) -> None:
    # Given every function of the transformed template, the role it runs with and its resources' logical ids
    roles = _function_roles(transformed)
    logical_ids = set(transformed["Resources"])
    assert {"ApiFunction", "ValidatorFunction", "WorkerFunction"} <= set(roles)

    for name, (role_id, role) in roles.items():
        # When reading every statement the role grants (inline and attached)
        statements = _role_statements(transformed, role)
        exceptions = [s for s in statements if s.get("Sid") == XRAY_EXCEPTION_SID]

        # Then only Allow statements with literal actions and named resources, except X-Ray's two actions on "*"
        assert [set(_as_list(s["Action"])) for s in exceptions] == [XRAY_ACTIONS], (name, role_id)
        assert [_as_list(s["Resource"]) for s in exceptions] == [["*"]], (name, role_id)
        for statement in statements:
            assert statement["Effect"] == "Allow", (name, statement)
            assert "NotAction" not in statement and "NotResource" not in statement, (name, statement)
            assert not any("*" in action for action in _as_list(statement["Action"])), (name, statement)
            if statement is not exceptions[0]:
                for resource in _as_list(statement["Resource"]):
                    assert _names_a_resource(resource, logical_ids), (name, statement.get("Sid"), resource)


def test_no_aws_managed_policy_but_api_gateway_logging(transformed: dict[str, Any]) -> None:
    # Given every IAM role SAM and the template produce
    roles = {n: r for n, r in transformed["Resources"].items() if r["Type"] == "AWS::IAM::Role"}

    # When collecting the managed policies that are not the template's own
    foreign = set()
    for name, role in roles.items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if _target(arn) not in transformed["Resources"]:
                text = arn["Fn::Sub"] if isinstance(arn, dict) and "Fn::Sub" in arn else str(arn)
                foreign.add((name, text.split(":policy/", 1)[-1]))

    # Then only API Gateway's account logging role uses one (AWSLambdaSQSQueueExecutionRole etc. are gone)
    assert foreign == ALLOWED_AWS_MANAGED, "scope it inline, or allow it here with its reason in docs/security.md"


def test_queue_consumers_may_consume_exactly_their_queues(transformed: dict[str, Any]) -> None:
    # Given the event source mappings of the transformed template and each function's role
    mappings = [
        r["Properties"] for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    roles = _function_roles(transformed)
    assert {"ValidatorFunction", "WorkerFunction"} <= {_target(m["FunctionName"]) for m in mappings}

    for name, (_, role) in roles.items():
        # When comparing the queues it is mapped to with the queues its role lets it receive from
        mapped = {_target(m["EventSourceArn"]) for m in mappings if _target(m["FunctionName"]) == name}
        granted: dict[str | None, set[str]] = {}
        for statement in _role_statements(transformed, role):
            actions = set(_as_list(statement["Action"])) & SQS_CONSUMER_ACTIONS
            for resource in _as_list(statement["Resource"]) if actions else []:
                granted.setdefault(_target(resource), set()).update(actions)

        # Then it may receive, delete and inspect messages of its own queue and of no other
        assert set(granted) == mapped, name
        assert all(actions == SQS_CONSUMER_ACTIONS for actions in granted.values()), name


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
            if a["Properties"].get("Namespace") == "AWS/SQS"
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
        if a.get("Namespace") == "AWS/Lambda" and a["MetricName"] == "Errors"
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
        if route in SCOPED_ROUTES:
            assert properties["Auth"] == {
                "Authorizer": "CognitoAuthorizer",
                "AuthorizationScopes": SCOPED_ROUTES[route],
            }
            continue
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


def test_each_function_logs_to_its_own_group_with_retention() -> None:
    # Given the functions, their roles and the log groups
    functions = _of_type("AWS::Serverless::Function")
    log_groups = _of_type("AWS::Logs::LogGroup")

    for name, function in functions.items():
        # When following the function's LoggingConfig to its log group
        group_id = _target(function["Properties"]["LoggingConfig"]["LogGroup"])
        role = _resources()[str(_target(function["Properties"]["Role"]))]
        statements = [
            statement
            for policy in role["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]
            if any(str(action).startswith("logs:") for action in _as_list(statement["Action"]))
        ]

        # Then the group keeps logs for the retention parameter, and the role may write to that group only
        assert group_id in log_groups, name
        assert log_groups[str(group_id)]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert len(statements) == 1, name
        assert set(_as_list(statements[0]["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}, name
        assert _as_list(statements[0]["Resource"]) == [{"Fn::GetAtt": [group_id, "Arn"]}], name


def test_every_log_group_has_retention_including_api_execution_logs() -> None:
    # Given every log group of the template
    log_groups = _of_type("AWS::Logs::LogGroup")

    # When looking for API Gateway's execution log group of the stage
    execution = [
        g
        for g in log_groups.values()
        if g["Properties"].get("LogGroupName") == {"Fn::Sub": "API-Gateway-Execution-Logs_${IntakeApi}/${StageName}"}
    ]

    # Then it is owned by the stack, and no group keeps logs forever
    assert len(execution) == 1
    for name, group in log_groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


# Transient tables: nothing in them to restore (failed sign-ins in a row, expired by TTL within 24 hours).
TRANSIENT_TABLES = {"SignInAttemptsTable"}


def test_point_in_time_recovery_on_every_table() -> None:
    # Given every DynamoDB table but the transient ones
    tables = {name: t for name, t in _of_type("AWS::DynamoDB::Table").items() if name not in TRANSIENT_TABLES}
    assert set(_of_type("AWS::DynamoDB::Table")) - set(tables) == TRANSIENT_TABLES
    assert set(tables) == {
        "AgenciesTable",
        "LocationsTable",
        "StaffTable",
        "LearnersTable",
        "UsernamesTable",
        "UploadsTable",
        "IdempotencyTable",
        "AuditTable",
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

    # Then one learner per (agency, DOC ID), findable by learnerId (keys only) and through three roster indexes of a
    # facility's learners of one status, sorted by name, first name and DOC ID, carrying everything but the hash
    assert key == [("agencyId", "HASH"), ("docId", "RANGE")]
    assert [(k["AttributeName"], k["KeyType"]) for k in indexes["byLearnerId"]["KeySchema"]] == [("learnerId", "HASH")]
    assert indexes["byLearnerId"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert set(indexes) == {"byLearnerId", "byRosterName", "byRosterFirst", "byRosterDocId"}
    from intake.dal.tables import ROSTER_ATTRIBUTES

    for name, sort in (("byRosterName", "nameKey"), ("byRosterFirst", "firstKey"), ("byRosterDocId", "docKey")):
        assert [(k["AttributeName"], k["KeyType"]) for k in indexes[name]["KeySchema"]] == [
            ("roster", "HASH"),
            (sort, "RANGE"),
        ]
        projection = indexes[name]["Projection"]
        assert projection["ProjectionType"] == "INCLUDE" and projection["NonKeyAttributes"] == ROSTER_ATTRIBUTES
        assert "passwordHash" not in projection["NonKeyAttributes"]
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert types == dict.fromkeys(("agencyId", "docId", "learnerId", "roster", "nameKey", "firstKey", "docKey"), "S")
    assert properties["DeletionProtectionEnabled"] is True


def test_the_usernames_table_keys_one_claim_per_agency_and_username_and_is_kept() -> None:
    # Given the usernames table
    table = _resources()["UsernamesTable"]
    # When reading its key and retention
    key = [(k["AttributeName"], k["KeyType"]) for k in table["Properties"]["KeySchema"]]
    # Then a username is unique within an agency, and the claims survive a stack deletion
    assert key == [("agencyId", "HASH"), ("username", "RANGE")]
    assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True


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


def _default(value: Any) -> Any:
    """A {"Ref": parameter} as the parameter's default, as the local stack deploys it."""
    if isinstance(value, dict) and "Ref" in value:
        return load_template()["Parameters"][value["Ref"]]["Default"]
    return value


def _source_view(resources: Any) -> dict[str, tuple[Any, ...]]:
    """What the local pollers take from each SQS event source, by function logical id."""
    return {
        fid: (
            src.queue_id,
            src.batch_size,
            src.report_batch_item_failures,
            src.max_receive_count,
            src.dlq_id,
            src.maximum_concurrency,
            src.function.timeout_seconds,
            src.function.reserved_concurrency,
        )
        for fid, src in resources.event_sources.items()
    }


def test_local_stack_polls_the_queues_the_mappings_name(aws: Any) -> None:
    # Given the local stack provisioned from template.yaml (by the `aws` fixture)

    # When reading its SQS event sources
    sources = _source_view(aws)

    # Then they are the template's EventSourceMappings, with their batch sizes, scaling and the queues' redrive
    expected = {}
    for name, function, mapping in _sqs_events():
        queue_id = str(_target(mapping["EventSourceArn"]))
        # a dead-letter handler's own queue has no redrive: what it cannot handle stays there
        redrive = _resources()[queue_id]["Properties"].get("RedrivePolicy")
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        reserved = _default(reserved)
        expected[name] = (
            queue_id,
            mapping["BatchSize"],
            "ReportBatchItemFailures" in mapping["FunctionResponseTypes"],
            redrive["maxReceiveCount"] if redrive else None,
            _target(redrive["deadLetterTargetArn"]) if redrive else None,
            _default(mapping.get("ScalingConfig", {}).get("MaximumConcurrency")),
            _function_timeout(function),
            reserved,
        )
    assert sources == expected
    assert sources["WorkerFunction"][5] is not None and sources["WorkerFunction"][7] is not None


def test_local_stack_still_accepts_sam_sqs_events(tmp_path: Path) -> None:
    # Given the template with its EventSourceMappings written back as SAM `Events: Type: SQS`, plus a disabled mapping
    from moto import mock_aws

    from local.resources import provision

    template = json.loads(json.dumps(load_template()))
    for name, mapping in list(_of_type("AWS::Lambda::EventSourceMapping").items()):
        properties = json.loads(json.dumps(mapping["Properties"]))
        function = template["Resources"][str(_target(properties.pop("FunctionName")))]
        properties["Queue"] = properties.pop("EventSourceArn")
        function["Properties"].setdefault("Events", {})[name] = {"Type": "SQS", "Properties": properties}
        del template["Resources"][name]
    template["Resources"]["DisabledMapping"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": "WorkerFunction"},
            "EventSourceArn": {"Fn::GetAtt": ["ValidationQueue", "Arn"]},
            "Enabled": False,
        },
    }
    sam_form = tmp_path / "template.yaml"
    sam_form.write_text(json.dumps(template), encoding="utf-8")

    # When provisioning the local stack from each form
    with mock_aws():
        from_mappings = _source_view(provision("us-east-1"))
    with mock_aws():
        from_events = _source_view(provision("us-east-1", template_path=sam_form))

    # Then the pollers get the same event sources either way, and the disabled mapping is not polled
    assert from_events == from_mappings
    assert set(from_mappings) == {
        "ValidatorFunction",
        "WorkerFunction",
        "ValidationDeadLetterFunction",
        "CreationDeadLetterFunction",
    }


def test_cfn_lint_finds_no_error_in_the_transformed_template(transformed: dict[str, Any]) -> None:
    # Given the transformed template (SAM resources expanded into CloudFormation)

    # When linting it with cfn-lint, as `make cfn-lint` does through `python -m tools.lint_transformed`
    errors, _ = lint_transformed(transformed)

    # Then a broken reference inside what SAM generated (a policy naming a missing table, say) would show here
    assert errors == []
