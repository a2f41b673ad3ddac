"""Cold start: each handler against what it cannot do without, median of fresh processes, interleaved.

The targets (issue 20):
- each handler's import against its libraries alone: in a fresh process, every non-Intake module the handler's
  import loads (`library_modules`) is imported first, then the handler, which then runs only Intake's own code; the
  ratio (libraries + Intake's own) / libraries, CPU time, each process against itself;
- the API's import plus its first call against a minimal Powertools REST handler (bench/minimal_api.py) plus its
  first call, both answering GET /health with tracing on, as on Lambda; CPU time.
Reported alongside, against `import boto3` (the old target, which measured the libraries more than Intake):
- import (`python -X importtime`), as the bench, the tests and the local stack run: tracing off;
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
# Every child loads every module from bytecode, Intake's and the libraries' alike, cached here (checked against the
# source's mtime, so never stale): otherwise Intake's modules, whose __pycache__ this machine never writes
# (PYTHONDONTWRITEBYTECODE), are compiled at each import while the libraries' are not. A warm-up pass fills it.
BYTECODE_CACHE = ROOT / ".intake" / "bench-pycache"
# An X-Ray trace header as Lambda sets it for a sampled request: tracing on needs the facade segment it names.
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
CHUNK = 2  # learners per worker chunk: two Argon2id hashes in the worker's first invocation


def import_seconds(module: str, env: dict[str, str] | None = None) -> float:
    """Cumulative import time of `module` in a fresh interpreter, from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env or cold_environment(),
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


def cold_environment() -> dict[str, str]:
    """A benchmark child's environment (bench.env) with every module's bytecode cached in BYTECODE_CACHE."""
    env = child_environment()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    return env


def lambda_environment(task_root: str) -> dict[str, str]:
    """The child environment as on Lambda: a task root, and tracing left on, inside a sampled trace."""
    env = cold_environment()
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env["LAMBDA_TASK_ROOT"] = task_root
    env["_X_AMZN_TRACE_ID"] = TRACE_HEADER
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


OWN_CODE = ("intake", "api_routes", *HANDLERS)  # Intake's own top-level packages and modules


def library_modules(handler: str) -> list[str]:
    """Every module outside Intake's own code that importing `handler` loads, in the order it loads them.

    Derived, not written by hand: the hand-written list it replaces had drifted (the worker's named PynamoDB and
    argon2, which the worker no longer imports, so "worker / its libraries" was 0.75 and measured nothing).
    """
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"import {handler}\n"
        f"own = {OWN_CODE!r}\n"
        "print(json.dumps([m for m in sys.modules if m not in before and m.split('.')[0] not in own]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=cold_environment(), capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def libraries_code(modules: list[str]) -> str:
    """Python that imports `modules` in order: a handler's libraries alone, none of Intake's code or objects."""
    return f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)\n"


def _cpu_seconds(code: str) -> list[float]:
    """CPU seconds of each part of `code` (parts split at "#part\n") in one fresh interpreter: on this shared
    machine wall time mostly measures the others."""
    parts = code.split("#part\n")
    timed = "import time\nmarks = [time.process_time()]\n"
    timed += "".join(f"{part}\nmarks.append(time.process_time())\n" for part in parts)
    timed += "print(*[b - a for a, b in zip(marks, marks[1:])])\n"
    done = subprocess.run(
        [sys.executable, "-c", timed], env=cold_environment(), capture_output=True, text=True, check=True
    )
    return [float(value) for value in done.stdout.split()]


def library_medians(repeats: int) -> dict[str, float]:
    """Per handler, in each of `repeats` fresh processes (after a warm-up one): the CPU of importing its libraries
    alone, then of importing the handler, which then runs only Intake's own code. Medians of each, of their ratio
    ("<handler> ratio": (libraries + Intake's own) / libraries, each process against itself), and how many library
    modules the handler loads ("<handler> modules"); also `import boto3` alone."""
    codes = {"boto3": "import boto3"}
    counts: dict[str, float] = {}
    for handler in HANDLERS:
        modules = library_modules(handler)
        codes[handler] = f"{libraries_code(modules)}#part\nimport {handler}"
        counts[f"{handler} modules"] = len(modules)
    for code in codes.values():
        _cpu_seconds(code)  # the warm-up pass: bytecode cached, files in the page cache
    samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, code in codes.items():
            parts = _cpu_seconds(code)
            samples.setdefault(name, []).append(sum(parts))
            if len(parts) == 2:
                samples.setdefault(f"{name} libraries", []).append(parts[0])
                samples.setdefault(f"{name} own", []).append(parts[1])
                samples.setdefault(f"{name} ratio", []).append(sum(parts) / parts[0])
    return {**{name: statistics.median(values) for name, values in samples.items()}, **counts}


# What each first invocation imports and calls. The minimal Powertools handler (bench/minimal_api.py) and the API
# answer GET /health, the cheapest route (what Intake adds to Powertools' own routing), as on Lambda: tracing on, so
# both import the X-Ray SDK (Powertools' own Tracer imports it even when tracing is off; Intake's does not). The API
# also answers an authenticated GET /facilities: the staff look-up in DynamoDB, PynamoDB and the SDK client load.
FIRST_CALLS = {  # name: (module, event kind, as on Lambda: tracing on)
    "boto3": ("boto3", None, False),
    "minimal_api": ("bench.minimal_api", "health", True),
    "api_handler health": ("api_handler", "health", True),
    "api_handler facilities": ("api_handler", "facilities", True),
    "api_handler": ("api_handler", "facilities", False),
    "validator_handler": ("validator_handler", "validator_handler", False),
    "worker_handler": ("worker_handler", "worker_handler", False),
}


def first_invocation_medians(repeats: int) -> dict[str, float]:
    """Median wall seconds of import + first invocation of each handler (and of `import boto3`), against moto, after
    a warm-up pass; "<name> cpu": the child's CPU seconds for the same."""
    from bench.dynamo import moto_server

    samples: dict[str, list[float]] = {name: [] for name in FIRST_CALLS}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as scratch:
        extra = {"AWS_ENDPOINT_URL": endpoint, "CREATION_CHUNK_SIZE": str(CHUNK)}
        env = {**cold_environment(), **extra}
        prepared = _run(env, "prepare", str(repeats + 1))
        env.update(prepared["environment"])
        on_lambda = {**lambda_environment(scratch), **extra, **prepared["environment"]}
        for repeat in range(repeats + 1):  # the first pass warms up: bytecode cached, files in the page cache
            for name, (module, kind, traced) in FIRST_CALLS.items():
                event_file = Path(scratch) / f"{name}-{repeat}.json"
                event = prepared["events"][kind][repeat] if kind else {}
                event_file.write_text(json.dumps(event))
                got = _run(on_lambda if traced else env, "first", module, str(event_file))
                if repeat:
                    samples[name].append(got["seconds"])
                    samples.setdefault(f"{name} cpu", []).append(got["cpu_seconds"])
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
    health = json.loads((ROOT / "tests/events/api_request.json").read_text())
    health.update(httpMethod="GET", path="/health", body=None)
    health["requestContext"].update(httpMethod="GET", authorizer={})

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
            "facilities": [api] * repeats,
            "health": [health] * repeats,
            "validator_handler": [sqs_event(m, resources.queue_arns["ValidationQueue"]) for m in files],
            "worker_handler": [sqs_event(m, resources.queue_arns["CreationQueue"]) for m in chunks],
        },
    }


def first(name: str, event_file: str) -> dict[str, float]:
    """Wall and CPU seconds from before `import name` to the end of its handler's first invocation (or of the import
    alone, for boto3)."""
    event = json.loads(Path(event_file).read_text())
    started, cpu_started = time.perf_counter(), time.process_time()
    module = importlib.import_module(name)
    if name != "boto3":
        response = module.lambda_handler(event, BenchContext("intake-bench-coldstart", 60000))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if name != "boto3" and (response.get("statusCode", 200) != 200 or response.get("batchItemFailures")):
        raise RuntimeError(f"{name}'s first invocation failed: {str(response)[:500]}")
    return {"seconds": seconds, "cpu_seconds": cpu_seconds}


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        print(json.dumps(prepare(int(sys.argv[2]))))
    else:
        print(json.dumps(first(sys.argv[2], sys.argv[3])))
