"""The audit trail: one entry per scope by ids only, keyed entries overwrite, read per facility by its admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake import audit, clock
from intake.dal import audit as audit_store
from intake.domain import Location, LocationKind
from intake.errors import NotFound, PermissionDenied
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, FAC_B1

AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)


def test_entries_for_files_one_entry_per_distinct_scope_with_every_field() -> None:
    # Given a move between two facilities, the first named twice
    entries = audit.entries_for(
        "north",
        "LEARNER_MOVED",
        "learner",
        "lrn-1",
        scopes=[FAC_A1, FAC_A2, FAC_A1],
        agency_id=AGENCY_A,
        facility_id=FAC_A2,
        details={"fromLocationId": "unit-ridge-a", "uploadId": None},
        at=AT,
    )
    # Then there is one entry per scope, in order, sharing one entry id and every field
    assert [entry.scope for entry in entries] == [FAC_A1, FAC_A2]
    assert len({entry.entry_id for entry in entries}) == 1
    for entry in entries:
        assert (entry.actor, entry.action, entry.target_type, entry.target_id) == (
            "north",
            "LEARNER_MOVED",
            "learner",
            "lrn-1",
        )
        assert (entry.agency_id, entry.facility_id, entry.at) == (AGENCY_A, FAC_A2, AT)
        assert entry.details == {"fromLocationId": "unit-ridge-a", "uploadId": None}


def test_entry_ids_sort_by_time_and_differ_without_a_key() -> None:
    # Given two changes at the same instant without keys
    first = audit.entries_for("a", "X", "t", "1", scopes=["s"], at=AT)[0]
    second = audit.entries_for("a", "X", "t", "1", scopes=["s"], at=AT)[0]
    later = audit.entries_for("a", "X", "t", "1", scopes=["s"], at=LATER)[0]
    # Then both are kept (distinct ids), each id starts with its UTC time, and a later change sorts after
    assert first.entry_id != second.entry_id
    assert first.entry_id.startswith("2026-03-01T12:00:00.123456Z#")
    assert later.entry_id > first.entry_id
    assert first.details == {}


def test_a_keyed_entry_has_a_stable_id_filed_at_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the clock at LATER and an entry keyed by upload and line, filed at AT
    monkeypatch.setattr(clock, "utc_now", lambda: LATER)
    first = audit.entries_for("a", "LEARNER_CREATED", "learner", "l", scopes=["s"], at=AT, key="upl-1:0000002")[0]
    again = audit.entries_for("a", "LEARNER_CREATED", "learner", "l", scopes=["s"], at=AT, key="upl-1:0000002")[0]
    # Then a retry makes the same id (it overwrites, not duplicates), sorted at AT; `at` says when it was written
    assert first.entry_id == again.entry_id == "2026-03-01T12:00:00.123456Z#upl-1:0000002"
    assert first.at == LATER


def test_without_at_the_entry_is_filed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: LATER)
    entry = audit.entries_for("a", "X", "t", "1", scopes=["s"])[0]
    assert entry.at == LATER
    assert entry.entry_id.startswith("2026-03-01T12:05:00.000000Z#")


def test_scopes_of_agencies_system_and_locations() -> None:
    # Given a facility and one of its housing units
    facility = Location(
        location_id=FAC_A1, name="R", agency_id=AGENCY_A, facility_id=FAC_A1, kind=LocationKind.FACILITY
    )
    unit = Location(location_id="u", name="U", agency_id=AGENCY_A, facility_id=FAC_A1, kind=LocationKind.HOUSING_UNIT)
    # Then a change of either is filed under the facility; agencies and the system have their own scopes
    assert audit.location_scopes(facility) == [FAC_A1]
    assert audit.location_scopes(unit) == [FAC_A1]
    assert audit.agency_scope(AGENCY_A) == "agency:ag-north"
    assert audit.SYSTEM_SCOPE == "system"


def test_record_stores_one_entry_per_scope(aws: Any) -> None:
    # When a change between two facilities is recorded
    audit.record("north", "LEARNER_MOVED", "learner", "lrn-1", scopes=[FAC_A1, FAC_A2], agency_id=AGENCY_A)
    # Then each facility's trail holds it
    for scope in (FAC_A1, FAC_A2):
        [entry] = audit_store.list_entries(scope, 10)
        assert (entry.actor, entry.target_id, entry.agency_id) == ("north", "lrn-1", AGENCY_A)
    assert audit_store.list_entries(FAC_B1, 10) == []


def test_record_all_with_the_same_key_overwrites(aws: Any) -> None:
    # Given the entries of one bulk row written twice (a retried chunk)
    def row_entries() -> list:
        return audit.entries_for("ridge", "LEARNER_CREATED", "learner", "l", scopes=[FAC_A1], at=AT, key="u:0000002")

    audit.record_all(row_entries())
    audit.record_all(row_entries())
    # Then the trail holds it once
    assert len(audit_store.list_entries(FAC_A1, 10)) == 1


def _fill(count: int) -> None:
    for n in range(count):
        audit.record_all(
            audit.entries_for(
                "ridge", "X", "learner", f"l{n}", scopes=[FAC_A1], at=datetime(2026, 3, 1, 12, n, tzinfo=UTC)
            )
        )


def test_facility_audit_is_newest_first_in_pages(directory: dict) -> None:
    # Given five entries of the ridge facility
    _fill(5)
    # When its admin reads pages of two
    first, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=2)
    second, after = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, before=following)
    third, end = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, before=after)
    # Then the pages go from newest to oldest without overlap, and the last says there is no more
    assert [e.target_id for e in first + second + third] == ["l4", "l3", "l2", "l1", "l0"]
    assert following == first[-1].entry_id
    assert end is None


def test_facility_audit_page_size_is_kept_between_1_and_200(directory: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the store asked for pages
    asked: list[int] = []
    real = audit_store.list_entries

    def spy(scope: str, limit: int, before: str | None = None) -> list:
        asked.append(limit)
        return real(scope, limit, before)

    monkeypatch.setattr(audit_store, "list_entries", spy)
    _fill(2)
    # When the limit is 0 or far too big
    entries, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=0)
    audit.facility_audit(directory["ridge"], FAC_A1, limit=10_000)
    # Then one entry (and one more, to know of a next page) or 201 are asked
    assert asked == [2, audit.PAGE_MAX + 1]
    assert len(entries) == 1 and following == entries[0].entry_id


def _fill_mixed(count: int) -> None:
    """`count` entries of the ridge facility, every third one a RENAMED (l0, l3, ...), the others X."""
    for n in range(count):
        audit.record_all(
            audit.entries_for(
                "ridge",
                "RENAMED" if n % 3 == 0 else "X",
                "learner",
                f"l{n}",
                scopes=[FAC_A1],
                at=datetime(2026, 3, 1, 12, n, tzinfo=UTC),
            )
        )


def test_facility_audit_filtered_by_action_pages_through_only_that_action(directory: dict) -> None:
    # Given ten entries of the ridge facility, four of them RENAMED (l0, l3, l6, l9) among X
    _fill_mixed(10)
    # When its admin reads the RENAMED ones in pages of two, passing `next` back as `before`
    first, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, action="RENAMED")
    second, end = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, before=following, action="RENAMED")
    # Then each page is full of that action only, newest first, and the second says there is no more
    assert [e.target_id for e in first] == ["l9", "l6"]
    assert [e.target_id for e in second] == ["l3", "l0"]
    assert {e.action for e in first + second} == {"RENAMED"}
    assert following == first[-1].entry_id and end is None


def _fill_others(count: int) -> None:
    """`count` X entries of the ridge facility, newer than those of _fill_mixed."""
    for n in range(count):
        audit.record_all(
            audit.entries_for(
                "ridge", "X", "learner", f"x{n}", scopes=[FAC_A1], at=datetime(2026, 3, 2, 0, n, tzinfo=UTC)
            )
        )


def test_facility_audit_filter_reads_on_past_pages_of_other_actions(
    directory: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a trail whose one RENAMED entry is older than more entries of other actions than one request looks at
    monkeypatch.setattr(audit_store, "FILTERED_PAGE", 3)
    _fill_mixed(1)
    _fill_others(7)
    # When the RENAMED entries are read
    entries, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, action="RENAMED")
    # Then the old one is found, and there is no next page
    assert [(e.action, e.target_id) for e in entries] == [("RENAMED", "l0")]
    assert following is None


def test_facility_audit_filter_stops_at_its_read_bound_and_says_where_to_go_on(
    directory: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a RENAMED entry behind nine entries of other actions, and a filtered read bounded at six looked at
    monkeypatch.setattr(audit_store, "FILTERED_PAGE", 3)
    monkeypatch.setattr(audit_store, "FILTERED_READ_MAX", 6)
    _fill_mixed(1)
    _fill_others(9)
    # When the RENAMED entries are read
    first, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, action="RENAMED")
    # Then the first page is empty but says where to go on (after the sixth entry looked at, x3)
    assert first == [] and following is not None
    assert following == audit_store.list_entries(FAC_A1, 10)[5].entry_id
    # And going on from there finds the RENAMED entry, and then the end
    second, end = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, before=following, action="RENAMED")
    assert [(e.action, e.target_id) for e in second] == [("RENAMED", "l0")]
    assert end is None


def test_a_full_page_of_one_action_has_a_next_page_only_if_more_follow(directory: dict) -> None:
    # Given exactly two RENAMED entries (l0, l3) among others
    _fill_mixed(4)
    # When a page of two RENAMED is read, Then both are there and no next page is offered
    entries, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=2, action="RENAMED")
    assert [e.target_id for e in entries] == ["l3", "l0"] and following is None


def test_facility_audit_without_an_action_still_reads_every_entry(directory: dict) -> None:
    # Given entries of two actions, When the trail is read without a filter (as v1 clients do)
    _fill_mixed(4)
    entries, following = audit.facility_audit(directory["ridge"], FAC_A1, limit=10)
    # Then both actions are there, newest first
    expected = [("RENAMED", "l3"), ("X", "l2"), ("X", "l1"), ("RENAMED", "l0")]
    assert [(e.action, e.target_id) for e in entries] == expected
    assert following is None


def test_educators_may_not_read_the_audit_trail(directory: dict) -> None:
    # Given an Educator of the ridge facility, When they read its trail, Then it is refused
    with pytest.raises(PermissionDenied):
        audit.facility_audit(directory["teacher"], FAC_A1)


@pytest.mark.parametrize(("user", "facility_id"), [("ridge", FAC_A2), ("bay", FAC_A1), ("ridge", "no-such")])
def test_a_facility_out_of_scope_answers_as_not_found(directory: dict, user: str, facility_id: str) -> None:
    with pytest.raises(NotFound):
        audit.facility_audit(directory[user], facility_id)


def test_a_housing_unit_is_not_a_facility_trail(directory: dict) -> None:
    with pytest.raises(NotFound):
        audit.facility_audit(directory["sys"], "unit-ridge-a")


@pytest.mark.parametrize("user", ["sys", "north", "ridge"])
def test_admins_above_the_facility_read_its_trail(directory: dict, user: str) -> None:
    _fill(1)
    entries, _ = audit.facility_audit(directory[user], FAC_A1)
    assert [e.target_id for e in entries] == ["l0"]


def test_a_sign_in_is_audited_as_one_log_line_of_ids() -> None:
    from tests.log_capture import cloudwatch_lines

    # Given a failed sign-in of a known learner
    with cloudwatch_lines() as logged:
        audit.sign_in_event(
            audit.LEARNER_SIGN_IN_FAILED,
            agency_id=AGENCY_A,
            learner_id="lrn-1",
            facility_id=FAC_A1,
            reason="WRONG_PASSWORD",
            failures=3,
            client_id="tablet-1",
        )
    # Then one INFO line carries the audit record, with exactly these fields
    [record] = logged.records
    assert record["level"] == "INFO"
    assert record["audit"] == {
        "action": "LEARNER_SIGN_IN_FAILED",
        "agencyId": AGENCY_A,
        "learnerId": "lrn-1",
        "facilityId": FAC_A1,
        "reason": "WRONG_PASSWORD",
        "failures": 3,
        "clientId": "tablet-1",
    }


@pytest.mark.parametrize(("action", "reason"), [("LEARNER_CREATED", None), ("LEARNER_SIGN_IN_FAILED", "BAD_LUCK")])
def test_a_sign_in_event_takes_only_its_actions_and_reasons(action: str, reason: str | None) -> None:
    with pytest.raises(ValueError):
        audit.sign_in_event(
            action, agency_id=AGENCY_A, learner_id=None, facility_id=None, reason=reason, failures=1, client_id="c"
        )
