"""The validator's throughput against a bare csv.reader pass over the same bytes, and its peak memory.

`python -m bench.validation write PATH ROWS` writes a generated roster; `python -m bench.validation measure PATH
REPEATS` prints the CPU seconds of each pass as one JSON document; `python -m bench.validation memory PATH` (a fresh
process that validates the file once, so its peak RSS is the validator's) prints the peak RSS.

The validator's CPU is reading, checking and planning (issue 20): full_pass drives check_file and the create-mode
Planner as validate_upload does (add_all, then end, LOOKUPS_IN_FLIGHT look-ups in flight), each given password
sealed as the validator seals it (passwords.sealer under a data key, bound to upload and line), the DynamoDB
look-ups answered from memory (MemoryLearners: a learner elsewhere for one DOC ID in KNOWN_EVERY, the others
unknown). What the validator then does with each planned item (plan chunks' JSON, S3 puts, the error report) is not
in it. check_pass (checking alone, the figure before issue 20) is printed beside it.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

KNOWN_EVERY = 500  # one DOC ID in 500 is a learner the agency has at another facility: a MOVE
FIRST_DOC = 1_000_000  # data.roster_csv's first DOC ID (its DOC IDs step by 7)


def bare_pass(path: Path) -> int:
    """Rows of a plain csv.reader pass over the file, decoding included: the floor any reader pays."""
    count = 0
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        for _ in csv.reader(text):
            count += 1
    return count


class MemoryLearners:
    """The planner's look-up port in memory: for one generated DOC ID in KNOWN_EVERY an active learner at another
    facility (a MOVE), for the others none, as find_by_doc_ids answers (only the learners it has, made per answer as
    the DAL makes them from a response). Safe from the look-up threads: it changes nothing."""

    def __init__(self, rows: int) -> None:
        from datetime import UTC, datetime

        self.known = {str(FIRST_DOC + n * 7) for n in range(0, rows, KNOWN_EVERY)}  # data.roster_csv's DOC IDs
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Any]:
        from intake.domain import Learner

        found = {}
        for doc in self.known.intersection(doc_ids):
            found[doc] = Learner(learner_id=f"learner-{doc}", agency_id=agency_id, doc_id=doc, first_name="Kay",
                                 last_name="Lee", date_of_birth="01/02/1990", location_id="fac-away",
                                 facility_id="fac-away", created_at=self.at, created_by="bench")  # fmt: skip
        return found


def checked_rows(stream: Any) -> Any:
    """The checker's rows of a generated file (every rule, the bench's requestor and locations)."""
    from bench import data
    from intake.bulk.checking import check_file

    locations = data.locations()
    _, checked = check_file(
        stream,
        requestor=data.requestor(),
        resolve_location=locations.get,
        today=data.TODAY,
        facility_id=data.FACILITY,
        max_bytes=1 << 40,
        max_rows=1 << 40,
    )
    return checked


def check_pass(path: Path) -> tuple[int, int]:
    """Rows and rows with issues after every rule: reading, field rules, scope, duplicates (no planning)."""
    rows = invalid = 0
    with path.open("rb") as stream:
        for row in checked_rows(stream):
            rows += 1
            if row.__class__ is not tuple and row.issues:  # a tuple is a CleanRow
                invalid += 1
    return rows, invalid


def full_pass(path: Path, lookup: MemoryLearners) -> tuple[int, int]:
    """Rows and invalid rows after reading, checking and planning, driven as validate_upload drives the planner."""
    from intake import passwords
    from intake.bulk import keys
    from intake.bulk.planning import LOOKUPS_IN_FLIGHT, Planner

    seal, context = passwords.sealer(bytes(32)), keys.given_password_context

    def sealed(password: str, line: int) -> str:  # the validator's _seal, its cipher made once
        return seal(password, context("upload-bench", line))

    planner = Planner(lookup, sealed, in_flight=LOOKUPS_IN_FLIGHT)  # as validate_upload's planner
    with path.open("rb") as stream:
        for planned in planner.add_all(checked_rows(stream)):
            for _ in planned:
                pass
        for _ in planner.end():
            pass
    return planner.counts["rows"], planner.counts["invalid"]


def measure(path: Path, repeats: int) -> dict[str, float]:
    """Best CPU seconds of each pass, alternated so all see the same machine."""
    bare = full = checking = float("inf")
    rows = invalid = checked_count = 0
    lookup = MemoryLearners(bare_pass(path))
    for _ in range(repeats):
        started = time.process_time()
        bare_pass(path)
        bare = min(bare, time.process_time() - started)
        started = time.process_time()
        rows, invalid = full_pass(path, lookup)
        full = min(full, time.process_time() - started)
        started = time.process_time()
        checked_count, _ = check_pass(path)
        checking = min(checking, time.process_time() - started)
    assert checked_count == rows, (checked_count, rows)
    return {"rows": rows, "invalid": invalid, "bare_seconds": bare, "full_seconds": full, "check_seconds": checking}


def memory(path: Path) -> dict[str, float]:
    """Peak RSS of this process validating the file once, as the validator does an upload (a fresh process: passes
    run before in the same one leave freed but unreturned memory behind, which is no validator's)."""
    full_pass(path, MemoryLearners(bare_pass(path)))
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # KiB on Linux


def main() -> None:
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        from bench import data

        path.write_bytes(data.roster_csv(int(sys.argv[3])))
        return
    if command == "memory":
        print(json.dumps(memory(path)))
        return
    print(json.dumps(measure(path, int(sys.argv[3]))))


if __name__ == "__main__":
    main()
