"""DynamoDB requests of validation and creation over moto, counted by a counting client, and one worker's speed.

Run in its own process (`python -m bench.dynamo ROWS LEARNERS`): prints one JSON document with the counts and timings.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from bench.env import stop, use_fake_aws
from bench.lambda_events import BenchContext, sqs_event

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class CountingClient:
    """Counts every DynamoDB request any botocore client makes (PynamoDB's and Powertools' included), by table."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        # items written, by (how: single, batch or transaction, table): what write units are charged on
        self.written: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def installed(self) -> Iterator[CountingClient]:
        """Wrap botocore's one request path for the duration."""
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        calls, written = self.calls, self.written
        lock = threading.Lock()  # the validator's look-ups in flight count from their threads

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                transacted = {
                    action["TableName"] for item in params.get("TransactItems", []) for action in item.values()
                }
                tables = params.get("TableName") or ",".join(sorted(params.get("RequestItems") or transacted)) or "-"
                with lock:
                    calls[(operation, tables)] += 1
                    _count_written(written, operation, params)
            return original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    def total(self, operations: frozenset[str]) -> int:
        """Requests of these operations, all tables."""
        return sum(count for (operation, _), count in self.calls.items() if operation in operations)

    def reset(self) -> None:
        self.calls.clear()
        self.written.clear()


def _count_written(written: Counter[tuple[str, str]], operation: str, params: dict[str, Any]) -> None:
    """Count the items one write request writes (a refused conditional write is charged too)."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        written[("single", params["TableName"])] += 1
    elif operation == "BatchWriteItem":
        for table, requests in params.get("RequestItems", {}).items():
            written[("batch", table)] += len(requests)
    elif operation == "TransactWriteItems":
        for item in params.get("TransactItems", []):
            for action in item.values():
                written[("transaction", action["TableName"])] += 1


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB JSON, by AWS's item-size rules."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + attribute_size(element) for name, element in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: element}) for element in inner)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item: attribute names plus values (what write capacity is charged on)."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def write_units(size: int, transactional: bool = False) -> int:
    """WCU of one write of an item of this size: 1 per started KB, doubled in a transaction."""
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def _reset_caches() -> None:
    from intake import confirming
    from intake.bulk import worker
    from intake.dal import aws, tables
    from intake.settings import get_settings

    get_settings.cache_clear()
    aws.reset_clients()
    tables.bind_tables.cache_clear()
    confirming.persistence.unbind()
    worker.persistence.unbind()


def _seed() -> None:
    from bench import data
    from intake.dal import directory, staff
    from intake.domain import Agency

    directory.put_agency(Agency(agency_id=data.AGENCY, name="Bench agency"))
    for location in data.locations().values():
        directory.put_location(location)
    staff.put_staff(data.requestor())


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in its own process, as DynamoDB is another machine: its work is not counted as the worker's CPU time."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        stop(server)


# The first chunk is the worker's first invocation (clients created); the others run warm, as most do. Each warm chunk
# is followed by bare hashing of as many passwords, and the best of each is compared: both see the same machine.
WORKER_CHUNKS = 4


def run(rows: int, learners: int) -> dict[str, Any]:
    """Validate `rows` rows (reads counted), then create chunks of `learners` with one worker (writes counted)."""
    import boto3

    from bench import data
    from local.resources import provision

    counter = CountingClient()
    result: dict[str, Any] = {}
    with moto_server() as endpoint, counter.installed():
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        resources = provision("us-east-1")
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["CREATION_CHUNK_SIZE"] = str(learners)
        _reset_caches()
        _seed()
        s3 = boto3.client("s3", region_name="us-east-1")

        import worker_handler
        from intake.bulk.arrivals import validate_object
        from intake.bulk.creation import begin_creation
        from intake.dal import uploads as upload_store

        # validation: the reads of a whole file, per 1,000 rows
        key = f"incoming/{data.FACILITY}/roster.csv"
        etag = s3.put_object(Bucket=resources.bucket, Key=key, Body=data.roster_csv(rows))["ETag"]
        counter.reset()
        started = time.perf_counter()
        upload = validate_object(key, etag)
        result["validate_seconds"] = time.perf_counter() - started
        assert upload is not None and upload.counts["rows"] == rows, upload
        result["rows"] = rows
        result["read_requests"] = counter.total(READS)
        result["reads_by_operation"] = {f"{op} {table}": n for (op, table), n in counter.calls.items() if op in READS}

        # creation: a file of WORKER_CHUNKS chunks of valid rows, one worker taking them in turn
        created = learners * WORKER_CHUNKS
        key = f"incoming/{data.FACILITY}/creation.csv"
        body = data.roster_csv(created, seed=11, error_every=0, first_doc=9_000_000)
        etag = s3.put_object(Bucket=resources.bucket, Key=key, Body=body)["ETag"]
        upload = validate_object(key, etag)
        assert upload is not None and upload.counts["valid"] == created, upload.counts if upload else None
        begin_creation(upload, skip_invalid_rows=True, move_existing=True, confirmed_by="bench")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url, queue_arn = resources.queue_urls["CreationQueue"], resources.queue_arns["CreationQueue"]
        counter.reset()
        cpu: list[float] = []
        wall: list[float] = []
        bare: list[tuple[float, float]] = []
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0)
            messages = got.get("Messages", [])
            if not messages:
                break
            event = sqs_event(messages[0], queue_arn)
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            worker_handler.lambda_handler(event, BenchContext("intake-bench-worker", 600000))
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started_wall)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            if len(cpu) > 1:
                # Argon2id's cost is set by its parameters, not by the password: any `learners` passwords will do
                bare.append(bare_hash_seconds([f"Bench-pass-{len(cpu)}-{n:06d}" for n in range(learners)]))
        done = upload_store.get_upload(upload.upload_id)
        assert done is not None and done.counts.get("created") == created, done.counts if done else None
        assert len(cpu) == WORKER_CHUNKS, cpu
        result["learners"] = created
        result["chunk_learners"] = learners
        result["worker_cpu_seconds"] = min(cpu[1:])
        result["worker_wall_seconds"] = min(wall[1:])
        result["first_chunk_cpu_seconds"] = cpu[0]
        result["bare_hash_cpu_seconds"] = min(cpu_seconds for cpu_seconds, _ in bare)
        result["bare_hash_wall_seconds"] = min(wall_seconds for _, wall_seconds in bare)
        result["write_requests"] = counter.total(WRITES)
        result["writes_by_operation"] = {f"{op} {table}": n for (op, table), n in counter.calls.items() if op in WRITES}
        result["written_items"] = [[how, table, n] for (how, table), n in sorted(counter.written.items())]

        # item sizes for WCU: a created learner, and the upload record a part counter update rewrites
        client = boto3.client("dynamodb", region_name="us-east-1")
        learner = client.scan(TableName=resources.tables["LearnersTable"], Limit=1)["Items"][0]
        upload_item = client.get_item(
            TableName=resources.tables["UploadsTable"], Key={"uploadId": {"S": upload.upload_id}}
        )
        result["learner_item_bytes"] = item_size(learner)
        result["upload_item_bytes"] = item_size(upload_item["Item"])
        result["learner_indexes"] = _index_count(client, resources.tables["LearnersTable"])
        result["upload_indexes"] = _index_count(client, resources.tables["UploadsTable"])
        result["uploads_table"] = resources.tables["UploadsTable"]
        # the audit entries the parts' transactions carried (the confirm's own entry is one more)
        entries = client.scan(TableName=resources.tables["AuditTable"])["Items"]
        result["audit_entries"] = sum(1 for entry in entries if entry["action"]["S"] != "UPLOAD_CONFIRMED")
        result["audit_item_bytes"] = max(item_size(entry) for entry in entries)
        result["audit_indexes"] = _index_count(client, resources.tables["AuditTable"])
        # every table's largest item as the run left it, and its GSIs: the sizes write units are charged on
        result["table_item_bytes"], result["table_indexes"] = {}, {}
        for name in resources.tables.values():
            items = client.scan(TableName=name, Limit=200).get("Items", [])
            result["table_item_bytes"][name] = max((item_size(item) for item in items), default=0)
            result["table_indexes"][name] = _index_count(client, name)
    return result


def _index_count(client: Any, table: str) -> int:
    """GSIs of a table: an item carrying an index's key is written to it too (>= 1 WCU, whatever it projects)."""
    described = client.describe_table(TableName=table)["Table"]
    return len(described.get("GlobalSecondaryIndexes", []))


def bare_hash_seconds(passwords: list[str]) -> tuple[float, float]:
    """CPU and wall seconds of hashing these passwords with Intake's Argon2id parameters and nothing else."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    from intake import passwords as ours

    hasher = PasswordHasher(
        time_cost=ours.ARGON2_TIME_COST,
        memory_cost=ours.ARGON2_MEMORY_KIB,
        parallelism=ours.ARGON2_PARALLELISM,
        type=Type.ID,
    )
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for password in passwords:
        hasher.hash(password)
    return time.process_time() - started_cpu, time.perf_counter() - started_wall


def main() -> None:
    use_fake_aws()
    import logging

    logging.disable(logging.WARNING)
    rows, learners = int(sys.argv[1]), int(sys.argv[2])
    result = run(rows, learners)
    print(json.dumps(result, default=lambda value: float(value) if isinstance(value, Decimal) else str(value)))


if __name__ == "__main__":
    main()
