"""The template wires dead letters and expiry: each DLQ has a consumer that can outlast it, and a sweeper schedule."""

from __future__ import annotations

from typing import Any

from local.template import load_template


def _resources() -> dict[str, Any]:
    return load_template()["Resources"]


def _ref(value: Any) -> str:
    if "Fn::If" in value:  # a mapping names its function's SnapStart alias when SnapStart is on: the default branch
        return _ref(value["Fn::If"][2])
    return str(value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"])


def test_each_dlq_is_consumed_by_a_dead_letter_function_within_its_visibility_timeout():
    # Given the queues that are some queue's dead-letter target
    resources = _resources()
    dlqs = {
        _ref(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in resources.values()
        if q["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in q["Properties"]
    }
    timeout = load_template()["Globals"]["Function"]["Timeout"]
    consumers = {
        _ref(mapping["Properties"]["EventSourceArn"]): (_ref(mapping["Properties"]["FunctionName"]), mapping)
        for mapping in resources.values()
        if mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    for dlq in dlqs:
        # When finding the function that consumes it (an explicit event source mapping, docs/security.md)
        name, mapping = consumers[dlq]
        properties = resources[name]["Properties"]
        # Then it is the dead-letter handler, reporting partial failures, and the DLQ outlasts its invocations
        assert properties["Handler"] == "deadletter_handler.lambda_handler", name
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        visibility = int(resources[dlq]["Properties"].get("VisibilityTimeout", 30))
        assert visibility >= int(properties.get("Timeout", timeout)), dlq
    assert dlqs == {"ValidationDLQ", "CreationDLQ"}


def test_sweeper_runs_on_a_schedule_alone():
    # Given the sweeper function
    sweeper = _resources()["SweeperFunction"]["Properties"]
    # When reading its events and concurrency
    schedules = [e["Properties"]["Schedule"] for e in sweeper["Events"].values() if e["Type"] == "Schedule"]
    # Then EventBridge runs it hourly, one at a time
    assert sweeper["Handler"] == "sweeper_handler.lambda_handler"
    assert schedules == ["rate(1 hour)"]
    assert sweeper["ReservedConcurrentExecutions"] == 1


def test_dead_letter_alarm_counts_what_the_handlers_saw():
    # Given the alarm on the handlers' DeadLetters metric
    alarm = _resources()["DeadLettersAlarm"]["Properties"]
    # Then it fires on the first dead letter and notifies the alarm topic
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Intake", "DeadLetters")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "intake"}]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert [_ref(action) for action in alarm["AlarmActions"]] == ["AlarmTopic"]
