"""The one Logger and Tracer: JSON lines without events or passwords; X-Ray loaded and used only when tracing is on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aws_xray_sdk
import pytest

from intake import observability
from intake.observability import TRACED_MODULES, XRayOnDemand, logger, tracer
from tests.conftest import FakeLambdaContext, load_event
from tests.log_capture import cloudwatch_lines

SECRET = "Sunrise4242"


class FakeRecorder:
    """What X-Ray's recorder is asked to do, instead of doing it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[str]:
        self.calls.append(("in_subsegment", name))
        yield f"segment:{name}"

    def put_annotation(self, key: str, value: Any) -> None:
        self.calls.append(("put_annotation", (key, value)))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.calls.append(("put_metadata", (key, value, namespace)))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeRecorder, list]:
    """A stand-in for aws_xray_sdk.core's recorder and patch, so that no test here loads or patches X-Ray."""
    fake, patched = FakeRecorder(), []
    monkeypatch.setattr(observability, "_recorder", lambda: (fake, patched.append))
    return fake, patched


def _tracing(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    monkeypatch.setattr(aws_xray_sdk.global_sdk_config, "sdk_enabled", lambda: on)


def test_while_tracing_is_off_subsegments_record_nothing(monkeypatch: pytest.MonkeyPatch, recorder: Any) -> None:
    # Given tracing off
    _tracing(monkeypatch, False)
    provider = XRayOnDemand()
    # When a subsegment is opened and annotated
    with provider.in_subsegment("## work") as subsegment:
        subsegment.put_annotation("Upload", "u-1")
        subsegment.put_metadata("rows", 3)
        subsegment.add_exception(ValueError("x"), [])
        subsegment.close()
    provider.put_annotation("Upload", "u-1")
    provider.put_metadata("rows", 3)
    # Then it is a no-op subsegment and X-Ray's recorder is never asked
    assert isinstance(subsegment, observability._Untraced)
    assert recorder[0].calls == []


def test_while_tracing_is_on_the_recorder_is_used(monkeypatch: pytest.MonkeyPatch, recorder: Any) -> None:
    # Given tracing on
    _tracing(monkeypatch, True)
    provider = XRayOnDemand()
    # When a subsegment is opened and the trace annotated
    with provider.in_subsegment("## work") as subsegment:
        provider.put_annotation("Upload", "u-1")
        provider.put_metadata("rows", 3, "intake")
    # Then each goes to X-Ray's recorder
    assert subsegment == "segment:## work"
    assert recorder[0].calls == [
        ("in_subsegment", "## work"),
        ("put_annotation", ("Upload", "u-1")),
        ("put_metadata", ("rows", 3, "intake")),
    ]


def test_patch_all_instruments_botocore_alone(recorder: Any) -> None:
    # When the Tracer asks for every library to be instrumented, Then only botocore is
    XRayOnDemand().patch_all()
    assert recorder[1] == [TRACED_MODULES] and TRACED_MODULES == ("botocore",)


def test_in_tests_the_tracer_is_off() -> None:
    # Given POWERTOOLS_TRACE_DISABLED (conftest), Then the service's Tracer records nothing and uses the provider
    assert tracer.disabled is True
    assert isinstance(tracer.provider, XRayOnDemand)


def test_log_lines_are_json_with_the_service_name() -> None:
    # When the service logs a line with extra keys
    with cloudwatch_lines() as logged:
        logger.info("upload validated", extra={"uploadId": "u-1", "rows": 3})
    # Then it is one JSON object naming the service, the message and the keys
    [record] = logged.records
    assert (record["service"], record["message"], record["level"]) == ("intake", "upload validated", "INFO")
    assert (record["uploadId"], record["rows"]) == ("u-1", 3)


def test_a_handler_wrapped_by_the_logger_does_not_log_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an API event whose body holds a password, and a handler wrapped as the API's is
    monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT", raising=False)
    event = load_event("api_request.json")
    event["body"] = json.dumps({"docId": "100201", "password": SECRET})

    @logger.inject_lambda_context
    def handler(event: dict, context: Any) -> dict:
        logger.info("request handled")
        return {"statusCode": 200}

    # When it runs
    try:
        with cloudwatch_lines() as logged:
            handler(event, FakeLambdaContext())
    finally:  # the shared Logger keeps the invocation's keys: leave none for the next test
        logger.remove_keys(
            ["function_name", "function_memory_size", "function_arn", "function_request_id", "cold_start"]
        )
    # Then its line carries the invocation's context, and neither the event nor the password
    assert logged.messages() == ["request handled"]
    assert logged.records[0]["function_request_id"] == FakeLambdaContext.aws_request_id
    assert not logged.mentions(SECRET)
    assert "100201" not in logged.text
    # And the next line logged outside an invocation carries none of its keys
    with cloudwatch_lines() as after:
        logger.info("between invocations")
    assert "function_request_id" not in after.records[0]
