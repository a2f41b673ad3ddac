"""Faults injected at the boto boundary: botocore event hooks on the clients Intake's DAL (and Powertools) really use.

Nothing of Intake's own code is replaced. A rule matches calls by service, operation and (for DynamoDB) table, lets
`skip` matching calls through, then acts on the next `times` ones:
- `error`: the request never reaches moto; botocore gets an error response (its retry policy then applies);
- `lost`: moto applies the request, then botocore gets an error (an applied write whose answer was lost);
- `crash_before` / `crash_after`: the process "dies" before the request is sent or after its answer arrived.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber


class WorkerCrash(RuntimeError):
    """An invocation that died: the message is not deleted and comes back after its visibility timeout."""


@dataclass
class Rule:
    """Which calls a fault hits, what it does to them, and how often it did."""

    service: str
    operation: str
    kind: str = "error"
    code: str = "InternalServerError"
    status: int = 500
    table: str | None = None
    key_part: str | None = None
    skip: int = 0
    times: int = 1
    period: int = 1
    seen: int = 0
    fired: int = 0

    def matches(self, service: str, operation: str, target: str) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        if self.table and self.table not in target:
            return False
        return not (self.key_part and self.key_part not in target)

    def take(self) -> bool:
        """Count one matching call; whether this one is hit."""
        self.seen += 1
        due = (self.seen - self.skip - 1) % self.period == 0  # period 2: every other attempt, so each retry passes
        if self.seen > self.skip and self.fired < self.times and due:
            self.fired += 1
            return True
        return False


@dataclass
class Faults:
    """The rules in force, every call seen (service, operation), and the backoff delays botocore asked for."""

    rules: list[Rule] = field(default_factory=list)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)
    armed: bool = True

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    @contextmanager
    def disarmed(self) -> Iterator[None]:
        """Calls made meanwhile (test setup, the API) are neither faulted nor counted."""
        self.armed = False
        try:
            yield
        finally:
            self.armed = True

    def attach(self, client: Any) -> None:
        """Hook this client's calls (first in line, ahead of moto's own before-send handler)."""
        events = client.meta.events
        events.register_first("before-send", self._before_send, unique_id=f"faults-send-{id(self)}")
        events.register_first("before-call", self._before_call, unique_id=f"faults-call-{id(self)}")
        events.register_first("after-call", self._after_call, unique_id=f"faults-after-{id(self)}")
        events.register_last("before-send", self._send_done, unique_id=f"faults-sent-{id(self)}")

    def _hit(self, kind: tuple[str, ...], event_name: str, target: str) -> Rule | None:
        if not self.armed:
            return None
        _, service, operation = event_name.split(".", 2)
        for rule in self.rules:
            if rule.kind in kind and rule.matches(service, operation, target) and rule.take():
                return rule
        return None

    def _before_call(self, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        target = _target(params.get("body"), params.get("url_path", ""))
        context["faults_target"] = target
        if self.armed:
            _, service, operation = event_name.split(".", 2)
            self.calls[(service, operation)] += 1
        if self._hit(("crash_before",), event_name, target):
            raise WorkerCrash(f"crashed before {event_name}")

    def _after_call(self, event_name: str, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        target = str(context.get("faults_target", ""))
        if http_response.status_code < 300 and self._hit(("crash_after",), event_name, target):
            raise WorkerCrash(f"crashed after {event_name}")

    def _before_send(self, event_name: str, request: Any, **kwargs: Any) -> AWSResponse | None:
        rule = self._hit(("error", "lost"), event_name, _target(request.body, request.url))
        if rule is None:
            return None
        if rule.kind == "error":
            # botocore calls every before-send handler and keeps the first answer: keep moto's from applying this one.
            botocore_stubber.enabled = False
        return _error_response(request.url, event_name.split(".")[1], rule.code, rule.status)

    def _send_done(self, **_: Any) -> None:
        botocore_stubber.enabled = True


def _target(body: Any, url: str) -> str:
    """The table name (DynamoDB) or object key (S3) a call is about, for rules to match on."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    if text.startswith("{"):
        try:
            request = json.loads(text)
        except ValueError:
            return ""
        # a transaction is about every table its items write, a batch about every table it names
        tables = {action.get("TableName", "") for item in request.get("TransactItems", []) for action in item.values()}
        tables |= set(request.get("RequestItems", {}))
        return str(request.get("TableName", "")) or ",".join(sorted(tables))
    return unquote(url)


def _error_response(url: str, service: str, code: str, status: int) -> AWSResponse:
    if service == "s3":
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>injected</Message></Error>"
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"__type": f"com.amazonaws.{service}#{code}", "message": "injected"})
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}
    response = AWSResponse(url, status, headers, MockRawResponse(body))
    return response


class _Sleeps:
    """botocore's `time` with sleep recorded instead of waited (backoff is real, its wall time is not)."""

    def __init__(self, delays: list[float]) -> None:
        self._delays = delays

    def sleep(self, seconds: float) -> None:
        self._delays.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def attach_everywhere(faults: Faults) -> None:
    """Hook every client the bulk path uses: the DAL's S3, SQS and KMS, each PynamoDB model's, and Powertools'."""
    from intake import confirming
    from intake.bulk import worker
    from intake.dal import aws, tables

    tables.bind_tables()
    for service in ("s3", "sqs", "kms"):
        faults.attach(aws.client(service))
    models = (tables.AgencyItem, tables.LocationItem, tables.StaffItem, tables.LearnerItem, tables.UploadItem)
    for model in (*models, tables.UsernameItem, tables.AuditItem):
        faults.attach(model._get_connection().connection.client)
    for persistence in (worker.persistence, confirming.persistence):
        faults.attach(persistence.bind())


def install(monkeypatch: Any) -> Faults:
    """A Faults hooked into every client, with botocore's retry sleeps recorded instead of slept."""
    import botocore.endpoint

    faults = Faults()
    monkeypatch.setattr(botocore.endpoint, "time", _Sleeps(faults.delays))
    attach_everywhere(faults)
    return faults
