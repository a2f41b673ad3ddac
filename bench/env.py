"""The process environment every benchmark runs in: fake AWS credentials, never a real account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE_PATHS = [ROOT / "layers/common", ROOT / "functions/api", ROOT / "functions/validator", ROOT / "functions/worker"]
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "intake",
    "POWERTOOLS_METRICS_NAMESPACE": "Intake",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def child_environment() -> dict[str, str]:
    """os.environ for a benchmark subprocess: fake AWS, the Lambda code roots on PYTHONPATH."""
    env = {**os.environ, **FAKE_AWS}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in [*CODE_PATHS, ROOT])
    return env


def use_fake_aws() -> None:
    """Set this process up like a child: fake AWS and the code roots importable."""
    os.environ.update(FAKE_AWS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    for path in reversed(CODE_PATHS):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def stop(process: subprocess.Popen[Any], grace_seconds: float = 20) -> None:
    """SIGTERM, then SIGKILL if it is still going after `grace_seconds`: the measurement is done by then. On this
    shared machine a moto server holding a bench's tables has taken over 10 s to exit on SIGTERM (`make bench` crashed
    on that wait once its figures were in)."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
