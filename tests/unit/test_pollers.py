"""The local stack's SQS pollers: how many concurrent invocations per function, and one handler module per slot."""

from __future__ import annotations

from pathlib import Path

from local.pollers import function_concurrency, sandbox_module

MAPPED = """
Parameters:
  WorkerConcurrency:
    Type: Number
    Default: 3
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h.handler
      ReservedConcurrentExecutions: !Ref WorkerConcurrency
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !GetAtt Fn.Arn
      ScalingConfig:
        MaximumConcurrency: 5
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Handler: o.handler
"""


def test_concurrency_follows_the_templates_limits_capped_at_the_cpus() -> None:
    # Given the project's template: the worker limited to 50 (reserved and ScalingConfig), the validator unlimited
    # When the concurrency is asked for several CPU counts
    # Then it is the smallest of the limits and the CPU count
    assert function_concurrency("WorkerFunction", cpus=64) == 50
    assert function_concurrency("WorkerFunction", cpus=2) == 2
    assert function_concurrency("ValidatorFunction", cpus=3) == 3
    assert function_concurrency("ValidatorFunction", cpus=1) == 1


def test_concurrency_reads_explicit_mappings_and_parameter_defaults(tmp_path: Path) -> None:
    # Given a function whose limits are a parameter's default and an explicit event source mapping
    template = tmp_path / "template.yaml"
    template.write_text(MAPPED, encoding="utf-8")
    # When / Then the smallest limit wins, and a function without limits gets the CPUs
    assert function_concurrency("Fn", template, cpus=8) == 3
    assert function_concurrency("Other", template, cpus=8) == 8


def test_each_slot_has_its_own_handler_module() -> None:
    # Given the worker handler, whose BatchProcessor holds the state of the invocation in progress
    # When two slots load it
    first, second = sandbox_module("worker_handler", 0), sandbox_module("worker_handler", 1)
    again = sandbox_module("worker_handler", 1)
    # Then each slot has its own module and processor, loaded once per slot
    assert first is not second and second is again
    assert first.processor is not second.processor
    assert first.__file__ == second.__file__
