"""Cold start: each handler module's import time against `import boto3` alone, median of fresh processes."""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench.env import child_environment

HANDLERS = ("api_handler", "validator_handler", "worker_handler")


def import_seconds(module: str) -> float:
    """Cumulative import time of `module` in a fresh interpreter, from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=child_environment(),
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


def medians(repeats: int) -> dict[str, float]:
    """Median import seconds of boto3 and of each handler, interleaved so all see the same machine."""
    samples: dict[str, list[float]] = {name: [] for name in ("boto3", *HANDLERS)}
    for _ in range(repeats):
        for name in samples:
            samples[name].append(import_seconds(name))
    return {name: statistics.median(values) for name, values in samples.items()}
