"""The operations dashboard shows what staff and operators ask about: uploads by outcome, learners created per
minute, queue depth and age, dead letters, and every function's errors and duration."""

from __future__ import annotations

import json
import re

from local.template import resources_of_type

QUEUES = {"ValidationQueue", "CreationQueue"}
DLQS = {"ValidationDLQ", "CreationDLQ"}


def _body() -> dict:
    (dashboard,) = resources_of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # the placeholders ${Name} and ${Name.Attr} are CloudFormation's; as plain strings the body is JSON
    return json.loads(re.sub(r"\$\{[A-Za-z:.]+\}", "x", text))


def _metrics(title_start: str) -> list[list]:
    widget = next(w for w in _body()["widgets"] if w["properties"]["title"].startswith(title_start))
    return widget["properties"]["metrics"]


def test_the_dashboard_body_is_json_of_metric_widgets() -> None:
    body = _body()
    assert body["widgets"] and all(w["type"] == "metric" for w in body["widgets"])


def test_every_function_has_its_errors_and_duration_on_the_dashboard() -> None:
    (dashboard,) = resources_of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for function in resources_of_type("AWS::Serverless::Function"):
        assert text.count("${" + function + "}") >= 2, function
    assert {m[1] for m in _metrics("Function errors")} == {"Errors"}
    assert {m[1] for m in _metrics("Function duration")} == {"Duration"}


def test_queues_and_dead_letters_show_depth_and_age() -> None:
    text = json.dumps(resources_of_type("AWS::CloudWatch::Dashboard"))
    for queue in QUEUES | DLQS:
        assert "${" + queue + ".QueueName}" in text, queue
    assert {m[1] for m in _metrics("Age of the oldest")} == {"ApproximateAgeOfOldestMessage"}


def test_uploads_by_outcome_and_learners_per_minute_use_the_service_metrics() -> None:
    uploads = {m[1] for m in _metrics("Uploads by outcome")}
    assert {"UploadsCompleted", "UploadsRejected", "UploadsFailed", "UploadsExpired"} <= uploads
    learners = _metrics("Learners created")
    assert {m[1] for m in learners} == {"LearnersCreated", "LearnersMoved"}
    widget = next(w for w in _body()["widgets"] if w["properties"]["title"].startswith("Learners created"))
    assert widget["properties"]["period"] == 60


def test_every_service_metric_on_the_dashboard_is_one_the_code_emits() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "".join(p.read_text() for d in ("layers/common", "functions") for p in (root / d).rglob("*.py"))
    emitted = set(re.findall(r'add_metric\(name="([A-Za-z]+)"', code))
    shown = {m[1] for w in _body()["widgets"] for m in w["properties"]["metrics"] if m[0] == "Intake"}
    assert shown and shown <= emitted, shown - emitted
