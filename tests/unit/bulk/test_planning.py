"""The planner (intake.bulk.planning) with an in-memory look-up: no S3, no DynamoDB, no KMS."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.bulk.planning import LOOKUP_BATCH, Planner
from intake.bulk.types import (
    CREATE,
    MOVE,
    REACTIVATE,
    CheckedRow,
    CleanRow,
    ExistingLearner,
    PlanEntry,
    RowIssue,
    plan_chunk_json,
    plan_chunk_of,
    plan_entry_json,
    plan_entry_of,
)
from intake.domain import Learner, LearnerStatus

AGENCY = "agency-north"
FACILITY = "fac-oak"
UNIT = "unit-oak-a"
OTHER_FACILITY = "fac-pine"
OTHER_UNIT = "unit-pine-a"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Lookup:
    """The agency's learners by DOC ID, in memory; every call recorded."""

    def __init__(self, learners: dict[tuple[str, str], Learner] | None = None) -> None:
        self.learners = learners or {}
        self.calls: list[tuple[str, list[str]]] = []

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]:
        self.calls.append((agency_id, list(doc_ids)))
        return {d: self.learners[(agency_id, d)] for d in doc_ids if (agency_id, d) in self.learners}


def seal(password: str, line: int) -> str:
    return f"sealed:{line}:{password[::-1]}"


def learner(
    doc_id: str,
    facility_id: str = OTHER_FACILITY,
    location_id: str = OTHER_UNIT,
    status: LearnerStatus = LearnerStatus.ACTIVE,
) -> Learner:
    return Learner(
        learner_id=f"id-{doc_id}",
        agency_id=AGENCY,
        doc_id=doc_id,
        first_name="Ann",
        last_name="Lee",
        date_of_birth="01/02/1990",
        location_id=location_id,
        facility_id=facility_id,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="someone",
        status=status,
    )


def clean(line: int, doc_id: str, password: str | None = None) -> CleanRow:
    return (line, f"r{line}", doc_id, "Dee", "Lee", "01/02/1990", password, UNIT, FACILITY, AGENCY)


def invalid(line: int, doc_id: str) -> CheckedRow:
    issue = RowIssue(line, f"r{line}", doc_id, "firstName", "REQUIRED", "firstName is required")
    return CheckedRow(line, f"r{line}", doc_id, issues=[issue])


def plan(rows: list[CheckedRow | CleanRow], lookup: Lookup) -> tuple[Planner, list[PlanEntry], list[RowIssue]]:
    planner = Planner(lookup, seal)
    out = list(planner.plan(rows))
    return planner, [p for p in out if isinstance(p, PlanEntry)], [p for p in out if isinstance(p, RowIssue)]


def test_a_new_doc_id_is_a_create_with_its_password_sealed_and_no_plaintext() -> None:
    _, entries, issues = plan([clean(2, "A1", "Secret-pass-1"), clean(3, "A2")], Lookup())
    assert issues == []
    assert [(e.line, e.action, e.existing) for e in entries] == [(2, CREATE, None), (3, CREATE, None)]
    assert entries[0].sealed_password == seal("Secret-pass-1", 2) and entries[0].password is None
    assert entries[1].sealed_password is None
    assert "Secret-pass-1" not in str(plan_chunk_json(entries))


def test_an_existing_learner_elsewhere_is_a_move_and_at_this_facility_an_error() -> None:
    lookup = Lookup({(AGENCY, "M1"): learner("M1"), (AGENCY, "E1"): learner("E1", FACILITY, UNIT)})
    planner, entries, issues = plan([clean(2, "M1"), clean(3, "E1")], lookup)
    assert entries == [
        PlanEntry(
            line=2,
            request_id="r2",
            action=MOVE,
            doc_id="M1",
            first_name="Dee",
            last_name="Lee",
            date_of_birth="01/02/1990",
            location_id=UNIT,
            facility_id=FACILITY,
            agency_id=AGENCY,
            existing=ExistingLearner("id-M1", OTHER_UNIT, OTHER_FACILITY),
        )
    ]
    assert [(i.line, i.code, i.severity) for i in issues] == [(3, "LEARNER_EXISTS", "error")]
    assert "learnerId id-E1" in issues[0].message
    assert planner.counts == {
        "rows": 2,
        "valid": 1,
        "invalid": 1,
        "toCreate": 0,
        "toMove": 1,
        "toReactivate": 0,
        "warnings": 0,
    }


def test_an_inactive_learner_anywhere_in_the_agency_is_a_reactivation_not_an_error() -> None:
    # Given inactive learners left at another facility and at this one, and an active one at another facility
    lookup = Lookup(
        {
            (AGENCY, "R1"): learner("R1", status=LearnerStatus.INACTIVE),
            (AGENCY, "R2"): learner("R2", FACILITY, UNIT, status=LearnerStatus.INACTIVE),
            (AGENCY, "M1"): learner("M1"),
        }
    )
    # When a file names all three (one with a given password)
    planner, entries, issues = plan([clean(2, "R1", "Secret-pass-1"), clean(3, "R2"), clean(4, "M1")], lookup)
    # Then both inactive ones are planned REACTIVATE with where and as they were seen, the active one a MOVE
    assert issues == []
    assert [(e.line, e.action, e.existing) for e in entries] == [
        (2, REACTIVATE, ExistingLearner("id-R1", OTHER_UNIT, OTHER_FACILITY, LearnerStatus.INACTIVE)),
        (3, REACTIVATE, ExistingLearner("id-R2", UNIT, FACILITY, LearnerStatus.INACTIVE)),
        (4, MOVE, ExistingLearner("id-M1", OTHER_UNIT, OTHER_FACILITY, LearnerStatus.ACTIVE)),
    ]
    # And the given password is sealed as a create's would be, and each row is counted once
    assert entries[0].sealed_password == seal("Secret-pass-1", 2) and entries[1].sealed_password is None
    assert (planner.counts["toReactivate"], planner.counts["toMove"], planner.counts["toCreate"]) == (2, 1, 0)
    assert planner.counts["valid"] == 3 and planner.counts["invalid"] == 0


def test_a_doc_id_that_lost_its_leading_zeros_is_warned_about_and_still_created() -> None:
    lookup = Lookup({(AGENCY, "001234"): learner("001234")})
    planner, entries, issues = plan([clean(2, "987654"), clean(3, "1234")], lookup)
    assert [(e.doc_id, e.action) for e in entries] == [("987654", CREATE), ("1234", CREATE)]
    assert [(i.line, i.code, i.severity) for i in issues] == [(3, "DOC_ID_LEADING_ZEROS", "warning")]
    assert lookup.calls == [(AGENCY, ["987654", "1234", "001234"])]
    assert planner.counts["warnings"] == 1 and planner.counts["valid"] == 2


def test_rows_are_looked_up_in_windows_of_valid_rows() -> None:
    rows: list[CheckedRow | CleanRow] = [clean(n, f"D{n}") for n in range(2, 2 + 2 * LOOKUP_BATCH + 5)]
    rows.insert(10, invalid(1000, "X"))
    planner = Planner(lookup := Lookup(), seal)
    assert planner.add(rows[0]) == []  # nothing is planned before its window is looked up
    out = [*planner.add(rows[1])]
    for row in rows[2:]:
        out += planner.add(row)
    assert len(lookup.calls) == 2 and all(len(ids) == LOOKUP_BATCH for _, ids in lookup.calls)
    out += planner.flush()
    assert [len(ids) for _, ids in lookup.calls] == [LOOKUP_BATCH, LOOKUP_BATCH, 5]
    assert len([p for p in out if isinstance(p, PlanEntry)]) == 2 * LOOKUP_BATCH + 5


def test_an_entry_reads_back_from_its_json_and_old_plans_still_read() -> None:
    entry = PlanEntry(
        line=7,
        request_id="r7",
        action=MOVE,
        doc_id="M7",
        first_name="Dee",
        last_name="Lee",
        date_of_birth="01/02/1990",
        location_id=UNIT,
        facility_id=FACILITY,
        agency_id=AGENCY,
        sealed_password="sealed",
        existing=ExistingLearner("id-M7", OTHER_UNIT, OTHER_FACILITY),
    )
    data = plan_entry_json(entry)
    assert list(data) == [
        "line",
        "requestId",
        "action",
        "docId",
        "firstName",
        "lastName",
        "dateOfBirth",
        "locationId",
        "facilityId",
        "agencyId",
        "sealedPassword",
        "existing",
    ]
    assert data["existing"] == {
        "learnerId": "id-M7",
        "locationId": OTHER_UNIT,
        "facilityId": OTHER_FACILITY,
        "status": "ACTIVE",
    }
    assert plan_entry_of(data) == entry and plan_chunk_of(plan_chunk_json([entry])) == [entry]
    # A plan written before plans were sealed: a plaintext password, no sealedPassword
    old = {k: v for k, v in data.items() if k not in ("sealedPassword", "existing")} | {"action": CREATE}
    assert plan_entry_of({**old, "password": "Old-pass-1"}).password == "Old-pass-1"
    assert plan_entry_of(old).sealed_password is None and plan_entry_of(old).existing is None


# A file: each row new, existing elsewhere, existing at this facility, inactive elsewhere or here, or invalid; some
# with a password.
KINDS = st.sampled_from(["new", "elsewhere", "here", "inactive-elsewhere", "inactive-here", "invalid"])
PLANNED = {"new": CREATE, "elsewhere": MOVE, "inactive-elsewhere": REACTIVATE, "inactive-here": REACTIVATE}


@FAST
@given(st.lists(st.tuples(KINDS, st.booleans()), max_size=3 * LOOKUP_BATCH))
def test_every_valid_row_gives_one_entry_and_the_counts_add_up(kinds: list[tuple[str, bool]]) -> None:
    learners: dict[tuple[str, str], Learner] = {}
    rows: list[CheckedRow | CleanRow] = []
    for n, (kind, with_password) in enumerate(kinds):
        line, doc_id = n + 2, f"D{n}"
        if kind == "elsewhere":
            learners[(AGENCY, doc_id)] = learner(doc_id)
        elif kind == "here":
            learners[(AGENCY, doc_id)] = learner(doc_id, FACILITY, UNIT)
        elif kind == "inactive-elsewhere":
            learners[(AGENCY, doc_id)] = learner(doc_id, status=LearnerStatus.INACTIVE)
        elif kind == "inactive-here":
            learners[(AGENCY, doc_id)] = learner(doc_id, FACILITY, UNIT, status=LearnerStatus.INACTIVE)
        rows.append(
            invalid(line, doc_id) if kind == "invalid" else clean(line, doc_id, "Pass-1" if with_password else None)
        )
    planner, entries, issues = plan(rows, Lookup(learners))
    valid = [n for n, (kind, _) in enumerate(kinds) if kind in PLANNED]
    assert [e.line for e in entries] == [n + 2 for n in valid]  # exactly one entry per valid row, in order
    for entry in entries:
        kind, with_password = kinds[entry.line - 2]
        assert entry.action == PLANNED[kind]
        assert (entry.existing is not None) == (kind != "new")
        if entry.existing is not None:
            seen = learners[(AGENCY, entry.doc_id)]
            assert entry.existing == ExistingLearner(
                f"id-{entry.doc_id}", seen.location_id, seen.facility_id, seen.status
            )
        assert (entry.sealed_password is not None) == with_password and entry.password is None
        assert plan_entry_of(plan_entry_json(entry)) == entry
    assert sorted(i.line for i in issues if i.code == "LEARNER_EXISTS") == [
        n + 2 for n, (kind, _) in enumerate(kinds) if kind == "here"
    ]
    counts = planner.counts
    assert counts["rows"] == len(kinds) == counts["valid"] + counts["invalid"]
    assert counts["valid"] == counts["toCreate"] + counts["toMove"] + counts["toReactivate"] == len(entries)
    assert counts["toMove"] == sum(kind == "elsewhere" for kind, _ in kinds)
    assert counts["toReactivate"] == sum(kind.startswith("inactive") for kind, _ in kinds)
