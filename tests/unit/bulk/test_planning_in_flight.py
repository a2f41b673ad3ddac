"""The create-mode planner's fast path and its look-ups in flight (issue 20): clean rows planned straight from their
tuples give the plan their CheckedRows would, and windows looked up in the pool give the plan of windows looked up
one at a time, in line order, a failing look-up surfacing as the same domain error."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.bulk.planning import LOOKUP_BATCH, LOOKUPS_IN_FLIGHT, Planned, Planner
from intake.bulk.types import CREATE, CheckedRow, CleanRow, PlanEntry, RowIssue, as_checked
from intake.domain import Learner, LearnerStatus
from intake.errors import StorageUnavailable
from tests.unit.bulk.test_planning import AGENCY, FACILITY, UNIT, Lookup, invalid, learner, seal

OTHER_AGENCY = "agency-south"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# What a row of a generated file is: its DOC ID's learner (none, elsewhere, here, inactive), or an invalid row, or a
# short all-digit DOC ID (lost zeros) with or without the learner of the padded one, or a row of another agency.
KINDS = st.sampled_from(
    ["new", "new", "new", "new", "elsewhere", "here", "inactive", "invalid", "short", "short-known", "other-agency"]
)


def clean(line: int, doc_id: str, password: str | None = None, agency_id: str = AGENCY) -> CleanRow:
    return (line, f"r{line}", doc_id, "Dee", "Lee", "01/02/1990", password, UNIT, FACILITY, agency_id)


def generated(kinds: list[tuple[str, bool]]) -> tuple[list[CheckedRow | CleanRow], dict[tuple[str, str], Learner]]:
    """Rows of these kinds (DOC IDs of six digits, a short one of four) and the learners the agency has."""
    learners: dict[tuple[str, str], Learner] = {}
    rows: list[CheckedRow | CleanRow] = []
    for n, (kind, with_password) in enumerate(kinds):
        line, doc_id, agency_id = n + 2, str(100_000 + n), AGENCY
        password = f"Pass-{n}" if with_password else None
        if kind == "elsewhere":
            learners[(AGENCY, doc_id)] = learner(doc_id)
        elif kind == "here":
            learners[(AGENCY, doc_id)] = learner(doc_id, FACILITY, UNIT)
        elif kind == "inactive":
            learners[(AGENCY, doc_id)] = learner(doc_id, status=LearnerStatus.INACTIVE)
        elif kind.startswith("short"):
            doc_id = str(1000 + n)
            if kind == "short-known":
                learners[(AGENCY, doc_id.zfill(6))] = learner(doc_id.zfill(6))
        elif kind == "other-agency":
            agency_id = OTHER_AGENCY
        rows.append(invalid(line, doc_id) if kind == "invalid" else clean(line, doc_id, password, agency_id))
    return rows, learners


def planned_by(planner: Planner, rows: Iterable[CheckedRow | CleanRow]) -> list[Planned]:
    """The planner driven as validate_upload drives it: add_all the rows, then end."""
    planned: list[Planned] = []
    for some in planner.add_all(rows):
        planned += some
    return planned + planner.end()


def checked_copies(rows: list[CheckedRow | CleanRow]) -> list[CheckedRow | CleanRow]:
    """The same rows as CheckedRows (fresh ones: planning appends issues to a CheckedRow)."""
    return [as_checked(row) if isinstance(row, tuple) else replace(row, issues=list(row.issues)) for row in rows]


@FAST
@given(st.lists(st.tuples(KINDS, st.booleans()), max_size=4 * LOOKUP_BATCH + 30))
def test_clean_rows_planned_from_tuples_get_the_plan_their_checked_rows_get(kinds: list[tuple[str, bool]]) -> None:
    # Given a file's rows of every kind, as the checker's fast path gives them (CleanRow tuples) and as CheckedRows
    rows, learners = generated(kinds)
    # When each is planned, in one window at a time
    as_tuples, as_checked_rows = Planner(tuples := Lookup(learners), seal), Planner(checked := Lookup(learners), seal)
    planned = planned_by(as_tuples, rows)
    reference = planned_by(as_checked_rows, checked_copies(rows))
    # Then the plans are the same, item for item (entries are PlanEntry values with every field), as are the counts
    # and the look-ups
    assert planned == reference
    assert all(type(item) in (PlanEntry, RowIssue) for item in planned)
    assert [entry._asdict() for entry in planned if isinstance(entry, PlanEntry)] == [
        entry._asdict() for entry in reference if isinstance(entry, PlanEntry)
    ]
    assert as_tuples.counts == as_checked_rows.counts
    assert tuples.calls == checked.calls


@FAST
@given(st.lists(st.tuples(KINDS, st.booleans()), max_size=6 * LOOKUP_BATCH + 30))
def test_look_ups_in_flight_give_the_plan_of_look_ups_one_at_a_time(kinds: list[tuple[str, bool]]) -> None:
    # Given a file's rows over several windows
    rows, learners = generated(kinds)
    # When it is planned with look-ups in flight, and one window at a time
    in_flight = Planner(flying := Lookup(learners), seal, in_flight=LOOKUPS_IN_FLIGHT)
    one_at_a_time = Planner(sequential := Lookup(learners), seal)
    planned = planned_by(in_flight, rows)
    # Then the plan is the same, in line order, with the same counts and the same look-ups (each window's once)
    assert planned == planned_by(one_at_a_time, rows)
    assert in_flight.counts == one_at_a_time.counts
    assert sorted(flying.calls) == sorted(sequential.calls)
    assert not in_flight.pending and not in_flight.window


class GatedLookup(Lookup):
    """A look-up whose n-th call answers only once gates[n] is set (each call waits at most 3 s, then fails: a
    planner that waits for a look-up the test has not released yet fails fast)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.gates = [threading.Event() for _ in range(calls)]
        self.started = 0
        self.lock = threading.Lock()

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]:
        with self.lock:
            gate = self.gates[self.started]
            self.started += 1
        assert gate.wait(3), "never released"
        return super().find_by_doc_ids(agency_id, doc_ids)


@pytest.fixture
def gated() -> Iterator[Callable[[int], GatedLookup]]:
    """GatedLookups whose gates are all opened when the test ends, pass or fail: a failing assertion must not leave
    look-up threads waiting (the process would wait for them at exit, 3 s a call)."""
    made: list[GatedLookup] = []

    def make(calls: int) -> GatedLookup:
        made.append(GatedLookup(calls))
        return made[-1]

    yield make
    for lookup in made:
        for gate in lookup.gates:
            gate.set()


def window(number: int) -> list[CleanRow]:
    """The number-th window's LOOKUP_BATCH clean rows (new DOC IDs)."""
    first = 2 + number * LOOKUP_BATCH
    return [clean(line, str(100_000 + line)) for line in range(first, first + LOOKUP_BATCH)]


def test_the_planner_reads_on_while_three_look_ups_wait_and_waits_for_the_oldest_at_a_fourth(
    gated: Callable[[int], GatedLookup],
) -> None:
    # Given a look-up that answers nothing until told to
    lookup = gated(4)
    planner = Planner(lookup, seal, in_flight=3)
    # When three windows close
    for number in range(3):
        for row in window(number):
            assert planner.add(row) == []
    # Then all three look-ups are in flight at once, and nothing is planned yet
    assert len(planner.pending) == 3 and not planner.window
    # When the first look-up answers and a fourth window closes
    lookup.gates[0].set()
    planned: list[Planned] = []
    for row in window(3):
        planned += planner.add(row)
    # Then the planner waited for the oldest only: the first window is planned, three look-ups wait
    assert [entry.line for entry in planned] == [row[0] for row in window(0)]
    assert len(planner.pending) == 3
    # When the others answer, the rest is planned at the end, in line order
    for gate in lookup.gates[1:]:
        gate.set()
    rest = planner.end()
    assert [entry.line for entry in rest] == [row[0] for number in (1, 2, 3) for row in window(number)]
    assert all(isinstance(entry, PlanEntry) and entry.action == CREATE for entry in planned + rest)
    assert planner.counts["toCreate"] == planner.counts["rows"] == 4 * LOOKUP_BATCH


class FailingLookup(Lookup):
    """A look-up whose `failing`-th call (from 0) fails as the DAL fails when storage refuses a BatchGetItem."""

    def __init__(self, failing: int) -> None:
        super().__init__()
        self.failing = failing
        self.lock = threading.Lock()

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]:
        with self.lock:  # called from the look-up threads
            failing = len(self.calls) == self.failing
            found = super().find_by_doc_ids(agency_id, doc_ids)
        if failing:
            raise StorageUnavailable("Could not look up DOC IDs right now; try again in a moment")
        return found


@pytest.mark.parametrize("in_flight", [0, LOOKUPS_IN_FLIGHT])
def test_a_failing_look_up_surfaces_as_the_same_domain_error_and_plans_nothing_after_it(in_flight: int) -> None:
    # Given a file of five windows and a look-up that fails on the second window
    rows = [row for number in range(5) for row in window(number)]
    planner = Planner(FailingLookup(1), seal, in_flight=in_flight)
    planned: list[Planned] = []
    # When it is planned
    with pytest.raises(StorageUnavailable) as raised:
        for some in planner.add_all(rows):
            planned += some
        planned += planner.end()
    # Then the error is the DAL's own, and nothing of the failed window or after it was planned (in flight, the
    # first window may be planned in the same call that raises, and not handed on: the upload fails as a whole)
    assert raised.value.message == "Could not look up DOC IDs right now; try again in a moment"
    first = [row[0] for row in window(0)]
    assert [entry.line for entry in planned] in ([first] if not in_flight else [first, []])
