"""Creates template.yaml's tables, queues and bucket in whatever AWS boto3 points at (moto, in-process or server)."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from local.template import TEMPLATE_PATH, load_template

STACK_NAME = "intake"
MOTO_ACCOUNT_ID = "123456789012"
TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"
FUNCTION_TYPE = "AWS::Serverless::Function"
EVENT_SOURCE_MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
USER_POOL_TYPE = "AWS::Cognito::UserPool"
USER_POOL_CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
RESOURCE_SERVER_TYPE = "AWS::Cognito::UserPoolResourceServer"
STAFF_CLIENT_ID = "UserPoolClient"
TABLET_CLIENT_ID = "TabletClient"
# `sam deploy --parameter-overrides` for the local stack: "LearnerLockoutSeconds=1 WafRequestsPerIp=100"
PARAMETER_OVERRIDES_ENV = "INTAKE_PARAMETER_OVERRIDES"

# CloudFormation property name → SQS attribute name (the same except where listed); values are sent as strings.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "SqsManagedSseEnabled",
)
_CORS_KEYS = {
    "Id": "ID",
    "AllowedHeaders": "AllowedHeaders",
    "AllowedMethods": "AllowedMethods",
    "AllowedOrigins": "AllowedOrigins",
    "ExposedHeaders": "ExposeHeaders",
    "MaxAge": "MaxAgeSeconds",
}


@dataclass(frozen=True)
class FunctionConfig:
    """A function of the template as the local stack runs it."""

    logical_id: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    reserved_concurrency: int | None = None

    @property
    def function_name(self) -> str:
        """The local function name (deployed names carry a random suffix)."""
        return f"{STACK_NAME}-{self.logical_id}"

    @property
    def module(self) -> str:
        """The handler's module, e.g. `validator_handler`."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        """The handler's function name in its module, e.g. `lambda_handler`."""
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class SqsEventSource:
    """One SQS event source of the template: an `AWS::Lambda::EventSourceMapping` or a function's `Type: SQS` event."""

    function: FunctionConfig
    queue_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    max_receive_count: int | None
    dlq_id: str | None
    dlq_url: str | None
    maximum_concurrency: int | None = None


@dataclass(frozen=True)
class LocalUserPool:
    """The local Cognito user pool of staff, its app client, and the tablet platform's machine client."""

    pool_id: str
    client_id: str
    arn: str
    tablet_client_id: str = ""
    tablet_client_secret: str = field(default="", repr=False)
    tablet_scopes: tuple[str, ...] = ()


def parameter_overrides() -> dict[str, str]:
    """The template parameter values INTAKE_PARAMETER_OVERRIDES sets, as `sam deploy --parameter-overrides` takes
    them (`Name=Value` pairs separated by spaces)."""
    overrides = {}
    for pair in shlex.split(os.environ.get(PARAMETER_OVERRIDES_ENV, "")):
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"{PARAMETER_OVERRIDES_ENV}: {pair!r} is not Name=Value")
        overrides[name] = value
    return overrides


def parameter_value(name: str, parameters: dict[str, Any]) -> Any:
    """A template parameter's value in the local stack: its override, else its default."""
    overrides = parameter_overrides()
    if name in overrides:
        return overrides[name]
    return parameters.get(name, {}).get("Default")


@dataclass
class LocalResources:
    """What `provision` created: local names, urls and arns by logical id, and the SQS event source mappings."""

    region: str
    tables: dict[str, str]
    buckets: dict[str, str]
    queue_urls: dict[str, str]
    queue_arns: dict[str, str]
    functions: dict[str, FunctionConfig]
    event_sources: dict[str, SqsEventSource]
    account_id: str = MOTO_ACCOUNT_ID
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    tablet_client_id: str = ""
    reports_kms_key_id: str = ""
    template_path: Path = field(default=TEMPLATE_PATH, repr=False)

    @property
    def bucket(self) -> str:
        """The uploads bucket (the template has one bucket)."""
        return self.buckets.get("UploadsBucket") or next(iter(self.buckets.values()))

    @property
    def function_timeouts(self) -> dict[str, int]:
        """Timeout in seconds of each SQS-driven function, by function logical id."""
        return {fid: src.function.timeout_seconds for fid, src in self.event_sources.items()}

    @property
    def batch_sizes(self) -> dict[str, int]:
        """BatchSize of each SQS event source mapping, by function logical id."""
        return {fid: src.batch_size for fid, src in self.event_sources.items()}

    @property
    def max_receive_counts(self) -> dict[str, int | None]:
        """maxReceiveCount of the queue behind each SQS event source mapping, by function logical id."""
        return {fid: src.max_receive_count for fid, src in self.event_sources.items()}

    def environment(self) -> dict[str, str]:
        """Globals.Function.Environment.Variables with references resolved to the local resources."""
        template = load_template(self.template_path)
        variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        resolver = _Resolver(template, self, strict=False)
        env = {name: _as_str(resolver.resolve(value)) for name, value in variables.items()}
        # Every handler runs in this one process: the functions' own variables (ApiFunction's sign-in settings) too.
        for _, function in _of_type(template["Resources"], FUNCTION_TYPE):
            own = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
            env.update({name: _as_str(resolver.resolve(value)) for name, value in own.items()})
        env.setdefault("POWERTOOLS_SERVICE_NAME", STACK_NAME)
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Intake")
        env.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
        # The seeded admins have no authenticator: locally MFA is OPTIONAL unless INTAKE_STAFF_MFA says otherwise.
        env["STAFF_MFA"] = os.environ.get("INTAKE_STAFF_MFA", "OPTIONAL")
        # moto accepts any SRP proof, so a wrong password would sign in: locally the page sends the password instead
        env["WEB_AUTH_FLOW"] = os.environ.get("INTAKE_WEB_AUTH_FLOW", "USER_PASSWORD_AUTH")
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
        env["AWS_REGION"] = self.region
        env["AWS_DEFAULT_REGION"] = self.region
        return env


def provision(
    session_or_region: str | boto3.session.Session = "us-east-1", template_path: Path = TEMPLATE_PATH
) -> LocalResources:
    """Create every table, queue and bucket of the template and describe them (idempotent)."""
    session = _session(session_or_region)
    region = session.region_name or "us-east-1"
    template = load_template(template_path)
    resources: dict[str, Any] = template["Resources"]
    local = LocalResources(
        region=region,
        tables={},
        buckets={},
        queue_urls={},
        queue_arns={},
        functions={},
        event_sources={},
        template_path=template_path,
    )
    resolver = _Resolver(template, local, strict=True)
    if "ReportsKey" in resources:
        local.reports_kms_key_id = _reports_key(session.client("kms"))

    dynamodb = session.client("dynamodb")
    for logical_id, resource in _of_type(resources, TABLE_TYPE):
        local.tables[logical_id] = _create_table(dynamodb, logical_id, resource.get("Properties", {}))

    sqs = session.client("sqs")
    for logical_id, resource in _queues_in_dependency_order(resources):
        url, arn = _create_queue(sqs, logical_id, resource.get("Properties", {}), resolver)
        local.queue_urls[logical_id], local.queue_arns[logical_id] = url, arn

    s3 = session.client("s3")
    for logical_id, resource in _of_type(resources, BUCKET_TYPE):
        local.buckets[logical_id] = _create_bucket(s3, sqs, local, logical_id, resource.get("Properties", {}), resolver)

    globals_ = template.get("Globals", {}).get("Function", {})
    for logical_id, resource in _of_type(resources, FUNCTION_TYPE):
        local.functions[logical_id] = _function(
            logical_id, resource.get("Properties", {}), globals_, template.get("Parameters", {})
        )
    for logical_id, resource in _of_type(resources, FUNCTION_TYPE):
        source = _sqs_event_source(
            local,
            local.functions[logical_id],
            resource.get("Properties", {}),
            resources,
            template.get("Parameters", {}),
        )
        if source is not None:
            local.event_sources[logical_id] = source
    return local


REPORTS_KEY_ALIAS = f"alias/{STACK_NAME}-reports-local"


def _reports_key(kms: Any) -> str:
    """The local stand-in of the template's ReportsKey (a symmetric CMK): its ARN, made once (found by alias)."""
    for page in kms.get_paginator("list_aliases").paginate():
        for alias in page.get("Aliases", []):
            if alias.get("AliasName") == REPORTS_KEY_ALIAS and alias.get("TargetKeyId"):
                return str(kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"])
    metadata = kms.create_key(Description="Intake reports, plans and upload data keys (local)")["KeyMetadata"]
    kms.create_alias(AliasName=REPORTS_KEY_ALIAS, TargetKeyId=metadata["KeyId"])
    return str(metadata["Arn"])


def provision_user_pool(
    session_or_region: str | boto3.session.Session = "us-east-1", template_path: Path = TEMPLATE_PATH
) -> LocalUserPool:
    """Create the template's Cognito user pool and app client (policies and auth flows as deployed)."""
    session = _session(session_or_region)
    template = load_template(template_path)
    resources: dict[str, Any] = template["Resources"]
    pool_props: dict[str, Any] = next((r.get("Properties", {}) for _, r in _of_type(resources, USER_POOL_TYPE)), {})
    client_props: dict[str, Any] = resources.get(STAFF_CLIENT_ID, {}).get("Properties", {})
    cognito = session.client("cognito-idp")

    pool_args: dict[str, Any] = {"PoolName": f"{STACK_NAME}-staff-local"}
    for key in (
        "Policies",
        "AdminCreateUserConfig",
        "UsernameConfiguration",
        "MfaConfiguration",
        "AccountRecoverySetting",
    ):
        if key in pool_props:
            pool_args[key] = _plain(_choose(pool_props[key], template))
    # moto takes no EnabledMfas: the pool's software-token MFA is set on it after it is made
    totp = "SOFTWARE_TOKEN_MFA" in (_choose(pool_props.get("EnabledMfas"), template) or [])
    mfa = pool_args.get("MfaConfiguration", "OFF")
    if totp:
        pool_args.pop("MfaConfiguration", None)
    pool = cognito.create_user_pool(**pool_args)["UserPool"]
    if totp:
        cognito.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration=mfa,
        )

    client_args: dict[str, Any] = {
        "UserPoolId": pool["Id"],
        "ClientName": str(client_props.get("ClientName", STACK_NAME)),
    }
    for key in (
        "GenerateSecret",
        "ExplicitAuthFlows",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "IdTokenValidity",
        "AccessTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
    ):
        if key in client_props:
            client_args[key] = _plain(client_props[key])
    # Deployed, the staff page signs in with SRP only; locally scripts and the AWS CLI get a token with a password too
    # (the contract's local InitiateAuth USER_PASSWORD_AUTH).
    flows = list(client_args.get("ExplicitAuthFlows", []))
    client_args["ExplicitAuthFlows"] = [*flows, *(["ALLOW_USER_PASSWORD_AUTH"] if flows else [])]
    client = cognito.create_user_pool_client(**client_args)["UserPoolClient"]
    tablet = _machine_client(cognito, pool["Id"], resources)
    return LocalUserPool(
        pool_id=pool["Id"],
        client_id=client["ClientId"],
        arn=pool["Arn"],
        tablet_client_id=str(tablet.get("ClientId", "")),
        tablet_client_secret=str(tablet.get("ClientSecret", "")),
        tablet_scopes=tuple(tablet.get("AllowedOAuthScopes", ())),
    )


def _machine_client(cognito: Any, pool_id: str, resources: dict[str, Any]) -> dict[str, Any]:
    """The template's resource servers and the tablet client (client credentials, secret generated) in the pool."""
    for _, server in _of_type(resources, RESOURCE_SERVER_TYPE):
        props = server.get("Properties", {})
        cognito.create_resource_server(
            UserPoolId=pool_id,
            Identifier=str(props["Identifier"]),
            Name=str(props.get("Name", props["Identifier"])),
            Scopes=_plain(props.get("Scopes", [])),
        )
    props = resources.get(TABLET_CLIENT_ID, {}).get("Properties")
    if props is None:
        return {}
    args: dict[str, Any] = {"UserPoolId": pool_id, "ClientName": str(props.get("ClientName", TABLET_CLIENT_ID))}
    for key in (
        "GenerateSecret",
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "AllowedOAuthFlowsUserPoolClient",
        "SupportedIdentityProviders",
        "ExplicitAuthFlows",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "AccessTokenValidity",
        "TokenValidityUnits",
    ):
        if key in props:
            args[key] = _plain(props[key])
    return dict(cognito.create_user_pool_client(**args)["UserPoolClient"])


def _choose(value: Any, template: dict[str, Any]) -> Any:
    """A property value with `Fn::If` decided by the template's conditions at the parameters' defaults."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        return _choose(when_true if _condition(template, str(name)) else when_false, template)
    if isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return None
    return value


def _condition(template: dict[str, Any], name: str) -> bool:
    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::Equals":
                return evaluate(arg[0]) == evaluate(arg[1])
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(evaluate(a) for a in arg)
            if key == "Condition":
                return evaluate(template["Conditions"][arg])
            if key == "Ref":
                return _as_str(template.get("Parameters", {}).get(arg, {}).get("Default", ""))
        return _as_str(node) if not isinstance(node, dict | list) else node

    return bool(evaluate(template.get("Conditions", {})[name]))


def local_name(logical_id: str) -> str:
    """The local physical name of a table or queue: `intake-<LogicalId>`."""
    return f"{STACK_NAME}-{logical_id}"


def local_bucket_name(logical_id: str) -> str:
    """The local bucket name: `UploadsBucket` → `intake-uploads-local` (lower case, as S3 requires)."""
    stem = logical_id.removesuffix("Bucket") or logical_id
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", stem).lower()
    return f"{STACK_NAME}-{kebab}-local"


# ------------------------------------------------------------------ tables


def _create_table(dynamodb: Any, logical_id: str, props: dict[str, Any]) -> str:
    name = local_name(logical_id)
    billing = str(props.get("BillingMode", "PROVISIONED"))
    provisioned = billing == "PROVISIONED"
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": _plain(props["AttributeDefinitions"]),
        "KeySchema": _plain(props["KeySchema"]),
        "BillingMode": billing,
    }
    if provisioned:
        args["ProvisionedThroughput"] = _plain(props["ProvisionedThroughput"])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in props.get(key, []):
            spec = {k: _plain(index[k]) for k in ("IndexName", "KeySchema", "Projection")}
            if provisioned and key == "GlobalSecondaryIndexes":
                spec["ProvisionedThroughput"] = _plain(index["ProvisionedThroughput"])
            indexes.append(spec)
        if indexes:
            args[key] = indexes
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": str(stream["StreamViewType"])}
    try:
        dynamodb.create_table(**args)
    except dynamodb.exceptions.ResourceInUseException:
        return name
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled", False):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": str(ttl["AttributeName"])}
        )
    return name


# ------------------------------------------------------------------ queues


def _queues_in_dependency_order(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    queues = dict(_of_type(resources, QUEUE_TYPE))
    ordered: list[tuple[str, dict[str, Any]]] = []
    done: set[str] = set()

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in done:
            return
        if logical_id in path:
            raise ValueError(f"redrive cycle through {logical_id}")
        for dependency in _referenced_ids(queues[logical_id].get("Properties", {}).get("RedrivePolicy")):
            if dependency in queues:
                visit(dependency, (*path, logical_id))
        done.add(logical_id)
        ordered.append((logical_id, queues[logical_id]))

    for logical_id in queues:
        visit(logical_id, ())
    return ordered


def _create_queue(sqs: Any, logical_id: str, props: dict[str, Any], resolver: _Resolver) -> tuple[str, str]:
    fifo = bool(props.get("FifoQueue", False))
    name = local_name(logical_id) + (".fifo" if fifo else "")
    attributes = {key: _as_str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    if "RedrivePolicy" in props:
        policy = resolver.resolve(props["RedrivePolicy"])
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": str(policy["deadLetterTargetArn"]),
                "maxReceiveCount": int(policy["maxReceiveCount"]),
            }
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# ------------------------------------------------------------------ buckets


def _create_bucket(
    s3: Any, sqs: Any, local: LocalResources, logical_id: str, props: dict[str, Any], resolver: _Resolver
) -> str:
    name = local_bucket_name(logical_id)
    try:
        if local.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": local.region})
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass

    cors = props.get("CorsConfiguration")
    if cors:
        rules = [
            {_CORS_KEYS[k]: resolver.resolve(v) for k, v in rule.items() if k in _CORS_KEYS}
            for rule in cors.get("CorsRules", [])
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": _plain(rules)})

    notification = props.get("NotificationConfiguration")
    if notification:
        queue_configs = []
        for config in notification.get("QueueConfigurations", []):
            entry: dict[str, Any] = {
                "QueueArn": str(resolver.resolve(config["Queue"])),
                "Events": [str(config["Event"])],
            }
            rules = [{"Name": str(r["Name"]), "Value": str(r["Value"])} for r in _key_filter_rules(config)]
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(entry)
        s3_config: dict[str, Any] = {"QueueConfigurations": queue_configs}
        if "EventBridgeConfiguration" in notification:
            s3_config["EventBridgeConfiguration"] = {}
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=s3_config)
        arn_to_url = {arn: local.queue_urls[qid] for qid, arn in local.queue_arns.items()}
        for queue_arn in {entry["QueueArn"] for entry in queue_configs}:
            if queue_arn in arn_to_url:
                _drain_test_events(sqs, arn_to_url[queue_arn])
    return name


def _key_filter_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config.get("Filter", {}).get("S3Key", {}).get("Rules", []))


def _drain_test_events(sqs: Any, queue_url: str) -> None:
    """Delete the `s3:TestEvent` S3 sends when a notification is saved; leave anything else for its consumer."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        try:
            body = json.loads(message.get("Body") or "{}")
        except json.JSONDecodeError:
            body = {}
        if isinstance(body, dict) and body.get("Event") == "s3:TestEvent" and "Records" not in body:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            handle = message["ReceiptHandle"]
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)


# ------------------------------------------------------------------ functions


def _parameter_default(value: Any, parameters: dict[str, Any]) -> Any:
    """A {"Ref": parameter} as the parameter's value the local stack deploys (override or default); any other value
    as it is."""
    if isinstance(value, dict) and "Ref" in value and str(value["Ref"]) in parameters:
        return parameter_value(str(value["Ref"]), parameters)
    return value


def _function(
    logical_id: str, props: dict[str, Any], globals_: dict[str, Any], parameters: dict[str, Any]
) -> FunctionConfig:
    reserved = props.get("ReservedConcurrentExecutions", globals_.get("ReservedConcurrentExecutions"))
    reserved = _parameter_default(reserved, parameters)
    return FunctionConfig(
        logical_id=logical_id,
        handler=str(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))),
        timeout_seconds=int(props.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        reserved_concurrency=int(reserved) if isinstance(reserved, int | str) and str(reserved).isdigit() else None,
    )


def _sqs_mappings_of(function_id: str, props: dict[str, Any], resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The SQS event sources of one function: its SAM `Type: SQS` events and the enabled EventSourceMappings naming it.

    Both come back in the EventSourceMapping shape (`EventSourceArn`, `BatchSize`, ...). Mappings of other sources
    (streams, Kafka) are left out: the local stack polls SQS only.
    """
    mappings = [
        {**event.get("Properties", {}), "EventSourceArn": event.get("Properties", {}).get("Queue")}
        for event in props.get("Events", {}).values()
        if event.get("Type") == "SQS"
    ]
    for _, mapping in _of_type(resources, EVENT_SOURCE_MAPPING_TYPE):
        mapping_props = mapping.get("Properties", {})
        if function_id not in _referenced_ids(mapping_props.get("FunctionName")):
            continue
        if mapping_props.get("Enabled", True) in (False, "false", "False"):
            continue
        sources = _referenced_ids(mapping_props.get("EventSourceArn"))
        if any(resources.get(source, {}).get("Type") == QUEUE_TYPE for source in sources):
            mappings.append(dict(mapping_props))
    return mappings


def _sqs_event_source(
    local: LocalResources,
    function: FunctionConfig,
    props: dict[str, Any],
    resources: dict[str, Any],
    parameters: dict[str, Any],
) -> SqsEventSource | None:
    mappings = _sqs_mappings_of(function.logical_id, props, resources)
    if not mappings:
        return None
    if len(mappings) > 1:
        raise ValueError(f"{function.logical_id}: the local stack supports one SQS event source per function")
    mapping = mappings[0]
    queue_id = next(iter(_referenced_ids(mapping["EventSourceArn"])))
    redrive = resources[queue_id].get("Properties", {}).get("RedrivePolicy")
    dlq_id = next(iter(_referenced_ids(redrive)), None) if redrive else None
    maximum = _parameter_default(mapping.get("ScalingConfig", {}).get("MaximumConcurrency"), parameters)
    return SqsEventSource(
        function=function,
        queue_id=queue_id,
        queue_url=local.queue_urls[queue_id],
        queue_arn=local.queue_arns[queue_id],
        batch_size=int(mapping.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        dlq_id=dlq_id,
        dlq_url=local.queue_urls.get(dlq_id) if dlq_id else None,
        maximum_concurrency=int(maximum) if maximum is not None else None,
    )


# ------------------------------------------------------------------ template helpers


class _Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub and Fn::Join against the local resources."""

    def __init__(self, template: dict[str, Any], local: LocalResources, *, strict: bool) -> None:
        self._parameters: dict[str, Any] = template.get("Parameters", {})
        self._local = local
        self._strict = strict

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._ref(str(arg))
                if key == "Fn::GetAtt":
                    target, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                    return self._get_att(str(target), str(attribute))
                if key == "Fn::Sub":
                    return self._sub(arg)
                if key == "Fn::Join":
                    separator, parts = arg
                    return str(separator).join(_as_str(self.resolve(p)) for p in parts)
            return {str(k): self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _ref(self, name: str) -> str:
        local = self._local
        pseudo = {
            "AWS::Region": local.region,
            "AWS::AccountId": local.account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }
        for mapping in (pseudo, local.tables, local.buckets, local.queue_urls):
            if name in mapping:
                return mapping[name]
        if name == "UserPool" and local.user_pool_id:
            return local.user_pool_id
        if name == STAFF_CLIENT_ID and local.user_pool_client_id:
            return local.user_pool_client_id
        if name == TABLET_CLIENT_ID and local.tablet_client_id:
            return local.tablet_client_id
        if name in self._parameters:
            value = parameter_value(name, self._parameters)
            return _as_str("" if value is None else value)
        return self._unresolved(f"Ref {name}")

    def _get_att(self, name: str, attribute: str) -> str:
        local = self._local
        if name in local.queue_arns:
            by_attribute = {"Arn": local.queue_arns[name], "QueueUrl": local.queue_urls[name]}
            by_attribute["QueueName"] = local.queue_arns[name].rsplit(":", 1)[-1]
            if attribute in by_attribute:
                return by_attribute[attribute]
        if name in local.tables and attribute == "Arn":
            return f"arn:aws:dynamodb:{local.region}:{local.account_id}:table/{local.tables[name]}"
        if name in local.buckets and attribute == "Arn":
            return f"arn:aws:s3:::{local.buckets[name]}"
        if name == "ReportsKey" and attribute == "Arn" and local.reports_kms_key_id:
            return local.reports_kms_key_id
        return self._unresolved(f"GetAtt {name}.{attribute}")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _as_str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                target, attribute = name.split(".", 1)
                return self._get_att(target, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))

    def _unresolved(self, what: str) -> str:
        if self._strict:
            raise ValueError(f"the local stack cannot resolve {what}")
        return ""


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids a (possibly nested) value refers to through Ref or Fn::GetAtt."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(str(arg))
            elif key == "Fn::GetAtt":
                found.add(str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]))
            else:
                found |= _referenced_ids(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    return found


def _of_type(resources: dict[str, Any], resource_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [(str(name), res) for name, res in resources.items() if res.get("Type") == resource_type]


def _plain(value: Any) -> Any:
    """cfn-lint's node classes as builtin dicts, lists, strings and numbers (botocore validates types)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1)
def _loader() -> botocore.loaders.Loader:
    """One botocore data loader for every session made here: it keeps the service models it has parsed, which a
    new session's own loader would parse again (half of what provisioning a moto backend costs, once per test)."""
    loader = botocore.loaders.create_loader()
    loader.search_paths.append(str(Path(boto3.__file__).parent / "data"))  # as boto3's Session adds to its own
    return loader


def _session(session_or_region: str | boto3.session.Session) -> boto3.session.Session:
    """A new session (its own credentials and handlers, as boto3.session.Session() makes), sharing the loader."""
    if isinstance(session_or_region, boto3.session.Session):
        return session_or_region
    core = botocore.session.Session()
    session = boto3.session.Session(region_name=session_or_region, botocore_session=core)
    core.register_component("data_loader", _loader())  # after boto3 has added its data path to the session's own
    return session
