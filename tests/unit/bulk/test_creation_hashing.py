"""A chunk's rows applied with their hashes made ahead (intake.bulk.creation.HashesAhead), in memory: no moto."""

from __future__ import annotations

import threading
import time

import pytest

from intake import passwords
from intake.bulk import creation
from intake.bulk.types import PlanEntry
from intake.domain import Location
from tests.unit.bulk.test_creation import (
    DATA_KEY,
    entry,
    existing_learner,
    inactive,
    move_entry,
    reactivate_entry,
    upload,
)
from tests.unit.learner_fakes import AGENCY, FACILITY, Repository, location

CLOSED_UNIT = "unit-oak-closed"


class Hashing:
    """passwords.hash_password as it was, recording which thread hashed which password, slowest first."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fails: str | None = None) -> None:
        self.made: list[tuple[str, str]] = []  # (thread name, password)
        self._real = passwords.hash_password
        self._fails = fails
        self._lock = threading.Lock()
        monkeypatch.setattr(passwords, "hash_password", self)

    def __call__(self, password: str) -> str:
        with self._lock:
            self.made.append((threading.current_thread().name, password))
            slow = 0.05 / len(self.made)  # later hashes finish faster: outcomes must still keep the rows' order
        time.sleep(slow)
        if password == self._fails:
            raise RuntimeError("argon2 ran out of memory")
        return self._real(password)

    def ahead(self) -> list[str]:
        return [password for thread, password in self.made if thread.startswith("intake-hash")]


def repository() -> Repository:
    repo = Repository()
    repo.locations[CLOSED_UNIT] = location(CLOSED_UNIT, FACILITY, active=False)
    return repo


def apply_all(repo: Repository, rows: list[PlanEntry]) -> list[creation._Outcome]:
    """The rows applied as process_chunk applies a chunk's (its locations read as the rows need them)."""
    locations: dict[str, Location | None] = {}
    with creation.HashesAhead(rows, upload(move_existing=True), locations, DATA_KEY, repo) as ahead:
        return ahead.apply(0, len(rows))


def test_rows_are_applied_in_order_each_with_the_hash_of_its_own_password(monkeypatch) -> None:
    # Given creates with given and generated passwords, a move and a reactivation, hashed at different speeds
    repo = repository()
    inactive(repo, "T1")
    repo.learners[(AGENCY, "M1")] = existing_learner("M1")
    hashing = Hashing(monkeypatch)
    rows = [
        entry(2, "A1", password="Given-pass-2"),
        entry(3, "A2"),
        move_entry(4, "M1"),
        reactivate_entry(5, "T1", password="Back-pass-5"),
        entry(6, "A3"),
        entry(7, "A4", password="Given-pass-7"),
    ]
    # When the chunk's rows are applied with hashes made ahead
    outcomes = apply_all(repo, rows)
    # Then the outcomes are the rows', in the rows' order
    assert [(o.row.line, o.outcome) for o in outcomes] == [
        (2, "CREATED"),
        (3, "CREATED"),
        (4, "MOVED"),
        (5, "REACTIVATED"),
        (6, "CREATED"),
        (7, "CREATED"),
    ]
    # And each stored hash is of its own row's password (given, or the generated one the outcome reports)
    expected = {"A1": "Given-pass-2", "A2": outcomes[1].password, "T1": "Back-pass-5", "A3": outcomes[4].password}
    expected["A4"] = "Given-pass-7"
    for doc_id, password in expected.items():
        assert password and passwords.verify_password(repo.hashes[(AGENCY, doc_id)], password), doc_id
    # And every password was hashed once, all but the first row's in the hashing thread (the move needs none)
    assert sorted(password for _, password in hashing.made) == sorted(expected.values())
    assert sorted(hashing.ahead()) == sorted(p for doc_id, p in expected.items() if doc_id != "A1")


def test_each_rows_password_is_worked_out_once_ahead_or_in_its_row(monkeypatch) -> None:
    # Given creates and a reactivation, generated and given passwords, with _row_password counted
    repo = repository()
    inactive(repo, "T1")
    worked_out: list[int] = []
    real = creation._row_password

    def counted(row: PlanEntry, *args: object) -> tuple[str, str]:
        worked_out.append(row.line)
        return real(row, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(creation, "_row_password", counted)
    rows = [entry(2, "A1"), entry(3, "A2"), reactivate_entry(4, "T1"), entry(5, "A3", password="Given-pass-5")]
    # When the chunk's rows are applied with hashes made ahead
    outcomes = apply_all(repo, rows)
    # Then each row's password was worked out once: the first row's in its row, the others' ahead and handed over
    assert [o.outcome for o in outcomes] == ["CREATED", "CREATED", "REACTIVATED", "CREATED"]
    assert sorted(worked_out) == [2, 3, 4, 5]
    # And each stored hash is of the password its outcome reports (the pair handed over is the row's own)
    for doc_id, outcome in zip(["A1", "A2", "T1", "A3"], outcomes, strict=True):
        assert passwords.verify_password(repo.hashes[(AGENCY, doc_id)], outcome.password or "Given-pass-5"), doc_id


def test_a_hash_made_ahead_for_a_row_that_then_fails_is_never_stored(monkeypatch) -> None:
    # Given a create at a housing unit closed since the check, between two creates
    hashing = Hashing(monkeypatch)
    repo = repository()
    rows = [entry(2, "A1"), entry(3, "B1", location_id=CLOSED_UNIT, password="Closed-pass-3"), entry(4, "C1")]
    # When the rows are applied
    outcomes = apply_all(repo, rows)
    # Then the closed unit's row failed with nothing stored, though its password was hashed ahead
    assert [o.outcome for o in outcomes] == ["CREATED", "FAILED", "CREATED"]
    assert "Closed-pass-3" in hashing.ahead()
    assert (AGENCY, "B1") not in repo.hashes and (AGENCY, "B1") not in repo.learners
    # And no stored hash is of that password: each is its own row's
    assert not any(passwords.verify_password(stored, "Closed-pass-3") for stored in repo.hashes.values())
    assert passwords.verify_password(repo.hashes[(AGENCY, "C1")], outcomes[2].password)


def test_a_reactivation_an_earlier_attempt_made_drops_its_hash_and_keeps_the_stored_one(monkeypatch) -> None:
    # Given a reactivation that was applied once already (its answer lost), then applied again with a create before it
    repo = repository()
    inactive(repo, "T1")
    rows = [entry(2, "A1"), reactivate_entry(3, "T1", password="Back-pass-3")]
    apply_all(repo, rows)
    first_hash = repo.hashes[(AGENCY, "T1")]
    hashing = Hashing(monkeypatch)
    # When the same rows are applied again
    outcomes = apply_all(repo, rows)
    # Then the reactivation is reported as done, its hash made ahead is dropped, and the stored hash is unchanged
    assert [o.outcome for o in outcomes] == ["CREATED", "REACTIVATED"]
    assert "Back-pass-3" in hashing.ahead()
    assert repo.hashes[(AGENCY, "T1")] == first_hash


def test_an_error_in_the_hashing_thread_is_the_error_of_the_row_that_needs_the_hash(monkeypatch) -> None:
    # Given three creates, the second one's password failing to hash (in the hashing thread, since it comes second)
    hashing = Hashing(monkeypatch, fails="Boom-pass-3")
    repo = repository()
    rows = [entry(2, "A1"), entry(3, "B1", password="Boom-pass-3"), entry(4, "C1")]
    # When the rows are applied
    with pytest.raises(RuntimeError, match="out of memory"):
        apply_all(repo, rows)
    # Then the error came from the hashing thread and stopped the chunk at that row, as hashing in line would:
    # the first row is stored, the failing and the next are not
    assert "Boom-pass-3" in hashing.ahead()
    assert (AGENCY, "A1") in repo.learners
    assert (AGENCY, "B1") not in repo.learners and (AGENCY, "C1") not in repo.learners


def test_an_error_hashing_ahead_for_a_row_that_needs_no_hash_is_never_seen(monkeypatch) -> None:
    # Given a create at a closed unit whose password fails to hash ahead, then a create
    Hashing(monkeypatch, fails="Boom-pass-3")
    repo = repository()
    rows = [entry(2, "A1"), entry(3, "B1", location_id=CLOSED_UNIT, password="Boom-pass-3"), entry(4, "C1")]
    # When the rows are applied
    outcomes = apply_all(repo, rows)
    # Then the failing hash was dropped with its row, which failed for its location only
    assert [o.outcome for o in outcomes] == ["CREATED", "FAILED", "CREATED"]
    assert outcomes[1].message == "The location was deactivated since the file was checked"


def test_a_row_hashing_another_password_than_the_one_made_ahead_hashes_its_own(monkeypatch) -> None:
    # Given a row's hash made ahead (the facility already read, so the first row is hashed ahead too)
    hashing = Hashing(monkeypatch)
    rows = [entry(2, "A1", password="Given-pass-2")]
    ahead = creation.HashesAhead(rows, upload(), {FACILITY: location(FACILITY, FACILITY)}, DATA_KEY, repository())
    ahead.hash_after(-1)
    # When the row asks for the hash of another password
    made = ahead.hasher(0)("Other-pass-2")
    ahead.close()
    # Then that password's own hash is made, in line, and the one made ahead (if it was made) is not returned
    assert passwords.verify_password(made, "Other-pass-2") and not passwords.verify_password(made, "Given-pass-2")
    assert (threading.current_thread().name, "Other-pass-2") in hashing.made


def test_only_the_next_rows_are_hashed_ahead_and_a_hand_back_drops_them(monkeypatch) -> None:
    # Given ten creates, the facility already read
    hashing = Hashing(monkeypatch)
    rows = [entry(line, f"D{line}", password=f"Given-pass-{line}") for line in range(2, 12)]
    repo = repository()
    ahead = creation.HashesAhead(rows, upload(), {FACILITY: repo.locations[FACILITY]}, DATA_KEY, repo)
    # When the first three rows are applied, and the rest handed back
    outcomes = ahead.apply(0, 3)
    ahead.close()
    # Then the rows after the third are never hashed but the HASH_AHEAD next ones, and those are dropped
    assert [o.outcome for o in outcomes] == ["CREATED"] * 3
    considered = {password for _, password in hashing.made}
    assert considered <= {f"Given-pass-{line}" for line in range(2, 5 + creation.HASH_AHEAD)}
    assert sorted(repo.learners) == [(AGENCY, "D2"), (AGENCY, "D3"), (AGENCY, "D4")]
