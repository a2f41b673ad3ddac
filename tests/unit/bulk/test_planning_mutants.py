"""The planner (intake.bulk.planning), what its mutants showed unchecked (issue 21): the window of exactly 100 valid
rows, one look-up per agency, each issue's exact text and order, every count, and zeros restored only for short
all-digit DOC IDs. v1 planning (CREATE and MOVE), with an in-memory look-up."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.bulk.planning import LOOKUP_BATCH, Planner
from intake.bulk.types import CREATE, MOVE, CheckedRow, CleanRow, ExistingLearner, PlanEntry, RowIssue
from intake.domain import Learner

AGENCY, OTHER_AGENCY = "agency-north", "agency-south"
FACILITY, OTHER_FACILITY = "fac-oak", "fac-pine"
UNIT, OTHER_UNIT = "unit-oak-a", "unit-pine-a"


class Lookup:
    """The learners by (agency, DOC ID), in memory; every call recorded."""

    def __init__(self, *learners: Learner) -> None:
        self.learners = {(learner.agency_id, learner.doc_id): learner for learner in learners}
        self.calls: list[tuple[str, list[str]]] = []

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]:
        self.calls.append((agency_id, list(doc_ids)))
        return {d: self.learners[(agency_id, d)] for d in doc_ids if (agency_id, d) in self.learners}


class Sealer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, password: str, line: int) -> str:
        self.calls.append((password, line))
        return f"sealed:{line}:{password[::-1]}"


def learner(doc_id: str, facility_id: str = OTHER_FACILITY, location_id: str = OTHER_UNIT, **changes: str) -> Learner:
    fields = {
        "learner_id": f"id-{doc_id}",
        "agency_id": AGENCY,
        "doc_id": doc_id,
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": location_id,
        "facility_id": facility_id,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "created_by": "someone",
        **changes,
    }
    return Learner(**fields)  # type: ignore[arg-type]


def clean(line: int, doc_id: str, password: str | None = None, agency_id: str = AGENCY) -> CleanRow:
    return (line, f"r{line}", doc_id, "Dee", "Lee", "01/02/1990", password, UNIT, FACILITY, agency_id)


def with_issues(line: int, doc_id: str, *severities: str) -> CheckedRow:
    issues = [
        RowIssue(line, f"r{line}", doc_id, f"field{n}", f"CODE_{severity.upper()}_{n}", f"{severity} {n}", severity)
        for n, severity in enumerate(severities)
    ]
    row = CheckedRow(line, f"r{line}", doc_id, "Dee", "Lee", "01/02/1990", None, UNIT, FACILITY, AGENCY, issues)
    return row


def run(rows: list[CheckedRow | CleanRow], lookup: Lookup, sealer: Sealer | None = None) -> tuple[Planner, list]:
    planner = Planner(lookup, sealer or Sealer())
    return planner, list(planner.plan(rows))


def test_a_window_is_exactly_one_hundred_valid_rows_invalid_ones_riding_along() -> None:
    # Given 99 valid rows, an invalid one, then the hundredth valid row
    planner = Planner(lookup := Lookup(), Sealer())
    for n in range(99):
        assert planner.add(clean(n + 2, f"D{n}")) == []
    assert planner.add(with_issues(200, "BAD", "error")) == []
    # When the hundredth valid row is added
    planned = planner.add(clean(201, "D99"))
    # Then the window is looked up at once: the 100 valid DOC IDs only, and all 101 rows are planned in order
    assert LOOKUP_BATCH == 100
    assert [len(ids) for _, ids in lookup.calls] == [100] and "BAD" not in lookup.calls[0][1]
    assert len([p for p in planned if isinstance(p, PlanEntry)]) == 100
    assert [p.line for p in planned][-2:] == [200, 201]
    # And the next window starts empty: a row added after is not planned until the flush
    assert planner.add(clean(202, "D100")) == []
    assert [p.line for p in planner.flush()] == [202]
    assert [len(ids) for _, ids in lookup.calls] == [100, 1]
    assert planner.flush() == [] and len(lookup.calls) == 2  # an empty window looks nothing up


def test_each_agency_of_a_window_is_looked_up_once_with_its_own_doc_ids() -> None:
    lookup = Lookup(learner("S1", agency_id=OTHER_AGENCY))
    _, planned = run([clean(2, "N1"), clean(3, "S1", agency_id=OTHER_AGENCY), clean(4, "N2")], lookup)
    assert lookup.calls == [(AGENCY, ["N1", "N2"]), (OTHER_AGENCY, ["S1"])]
    assert [(p.line, p.action, p.agency_id) for p in planned] == [
        (2, CREATE, AGENCY),
        (3, MOVE, OTHER_AGENCY),
        (4, CREATE, AGENCY),
    ]
    # The same DOC ID in another agency is another learner
    _, other = run([clean(5, "S1")], lookup)
    assert [p.action for p in other] == [CREATE]


def test_a_move_carries_the_learner_where_the_planner_saw_it_and_the_row_sealed() -> None:
    sealer = Sealer()
    lookup = Lookup(learner("M1", OTHER_FACILITY, OTHER_UNIT))
    planner, planned = run([clean(7, "M1", "Given-pass-1")], lookup, sealer)
    assert planned == [
        PlanEntry(
            7,
            "r7",
            MOVE,
            "M1",
            "Dee",
            "Lee",
            "01/02/1990",
            UNIT,
            FACILITY,
            AGENCY,
            "sealed:7:1-ssap-neviG",
            ExistingLearner("id-M1", OTHER_UNIT, OTHER_FACILITY),
        )
    ]
    assert sealer.calls == [("Given-pass-1", 7)]
    assert planner.counts == {
        "rows": 1,
        "valid": 1,
        "invalid": 0,
        "toCreate": 0,
        "toMove": 1,
        "toReactivate": 0,
        "warnings": 0,
    }


def test_a_blank_password_is_not_sealed_and_an_invalid_rows_is_never_sealed() -> None:
    sealer = Sealer()
    bad = with_issues(3, "X1", "error")
    bad.password = "Given-pass-1"
    _, planned = run([clean(2, "A1", None), clean(4, "A2", ""), bad], Lookup(), sealer)
    assert [p.sealed_password for p in planned if isinstance(p, PlanEntry)] == [None, None]
    assert sealer.calls == []


def test_a_learner_already_at_this_facility_is_an_error_with_its_id_and_counted_invalid() -> None:
    lookup = Lookup(learner("E1", FACILITY, "unit-oak-b"))
    planner, planned = run([clean(3, "E1", "Given-pass-1")], lookup)
    assert planned == [
        RowIssue(
            line=3,
            request_id="r3",
            doc_id="E1",
            field="docID",
            code="LEARNER_EXISTS",
            message="DOC ID E1 already has an account at this facility (learnerId id-E1): remove the row",
            severity="error",
        )
    ]
    assert planner.counts == {
        "rows": 1,
        "valid": 0,
        "invalid": 1,
        "toCreate": 0,
        "toMove": 0,
        "toReactivate": 0,
        "warnings": 0,
    }


def test_a_rows_issues_come_errors_first_in_their_own_order_then_warnings() -> None:
    # Given an invalid row with a warning between two errors, and a valid row with two warnings
    mixed = with_issues(2, "I1", "warning", "error", "warning", "error")
    warned = with_issues(3, "W1", "warning", "warning")
    # When they are planned
    planner, planned = run([mixed, warned], Lookup())
    # Then each row's errors come first, in their order, then its warnings; the warned row is still planned
    assert [(p.line, p.code) for p in planned if isinstance(p, RowIssue)] == [
        (2, "CODE_ERROR_1"),
        (2, "CODE_ERROR_3"),
        (2, "CODE_WARNING_0"),
        (2, "CODE_WARNING_2"),
        (3, "CODE_WARNING_0"),
        (3, "CODE_WARNING_1"),
    ]
    assert [(p.line, p.action) for p in planned if isinstance(p, PlanEntry)] == [(3, CREATE)]
    assert isinstance(planned[-1], PlanEntry)  # a row's entry comes after its issues
    # And each row with a warning is counted once, invalid or not
    assert planner.counts == {
        "rows": 2,
        "valid": 1,
        "invalid": 1,
        "toCreate": 1,
        "toMove": 0,
        "toReactivate": 0,
        "warnings": 2,
    }


def test_a_row_with_only_errors_counts_no_warning() -> None:
    planner, _ = run([with_issues(2, "I1", "error", "error")], Lookup())
    assert planner.counts == {
        "rows": 1,
        "valid": 0,
        "invalid": 1,
        "toCreate": 0,
        "toMove": 0,
        "toReactivate": 0,
        "warnings": 0,
    }


def test_lost_leading_zeros_are_looked_up_and_warned_about_with_the_stored_id() -> None:
    # Given an agency whose DOC IDs are six digits, and a learner stored as 001234
    lookup = Lookup(learner("001234"))
    # When a row lost the zeros (1234) beside a six-digit row
    planner, planned = run([clean(2, "987654"), clean(3, "1234")], lookup)
    # Then both IDs are looked up, and the short row is warned about, naming the stored learner, and still created
    assert lookup.calls == [(AGENCY, ["987654", "1234", "001234"])]
    issues = [p for p in planned if isinstance(p, RowIssue)]
    assert issues == [
        RowIssue(
            line=3,
            request_id="r3",
            doc_id="1234",
            field="docID",
            code="DOC_ID_LEADING_ZEROS",
            message="DOC ID 1234 may have lost its leading zeros in Excel: learner id-001234 has DOC ID 001234. "
            "If this is that person, format the column as Text and write 001234",
            severity="warning",
        )
    ]
    assert [(p.doc_id, p.action) for p in planned if isinstance(p, PlanEntry)] == [("987654", CREATE), ("1234", CREATE)]
    assert planner.counts == {
        "rows": 2,
        "valid": 2,
        "invalid": 0,
        "toCreate": 2,
        "toMove": 0,
        "toReactivate": 0,
        "warnings": 1,
    }


def test_zeros_are_restored_only_for_short_all_digit_valid_ids_and_only_warned_when_they_find_someone() -> None:
    # Given a window whose longest all-digit valid ID has five digits, a longer mixed one, and an invalid long one
    lookup = Lookup(learner("00077"))
    rows: list[CheckedRow | CleanRow] = [
        clean(2, "12345"),
        clean(3, "AB123456"),  # not all digits: neither padded nor setting the width
        with_issues(4, "9999999", "error"),  # invalid: not setting the width
        clean(5, "77"),  # padded to 00077, which exists
        clean(6, "88"),  # padded to 00088, which does not
        clean(7, "54321"),  # as long as the width: not padded
    ]
    _, planned = run(rows, lookup)
    assert lookup.calls == [(AGENCY, ["12345", "AB123456", "77", "00077", "88", "00088", "54321"])]
    assert [(p.line, p.code) for p in planned if isinstance(p, RowIssue)] == [
        (4, "CODE_ERROR_0"),
        (5, "DOC_ID_LEADING_ZEROS"),
    ]


def test_a_short_id_that_is_itself_a_learner_is_planned_for_it_without_a_warning() -> None:
    # Given learners stored both as 77 and as 00077
    lookup = Lookup(learner("77"), learner("00077"))
    # When a window has 77 beside a five-digit ID
    _, planned = run([clean(2, "12345"), clean(3, "77")], lookup)
    # Then 77 is a move of the learner 77, and no warning names 00077
    assert [(p.line, p.action) for p in planned] == [(2, CREATE), (3, MOVE)]
    assert planned[1].existing == ExistingLearner("id-77", OTHER_UNIT, OTHER_FACILITY)


def test_the_counts_start_at_zero_and_cover_every_plan_count() -> None:
    planner = Planner(Lookup(), Sealer())
    assert planner.counts == {
        "rows": 0,
        "valid": 0,
        "invalid": 0,
        "toCreate": 0,
        "toMove": 0,
        "toReactivate": 0,
        "warnings": 0,
    }
    assert (planner.window, planner.window_valid) == ([], 0)


def test_an_invalid_row_is_not_matched_to_a_learner_even_when_a_valid_row_looked_its_doc_id_up() -> None:
    # Given a learner at this facility, a valid row of its DOC ID and an invalid row of the same DOC ID
    lookup = Lookup(learner("E1", FACILITY, UNIT))
    # When they are planned
    planner, planned = run([clean(2, "E1"), with_issues(3, "E1", "error")], lookup)
    # Then only the valid row is told the learner exists; the invalid one keeps its own issues only
    assert [(p.line, p.code) for p in planned] == [(2, "LEARNER_EXISTS"), (3, "CODE_ERROR_0")]
    assert planner.counts["invalid"] == 2 and planner.counts["valid"] == 0
