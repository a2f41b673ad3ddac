"""The machine's own speed, measured first in every `make bench` run: what the ratios' baselines are made of.

Every figure of the bench is a ratio to a baseline measured in the same run, so ratios travel between machines and
absolute times do not. These few absolute figures say what machine a run was on (its CPU, how loaded it was), so two
runs' ratios can be compared knowing that: csv.reader throughput (the validator's floor), Argon2id with Intake's
parameters (the worker's and sign-in's floor), `import boto3` in a fresh process (the cold starts' old yardstick),
and a loopback TCP round trip (what every request to the local stack or moto pays).
"""

from __future__ import annotations

import csv
import io
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from bench.env import child_environment

CSV_ROWS = 20_000
HASHES = 5
IMPORT_REPEATS = 3
ROUND_TRIPS = 500


@dataclass(frozen=True)
class Figure:
    """One absolute figure of this machine."""

    name: str
    value: float
    unit: str
    detail: str

    def line(self) -> str:
        value = f"{self.value:,.0f}" if self.value >= 1000 else f"{self.value:.1f}"
        return f"baseline {self.name:<35} {value:>12} {self.unit:<9} {self.detail}"


def csv_rows_per_second() -> Figure:
    from bench import data

    text = data.roster_csv(CSV_ROWS, seed=3).decode("utf-8")
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        rows = sum(1 for _ in csv.reader(io.StringIO(text)))
        best = min(best, time.process_time() - started)
    return Figure("csv.reader", rows / best, "rows/s", f"CPU, best of 3 passes over {rows:,} roster rows")


def argon2id_hashes_per_second() -> Figure:
    from intake.passwords import ARGON2_MEMORY_KIB, ARGON2_TIME_COST, hash_password

    hash_password("warm-up")
    started = time.process_time()
    for n in range(HASHES):
        hash_password(f"baseline-{n}")
    seconds = time.process_time() - started
    return Figure(
        "Argon2id hash",
        HASHES / seconds,
        "hashes/s",
        f"CPU, {HASHES} hashes, m={ARGON2_MEMORY_KIB} KiB t={ARGON2_TIME_COST} (intake.passwords)",
    )


def import_boto3_ms() -> Figure:
    timed = "import time\nstarted = time.perf_counter()\nimport boto3\nprint(time.perf_counter() - started)\n"
    samples = []
    for _ in range(IMPORT_REPEATS):
        done = subprocess.run(
            [sys.executable, "-c", timed], env=child_environment(), capture_output=True, text=True, check=True
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return Figure(
        "import boto3", statistics.median(samples) * 1000, "ms", f"wall, fresh process, median of {IMPORT_REPEATS}"
    )


def loopback_round_trip_us() -> Figure:
    """One byte to a TCP echo thread on 127.0.0.1 (a port the OS picks) and back, median of ROUND_TRIPS."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(64):
                connection.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    samples = []
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(ROUND_TRIPS):
            started = time.perf_counter()
            client.sendall(b"x")
            client.recv(64)
            samples.append(time.perf_counter() - started)
    thread.join(timeout=5)
    server.close()
    return Figure(
        "loopback TCP round trip", statistics.median(samples) * 1e6, "µs", f"wall, median of {ROUND_TRIPS}, 1 byte"
    )


def figures() -> list[Figure]:
    """The baseline figures, each measured once now."""
    return [csv_rows_per_second(), argon2id_hashes_per_second(), import_boto3_ms(), loopback_round_trip_us()]
