"""Issue 13, finding 2: files can never starve the API's concurrency, and the reader's CPU budget fits the timeout."""

from __future__ import annotations

from typing import Any

from intake.settings import Settings
from local.template import load_template


def _template() -> dict[str, Any]:
    return load_template()


def test_the_validator_has_a_reserved_concurrency_from_a_parameter() -> None:
    # Given the template
    template = _template()
    validator = template["Resources"]["ValidatorFunction"]["Properties"]
    mapping = template["Resources"]["ValidatorFunctionIncomingFiles"]["Properties"]

    # When reading the validator's reservation
    reserved = validator["ReservedConcurrentExecutions"]

    # Then it is a parameter with a small default, and the queue's poller never invokes past it
    assert reserved == {"Ref": "ValidatorConcurrency"}
    parameter = template["Parameters"]["ValidatorConcurrency"]
    assert parameter["Type"] == "Number" and 2 <= parameter["Default"] <= 10
    assert parameter["MinValue"] >= 2  # MaximumConcurrency's own floor
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ValidatorConcurrency"}
    # together with the worker's 50 it leaves most of an account's default 1,000 to the API
    worker = template["Resources"]["WorkerFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert parameter["MaxValue"] + worker <= 100


def test_the_cpu_budget_ends_before_the_validators_timeout() -> None:
    # Given the validator's timeout and memory (1,769 MB is one vCPU)
    validator = _template()["Resources"]["ValidatorFunction"]["Properties"]
    cpu_share = min(1.0, validator["MemorySize"] / 1769)

    # When comparing the default CPU budget of one file with the CPU the timeout allows a busy thread
    budget = Settings.model_fields["validation_cpu_seconds"].default

    # Then the budget is reached first, with time left for the reports
    assert 0 < budget < validator["Timeout"] * cpu_share - 10
