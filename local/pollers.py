"""SQS → handler dispatch, like Lambda's event source mappings (batch size, partial batch failures, redrive)."""

from __future__ import annotations

import base64
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from local.local_api import lambda_context
from local.resources import LocalResources, SqsEventSource
from local.template import TEMPLATE_PATH, load_template

log = logging.getLogger("local.pollers")

# Locally a failed message comes back after a second instead of the queue's timeout (6x the function's).
RETRY_VISIBILITY_SECONDS = 1
WAIT_SECONDS = 1
IMPORT_RETRY_SECONDS = 3.0

Handler = Callable[[dict[str, Any], Any], Any]


def start_pollers(resources: LocalResources, stop_event: threading.Event) -> list[threading.Thread]:
    """Daemon threads per SQS event source mapping, one per concurrent invocation, running until stop_event is set."""
    threads = []
    for function_id, source in resources.event_sources.items():
        slots = function_concurrency(function_id, resources.template_path)
        log.info("%s: %d concurrent invocation(s)", function_id, slots)
        for slot in range(slots):
            poller = Poller(source, resources.region, resources.account_id, stop_event, slot=slot)
            thread = threading.Thread(target=poller.run, name=f"poller-{function_id}-{slot}", daemon=True)
            thread.start()
            threads.append(thread)
    return threads


def join_pollers(threads: list[threading.Thread], timeout_seconds: float) -> list[threading.Thread]:
    """Wait for stopped pollers to finish their invocations, all within one deadline; the threads still running."""
    deadline = time.monotonic() + timeout_seconds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    running = [thread for thread in threads if thread.is_alive()]
    if running:
        log.warning("%d poller(s) still in an invocation at shutdown: abandoned with the stack", len(running))
    return running


def function_concurrency(function_id: str, template_path: Path = TEMPLATE_PATH, cpus: int | None = None) -> int:
    """Concurrent invocations of a queue's function: the template's limits, capped at the CPU count (at least 1)."""
    template = load_template(template_path)
    resources: dict[str, Any] = template.get("Resources", {})
    parameters: dict[str, Any] = template.get("Parameters", {})
    props = resources.get(function_id, {}).get("Properties", {})
    limits = [props.get("ReservedConcurrentExecutions")]
    limits += [
        event.get("Properties", {}).get("ScalingConfig", {}).get("MaximumConcurrency")
        for event in props.get("Events", {}).values()
        if event.get("Type") == "SQS"
    ]
    # The same limits where SAM events were written out as explicit event source mappings.
    limits += [
        resource.get("Properties", {}).get("ScalingConfig", {}).get("MaximumConcurrency")
        for resource in resources.values()
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping"
        and function_id in _referenced(resource.get("Properties", {}).get("FunctionName"))
    ]
    known = [number for number in (_number(limit, parameters) for limit in limits) if number is not None]
    ceiling = max(1, cpus or os.cpu_count() or 1)
    return max(1, min([ceiling, *known]))


def _referenced(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return {str(value["Ref"])}
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return {str(target[0] if isinstance(target, list) else str(target).split(".")[0])}
    return set()


def _number(value: Any, parameters: dict[str, Any]) -> int | None:
    if isinstance(value, dict) and "Ref" in value:
        value = parameters.get(str(value["Ref"]), {}).get("Default")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class Poller:
    """Long-polls one queue and invokes its function with Lambda's SQS event."""

    def __init__(
        self, source: SqsEventSource, region: str, account_id: str, stop_event: threading.Event, slot: int = 0
    ) -> None:
        self.source = source
        self.region = region
        self.account_id = account_id
        self.stop_event = stop_event
        self.slot = slot
        self._handler: Handler | None = None
        self._import_failed_logged = False

    def run(self) -> None:
        """Poll until stopped; no exception ends the loop."""
        sqs = boto3.session.Session().client("sqs", region_name=self.region)
        while not self.stop_event.is_set():
            try:
                handler = self._load_handler()
                if handler is None:
                    # Not received while the handler is missing: receives would count towards the DLQ.
                    self.stop_event.wait(IMPORT_RETRY_SECONDS)
                    continue
                self.poll_once(sqs, handler)
            except Exception:
                if self.stop_event.is_set():
                    break  # the embedded AWS is going away with the stack
                log.exception("%s: polling failed", self.source.function.logical_id)
                self.stop_event.wait(1.0)

    def poll_once(self, sqs: Any, handler: Handler) -> int:
        """Receive up to one batch and dispatch it; the number of messages received."""
        source = self.source
        messages = sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=max(1, min(source.batch_size, 10)),
            WaitTimeSeconds=WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self.record(message) for message in messages]}
        failed = self.invoke(handler, event)
        by_id = {message["MessageId"]: message for message in messages}
        succeeded = [by_id[mid] for mid in by_id if mid not in failed]
        retried = [by_id[mid] for mid in by_id if mid in failed]
        _delete(sqs, source.queue_url, succeeded)
        _retry_soon(sqs, source.queue_url, retried)
        if retried:
            log.warning(
                "%s: %d of %d messages failed; retried after %d s, to %s after %s receives",
                source.function.logical_id,
                len(retried),
                len(messages),
                RETRY_VISIBILITY_SECONDS,
                source.dlq_id or "nowhere",
                source.max_receive_count,
            )
        return len(messages)

    def invoke(self, handler: Handler, event: dict[str, Any]) -> set[str]:
        """Call the handler; the message ids that failed (all of them if it raised or answered nonsense)."""
        all_ids = {record["messageId"] for record in event["Records"]}
        context = lambda_context(self.source.function, self.region, self.account_id)
        try:
            result = handler(event, context)
        except Exception:
            log.exception("%s raised: the whole batch fails", self.source.function.logical_id)
            return all_ids
        if not self.source.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        failed = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
        if len(failed) != len(failures) or not failed <= all_ids:
            # Lambda fails the whole batch when an itemIdentifier is empty or not in the batch.
            log.error("%s: invalid batchItemFailures: the whole batch fails", self.source.function.logical_id)
            return all_ids
        return failed

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One Lambda SQS event record."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": self.region,
        }

    def _load_handler(self) -> Handler | None:
        if self._handler is not None:
            return self._handler
        function = self.source.function
        try:
            module = sandbox_module(function.module, self.slot)
            self._handler = getattr(module, function.attribute)
        except Exception as error:
            if not self._import_failed_logged:
                log.warning(
                    "%s: cannot load %s (%s: %s); its queue waits until it can",
                    function.logical_id,
                    function.handler,
                    type(error).__name__,
                    error,
                )
                self._import_failed_logged = True
            return None
        if self._import_failed_logged:
            log.info("%s: loaded %s", function.logical_id, function.handler)
        return self._handler


def sandbox_module(name: str, slot: int) -> ModuleType:
    """The handler module for one concurrent slot: slot 0 imports it, the others load their own copy of it.

    Lambda runs one invocation per sandbox at a time, so a handler module may keep per-invocation state (the
    Powertools BatchProcessor does): each slot gets the module's globals to itself. The `intake` package under it is
    shared by all slots: its clients are thread-safe and its settings and caches read-only once built.
    """
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    if slot == 0:
        return module
    copy_name = f"{name}__slot{slot}"
    if copy_name in sys.modules:
        return sys.modules[copy_name]
    spec = importlib.util.spec_from_file_location(copy_name, module.__file__ or "")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a copy of {name}")
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    sys.modules[copy_name] = copy
    return copy


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(b).decode("ascii") if isinstance(b, bytes) else b
            for b in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType", "String"),
    }


def _b64(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _chunks(messages: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(messages), 10):
        yield messages[start : start + 10]


def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    for chunk in _chunks(messages):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def _retry_soon(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    for chunk in _chunks(messages):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": RETRY_VISIBILITY_SECONDS}
            for i, m in enumerate(chunk)
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
