"""DynamoDB requests of the roster (issue #15): pages, prefix searches and a status change of 500, over in-process moto.

Run in its own process (`python -m bench.roster LEARNERS`): prints one JSON document with the counts. One facility
of LEARNERS learners (5,000 in `make bench`) is stored in batch writes of the DAL's own items (intake.dal.learners'
mapping, so the roster keys are the DAL's) with one precomputed hash: hashing 5,000 passwords would only cost time,
and moto copies every table on each TransactWriteItems, so 5,000 single inserts would take minutes (the username
claims play no part in listing, searching or a status change). Then learner_service's list_learners, searches and
set_statuses are called as the routes call them, every DynamoDB request counted by bench.dynamo's CountingClient and
every Argon2id hash by wrapping argon2's one hasher.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.dynamo import READS, WRITES, CountingClient
from bench.env import use_fake_aws

PAGE = 50
PAGES = 10  # pages read in a row, following nextCursor
STATUS_CHANGE = 500
SEARCH_REPEATS = 5


class CountingHashes:
    """Counts Argon2id hashes made by anyone (intake.passwords uses argon2's PasswordHasher)."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def installed(self) -> Iterator[CountingHashes]:
        from argon2 import PasswordHasher

        original = PasswordHasher.hash
        counter = self

        def counted(hasher: Any, password: str | bytes, *, salt: bytes | None = None) -> str:
            counter.count += 1
            return original(hasher, password, salt=salt)

        PasswordHasher.hash = counted  # type: ignore[method-assign]
        try:
            yield self
        finally:
            PasswordHasher.hash = original  # type: ignore[method-assign]


def _by_table(counter: CountingClient, operations: frozenset[str]) -> dict[str, int]:
    return {f"{op} {table}": n for (op, table), n in counter.calls.items() if op in operations}


def _on(counter: CountingClient, table: str, operations: frozenset[str]) -> int:
    return sum(n for (op, tables), n in counter.calls.items() if op in operations and table in tables.split(","))


def _seed(learners: int) -> list[tuple[str, str, str]]:
    """The bench facility with `learners` learners (names repeating as on a real roster): (id, first, last) each."""
    from bench import data
    from intake import learner_creation, passwords, rules
    from intake.dal import directory, staff
    from intake.dal.learners import _item
    from intake.dal.tables import LearnerItem, bind_tables
    from intake.domain import Agency

    directory.put_agency(Agency(agency_id=data.AGENCY, name="Bench agency"))
    for location in data.locations().values():
        directory.put_location(location)
    staff.put_staff(data.requestor())
    rng = random.Random(15)
    firsts = data._names(rng, data._FIRST, 400)
    lasts = data._names(rng, data._LAST, 1500)
    units = data.UNITS
    one_hash = passwords.hash_password("Bench-roster-password-1")
    made = []
    bind_tables()
    batch = LearnerItem.batch_write()
    for n in range(learners):
        first, last = rng.choice(firsts), rng.choice(lasts)
        learner = learner_creation.new_learner(
            agency_id=data.AGENCY,
            doc_id=str(2_000_000 + n * 7),
            first_name=first,
            last_name=last,
            date_of_birth=f"{n % 12 + 1:02d}/{n % 28 + 1:02d}/{1950 + n % 50}",
            location_id=units[n % len(units)],
            facility_id=data.FACILITY,
            created_by="bench",
        )
        username = next(rules.username_candidates(first, last, learner.doc_id))
        batch.save(_item(learner.model_copy(update={"username": username}), one_hash))
        made.append((learner.learner_id, first, last))
    batch.commit()
    return made


def run(learners: int) -> dict[str, Any]:
    """Seed one facility, then count the requests of pages, searches and a status change of STATUS_CHANGE."""
    from moto import mock_aws

    from bench import data
    from local.resources import provision

    result: dict[str, Any] = {"learners": learners}
    counter, hashes = CountingClient(), CountingHashes()
    with mock_aws():
        resources = provision("us-east-1")
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        from bench.dynamo import _reset_caches

        _reset_caches()
        started = time.perf_counter()
        made = _seed(learners)
        result["seed_seconds"] = time.perf_counter() - started
        learners_table = resources.tables["LearnersTable"]
        audit_table = resources.tables["AuditTable"]

        from intake import learner_service
        from intake.domain import LearnerStatus

        requestor = data.requestor()
        with counter.installed(), hashes.installed():
            # pages of 50, following the cursor, as the staff page does
            counter.reset()
            cursor, pages = None, 0
            for _ in range(PAGES):
                page = learner_service.list_learners(requestor, data.FACILITY, limit=PAGE, cursor=cursor)
                assert len(page.learners) == PAGE, len(page.learners)
                pages += 1
                cursor = page.next_cursor
                assert cursor is not None
            result["pages"] = pages
            result["page_queries"] = _on(counter, learners_table, frozenset({"Query"}))
            result["page_requests"] = counter.total(READS | WRITES)
            result["page_requests_by_operation"] = _by_table(counter, READS | WRITES)

            # status=ALL: both status partitions, merged
            counter.reset()
            learner_service.list_learners(requestor, data.FACILITY, status="ALL", limit=PAGE)
            result["all_page_queries"] = _on(counter, learners_table, frozenset({"Query"}))

            # prefix searches: a DOC ID prefix, a name prefix, "first last"
            _, first, last = made[len(made) // 2]
            searches = {
                "doc": str(2_000_000 + (len(made) // 2) * 7)[:5],
                "name": last[:3].lower(),
                "first last": f"{first} {last[:2]}".upper(),
            }
            for name, q in searches.items():
                counter.reset()
                for _ in range(SEARCH_REPEATS):
                    got = learner_service.list_learners(requestor, data.FACILITY, q=q, limit=PAGE)
                    assert got.learners, (name, q)
                result[f"search_{name}_queries"] = _on(counter, learners_table, frozenset({"Query"})) / SEARCH_REPEATS
                result[f"search_{name}_requests"] = counter.total(READS | WRITES) / SEARCH_REPEATS
                result[f"search_{name}_q"] = q
                result[f"search_{name}_by_operation"] = _by_table(counter, READS | WRITES)

            # a status change of 500 selected learners, hashes counted
            ids = [learner_id for learner_id, _, _ in made[:STATUS_CHANGE]]
            counter.reset()
            hashes.count = 0
            started = time.perf_counter()
            results = learner_service.set_statuses(requestor, data.FACILITY, ids, LearnerStatus.INACTIVE)
            result["status_change_seconds"] = time.perf_counter() - started
            outcomes = Counter(str(r.outcome) for r in results)
            assert outcomes == {"CHANGED": STATUS_CHANGE}, outcomes
            result["status_change"] = STATUS_CHANGE
            result["status_hashes"] = hashes.count
            result["status_learner_writes"] = _on(counter, learners_table, WRITES)
            result["status_audit_writes"] = _on(counter, audit_table, WRITES)
            result["status_other_writes"] = (
                counter.total(WRITES) - result["status_learner_writes"] - result["status_audit_writes"]
            )
            result["status_reads"] = counter.total(READS)
            result["status_by_operation"] = _by_table(counter, READS | WRITES)
    return result


def main() -> None:
    use_fake_aws()
    import logging

    logging.disable(logging.WARNING)
    print(json.dumps(run(int(sys.argv[1])), default=str))


if __name__ == "__main__":
    main()
