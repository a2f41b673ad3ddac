"""Learner sign-in (issue #16): CPU per sign-in against one bare Argon2id verify, and DynamoDB requests per sign-in.

Run in its own process (`python -m bench.sign_in`): prints one JSON document. Over in-process moto (`mock_aws`), one
facility with a few learners stored through the DAL (their hashes made with Intake's parameters, so no sign-in
rehashes), `intake.sign_in_service.sign_in` is called as the route calls it:
- successes by username and by DOC ID, the facility's access switch cached after the first;
- failures for usernames nobody has (a new one each time: five in a row for one would lock it, and a locked login is
  refused without a verify, which is the point of a lock but not what this measures);
- wrong passwords for known learners (four each at most, then a success resets the counter).
Every DynamoDB request is counted at botocore's one request path (bench.dynamo.CountingClient), one kind at a time.
Then the kinds and a bare `PasswordHasher.verify` of a hash with the same parameters are timed interleaved, one call
of each in turn, so that a busy moment of this shared machine falls on all alike; each pass's CPU of a kind is
divided by the same pass's bare verifies, and the median of the passes is reported. CPU is this process's, less the
CPU moto spends answering (DynamoDB's work is another machine's; botocore's own work on each request stays counted).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.dynamo import READS, WRITES, CountingClient
from bench.env import use_fake_aws

SIGN_INS = 10  # per pass and kind
PASSES = 7
WRONG_IN_A_ROW = 4  # below the lockout (5)
# wrong-password learners: one counting pass and PASSES timed ones of SIGN_INS wrong guesses, four in a row each
LEARNERS = math.ceil(SIGN_INS * (PASSES + 1) / WRONG_IN_A_ROW)
PASSWORD = "Bench-sign-in-Pass-42"
CLIENT_ID = "bench-tablet-client"


class MotoTime:
    """CPU seconds moto spends answering requests in this process (mock_aws answers inside botocore's send)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def installed(self) -> Iterator[MotoTime]:
        from moto.core.models import botocore_stubber

        original = botocore_stubber.process_request
        meter = self

        def timed(request: Any) -> Any:
            started = time.process_time()
            try:
                return original(request)
            finally:
                meter.seconds += time.process_time() - started

        botocore_stubber.process_request = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            del botocore_stubber.process_request  # the class's method again


def _seed() -> list[tuple[str, str]]:
    """The bench agency, facility and units, and learners with PASSWORD: (username, DOC ID) each."""
    from bench import data
    from intake import learner_creation, passwords
    from intake.dal import directory
    from intake.dal import learners as learner_store
    from intake.domain import Agency

    directory.put_agency(Agency(agency_id=data.AGENCY, name="Bench agency"))
    for location in data.locations().values():
        directory.put_location(location)
    made = []
    for n in range(LEARNERS + 1):
        learner = learner_creation.new_learner(
            agency_id=data.AGENCY,
            doc_id=str(7_000_000 + n),
            first_name="Bench",
            last_name="Learner",
            date_of_birth="01/02/1990",
            location_id=data.UNITS[n % len(data.UNITS)],
            facility_id=data.FACILITY,
            created_by="bench",
        ).model_copy(update={"username": f"benchlearner{n:03d}"})
        learner_store.insert_learner(learner, passwords.hash_password(PASSWORD))
        made.append((str(learner.username), learner.doc_id))
    return made


def _bare_verifier() -> Callable[[], object]:
    """One bare verify of a PASSWORD hash with Intake's Argon2id parameters, and nothing else."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    from intake import passwords as ours

    hasher = PasswordHasher(
        time_cost=ours.ARGON2_TIME_COST,
        memory_cost=ours.ARGON2_MEMORY_KIB,
        parallelism=ours.ARGON2_PARALLELISM,
        type=Type.ID,
    )
    stored = hasher.hash(PASSWORD)
    return lambda: hasher.verify(stored, PASSWORD)


Kinds = dict[str, Callable[[], object]]


def _kinds(learners: list[tuple[str, str]]) -> Kinds:
    """The calls timed: a bare verify, and sign-ins of each kind."""
    from bench import data
    from intake.errors import InvalidCredentials
    from intake.sign_in_service import sign_in

    (username, doc_id), wrong_ones = learners[0], learners[1:]
    guesses = iter(range(10**6))
    wrong_state = {"learner": 0, "in_a_row": 0}

    def unknown() -> None:
        try:
            sign_in(data.AGENCY, f"nobody{next(guesses):07d}", PASSWORD, CLIENT_ID)
        except InvalidCredentials:
            return
        raise AssertionError("an unknown username signed in")

    def wrong() -> None:
        wrong_user = wrong_ones[wrong_state["learner"] % len(wrong_ones)][0]
        wrong_state["in_a_row"] += 1
        if wrong_state["in_a_row"] == WRONG_IN_A_ROW:
            wrong_state["learner"] += 1
            wrong_state["in_a_row"] = 0
        try:
            sign_in(data.AGENCY, wrong_user, f"{PASSWORD}-wrong", CLIENT_ID)
        except InvalidCredentials:
            return
        raise AssertionError("a wrong password signed in")

    return {
        "bare_verify": _bare_verifier(),
        "success": lambda: sign_in(data.AGENCY, username, PASSWORD, CLIENT_ID),
        "success_by_doc_id": lambda: sign_in(data.AGENCY, doc_id, PASSWORD, CLIENT_ID),
        "unknown": unknown,
        "wrong_password": wrong,
    }


def _requests(kinds: Kinds, counter: CountingClient) -> dict[str, dict[str, Any]]:
    """DynamoDB requests per call of each kind, one kind at a time."""
    requests = {}
    for kind, call in kinds.items():
        counter.reset()
        for _ in range(SIGN_INS):
            call()
        requests[kind] = {"per_call": counter.total(READS | WRITES) / SIGN_INS, "by_operation": _by_operation(counter)}
    return requests


def _cpu(kinds: Kinds, moto: MotoTime) -> dict[str, Any]:
    """The kinds interleaved call by call (a busy moment of the machine falls on all alike), PASSES times: each pass's
    CPU of a kind over the same pass's bare verifies, moto's own CPU left out (and, apart, in); the passes' medians."""
    ratios: dict[str, list[float]] = {kind: [] for kind in kinds}
    with_moto: dict[str, list[float]] = {kind: [] for kind in kinds}
    per_call: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(PASSES):
        spent = dict.fromkeys(kinds, 0.0)
        spent_with_moto = dict.fromkeys(kinds, 0.0)
        for _ in range(SIGN_INS):
            for kind, call in kinds.items():
                moto_before, started = moto.seconds, time.process_time()
                call()
                took = time.process_time() - started
                spent[kind] += took - (moto.seconds - moto_before)
                spent_with_moto[kind] += took
        for kind in kinds:
            ratios[kind].append(spent[kind] / spent["bare_verify"])
            with_moto[kind].append(spent_with_moto[kind] / spent_with_moto["bare_verify"])
            per_call[kind].append(spent[kind] / SIGN_INS)
    return {
        "ratio": {kind: statistics.median(values) for kind, values in ratios.items()},
        "ratio_range": {kind: [min(values), max(values)] for kind, values in ratios.items()},
        "ratio_with_moto": {kind: statistics.median(values) for kind, values in with_moto.items()},
        "cpu_seconds": {kind: statistics.median(values) for kind, values in per_call.items()},
    }


def run() -> dict[str, Any]:
    """Requests per sign-in of each kind, then CPU per sign-in of each kind against bare verifies."""
    from moto import mock_aws

    from bench import data
    from bench.dynamo import _reset_caches
    from local.resources import provision

    counter, moto = CountingClient(), MotoTime()
    result: dict[str, Any] = {"sign_ins_per_pass": SIGN_INS, "passes": PASSES}
    with mock_aws():
        resources = provision("us-east-1")
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["TABLET_CLIENT_ID"] = CLIENT_ID
        _reset_caches()
        learners = _seed()

        from intake import passwords
        from intake.sign_in_service import sign_in

        assert not passwords.needs_rehash(passwords.hash_password(PASSWORD)), "the bench's hashes would be rehashed"
        kinds = _kinds(learners)
        kinds["bare_verify"]()
        with counter.installed(), moto.installed():
            # the first sign-in of the sandbox: SDK clients made, the facility's access switch read (info)
            counter.reset()
            sign_in(data.AGENCY, learners[0][0], PASSWORD, CLIENT_ID)
            result["first_requests"] = counter.total(READS | WRITES)
            result["first_by_operation"] = _by_operation(counter)
            result["requests"] = _requests(kinds, counter)
            result.update(_cpu(kinds, moto))
            # none of the wrong-password learners was locked (a locked one would be refused unverified)
            for wrong_user, _ in learners[1:]:
                sign_in(data.AGENCY, wrong_user, PASSWORD, CLIENT_ID)
    return result


def _by_operation(counter: CountingClient) -> dict[str, int]:
    return {f"{operation} {table}": n for (operation, table), n in counter.calls.items()}


def main() -> None:
    use_fake_aws()
    import logging

    logging.disable(logging.WARNING)
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
