"""What a handler's cold start loads: rarely needed machinery stays out of the import, tracing stays on on Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ["layers/common", "functions/api", "functions/validator", "functions/worker"]
HANDLERS = ("api_handler", "validator_handler", "worker_handler")
TRACING = ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT", "AWS_XRAY_SDK_ENABLED", "AWS_LAMBDA_INITIALIZATION_TYPE")


def _python(code: str, **env: str) -> dict:
    environment = {name: value for name, value in os.environ.items() if name not in ("AWS_ENDPOINT_URL", *TRACING)}
    environment.update(PYTHONPATH=os.pathsep.join(str(ROOT / path) for path in CODE), **env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_handlers_import_without_xray_boto3_or_idempotency_when_tracing_is_off() -> None:
    # Given tracing off (tests, the local stack, the bench)
    code = (
        "import json, sys\n"
        f"for name in {HANDLERS!r}: __import__(name)\n"
        "heavy = ('aws_xray_sdk.core', 'boto3', 'aws_lambda_powertools.utilities.idempotency', 'api_routes.openapi',\n"
        "    'pynamodb.models', 'intake.bulk.reading', 'intake.dal.tables')\n"
        "print(json.dumps({name: name in sys.modules for name in heavy}))"
    )
    # When all three handlers are imported
    loaded = _python(code, POWERTOOLS_TRACE_DISABLED="true")
    # Then none of the machinery that only some invocations (or tracing) need is loaded
    assert loaded == {
        "aws_xray_sdk.core": False,
        "boto3": False,
        "aws_lambda_powertools.utilities.idempotency": False,
        "api_routes.openapi": False,  # the routers that document their errors with it load on their first request
        "pynamodb.models": False,  # the DAL loads with the first request, file or chunk that needs storage
        "intake.bulk.reading": False,  # the validator's reader, checker and planner load with the first file
        "intake.dal.tables": False,
    }


def test_on_lambda_tracing_is_on_patches_botocore_and_records_subsegments(tmp_path: Path) -> None:
    # Given the environment of a Lambda sandbox with tracing left on
    code = (
        "import json\n"
        "import worker_handler\n"
        "from aws_xray_sdk.core import patcher, xray_recorder\n"
        "from aws_xray_sdk.core.context import Context\n"
        "import botocore.client\n"
        "from intake.observability import tracer\n"
        "class Emitter:\n"  # what the X-Ray daemon would receive, kept here instead of sent over UDP
        "    sent = []\n"
        "    def send_entity(self, entity): self.sent.append((entity.name, entity.annotations))\n"
        "    def set_daemon_address(self, address): pass\n"
        "xray_recorder.configure(context=Context(), emitter=Emitter())\n"
        "xray_recorder.begin_segment('test')\n"
        "@tracer.capture_method(capture_response=False)\n"
        "def traced():\n"
        "    tracer.put_annotation('Probe', 'yes')\n"
        "    return 1\n"
        "traced()\n"
        "print(json.dumps({'disabled': tracer.disabled, 'patched': sorted(patcher._PATCHED_MODULES),\n"
        "    'botocore_wrapped': type(vars(botocore.client.BaseClient)['_make_api_call']).__name__,\n"
        "    'sent': Emitter.sent}))"
    )
    # When the worker handler is imported there and a traced method runs inside a segment
    got = _python(code, LAMBDA_TASK_ROOT=str(tmp_path))
    # Then the Tracer is on, botocore alone is patched, and the method's subsegment is sent with its annotation
    assert got["disabled"] is False
    assert got["patched"] == ["botocore"]
    assert got["botocore_wrapped"] == "FunctionWrapper"
    assert got["sent"] == [["## __main__.traced", {"Probe": "yes"}]]


def test_the_bench_baseline_of_a_handler_is_its_libraries_alone_and_none_of_intakes_code() -> None:
    # Given the modules the cold-start bench imports as each handler's "libraries alone"
    from bench.coldstart import OWN_CODE, library_modules

    for handler in HANDLERS:
        modules = library_modules(handler)
        # When those are imported alone in a new interpreter
        loaded = _python(
            "import importlib, json, sys\n"
            f"before = set(sys.modules)\nfor name in {modules!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(set(sys.modules) - before)))",
            POWERTOOLS_TRACE_DISABLED="true",
        )
        # Then they load none of Intake's code, and nothing the handler itself does not load
        assert not [name for name in loaded if name.split(".")[0] in OWN_CODE], handler
        assert set(loaded) <= set(modules), (handler, sorted(set(loaded) - set(modules))[:5])
        # And they are what the handler loads, not a list that could drift: Powertools and Pydantic among them
        assert {"aws_lambda_powertools", "pydantic"} <= set(modules), handler


def test_on_a_snapstart_init_the_validator_and_worker_load_what_their_first_call_would() -> None:
    # Given the environment of a SnapStart initialisation (the init runs once, to be snapshotted)
    code = (
        "import json, sys, validator_handler, worker_handler\n"
        "print(json.dumps([name in sys.modules for name in ('intake.bulk.arrivals', 'intake.bulk.worker')]))"
    )
    # When both handlers are imported there, and then on an on-demand init
    snapshotted = _python(code, POWERTOOLS_TRACE_DISABLED="true", AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    on_demand = _python(code, POWERTOOLS_TRACE_DISABLED="true", AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")
    # Then the snapshot holds the validation and creation code; an on-demand init leaves it to the first record
    assert snapshotted == [True, True]
    assert on_demand == [False, False]
