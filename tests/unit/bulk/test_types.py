"""The bulk path's shapes (intake.bulk.types): plan entries in their JSON, row issues, checked and clean rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.bulk.types import (
    CREATE,
    MOVE,
    REACTIVATE,
    CheckedRow,
    ExistingLearner,
    FileRejected,
    PlanEntry,
    RowIssue,
    as_checked,
    plan_chunk_json,
    plan_chunk_of,
    plan_entry_json,
    plan_entry_of,
)
from intake.domain import LearnerStatus

PLAN_KEYS = [
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
]


def create_entry(**changes: object) -> PlanEntry:
    fields: dict[str, object] = {
        "line": 2,
        "request_id": "r1",
        "action": CREATE,
        "doc_id": "A123",
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": "unit-oak-a",
        "facility_id": "fac-oak",
        "agency_id": "agency-north",
        **changes,
    }
    return PlanEntry(**fields)  # type: ignore[arg-type]


def through_json(value: object) -> object:
    """As S3 would give it back: serialised and parsed."""
    return json.loads(json.dumps(value))


def test_a_create_entry_without_password_has_exactly_the_plan_keys_in_order() -> None:
    # Given a CREATE entry with no given password
    entry = create_entry()
    # When written as a plan chunk's object
    data = plan_entry_json(entry)
    # Then it has the keys plans have always had, in their order, and nothing else
    assert list(data) == PLAN_KEYS
    assert data == {
        "line": 2,
        "requestId": "r1",
        "action": "CREATE",
        "docId": "A123",
        "firstName": "Ann",
        "lastName": "Lee",
        "dateOfBirth": "01/02/1990",
        "locationId": "unit-oak-a",
        "facilityId": "fac-oak",
        "agencyId": "agency-north",
    }
    # And it reads back as the same entry
    assert plan_entry_of(through_json(data)) == entry  # type: ignore[arg-type]


def test_a_sealed_password_is_written_after_the_plan_keys_and_reads_back() -> None:
    # Given an entry with a sealed given password
    entry = create_entry(sealed_password="c2VhbGVk")
    # When written and read back
    data = plan_entry_json(entry)
    # Then sealedPassword follows the plan keys, and no plaintext password key is ever written
    assert list(data) == [*PLAN_KEYS, "sealedPassword"]
    assert data["sealedPassword"] == "c2VhbGVk" and "password" not in data
    assert plan_entry_of(through_json(data)) == entry  # type: ignore[arg-type]


def test_a_move_entry_carries_where_the_existing_learner_was() -> None:
    # Given a MOVE entry of a learner seen at another facility
    entry = create_entry(action=MOVE, existing=ExistingLearner("id-1", "unit-pine-a", "fac-pine"))
    # When written
    data = plan_entry_json(entry)
    # Then `existing` comes last with the learner's id and location, and reads back as an ExistingLearner
    assert list(data) == [*PLAN_KEYS, "existing"]
    assert data["existing"] == {
        "learnerId": "id-1",
        "locationId": "unit-pine-a",
        "facilityId": "fac-pine",
        "status": "ACTIVE",
    }
    read = plan_entry_of(through_json(data))  # type: ignore[arg-type]
    assert read == entry and isinstance(read.existing, ExistingLearner)


def test_a_reactivate_entry_carries_the_inactive_learner_and_plans_before_it_read_as_active() -> None:
    # Given a REACTIVATE entry of an inactive learner left at another facility
    seen = ExistingLearner("id-2", "unit-pine-a", "fac-pine", LearnerStatus.INACTIVE)
    entry = create_entry(action=REACTIVATE, existing=seen)
    # When written and read back
    data = plan_entry_json(entry)
    read = plan_entry_of(through_json(data))  # type: ignore[arg-type]
    # Then the status the planner saw travels with it, as a LearnerStatus
    written = data["existing"]
    assert isinstance(written, dict) and written["status"] == "INACTIVE"
    assert read == entry and read.existing is not None and read.existing.status is LearnerStatus.INACTIVE
    # And an `existing` written before learners had a status (a MOVE of an active learner) reads as ACTIVE
    old = {**data, "action": MOVE, "existing": {"learnerId": "id-2", "locationId": "u", "facilityId": "f"}}
    assert plan_entry_of(old).existing == ExistingLearner("id-2", "u", "f", LearnerStatus.ACTIVE)


def test_a_plaintext_password_on_an_entry_is_never_written() -> None:
    # Given an entry read from an old plan, holding a plaintext password
    entry = create_entry(password="Old-Plain-Pass1")
    # When it is written again
    data = plan_entry_json(entry)
    # Then the plaintext does not appear anywhere in its JSON
    assert "password" not in data and "Old-Plain-Pass1" not in json.dumps(data)


def test_an_old_plan_with_a_plaintext_password_still_reads() -> None:
    # Given a chunk object written before plans were sealed (a plaintext `password`, no sealedPassword)
    old = {
        "line": 3,
        "requestId": "r2",
        "action": "CREATE",
        "docId": "B7",
        "firstName": "Bo",
        "lastName": "Ray",
        "dateOfBirth": "12/31/1985",
        "locationId": "unit-oak-a",
        "facilityId": "fac-oak",
        "agencyId": "agency-north",
        "password": "Secret-Pass1",
    }
    # When read
    entry = plan_entry_of(old)
    # Then the password is there to use, nothing is sealed, and the rest of the fields are as written
    assert entry.password == "Secret-Pass1" and entry.sealed_password is None and entry.existing is None
    assert (entry.line, entry.request_id, entry.doc_id, entry.date_of_birth) == (3, "r2", "B7", "12/31/1985")


def test_empty_password_fields_read_as_none() -> None:
    # Given a chunk object with blank password fields and a null existing
    data = {**plan_entry_json(create_entry()), "sealedPassword": "", "password": "", "existing": None}
    # When read, Then blank means absent
    entry = plan_entry_of(data)
    assert (entry.sealed_password, entry.password, entry.existing) == (None, None, None)


def test_a_chunk_round_trips_in_order() -> None:
    # Given a chunk of three entries of each kind
    entries = [
        create_entry(line=2),
        create_entry(line=3, sealed_password="eA=="),
        create_entry(line=4, action=MOVE, existing=ExistingLearner("id-9", "u", "f")),
    ]
    # When written as a chunk and read back
    written = plan_chunk_json(entries)
    # Then it is a list of objects, one per entry, read back in the same order
    assert [item["line"] for item in written] == [2, 3, 4]
    assert plan_chunk_of(through_json(written)) == entries  # type: ignore[arg-type]
    assert plan_chunk_json([]) == [] and plan_chunk_of([]) == []


text = st.text(max_size=20)
existing = st.none() | st.builds(ExistingLearner, text, text, text, st.sampled_from(LearnerStatus))
entries = st.builds(
    PlanEntry,
    line=st.integers(min_value=2, max_value=10**6),
    request_id=text,
    action=st.sampled_from([CREATE, MOVE, REACTIVATE]),
    doc_id=text,
    first_name=text,
    last_name=text,
    date_of_birth=text,
    location_id=text,
    facility_id=text,
    agency_id=text,
    sealed_password=st.none() | st.text(min_size=1, max_size=40),
    existing=existing,
    password=st.none(),  # never set by the validator: only read from old plans
)


@given(entries)
def test_any_entry_round_trips_through_its_json(entry: PlanEntry) -> None:
    # Given any entry as the validator makes it (no plaintext password)
    # When written, serialised, parsed and read
    data = plan_entry_json(entry)
    # Then it is the same entry, and the plan keys lead in their order
    assert plan_entry_of(through_json(data)) == entry  # type: ignore[arg-type]
    assert list(data)[: len(PLAN_KEYS)] == PLAN_KEYS


def test_a_row_issue_as_dict_uses_the_report_keys() -> None:
    # Given an issue of a row
    issue = RowIssue(7, "r6", "X1", "dateOfBirth", "INVALID_DATE", "Not a date")
    # When given as a dict
    data = issue.as_dict()
    # Then it has the report's camelCase keys in order, and is an error unless told otherwise
    assert list(data) == ["line", "requestId", "docId", "field", "code", "message", "severity"]
    assert data == {
        "line": 7,
        "requestId": "r6",
        "docId": "X1",
        "field": "dateOfBirth",
        "code": "INVALID_DATE",
        "message": "Not a date",
        "severity": "error",
    }
    assert RowIssue(1, "", "", "f", "C", "m", "warning").as_dict()["severity"] == "warning"


def test_a_row_issue_is_immutable() -> None:
    # Given an issue, When a field is changed, Then it refuses
    issue = RowIssue(7, "r6", "X1", "docID", "REQUIRED", "Required")
    with pytest.raises(AttributeError):
        issue.code = "OTHER"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("severities", "valid"),
    [
        ((), True),
        (("warning",), True),
        (("warning", "warning"), True),
        (("error",), False),
        (("warning", "error"), False),
    ],
)
def test_a_checked_row_is_valid_unless_an_issue_is_an_error(severities: tuple[str, ...], valid: bool) -> None:
    # Given a row with issues of these severities
    row = CheckedRow(2, "r1", "A1", issues=[RowIssue(2, "r1", "A1", "f", "C", "m", s) for s in severities])
    # Then it is valid exactly when none is an error
    assert row.is_valid is valid


def test_a_clean_row_becomes_a_checked_row_with_its_fields_in_order() -> None:
    # Given a clean row tuple, as the fast path yields it
    clean = (5, "r4", "D9", "Cy", "Fox", "03/04/2000", None, "unit-oak-a", "fac-oak", "agency-north")
    # When taken as a checked row
    row = as_checked(clean)
    # Then each field is where CheckedRow has it, with no issues, and it is valid
    assert isinstance(row, CheckedRow)
    assert (row.line, row.request_id, row.doc_id, row.first_name, row.last_name) == (5, "r4", "D9", "Cy", "Fox")
    assert (row.date_of_birth, row.password, row.location_id) == ("03/04/2000", None, "unit-oak-a")
    assert (row.facility_id, row.agency_id) == ("fac-oak", "agency-north")
    assert row.issues == [] and row.is_valid


def test_a_checked_row_is_taken_as_it_is() -> None:
    # Given a checked row with an issue, When taken as a checked row, Then it is the same object
    row = CheckedRow(2, "r1", "", issues=[RowIssue(2, "r1", "", "docID", "REQUIRED", "Required")])
    assert as_checked(row) is row


def test_checked_rows_do_not_share_their_issue_lists() -> None:
    # Given two rows made without issues, When one gets an issue, Then the other has none
    first, second = CheckedRow(2, "a", "A"), CheckedRow(3, "b", "B")
    first.issues.append(RowIssue(2, "a", "A", "f", "C", "m"))
    assert second.issues == [] and second.is_valid and not first.is_valid


def test_a_file_rejection_carries_its_code_and_message() -> None:
    # Given a rejection, Then its code and message are kept and it reads as its message
    rejected = FileRejected("TOO_LARGE", "The file is too large")
    assert (rejected.code, rejected.message, str(rejected)) == (
        "TOO_LARGE",
        "The file is too large",
        "The file is too large",
    )
