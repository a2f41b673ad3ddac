"""The validator's throughput against a bare csv.reader pass over the same bytes, and its peak memory.

`python -m bench.validation write PATH ROWS` writes a generated roster; `python -m bench.validation measure PATH
REPEATS` (a fresh process, so its peak RSS is the validator's) prints one JSON document.

The validator's CPU is reading, checking and planning (issue 20): full_pass drives check_file and the create-mode
Planner as validate_upload does (add_all, then end), each given password sealed as the validator seals it
(passwords.seal under a data key, bound to upload and line), the DynamoDB look-ups answered from memory
(MemoryLearners: a known learner elsewhere for one DOC ID in KNOWN_EVERY, the others unknown). What the validator
then does with each planned item (plan chunks' JSON, S3 puts, the error report) is not in it. check_pass (checking
alone, the figure before issue 20) is printed beside it.
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
    facility (a MOVE), for the others none, as find_by_doc_ids answers (only the learners it has)."""

    def __init__(self, rows: int) -> None:
        from datetime import UTC, datetime

        from bench import data
        from intake.domain import Learner

        at = datetime(2026, 1, 1, tzinfo=UTC)
        self.known: dict[str, Learner] = {}
        for n in range(0, rows, KNOWN_EVERY):
            doc = str(FIRST_DOC + n * 7)  # data.roster_csv's DOC ID of row n
            self.known[doc] = Learner(learner_id=f"learner-{n}", agency_id=data.AGENCY, doc_id=doc, first_name="Kay",
                                      last_name="Lee", date_of_birth="01/02/1990", location_id="fac-away",
                                      facility_id="fac-away", created_at=at, created_by="bench")  # fmt: skip

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Any]:
        known = self.known
        return {doc: known[doc] for doc in doc_ids if doc in known}


def _checked(stream: Any) -> Any:
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
        for row in _checked(stream):
            rows += 1
            if row.__class__ is not tuple and row.issues:  # a tuple is a CleanRow
                invalid += 1
    return rows, invalid


def full_pass(path: Path, lookup: MemoryLearners) -> tuple[int, int]:
    """Rows and invalid rows after reading, checking and planning, driven as validate_upload drives the planner."""
    from intake import passwords
    from intake.bulk import keys
    from intake.bulk.planning import Planner

    seal, context = passwords.sealer(bytes(32)), keys.given_password_context

    def sealed(password: str, line: int) -> str:  # the validator's _seal, its cipher made once
        return seal(password, context("upload-bench", line))

    planner = Planner(lookup, sealed)
    with path.open("rb") as stream:
        for planned in planner.add_all(_checked(stream)):
            for _ in planned:
                pass
        for _ in planner.end():
            pass
    return planner.counts["rows"], planner.counts["invalid"]


def measure(path: Path, repeats: int) -> dict[str, float]:
    """Best CPU seconds of each pass, alternated so all see the same machine; peak RSS of this process."""
    bare = full = checking = float("inf")
    rows = invalid = checked_rows = 0
    lookup = MemoryLearners(bare_pass(path))
    for _ in range(repeats):
        started = time.process_time()
        bare_pass(path)
        bare = min(bare, time.process_time() - started)
        started = time.process_time()
        rows, invalid = full_pass(path, lookup)
        full = min(full, time.process_time() - started)
        started = time.process_time()
        checked_rows, _ = check_pass(path)
        checking = min(checking, time.process_time() - started)
    assert checked_rows == rows, (checked_rows, rows)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"rows": rows, "invalid": invalid, "bare_seconds": bare, "full_seconds": full,
            "check_seconds": checking, "peak_mb": peak_kib / 1024}  # fmt: skip


def main() -> None:
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        from bench import data

        path.write_bytes(data.roster_csv(int(sys.argv[3])))
        return
    print(json.dumps(measure(path, int(sys.argv[3]))))


if __name__ == "__main__":
    main()
