"""`make bench` prints the machine's own baseline figures before any ratio, so runs on two machines can be compared."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ("csv.reader", "Argon2id hash", "import boto3", "loopback TCP round trip")


def test_the_bench_prints_each_baseline_once_before_the_header_and_any_ratio() -> None:
    # Given the bench asked for a group that does not exist (no ratio is measured, the baseline still is)
    environment = {name: value for name, value in os.environ.items() if name != "AWS_ENDPOINT_URL"}
    # When it runs
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "no-such-group"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    # Then the first lines are the four baselines, each with a positive figure and its unit, then the header
    header = next(n for n, line in enumerate(lines) if line.startswith("benchmark"))
    assert header == len(BASELINES)
    for line, name in zip(lines[:header], BASELINES, strict=True):
        figure = re.fullmatch(rf"baseline {re.escape(name)} +([\d,.]+) (\S+) +.+", line)
        assert figure is not None, line
        assert float(figure.group(1).replace(",", "")) > 0
    assert lines[-1].startswith("0 figures, 0 FAIL")
