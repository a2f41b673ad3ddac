"""The sync planner (intake.bulk.planning.SyncPlanner) with an in-memory roster and look-up: no S3, no DynamoDB."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.bulk.checking import check_file
from intake.bulk.planning import (
    IGNORED_CELL_MESSAGE,
    LOOKUP_BATCH,
    Planned,
    SyncPlanner,
    mass_deactivation_hold,
)
from intake.bulk.types import (
    CREATE,
    DEACTIVATE,
    MOVE,
    REACTIVATE,
    UNCHANGED,
    UPDATE,
    CheckedRow,
    CleanRow,
    ExistingLearner,
    FileRejected,
    PlanEntry,
    RowIssue,
    plan_entry_json,
    plan_entry_of,
)
from intake.domain import PLAN_COUNT_NAMES, Learner, LearnerStatus, RosterLearner
from tests.unit.bulk.support import load_world
from tests.unit.learner_fakes import stored_learner

AGENCY = "agency-north"
FACILITY = "fac-oak"
UNIT = "unit-oak-a"
UNIT_B = "unit-oak-b"
OTHER_FACILITY = "fac-pine"
OTHER_UNIT = "unit-pine-a"
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Lookup:
    """The facility's roster and the agency's learners by DOC ID, in memory; every call recorded."""

    def __init__(self, roster: Iterable[RosterLearner] = (), learners: Iterable[Learner] = ()) -> None:
        self.roster = list(roster)
        self.learners = {learner.doc_id: learner for learner in learners}
        self.roster_reads: list[str] = []
        self.calls: list[list[str]] = []

    def active_roster(self, facility_id: str) -> list[RosterLearner]:
        self.roster_reads.append(facility_id)
        return self.roster

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]:
        self.calls.append(list(doc_ids))
        return {d: self.learners[d] for d in doc_ids if d in self.learners}


def seal(password: str, line: int) -> str:
    return f"sealed:{line}"


def on_roster(doc_id: str, location_id: str = UNIT, first: str = "Dee", version: int = 3) -> RosterLearner:
    return RosterLearner(doc_id, f"id-{doc_id}", location_id, first, "Lee", "01/02/1990", version)


def learner(
    doc_id: str,
    facility_id: str = OTHER_FACILITY,
    location_id: str = OTHER_UNIT,
    status: LearnerStatus = LearnerStatus.ACTIVE,
) -> Learner:
    return stored_learner(
        doc_id,
        location_id=location_id,
        facility_id=facility_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=status,
        version=5,
    )


def clean(line: int, doc_id: str, first: str = "Dee", location_id: str = UNIT, password: str | None = None) -> CleanRow:
    return (line, f"r{line}", doc_id, first, "Lee", "01/02/1990", password, location_id, FACILITY, AGENCY)


def invalid(line: int, doc_id: str, code: str = "REQUIRED") -> CheckedRow:
    issue = RowIssue(line, f"r{line}", doc_id, "firstName", code, "firstName is required")
    return CheckedRow(line, f"r{line}", doc_id, issues=[issue])


def run(rows: Iterable[CheckedRow | CleanRow], lookup: Lookup) -> tuple[SyncPlanner, list[Planned]]:
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    return planner, list(planner.plan(rows))


def entries(planned: list[Planned]) -> list[PlanEntry]:
    return [p for p in planned if isinstance(p, PlanEntry)]


def issues(planned: list[Planned]) -> list[RowIssue]:
    return [p for p in planned if isinstance(p, RowIssue)]


def test_a_roster_learner_on_a_row_is_unchanged_or_an_update_naming_the_fields_never_learner_exists() -> None:
    # Given a roster of three learners
    lookup = Lookup([on_roster("A1"), on_roster("A2"), on_roster("A3")])
    # When the file has A1 as stored, A2 with a new first name and A3 moved to the other housing unit
    planner, planned = run([clean(2, "A1"), clean(3, "A2", first="Dana"), clean(4, "A3", location_id=UNIT_B)], lookup)
    # Then A1 is UNCHANGED, A2 an UPDATE of firstName, A3 an UPDATE of locationId, each with the learner's version
    assert issues(planned) == []
    assert [(e.line, e.action, e.changed) for e in entries(planned)] == [
        (2, UNCHANGED, ()),
        (3, UPDATE, ("firstName",)),
        (4, UPDATE, ("locationId",)),
    ]
    assert entries(planned)[2].existing == ExistingLearner("id-A3", UNIT, FACILITY, LearnerStatus.ACTIVE, 3)
    assert entries(planned)[2].location_id == UNIT_B
    # And the roster was read once, and nobody on it was looked up by DOC ID
    assert lookup.roster_reads == [FACILITY] and lookup.calls == []
    assert planner.counts == {
        **dict.fromkeys(PLAN_COUNT_NAMES, 0),
        "rows": 3,
        "valid": 3,
        "toUpdate": 2,
        "unchanged": 1,
    }


def test_every_differing_field_is_named_in_camel_case() -> None:
    # Given a roster learner
    lookup = Lookup([on_roster("A1")])
    # When its row differs in every compared field
    row = (2, "r2", "A1", "Dana", "Lim", "03/04/1991", None, UNIT_B, FACILITY, AGENCY)
    _, planned = run([row], lookup)
    # Then the UPDATE names all four, and round-trips through its JSON with the version
    (entry,) = entries(planned)
    assert entry.changed == ("firstName", "lastName", "dateOfBirth", "locationId")
    assert plan_entry_of(plan_entry_json(entry)) == entry


def test_a_password_cell_of_a_roster_learner_is_ignored_with_a_warning_that_never_echoes_it() -> None:
    # Given a roster learner and a row of it with a password
    lookup = Lookup([on_roster("A1")])
    planner, planned = run([clean(2, "A1", password="Secret-pass-1")], lookup)
    # Then the row is UNCHANGED, nothing sealed, and a PASSWORD_IGNORED warning on the password field
    (entry,) = entries(planned)
    assert (entry.action, entry.sealed_password, entry.password) == (UNCHANGED, None, None)
    assert [(i.line, i.field, i.code, i.severity) for i in issues(planned)] == [
        (2, "password", "PASSWORD_IGNORED", "warning")
    ]
    assert "Secret-pass-1" not in repr(planned)
    assert planner.counts["warnings"] == 1 and planner.counts["valid"] == 1


def test_rows_not_on_the_roster_are_planned_as_create_mode_plans_them() -> None:
    # Given an agency with an active learner elsewhere and an inactive one, and a roster without either
    lookup = Lookup(
        [on_roster("A1")],
        [learner("M1"), learner("R1", FACILITY, UNIT, LearnerStatus.INACTIVE)],
    )
    # When the file has the roster learner, both and a new DOC ID (with a password)
    planner, planned = run([clean(2, "A1"), clean(3, "M1"), clean(4, "R1"), clean(5, "N1", password="Pw-1x")], lookup)
    # Then MOVE, REACTIVATE and CREATE, the new one's password sealed; only those three were looked up
    assert [(e.line, e.action) for e in entries(planned)] == [(2, UNCHANGED), (3, MOVE), (4, REACTIVATE), (5, CREATE)]
    assert entries(planned)[3].sealed_password == "sealed:5"
    assert lookup.calls == [["M1", "R1", "N1"]]
    assert (planner.counts["toMove"], planner.counts["toReactivate"], planner.counts["toCreate"]) == (1, 1, 1)


def test_an_active_learner_here_the_roster_query_missed_is_an_update_not_learner_exists() -> None:
    # Given a learner active at this facility that the (eventually consistent) roster Query does not show yet
    lookup = Lookup([], [learner("E1", FACILITY, UNIT)])
    # When a row names it with another first name
    planner, planned = run([clean(2, "E1", first="Dana")], lookup)
    # Then it is an UPDATE with the stored version, not LEARNER_EXISTS
    assert issues(planned) == []
    (entry,) = entries(planned)
    assert (entry.action, entry.changed) == (UPDATE, ("firstName",))
    assert entry.existing == ExistingLearner("id-E1", UNIT, FACILITY, LearnerStatus.ACTIVE, 5)
    assert planner.counts["toDeactivate"] == 0


def test_roster_learners_on_no_row_are_deactivated_after_the_last_line_with_their_stored_details() -> None:
    # Given a roster of four
    lookup = Lookup([on_roster("A1"), on_roster("G1"), on_roster("G2", UNIT_B, "Gil", 7), on_roster("A2")])
    # When the file names two of them
    planner, planned = run([clean(2, "A1"), clean(3, "A2")], lookup)
    # Then the other two are DEACTIVATE, lines 4 and 5, as stored, with their versions
    deactivated = [e for e in entries(planned) if e.action == DEACTIVATE]
    assert [(e.line, e.doc_id, e.first_name, e.location_id, e.existing) for e in deactivated] == [
        (4, "G1", "Dee", UNIT, ExistingLearner("id-G1", UNIT, FACILITY, LearnerStatus.ACTIVE, 3)),
        (5, "G2", "Gil", UNIT_B, ExistingLearner("id-G2", UNIT_B, FACILITY, LearnerStatus.ACTIVE, 7)),
    ]
    assert all(e.request_id == "" and e.sealed_password is None for e in deactivated)
    assert planner.counts["toDeactivate"] == 2 and planner.counts["rows"] == 2
    assert planner.active_learners == 4


def test_a_row_with_an_error_never_deactivates_its_learner_whatever_the_case_or_spaces() -> None:
    # Given a roster of three
    lookup = Lookup([on_roster("AB1"), on_roster("AB2"), on_roster("AB3")])
    # When one row is invalid (DOC ID as typed, lower case with spaces) and one is another facility's row
    wrong = CheckedRow(3, "r3", "AB2", issues=[RowIssue(3, "r3", "AB2", "locationId", "WRONG_FACILITY", "no")])
    planner, planned = run([invalid(2, " ab1 "), wrong], lookup)
    # Then only the learner on no row at all is deactivated, numbered after the last line
    assert [(e.line, e.doc_id) for e in entries(planned) if e.action == DEACTIVATE] == [(4, "AB3")]
    assert [i.code for i in issues(planned)] == ["REQUIRED", "WRONG_FACILITY"]
    assert planner.counts["invalid"] == 2 and planner.counts["toDeactivate"] == 1


def test_a_row_that_lost_a_roster_learners_leading_zeros_is_an_error_and_deactivates_nobody() -> None:
    # Given a roster learner 001234, and a file where Excel made it 1234 beside a six-digit ID
    lookup = Lookup([on_roster("001234")], [learner("001234", FACILITY, UNIT)])
    planner, planned = run([clean(2, "987654"), clean(3, "1234")], lookup)
    # Then the short row is a DOC_ID_LEADING_ZEROS error, no second account is planned, nobody is deactivated
    assert [(i.line, i.code, i.severity) for i in issues(planned)] == [(3, "DOC_ID_LEADING_ZEROS", "error")]
    assert [(e.doc_id, e.action) for e in entries(planned)] == [("987654", CREATE)]
    assert planner.counts["toDeactivate"] == 0 and planner.counts["invalid"] == 1


def test_duplicates_still_apply_and_the_duplicate_does_not_deactivate() -> None:
    # Given a roster learner whose DOC ID is on two rows (the checker marks the second DUPLICATE)
    lookup = Lookup([on_roster("A1")])
    dup = CheckedRow(3, "r3", "A1", issues=[RowIssue(3, "r3", "A1", "docID", "DUPLICATE", "twice")])
    planner, planned = run([clean(2, "A1"), dup], lookup)
    # Then the first is UNCHANGED, the second an error, nobody deactivated
    assert [(e.line, e.action) for e in entries(planned)] == [(2, UNCHANGED)]
    assert [i.code for i in issues(planned)] == ["DUPLICATE"]
    assert (planner.counts["toDeactivate"], planner.counts["invalid"]) == (0, 1)


def test_the_roster_is_read_once_and_only_rows_off_the_roster_are_looked_up_in_windows() -> None:
    # Given a roster of 3 * LOOKUP_BATCH learners
    roster = [on_roster(f"D{n}") for n in range(3 * LOOKUP_BATCH)]
    lookup = Lookup(roster)
    # When a file names all of them and 5 new DOC IDs
    rows: list[CheckedRow | CleanRow] = [clean(n + 2, f"D{n}") for n in range(3 * LOOKUP_BATCH)]
    rows += [clean(3 * LOOKUP_BATCH + 2 + n, f"N{n}") for n in range(5)]
    planner, _ = run(rows, lookup)
    # Then one roster read, and one look-up of the new IDs only
    assert lookup.roster_reads == [FACILITY]
    assert lookup.calls == [[f"N{n}" for n in range(5)]]
    assert (planner.counts["unchanged"], planner.counts["toCreate"], planner.counts["toDeactivate"]) == (300, 5, 0)


def test_an_empty_roster_and_no_rows_plans_nothing() -> None:
    # Given no roster and no rows, When planned, Then nothing
    planner, planned = run([], Lookup())
    assert planned == [] and planner.active_learners == 0


@pytest.mark.parametrize(
    "content",
    [
        b"requestId,docId,firstName,lastNme,dateOfBirth,role,password,locationId\r\nr1,A9,Dee,Lee,01/02/1990,,,x\r\n",
        b"requestId,firstName,lastName,dateOfBirth,role,password,locationId\r\nr1,Dee,Lee,01/02/1990,,,x\r\n",
        b"requestId,docId,firstName,lastName,dateOfBirth,role,password,locationId\r\n",
        b"",
    ],
    ids=["header-typo", "no-docID-column", "header-only", "empty"],
)
def test_a_rejected_file_reaches_no_row_so_the_sync_deactivates_nobody(content: bytes) -> None:
    # Given a roster of two, and a sync file rejected as a whole
    world = load_world()
    lookup = Lookup([on_roster("A1"), on_roster("A2")])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    planned: list[Planned] = []
    # When the validator drives the planner as it does (end only after the last row)
    with pytest.raises(FileRejected) as rejected:
        _, rows = check_file(
            io.BytesIO(content),
            requestor=world.requestor,
            resolve_location=world.resolve,
            today=world.today,
            facility_id=FACILITY,
            max_bytes=1 << 20,
            max_rows=1000,
        )
        for row in rows:
            planned += planner.add(row)
        planned += planner.end()
    # Then the file is refused (header-only and empty as EMPTY_FILE) and nothing was planned
    assert planned == [] and planner.counts["toDeactivate"] == 0
    assert rejected.value.code in {"MISSING_COLUMN", "UNKNOWN_COLUMN", "EMPTY_FILE", "NOT_CSV"}
    if content.count(b"\n") <= 1:
        assert rejected.value.code == "EMPTY_FILE"


@pytest.mark.parametrize(
    ("to_deactivate", "active", "percent", "held"),
    [
        (10, 100, None, False),  # exactly 10% (the default): not held
        (11, 100, None, True),  # above: held
        (1, 10, None, False),
        (2, 10, None, True),
        (0, 0, None, False),  # an empty facility
        (5, 100, 5, False),  # the facility's own percent
        (6, 100, 5, True),
        (1, 100, 0, True),  # 0%: any deactivation is held
        (0, 100, 0, False),
        (100, 100, 100, False),  # 100%: never held
    ],
)
def test_the_guard_holds_only_above_the_percent(
    to_deactivate: int, active: int, percent: int | None, held: bool
) -> None:
    # Given a sync's counts, When the guard looks at them, Then it holds exactly above the limit
    hold = mass_deactivation_hold(to_deactivate, active, percent)
    assert (hold is not None) is held
    if hold is not None:
        assert hold["code"] == "MASS_DEACTIVATION"
        assert (hold["toDeactivate"], hold["activeLearners"]) == (to_deactivate, active)
        assert f"{to_deactivate} of the facility's {active}" in str(hold["message"])


# ------------------------------------------------------------------ the property

_IDS = st.sampled_from([f"D{n}" for n in range(12)])
_ROSTER = st.lists(
    st.tuples(_IDS, st.sampled_from([UNIT, UNIT_B]), st.sampled_from(["Dee", "Dana"])),
    unique_by=lambda t: t[0],
    max_size=10,
)
_ROWS = st.lists(
    st.tuples(
        _IDS,
        st.sampled_from(["clean", "clean", "invalid", "lower"]),
        st.sampled_from([UNIT, UNIT_B]),
        st.sampled_from(["Dee", "Dana"]),
        st.booleans(),
    ),
    max_size=14,
)
_AGENCY = st.lists(
    st.tuples(_IDS, st.sampled_from(["elsewhere", "inactive", "here"])), unique_by=lambda t: t[0], max_size=6
)


def _agency_learners(agency_spec: list[tuple[str, str]], on_it: set[str]) -> list[Learner]:
    kinds = {
        "elsewhere": lambda doc: learner(doc),
        "inactive": lambda doc: learner(doc, FACILITY, UNIT, LearnerStatus.INACTIVE),
        "here": lambda doc: learner(doc, FACILITY, UNIT),  # active here but not (yet) in the roster's Query
    }
    return [kinds[kind](doc) for doc, kind in agency_spec if doc not in on_it]


def _file_rows(rows_spec: list[tuple[str, str, str, str, bool]]) -> list[CheckedRow | CleanRow]:
    rows: list[CheckedRow | CleanRow] = []
    seen: set[str] = set()
    for n, (doc, kind, unit, first, password) in enumerate(rows_spec):
        line = n + 2
        if doc in seen:
            issue = RowIssue(line, f"r{line}", doc, "docID", "DUPLICATE", "x")
            rows.append(CheckedRow(line, f"r{line}", doc, issues=[issue]))
        elif kind == "invalid":
            rows.append(invalid(line, doc))
        elif kind == "lower":
            rows.append(invalid(line, f" {doc.lower()}"))
        else:
            rows.append(clean(line, doc, first, unit, "Pw-123456" if password else None))
        seen.add(doc)
    return rows


def _assert_each_roster_learner_has_one_outcome(
    on_it: set[str], rows: list[CheckedRow | CleanRow], planned: list[Planned]
) -> None:
    outcome: dict[str, list[str]] = {doc: [] for doc in on_it}
    for entry in entries(planned):
        if entry.doc_id in outcome:
            outcome[entry.doc_id].append(entry.action)
    rows_by_doc: dict[str, list[CheckedRow | CleanRow]] = {}
    for row in rows:
        doc = row[2] if isinstance(row, tuple) else row.doc_id.strip().upper()
        rows_by_doc.setdefault(doc, []).append(row)
    for doc, actions in outcome.items():
        if doc not in rows_by_doc:
            assert actions == [DEACTIVATE]
            continue
        assert set(actions) <= {UPDATE, UNCHANGED} and len(actions) <= 1
        if not actions:  # its only rows had errors
            assert all(isinstance(r, CheckedRow) and not r.is_valid for r in rows_by_doc[doc])


def _assert_counts_add_up(planner: SyncPlanner, rows: list[CheckedRow | CleanRow], planned: list[Planned]) -> None:
    counts = planner.counts
    by_action = {
        action: sum(1 for e in entries(planned) if e.action == action)
        for action in (CREATE, MOVE, REACTIVATE, UPDATE, UNCHANGED, DEACTIVATE)
    }
    assert counts["rows"] == len(rows) == counts["valid"] + counts["invalid"]
    assert counts["valid"] == sum(by_action[a] for a in (CREATE, MOVE, REACTIVATE, UPDATE, UNCHANGED))
    names = {
        CREATE: "toCreate",
        MOVE: "toMove",
        REACTIVATE: "toReactivate",
        UPDATE: "toUpdate",
        UNCHANGED: "unchanged",
        DEACTIVATE: "toDeactivate",
    }
    assert {name: counts[name] for name in names.values()} == {names[a]: n for a, n in by_action.items()}


@FAST
@given(roster_spec=_ROSTER, rows_spec=_ROWS, agency_spec=_AGENCY)
def test_every_roster_learner_and_every_row_ends_in_exactly_one_outcome_and_counts_add_up(
    roster_spec: list[tuple[str, str, str]],
    rows_spec: list[tuple[str, str, str, str, bool]],
    agency_spec: list[tuple[str, str]],
) -> None:
    # Given any roster, any other learners of the agency and any file (valid, invalid and mis-cased rows, some
    # with passwords, DOC IDs repeated: a repeat is a DUPLICATE error, as the checker makes it)
    roster = [on_roster(doc, unit, first) for doc, unit, first in roster_spec]
    on_it = {r.doc_id for r in roster}
    rows = _file_rows(rows_spec)
    # When it is planned
    planner, planned = run(rows, Lookup(roster, _agency_learners(agency_spec, on_it)))
    # Then every file row is in exactly one action or has an error
    planned_lines = [e.line for e in entries(planned) if e.action != DEACTIVATE]
    error_lines = {i.line for i in issues(planned) if i.severity == "error"}
    row_lines = [n + 2 for n in range(len(rows))]
    assert sorted(planned_lines + sorted(error_lines)) == row_lines
    assert len(set(planned_lines)) == len(planned_lines) and not set(planned_lines) & error_lines
    # And every roster DOC ID ends in exactly one of UPDATE, UNCHANGED, DEACTIVATE or a row error
    _assert_each_roster_learner_has_one_outcome(on_it, rows, planned)
    # And DEACTIVATE lines follow the file's last line, one each
    deactivated = [e.line for e in entries(planned) if e.action == DEACTIVATE]
    last = max(row_lines, default=1)
    assert deactivated == list(range(last + 1, last + 1 + len(deactivated)))
    # And no password is sealed for a roster learner, and the counts add up
    assert all(e.sealed_password is None for e in entries(planned) if e.action in (UPDATE, UNCHANGED, DEACTIVATE))
    _assert_counts_add_up(planner, rows, planned)
    assert planner.counts["invalid"] == len(error_lines) and planner.active_learners == len(roster)


# ------------------------------------------------------------------ UNCHANGED rows as they are (the validator's path)


def _add_all(planner: SyncPlanner, rows: Iterable[CheckedRow | CleanRow]) -> list[Planned]:
    """The planner driven as validate_upload drives it: add_all the rows, then end."""
    planned: list[Planned] = []
    for some in planner.add_all(rows):
        planned += some
    return planned + planner.end()


def test_add_all_hands_an_unchanged_row_on_as_itself_in_line_order_with_the_rows_around_it() -> None:
    # Given a roster of three and a new DOC ID the look-up does not know
    lookup = Lookup([on_roster("A1"), on_roster("A2"), on_roster("A3")])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    rows: list[CheckedRow | CleanRow] = [clean(2, "N1"), clean(3, "A1"), clean(4, "A2", first="Dana"), clean(5, "A3")]
    # When the validator's loop plans a new row (waiting for its look-up), A1 unchanged, A2 renamed, A3 unchanged
    planned = _add_all(planner, rows)
    # Then the unchanged rows are the clean rows themselves, no PlanEntry, in line order between the others
    assert [p[0] if not isinstance(p, (PlanEntry, RowIssue)) else (p.line, p.action) for p in planned] == [
        (2, CREATE),
        3,
        (4, UPDATE),
        5,
    ]
    assert planned[1] is rows[1] and planned[3] is rows[3]
    # And they are counted, marked seen (nobody deactivated) and never looked up
    assert (planner.counts["unchanged"], planner.counts["valid"], planner.counts["rows"]) == (2, 4, 4)
    assert planner.counts["toDeactivate"] == 0 and lookup.calls == [["N1"]]
    # And the entry each stands for is the one plan() gives for it
    (entry,) = [e for e in entries(run(rows, lookup)[1]) if e.line == 3]
    assert planner.unchanged_entry(clean(3, "A1")) == entry
    assert entry.existing == ExistingLearner("id-A1", UNIT, FACILITY, LearnerStatus.ACTIVE, 3)


def test_a_roster_row_with_a_password_or_any_difference_is_never_handed_on_as_unchanged() -> None:
    # Given a roster of two
    lookup = Lookup([on_roster("A1"), on_roster("A2")])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    # When A1 comes with a password cell and A2 in the other housing unit
    planned = _add_all(planner, [clean(2, "A1", password="Pw-123456"), clean(3, "A2", location_id=UNIT_B)])
    # Then A1 is an UNCHANGED PlanEntry with its PASSWORD_IGNORED warning, A2 an UPDATE: no bare row among them
    assert all(isinstance(p, (PlanEntry, RowIssue)) for p in planned)
    assert [(e.line, e.action) for e in entries(planned)] == [(2, UNCHANGED), (3, UPDATE)]
    assert [i.code for i in issues(planned)] == ["PASSWORD_IGNORED"]


def test_unchanged_rows_fill_the_window_so_look_ups_stay_one_per_lookup_batch_valid_rows() -> None:
    # Given a roster of LOOKUP_BATCH learners
    lookup = Lookup([on_roster(f"D{n}") for n in range(LOOKUP_BATCH)])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    # When a new DOC ID comes first, then every roster learner unchanged, then another new DOC ID
    rows: list[CheckedRow | CleanRow] = [clean(2, "N0")]
    rows += [clean(n + 3, f"D{n}") for n in range(LOOKUP_BATCH)]
    rows.append(clean(LOOKUP_BATCH + 3, "N1"))
    windows = list(planner.add_all(rows))
    # Then the first window closed at LOOKUP_BATCH valid rows (N0 and 99 unchanged ones), looked up once for N0
    assert len(windows) == 1 and len(windows[0]) == LOOKUP_BATCH and lookup.calls == [["N0"]]
    # And the rest waits for end, in line order, nobody deactivated
    rest = planner.end()
    assert [p[0] if not isinstance(p, (PlanEntry, RowIssue)) else p.line for p in rest] == [
        LOOKUP_BATCH + 2,
        LOOKUP_BATCH + 3,
    ]
    assert lookup.calls == [["N0"], ["N1"]] and planner.counts["toDeactivate"] == 0


def test_an_unchanged_all_digit_doc_id_still_sets_the_windows_width_for_lost_zeros() -> None:
    # Given a roster learner 987654, and 001234 an active learner of another facility
    lookup = Lookup([on_roster("987654")], [learner("001234")])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    # When the roster learner comes unchanged beside a new 1234 (Excel dropped its zeros)
    planned = _add_all(planner, [clean(2, "987654"), clean(3, "1234")])
    # Then 001234 is looked up beside 1234 and the row is warned about it, as when every row was a CheckedRow
    assert lookup.calls == [["1234", "001234"]]
    assert [(i.line, i.code, i.severity) for i in issues(planned)] == [(3, "DOC_ID_LEADING_ZEROS", "warning")]
    assert [(e.line, e.action) for e in entries(planned)] == [(3, CREATE)]


def test_every_entry_of_a_sync_carries_the_rows_details_or_for_a_deactivation_the_stored_ones() -> None:
    # Given a roster of three, one of them with details unlike any row's, and a learner active here that the roster
    # Query has not shown yet (stored with the row's details)
    gone = RosterLearner("G1", "id-G1", UNIT_B, "Gil", "Moss", "05/06/1985", 7)
    missed = learner("E1", FACILITY, UNIT)
    lookup = Lookup([on_roster("A1"), on_roster("A2"), gone], [missed])
    stored = (missed.first_name, missed.last_name, missed.date_of_birth)
    # When the file has A1 as stored (a clean tuple), A2 with a new first name, and E1 as stored
    planner, planned = run(
        [
            clean(2, "A1"),
            clean(3, "A2", first="Dana"),
            (4, "r4", "E1", *stored, None, UNIT, FACILITY, AGENCY),
        ],
        lookup,
    )

    # Then each entry is the row's, whole: request id, names, date of birth, unit, facility and agency
    def at(version: int, doc_id: str, location_id: str = UNIT) -> ExistingLearner:
        return ExistingLearner(f"id-{doc_id}", location_id, FACILITY, LearnerStatus.ACTIVE, version)

    dee = ("Dee", "Lee", "01/02/1990", UNIT, FACILITY, AGENCY)
    assert issues(planned) == []
    assert entries(planned) == [
        PlanEntry(2, "r2", UNCHANGED, "A1", *dee, None, at(3, "A1"), None, ()),
        PlanEntry(3, "r3", UPDATE, "A2", "Dana", *dee[1:], None, at(3, "A2"), None, ("firstName",)),
        # the learner the Query missed is compared with its stored details too: as stored, it is UNCHANGED
        PlanEntry(4, "r4", UNCHANGED, "E1", *stored, UNIT, FACILITY, AGENCY, None, at(5, "E1"), None, ()),
        # and the roster learner on no row is deactivated with its own stored details, after the last line
        PlanEntry(
            5, "", DEACTIVATE, "G1", "Gil", "Moss", "05/06/1985", UNIT_B, FACILITY, AGENCY, None, at(7, "G1", UNIT_B)
        ),
    ]
    assert (planner.counts["unchanged"], planner.counts["toUpdate"], planner.counts["toDeactivate"]) == (2, 1, 1)


def test_a_roster_rows_warnings_come_with_the_ignored_password_and_each_row_with_warnings_is_counted() -> None:
    # Given two roster learners, and rows of both with a password and a warning of the checker's
    lookup = Lookup([on_roster("A1"), on_roster("A2")])

    def warned(line: int, doc_id: str) -> CheckedRow:
        warning = RowIssue(line, f"r{line}", doc_id, "role", "ROLE_IGNORED", "role is ignored", "warning")
        row = CheckedRow(line, f"r{line}", doc_id, "Dee", "Lee", "01/02/1990", "Secret-pass-1", UNIT, FACILITY,
                         AGENCY, issues=[warning])  # fmt: skip
        return row

    planner, planned = run([warned(2, "A1"), warned(3, "A2")], lookup)
    # Then each row keeps its warning and gets the PASSWORD_IGNORED one, whole, on its own line, request id and DOC ID
    ignored = [
        RowIssue(line, f"r{line}", doc_id, "password", "PASSWORD_IGNORED", IGNORED_CELL_MESSAGE, "warning")
        for line, doc_id in ((2, "A1"), (3, "A2"))
    ]
    assert [(i.line, i.code) for i in issues(planned)] == [
        (2, "ROLE_IGNORED"),
        (2, "PASSWORD_IGNORED"),
        (3, "ROLE_IGNORED"),
        (3, "PASSWORD_IGNORED"),
    ]
    assert [i for i in issues(planned) if i.code == "PASSWORD_IGNORED"] == ignored
    # And both rows count as valid rows with warnings
    assert (planner.counts["warnings"], planner.counts["valid"], planner.counts["unchanged"]) == (2, 2, 2)


def test_a_lost_zeros_error_names_the_row_the_learner_and_the_doc_id_to_write() -> None:
    # Given a roster learner 001234, and a file where Excel made it 1234 beside a six-digit ID
    lookup = Lookup([on_roster("001234")], [learner("001234", FACILITY, UNIT)])
    _, planned = run([clean(2, "987654"), clean(3, "1234")], lookup)
    # Then the error says which learner has which DOC ID, and what to write
    (issue,) = issues(planned)
    assert issue.message == (
        "DOC ID 1234 may have lost its leading zeros in Excel: learner id-001234 of this facility has DOC ID 001234. "
        "Format the column as Text and write 001234"
    )


def test_add_gives_a_windows_plan_at_the_row_that_fills_it_and_end_the_rest() -> None:
    # Given a roster of LOOKUP_BATCH + 1, each row of one with a new first name (an UPDATE: planned as a CheckedRow)
    lookup = Lookup([on_roster(f"D{n}") for n in range(LOOKUP_BATCH + 1)])
    planner = SyncPlanner(lookup, seal, facility_id=FACILITY, agency_id=AGENCY)
    rows = [clean(n + 2, f"D{n}", first="Dana") for n in range(LOOKUP_BATCH + 1)]
    # When they are added one at a time
    given = [planner.add(row) for row in rows]
    # Then nothing comes before the window is full, the whole window comes at the row that fills it, in line order
    assert all(planned == [] for planned in given[: LOOKUP_BATCH - 1])
    assert [entry.line for entry in entries(given[LOOKUP_BATCH - 1])] == list(range(2, LOOKUP_BATCH + 2))
    # And the last row comes at end
    assert given[LOOKUP_BATCH] == [] and [entry.line for entry in entries(planner.end())] == [LOOKUP_BATCH + 2]
