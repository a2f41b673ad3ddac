"""Cold start: each handler module's import time against `import boto3` alone, median of fresh processes.

Three figures per handler, each against `import boto3` measured alongside:
- import (`python -X importtime`, the issue's target), as the bench, the tests and the local stack run: tracing off;
- import with tracing on, as on Lambda (`LAMBDA_TASK_ROOT` set): the X-Ray SDK is imported and botocore patched;
- import plus the first invocation of a realistic event against moto in another process, so that work a handler
  defers to its first invocation is still counted: the API answers an authenticated `GET /facilities`, the validator
  validates a new file, the worker creates a chunk of new learners (each repeat its own file and chunk).
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.env import ROOT, child_environment
from bench.lambda_events import BenchContext, sqs_event

HANDLERS = ("api_handler", "validator_handler", "worker_handler")
CHUNK = 2  # learners per worker chunk: two Argon2id hashes in the worker's first invocation


def import_seconds(module: str, env: dict[str, str] | None = None) -> float:
    """Cumulative import time of `module` in a fresh interpreter, from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env or child_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(done.stderr.splitlines()):
        # "import time: self [us] | cumulative | imported package"; the top-level module has no indent
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module and not parts[2].startswith("  "):
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no import time for {module}")


def lambda_environment(task_root: str) -> dict[str, str]:
    """The child environment as on Lambda: a task root, and tracing left on."""
    env = child_environment()
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env["LAMBDA_TASK_ROOT"] = task_root
    return env


def medians(repeats: int) -> dict[str, float]:
    """Median import seconds of boto3 and of each handler, interleaved so all see the same machine."""
    samples: dict[str, list[float]] = {name: [] for name in ("boto3", *HANDLERS)}
    for _ in range(repeats):
        for name in samples:
            samples[name].append(import_seconds(name))
    return {name: statistics.median(values) for name, values in samples.items()}


def lambda_medians(repeats: int) -> dict[str, float]:
    """Median import seconds of boto3 and of each handler with tracing on, as on Lambda."""
    with tempfile.TemporaryDirectory() as task_root:
        env = lambda_environment(task_root)
        samples: dict[str, list[float]] = {name: [] for name in ("boto3", *HANDLERS)}
        for _ in range(repeats):
            for name in samples:
                samples[name].append(import_seconds(name, env))
    return {name: statistics.median(values) for name, values in samples.items()}


_POWERTOOLS = "import aws_lambda_powertools.logging, aws_lambda_powertools.metrics, aws_lambda_powertools.tracing\n"
_PYDANTIC_MODEL = "from pydantic import BaseModel\nclass Probe(BaseModel):\n    value: int\n"
# What each handler imports before any of Intake's own code: Powertools (the REST resolver with validation, or batch
# processing, with Logger, Metrics and Tracer), PynamoDB (botocore) and Pydantic's model machinery (one model defined).
LIBRARIES = {
    "api_handler": "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    + _POWERTOOLS
    + "import pynamodb.models\n"
    + _PYDANTIC_MODEL
    + "APIGatewayRestResolver(enable_validation=True)\n",
    "validator_handler": "import aws_lambda_powertools.utilities.batch\n"
    + _POWERTOOLS
    + "import pynamodb.models\n"
    + _PYDANTIC_MODEL,
    "worker_handler": "import aws_lambda_powertools.utilities.batch\n"
    + _POWERTOOLS
    + "import pynamodb.models, argon2\n"
    + _PYDANTIC_MODEL,
}


def _wall_import_seconds(code: str) -> float:
    timed = f"import time\nstarted = time.perf_counter()\n{code}\nprint(time.perf_counter() - started)\n"
    done = subprocess.run(
        [sys.executable, "-c", timed], env=child_environment(), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def library_medians(repeats: int) -> dict[str, float]:
    """Median seconds of `import boto3`, of each handler and of the libraries each needs alone (fresh processes)."""
    codes = {"boto3": "import boto3"}
    for handler in HANDLERS:
        codes[handler] = f"import {handler}"
        codes[f"{handler} libraries"] = LIBRARIES[handler]
    samples: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeats):
        for name, code in codes.items():
            samples[name].append(_wall_import_seconds(code))
    return {name: statistics.median(values) for name, values in samples.items()}


def first_invocation_medians(repeats: int) -> dict[str, float]:
    """Median seconds of import + first invocation of each handler (and of `import boto3`), against moto."""
    from bench.dynamo import moto_server

    samples: dict[str, list[float]] = {name: [] for name in ("boto3", *HANDLERS)}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as scratch:
        env = {**child_environment(), "AWS_ENDPOINT_URL": endpoint, "CREATION_CHUNK_SIZE": str(CHUNK)}
        prepared = _run(env, "prepare", str(repeats))
        env.update(prepared["environment"])
        for repeat in range(repeats):
            for name in samples:
                event_file = Path(scratch) / f"{name}-{repeat}.json"
                event_file.write_text(json.dumps(prepared["events"].get(name, [{}] * repeats)[repeat]))
                samples[name].append(_run(env, "first", name, str(event_file))["seconds"])
    return {name: statistics.median(values) for name, values in samples.items()}


def _run(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "bench.coldstart", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.coldstart {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _drain(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        if not got.get("Messages"):
            raise RuntimeError(f"expected {count} messages on {queue_url}, got {len(messages)}")
        messages.extend(got["Messages"])
    return messages


def prepare(repeats: int) -> dict[str, Any]:
    """Tables, bucket and queues in moto, the bench agency seeded, and `repeats` events for each handler."""
    import boto3

    from bench import data
    from bench.dynamo import _seed
    from local.resources import provision

    resources = provision("us-east-1")
    os.environ.update(resources.environment())
    _seed()
    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    requestor = data.requestor()

    api = json.loads((ROOT / "tests/events/api_request.json").read_text())
    api.update(httpMethod="GET", path="/facilities", body=None)
    api["requestContext"].update(
        httpMethod="GET", authorizer={"claims": {"cognito:username": requestor.username, "token_use": "id"}}
    )

    from intake.bulk.arrivals import validate_object
    from intake.bulk.creation import begin_creation

    # the worker's chunks: one upload of CHUNK * repeats valid rows, validated and confirmed here
    key = f"incoming/{data.FACILITY}/coldstart-creation.csv"
    body = data.roster_csv(CHUNK * repeats, seed=13, error_every=0, first_doc=8_000_000)
    etag = s3.put_object(Bucket=resources.bucket, Key=key, Body=body)["ETag"]
    validation_url = resources.queue_urls["ValidationQueue"]
    _drain(sqs, validation_url, 1)
    upload = validate_object(key, etag)
    assert upload is not None and upload.counts["valid"] == CHUNK * repeats, upload
    begin_creation(upload, skip_invalid_rows=True, move_existing=True, confirmed_by="bench")
    chunks = _drain(sqs, resources.queue_urls["CreationQueue"], repeats)

    # the validator's files: a new small roster for each repeat, each its own object-created message
    for repeat in range(repeats):
        roster = data.roster_csv(20, seed=repeat, first_doc=7_000_000 + 100 * repeat)
        s3.put_object(Bucket=resources.bucket, Key=f"incoming/{data.FACILITY}/coldstart-{repeat}.csv", Body=roster)
    files = _drain(sqs, validation_url, repeats)
    return {
        "environment": resources.environment(),
        "events": {
            "api_handler": [api] * repeats,
            "validator_handler": [sqs_event(m, resources.queue_arns["ValidationQueue"]) for m in files],
            "worker_handler": [sqs_event(m, resources.queue_arns["CreationQueue"]) for m in chunks],
        },
    }


def first(name: str, event_file: str) -> float:
    """Seconds from before `import name` to the end of its handler's first invocation (or of the import alone)."""
    event = json.loads(Path(event_file).read_text())
    started = time.perf_counter()
    module = importlib.import_module(name)
    if name == "boto3":
        return time.perf_counter() - started
    response = module.lambda_handler(event, BenchContext("intake-bench-coldstart", 60000))
    seconds = time.perf_counter() - started
    failed = response.get("statusCode", 200) != 200 or response.get("batchItemFailures")
    if failed:
        raise RuntimeError(f"{name}'s first invocation failed: {str(response)[:500]}")
    return seconds


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        print(json.dumps(prepare(int(sys.argv[2]))))
    else:
        print(json.dumps({"seconds": first(sys.argv[2], sys.argv[3])}))
