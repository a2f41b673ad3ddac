"""Which AWS actions each function really calls, recorded at the botocore boundary, and the template's IAM policies.

`Recorder` hooks every botocore session made while it is installed (boto3 clients, PynamoDB's connections,
Powertools' idempotency): `before-parameter-build` sees each call's operation and parameters (presigned links too),
`after-call` its status. Each call is attributed to the function whose handler is running (`Recorder.wrap_handlers`
wraps the handler of every function of template.yaml), then mapped to the IAM action(s) and resource(s) it needs:
DynamoDB PutItem → dynamodb:PutItem on the table (or index), S3 HeadObject → s3:GetObject on bucket/key (and, when
the object is missing, s3:ListBucket: without it S3 answers 403, not 404), ListObjectsV2 → s3:ListBucket with the
s3:prefix condition key, a write to an SSE-KMS bucket → kms:GenerateDataKey on the bucket key, and so on.

`Policies` reads each function role's statements from template.yaml with their resources resolved to the local
names, and says which calls no statement allows (MISSING) and which grants no call used (UNUSED).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.resources import FUNCTION_TYPE, LocalResources, _Resolver
from local.template import load_template

# What Lambda itself does with a function's role, not the function's code: read its queue, write its logs and traces.
SQS_CONSUMER = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
LOG_WRITER = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY_WRITER = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

# S3 operation → IAM action on the object (or the bucket, for lists).
_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
# What S3 asks KMS for, with the caller's permissions, on an SSE-KMS bucket.
_S3_KMS_ACTIONS = {
    "GetObject": ("kms:Decrypt",),
    "PutObject": ("kms:GenerateDataKey",),
    "CreateMultipartUpload": ("kms:GenerateDataKey",),
    "CompleteMultipartUpload": ("kms:Decrypt",),
    "CopyObject": ("kms:Decrypt", "kms:GenerateDataKey"),
}
_DYNAMODB_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an IAM action on a resource, with the request's condition keys."""

    function: str
    action: str
    resource: str
    operation: str
    context: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        keys = "".join(f" [{k}={v}]" for k, v in self.context)
        return f"{self.function}: {self.action} on {self.resource}{keys} (botocore {self.operation})"


@dataclass
class _Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]
    presigned: bool
    status: int | None = None


@dataclass
class Recorder:
    """Every AWS call made while a function's handler runs, by function logical id."""

    resources: Any = None  # the LocalResources, set once provisioned (the hooks go in before any client is made)
    calls: list[_Call] = field(default_factory=list)
    running: str | None = None

    # ------------------------------------------------------------------ hooks
    def _before_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.running is None or model is None:
            return
        presigned = bool(context.get("is_presign_request"))
        if presigned and model.name == "CreateBucket":
            return  # generate_presigned_post's internal step: recorded by _presigned_post with its key
        call = _Call(self.running, model.service_model.signing_name, model.name, dict(params), presigned)
        context["iam_recorder_call"] = call
        self.calls.append(call)

    def _after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        call = context.get("iam_recorder_call")
        if isinstance(call, _Call):
            call.status = int(http_response.status_code)

    @contextmanager
    def installed(self, monkeypatch: Any) -> Iterator[Recorder]:
        """Hook every botocore session created from now on (clients made earlier are not seen: make them after)."""
        import botocore.handlers
        import botocore.signers

        handlers = [("before-parameter-build", self._before_params), ("after-call", self._after_call)]
        # In place, not a new list: moto appends its own stubber to this list when first imported, and that must
        # stay there after the recorder is gone (a replaced list would be restored without it).
        botocore.handlers.BUILTIN_HANDLERS.extend(handlers)
        original_post = botocore.signers.generate_presigned_post

        def presigned_post(client: Any, Bucket: str, Key: str, *args: Any, **kwargs: Any) -> Any:
            if self.running is not None:
                self.calls.append(_Call(self.running, "s3", "PutObject", {"Bucket": Bucket, "Key": Key}, True))
            return original_post(client, Bucket, Key, *args, **kwargs)

        monkeypatch.setattr(botocore.signers, "generate_presigned_post", presigned_post)
        try:
            yield self
        finally:
            for handler in handlers:
                botocore.handlers.BUILTIN_HANDLERS.remove(handler)

    @contextmanager
    def function(self, logical_id: str) -> Iterator[None]:
        """Attribute the calls made meanwhile to this function."""
        outer, self.running = self.running, logical_id
        try:
            yield
        finally:
            self.running = outer

    def wrap_handlers(self, monkeypatch: Any) -> None:
        """Wrap each function's handler (template.yaml's Handler) so its calls are attributed to it. Functions that
        share a handler (the two dead-letter functions) are told apart by the queue their event came from."""
        import importlib

        by_handler: dict[str, list[str]] = {}
        for logical_id, config in self.resources.functions.items():
            by_handler.setdefault(f"{config.module}.{config.attribute}", []).append(logical_id)
        by_queue = {src.queue_arn: fid for fid, src in self.resources.event_sources.items()}
        for handler, functions in by_handler.items():
            module_name, attribute = handler.rsplit(".", 1)
            module = importlib.import_module(module_name)
            monkeypatch.setattr(module, attribute, self._wrapped(getattr(module, attribute), functions, by_queue))

    def _wrapped(self, handler: Callable[..., Any], functions: list[str], by_queue: dict[str, str]) -> Any:
        def run(event: Any, context: Any) -> Any:
            records = event.get("Records") if isinstance(event, dict) else None
            source = records[0].get("eventSourceARN") if records else None
            name = by_queue.get(str(source)) if source in by_queue else None
            if name is None:
                assert len(functions) == 1, f"cannot tell which of {functions} runs this event"
                name = functions[0]
            with self.function(name):
                return handler(event, context)

        return run

    # ------------------------------------------------------------------ calls → permissions
    def needs(self) -> set[Need]:
        """Every (function, action, resource) the recorded calls need."""
        found: set[Need] = set()
        for call in self.calls:
            found.update(self._needs_of(call))
        return found

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.resources.region}:{self.resources.account_id}:{resource}"

    def _needs_of(self, call: _Call) -> list[Need]:
        mapper = {
            "dynamodb": self._dynamodb,
            "s3": self._s3,
            "sqs": self._sqs,
            "cognito-idp": self._cognito,
            "kms": self._kms,
        }.get(call.service)
        if mapper is None:
            return [Need(call.function, f"{call.service}:{call.operation}", "*", call.operation)]
        return [Need(call.function, action, resource, call.operation, ctx) for action, resource, ctx in mapper(call)]

    def _dynamodb(self, call: _Call) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        p, op = call.params, call.operation
        table = lambda name, index=None: self._arn(  # noqa: E731
            "dynamodb", f"table/{name}" + (f"/index/{index}" if index else "")
        )
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{op}", table(name), ()) for name in p.get("RequestItems", {})]
        if op == "TransactWriteItems":
            return [
                (f"dynamodb:{_DYNAMODB_TRANSACT[kind]}", table(action["TableName"]), ())
                for item in p.get("TransactItems", [])
                for kind, action in item.items()
            ]
        if op == "TransactGetItems":
            return [("dynamodb:GetItem", table(i["Get"]["TableName"]), ()) for i in p.get("TransactItems", [])]
        return [(f"dynamodb:{op}", table(p["TableName"], p.get("IndexName")), ())]

    def _bucket_kms_key(self, bucket: str) -> str | None:
        """The KMS key a bucket encrypts new objects with by default (template.yaml's BucketEncryption)."""
        template = load_template(self.resources.template_path)
        for logical_id, name in self.resources.buckets.items():
            if name != bucket:
                continue
            props = template["Resources"][logical_id].get("Properties", {})
            for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                    return str(policy_resolver(self.resources).resolve(default.get("KMSMasterKeyID")))
        return None

    def _s3(self, call: _Call) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        p, op = call.params, call.operation
        bucket = str(p.get("Bucket", ""))
        bucket_arn = f"arn:aws:s3:::{bucket}"
        if op in ("ListObjectsV2", "ListObjects"):
            context = (("s3:prefix", str(p["Prefix"])),) if "Prefix" in p else ()
            return [("s3:ListBucket", bucket_arn, context)]
        if op == "DeleteObjects":
            return [("s3:DeleteObject", f"{bucket_arn}/{o['Key']}", ()) for o in p.get("Delete", {}).get("Objects", [])]
        needs: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
        if op in _S3_OBJECT_ACTIONS:
            needs.append((_S3_OBJECT_ACTIONS[op], f"{bucket_arn}/{p['Key']}", ()))
        elif op == "CopyObject":
            source = p["CopySource"]
            source_key = source if isinstance(source, str) else f"{source['Bucket']}/{source['Key']}"
            needs += [
                ("s3:GetObject", f"arn:aws:s3:::{source_key}", ()),
                ("s3:PutObject", f"{bucket_arn}/{p['Key']}", ()),
            ]
        else:
            needs.append((f"s3:{op}", bucket_arn, ()))
        conditional_delete = op == "DeleteObject" and str(p.get("IfMatch", "*")) != "*"
        if conditional_delete:
            # S3's conditional delete on an ETag needs s3:GetObject on the object too (its user guide, "Enforce
            # conditional deletes"): without it the delete is AccessDenied, whatever the object is.
            needs.append(("s3:GetObject", f"{bucket_arn}/{p['Key']}", ()))
        if call.status == 404 and (op in ("GetObject", "HeadObject") or conditional_delete):
            # S3 tells "no such key" (404) only to a caller that may list the bucket; to others it answers 403 (a
            # conditional delete, which needs s3:GetObject, is held to the same here: AWS does not say otherwise).
            needs.append(("s3:ListBucket", bucket_arn, ()))
        key = self._bucket_kms_key(bucket)
        succeeded = call.presigned or call.status is None or call.status < 300
        if key and succeeded:
            needs += [(action, key, ()) for action in _S3_KMS_ACTIONS.get(op, ())]
        return needs

    def _sqs(self, call: _Call) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        arns = {url: self.resources.queue_arns[qid] for qid, url in self.resources.queue_urls.items()}
        url = str(call.params.get("QueueUrl", ""))
        return [(f"sqs:{_SQS_ACTIONS.get(call.operation, call.operation)}", arns.get(url, url), ())]

    def _cognito(self, call: _Call) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        pool = str(call.params.get("UserPoolId", ""))
        return [(f"cognito-idp:{call.operation}", self._arn("cognito-idp", f"userpool/{pool}"), ())]

    def _kms(self, call: _Call) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        key = str(call.params.get("KeyId", ""))
        stack_key = os.environ.get("REPORTS_KMS_KEY_ID", "")
        if not key or key == stack_key or stack_key.endswith(f"/{key}"):
            key = str(policy_resolver(self.resources).resolve({"Fn::GetAtt": ["ReportsKey", "Arn"]}))
        return [(f"kms:{call.operation}", key, ())]


class _PolicyResolver(_Resolver):
    """The local stack's resolver, with a stand-in ARN for what moto has no counterpart of (log groups, keys)."""

    def _get_att(self, name: str, attribute: str) -> str:
        local = self._local
        if name == "UserPool" and attribute == "Arn":
            pool = os.environ.get("USER_POOL_ID") or "no-local-pool"
            return f"arn:aws:cognito-idp:{local.region}:{local.account_id}:userpool/{pool}"
        resolved = super()._get_att(name, attribute)
        return resolved or f"arn:local:{name}.{attribute}"


def policy_resolver(resources: LocalResources) -> _Resolver:
    return _PolicyResolver(load_template(resources.template_path), resources, strict=False)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    """One action on one resource pattern that one statement of a function's role allows."""

    function: str
    sid: str
    action: str
    resource: str
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def allows(self, need: Need) -> bool:
        if need.function != self.function or not fnmatch.fnmatchcase(need.action, self.action):
            return False
        if not fnmatch.fnmatchcase(need.resource, self.resource):
            return False
        context = dict(need.context)
        for operator, key, values in self.conditions:
            present = key in context
            if operator.endswith("IfExists") and not present:
                continue
            if not present:
                return False
            base = operator.removesuffix("IfExists")
            if base == "StringLike":
                ok = any(fnmatch.fnmatchcase(context[key], v) for v in values)
            elif base == "StringEquals":
                ok = context[key] in values
            else:
                raise AssertionError(f"{self.function} {self.sid}: condition {operator} is not understood here")
            if not ok:
                return False
        return True

    def describe(self) -> str:
        conditions = "".join(f" [{op} {key} {list(values)}]" for op, key, values in self.conditions)
        return f"{self.function}: statement {self.sid} grants {self.action} on {self.resource}{conditions}"


def function_grants(resources: LocalResources) -> dict[str, list[Grant]]:
    """Function logical id → every (action, resource) its role's statements allow, resources resolved locally."""
    template = load_template(resources.template_path)
    all_resources = template["Resources"]
    resolver = policy_resolver(resources)
    grants: dict[str, list[Grant]] = {}
    for name, function in all_resources.items():
        if function.get("Type") != FUNCTION_TYPE:
            continue
        role = all_resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role.get("Policies", []) for s in _as_list(p["PolicyDocument"]["Statement"])]
        for arn in role.get("ManagedPolicyArns", []):
            managed = all_resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
            statements += _as_list(managed)
        found = grants.setdefault(name, [])
        for statement in statements:
            assert statement["Effect"] == "Allow", (name, statement)
            conditions = tuple(
                (operator, key, tuple(str(v) for v in _as_list(resolver.resolve(values))))
                for operator, by_key in statement.get("Condition", {}).items()
                for key, values in by_key.items()
            )
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    found.append(
                        Grant(name, str(statement.get("Sid", "?")), action, str(resolver.resolve(resource)), conditions)
                    )
    return grants


def platform_needs(resources: LocalResources) -> set[Need]:
    """What Lambda does with each function's role: poll its mapped queue, write its log group, send its traces."""
    template = load_template(resources.template_path)
    resolver = policy_resolver(resources)
    globals_tracing = template.get("Globals", {}).get("Function", {}).get("Tracing")
    needs: set[Need] = set()
    for name in resources.functions:
        props = template["Resources"][name]["Properties"]
        log_group = resolver.resolve({"Fn::GetAtt": [props["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]})
        needs |= {Need(name, action, str(log_group), "(Lambda logs)") for action in LOG_WRITER}
        if props.get("Tracing", globals_tracing) == "Active":
            needs |= {Need(name, action, "*", "(Lambda tracing)") for action in XRAY_WRITER}
        source = resources.event_sources.get(name)
        if source is not None:
            needs |= {Need(name, action, source.queue_arn, "(event source mapping)") for action in SQS_CONSUMER}
    return needs
