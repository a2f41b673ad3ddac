"""A nightly roster sync (issue #17): planning's CPU against csv.reader, DynamoDB reads and writes, hashes, memory.

`python -m bench.sync measure LEARNERS` (a fresh process): one facility of LEARNERS active learners (5,000 in
`make bench`) in DynamoDB (moto in its own process, bench.dynamo's, so its work is not ours), stored in batch writes
of the DAL's own items (intake.dal.learners' mapping: the roster keys and versions are the DAL's) with one
precomputed hash. Its roster file with 1% changes (CHANGES: 50 updates, 10 new learners, 10 missing) is dropped into
incoming/ of a facility in `dropMode: sync` and validated by the validator's own entry point (validate_object), every
DynamoDB request counted by bench.dynamo's CountingClient; then confirmed and applied by the worker's handler over
the creation queue, writes counted, every Argon2id hash counted by wrapping argon2's hasher (bench.roster's).

Planning's CPU is the checker and the sync planner over the same bytes as a bare csv.reader pass, both in this
process, alternated, best of PLAN_REPEATS; the planner's roster port is the stored roster in memory (as
active_roster yields it), so this figure is planning's own CPU, not the HTTP client's. The validator's whole CPU
(S3, DynamoDB, reports) is reported beside it.

`python -m bench.sync memory ROWS` (a fresh process): the peak RSS of planning a ROWS-learner roster (200,000 for
docs/scaling.md) with ROWS active learners in the roster port, entries consumed as the validator's chunk writer
consumes them: planning's memory, the roster and the seen DOC IDs included.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.dynamo import READS, WRITES, CountingClient, moto_server
from bench.env import use_fake_aws
from bench.lambda_events import BenchContext, sqs_event
from bench.roster import CountingHashes
from bench.validation import bare_pass, checked_rows

UPDATES, NEW, MISSING = 50, 10, 10  # 1% of 5,000: half the updates a name, half a housing unit
PLAN_REPEATS = 5
HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId\r\n"


Stored = tuple[str, str, str, str, str]  # docId, first name, last name, date of birth, housing unit


def stored_roster(learners: int) -> Iterator[Stored]:
    """The facility's learners, the same each call, names repeating as on a roster."""
    import random

    from bench import data

    rng = random.Random(17)
    firsts = data._names(rng, data._FIRST, 400)
    lasts = data._names(rng, data._LAST, 1500)
    for n in range(learners):
        born = f"{n % 12 + 1:02d}/{n % 28 + 1:02d}/{1950 + n % 50}"
        yield str(3_000_000 + n * 7), rng.choice(firsts), rng.choice(lasts), born, data.UNITS[n % len(data.UNITS)]


def roster_lines(learners: int, updates: int, new: int, missing: int) -> Iterator[str]:
    """The night's file: every stored learner but the last `missing`, `updates` of them changed, `new` more."""
    from bench import data

    yield HEADER
    kept = learners - missing
    step = max(1, kept // max(1, updates))
    for n, (doc, first, last, born, unit) in enumerate(stored_roster(kept)):
        if n % step == 0 and n // step < updates:
            if (n // step) % 2:
                unit = data.UNITS[(data.UNITS.index(unit) + 1) % len(data.UNITS)]
            else:
                last = last + "-Hill"
        yield f"{n + 1},{doc},{first},{last},{born},Learner,,{unit}\r\n"
    for n in range(new):
        yield f"new{n},{9_100_000 + n},Nova,Quinn,01/0{n % 9 + 1}/1991,Learner,,{data.UNITS[n % 12]}\r\n"


def roster_file(learners: int, updates: int, new: int, missing: int) -> bytes:
    return "".join(roster_lines(learners, updates, new, missing)).encode("utf-8")


class MemoryRoster:
    """The planner's port with the roster in memory: active_roster yields RosterLearner tuples as the DAL does
    (repeated strings shared); DOC IDs not on it are unknown to the agency (find_by_doc_ids finds none)."""

    def __init__(self, learners: int, *, kept: bool = False) -> None:
        self.learners = learners
        # kept: made once and handed out again, so repeated passes time planning, not this generator
        self.kept = list(self._made()) if kept else None

    def active_roster(self, facility_id: str) -> Iterator[Any]:
        return iter(self.kept) if self.kept is not None else self._made()

    def _made(self) -> Iterator[Any]:
        from intake.domain import RosterLearner

        shared: dict[str, str] = {}
        share = shared.setdefault
        for n, (doc, first, last, born, unit) in enumerate(stored_roster(self.learners)):
            yield RosterLearner(doc, f"learner-{n:07d}", share(unit, unit), share(first, first), share(last, last),
                                share(born, born), 1)  # fmt: skip

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Any]:
        return {}


def plan_pass(stream: Any, lookup: MemoryRoster) -> Counter[str]:
    """The checker and the sync planner over the file, entries consumed one by one: the planner's counts."""
    from bench import data
    from intake.bulk.planning import SyncPlanner

    checked = checked_rows(stream)
    planner = SyncPlanner(lookup, lambda password, line: "sealed", facility_id=data.FACILITY, agency_id=data.AGENCY)
    # driven as validate_upload drives it (add_all the rows, end after the last), what it plans consumed as it comes:
    # what the validator does with each is not planning (SyncPlanner.plan would make the UNCHANGED rows' entries)
    for planned in planner.add_all(checked):
        for _ in planned:
            pass
    for _ in planner.end():
        pass
    return Counter({name: n for name, n in planner.counts.items() if n})


def _seed(stored: Iterable[Stored]) -> None:
    from bench import data
    from intake import learner_creation, passwords, rules
    from intake.dal import directory, staff
    from intake.dal.learners import _item
    from intake.dal.tables import LearnerItem, bind_tables
    from intake.domain import Agency, UploadMode

    directory.put_agency(Agency(agency_id=data.AGENCY, name="Bench agency"))
    for location in data.locations().values():
        if location.location_id == data.FACILITY:
            location = location.model_copy(update={"drop_mode": UploadMode.SYNC})
        directory.put_location(location)
    staff.put_staff(data.requestor())
    one_hash = passwords.hash_password("Bench-roster-password-1")
    bind_tables()
    batch = LearnerItem.batch_write()
    for doc, first, last, born, unit in stored:
        learner = learner_creation.new_learner(
            agency_id=data.AGENCY,
            doc_id=doc,
            first_name=first,
            last_name=last,
            date_of_birth=born,
            location_id=unit,
            facility_id=data.FACILITY,
            created_by="bench",
        )
        username = next(rules.username_candidates(first, last, doc))
        batch.save(_item(learner.model_copy(update={"username": username}), one_hash))
    batch.commit()


def _on(counter: CountingClient, table: str, operations: frozenset[str]) -> int:
    return sum(n for (op, tables), n in counter.calls.items() if op in operations and table in tables.split(","))


def measure(learners: int) -> dict[str, Any]:
    """Seed, drop, validate (reads counted), confirm and apply (writes and hashes counted); planning's CPU."""
    import boto3

    from bench import data
    from bench.dynamo import _reset_caches
    from local.resources import provision

    body = roster_file(learners, UPDATES, NEW, MISSING)
    result: dict[str, Any] = {"learners": learners, "updates": UPDATES, "new": NEW, "missing": MISSING}

    # planning's CPU against csv.reader over the same bytes, alternated (no I/O: the roster port in memory)
    lookup = MemoryRoster(learners, kept=True)
    with_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-sync-{os.getpid()}.csv"
    with_file.write_bytes(body)
    bare = plan = float("inf")
    actions: Counter[str] = Counter()
    try:
        for _ in range(PLAN_REPEATS):
            started = time.process_time()
            rows = bare_pass(with_file) - 1
            bare = min(bare, time.process_time() - started)
            started = time.process_time()
            actions = plan_pass(io.BytesIO(body), lookup)
            plan = min(plan, time.process_time() - started)
    finally:
        with_file.unlink()
    result.update(rows=rows, bare_seconds=bare, plan_seconds=plan, planned_actions=dict(actions), repeats=PLAN_REPEATS)

    counter, hashes = CountingClient(), CountingHashes()
    with moto_server() as endpoint, counter.installed(), hashes.installed():
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        resources = provision("us-east-1")
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        _reset_caches()
        started = time.perf_counter()
        _seed(stored_roster(learners))
        result["seed_seconds"] = time.perf_counter() - started
        learners_table, audit_table = resources.tables["LearnersTable"], resources.tables["AuditTable"]
        s3 = boto3.client("s3", region_name="us-east-1")

        import worker_handler
        from intake.bulk.arrivals import validate_object
        from intake.bulk.creation import begin_creation
        from intake.dal import uploads as upload_store

        # validation of the drop: every read, the roster's Query included
        key = f"incoming/{data.FACILITY}/roster.csv"
        etag = s3.put_object(Bucket=resources.bucket, Key=key, Body=body)["ETag"]
        counter.reset()
        hashes.count = 0
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        upload = validate_object(key, etag)
        result["validate_cpu_seconds"] = time.process_time() - started_cpu
        result["validate_wall_seconds"] = time.perf_counter() - started_wall
        assert upload is not None, "the drop was not validated"
        result["status"] = str(upload.status)
        result["mode"] = str(upload.mode)
        result["plan_counts"] = dict(upload.counts)
        result["read_requests"] = counter.total(READS)
        result["roster_queries"] = _on(counter, learners_table, frozenset({"Query"}))
        result["validate_writes_learners"] = _on(counter, learners_table, WRITES)
        result["reads_by_operation"] = {f"{op} {table}": n for (op, table), n in counter.calls.items() if op in READS}
        result["validate_hashes"] = hashes.count

        # the same validation warm (clients made, modules imported), as most nights run: the validator's per-row CPU
        warm_key = f"incoming/{data.FACILITY}/roster-warm.csv"
        warm_etag = s3.put_object(Bucket=resources.bucket, Key=warm_key, Body=body)["ETag"]
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        warm = validate_object(warm_key, warm_etag)
        result["validate_warm_cpu_seconds"] = time.process_time() - started_cpu
        result["validate_warm_wall_seconds"] = time.perf_counter() - started_wall
        assert warm is not None and warm.counts == upload.counts, warm

        # confirm and apply: one worker takes the parts in turn
        begin_creation(upload, skip_invalid_rows=False, move_existing=False, confirmed_by="bench")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url, queue_arn = resources.queue_urls["CreationQueue"], resources.queue_arns["CreationQueue"]
        counter.reset()
        hashes.count = 0
        started = time.perf_counter()
        parts = 0
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0)
            messages = got.get("Messages", [])
            if not messages:
                break
            worker_handler.lambda_handler(
                sqs_event(messages[0], queue_arn), BenchContext("intake-bench-worker", 600000)
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            parts += 1
        result["apply_seconds"] = time.perf_counter() - started
        result["parts"] = parts
        done = upload_store.get_upload(upload.upload_id)
        assert done is not None
        result["final_status"] = str(done.status)
        result["done_counts"] = dict(done.counts)
        result["apply_writes"] = counter.total(WRITES)
        result["apply_learner_writes"] = _on(counter, learners_table, WRITES)
        result["apply_audit_writes"] = _on(counter, audit_table, WRITES)
        result["apply_reads"] = counter.total(READS)
        result["writes_by_operation"] = {f"{op} {table}": n for (op, table), n in counter.calls.items() if op in WRITES}
        result["apply_hashes"] = hashes.count
        client = boto3.client("dynamodb", region_name="us-east-1")
        entries = [
            item
            for page in client.get_paginator("scan").paginate(TableName=audit_table)
            for item in page["Items"]
            if item["action"]["S"] != "UPLOAD_CONFIRMED"
        ]
        result["audit_entries"] = len(entries)
        result["audit_actions"] = dict(Counter(item["action"]["S"] for item in entries))
    return result


def memory(rows: int) -> dict[str, Any]:
    """Peak RSS of planning a `rows`-learner roster against as many active learners (this process only)."""
    import tempfile

    # imported before the baseline (the interpreter's and the modules' share is not planning's)
    import intake.bulk.checking
    import intake.bulk.planning  # noqa: F401

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "roster.csv"
        with path.open("w", encoding="utf-8", newline="") as out:  # written line by line: never whole in memory
            out.writelines(roster_lines(rows, rows // 100, rows // 500, rows // 500))
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.process_time()
        with path.open("rb") as stream:
            actions = plan_pass(stream, MemoryRoster(rows))
        seconds = time.process_time() - started
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        size = path.stat().st_size
    return {
        "rows": rows,
        "file_mb": size / 1e6,
        "plan_seconds": seconds,
        "actions": dict(actions),
        "peak_mb": peak_kib / 1024,
        "before_plan_mb": before_kib / 1024,
    }


def main() -> None:
    use_fake_aws()
    import logging

    logging.disable(logging.WARNING)
    command, size = sys.argv[1], int(sys.argv[2])
    got = measure(size) if command == "measure" else memory(size)
    print(json.dumps(got, default=str))


if __name__ == "__main__":
    main()
