"""The validator's throughput against a bare csv.reader pass over the same bytes, and its peak memory.

`python -m bench.validation write PATH ROWS` writes a generated roster; `python -m bench.validation measure PATH
REPEATS` (a fresh process, so its peak RSS is the validator's) prints one JSON document.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import sys
import time
from pathlib import Path


def bare_pass(path: Path) -> int:
    """Rows of a plain csv.reader pass over the file, decoding included: the floor any reader pays."""
    count = 0
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        for _ in csv.reader(text):
            count += 1
    return count


def full_pass(path: Path) -> tuple[int, int]:
    """Rows and rows with issues after every rule: reading, field rules, scope, duplicates (no DynamoDB)."""
    from bench import data
    from intake.bulk.checking import check_file

    locations = data.locations()
    rows = invalid = 0
    with path.open("rb") as stream:
        _, checked = check_file(
            stream,
            requestor=data.requestor(),
            resolve_location=locations.get,
            today=data.TODAY,
            facility_id=data.FACILITY,
            max_bytes=1 << 40,
            max_rows=1 << 40,
        )
        for row in checked:
            rows += 1
            if row.__class__ is not tuple and row.issues:  # a tuple is a CleanRow
                invalid += 1
    return rows, invalid


def measure(path: Path, repeats: int) -> dict[str, float]:
    """Best CPU seconds of each pass, alternated so both see the same machine; peak RSS of this process."""
    bare = full = float("inf")
    rows = invalid = 0
    for _ in range(repeats):
        started = time.process_time()
        bare_pass(path)
        bare = min(bare, time.process_time() - started)
        started = time.process_time()
        rows, invalid = full_pass(path)
        full = min(full, time.process_time() - started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"rows": rows, "invalid": invalid, "bare_seconds": bare, "full_seconds": full, "peak_mb": peak_kib / 1024}


def main() -> None:
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        from bench import data

        path.write_bytes(data.roster_csv(int(sys.argv[3])))
        return
    print(json.dumps(measure(path, int(sys.argv[3]))))


if __name__ == "__main__":
    main()
