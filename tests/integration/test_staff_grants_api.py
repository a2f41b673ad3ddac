"""Staff with a role per facility (issue 19) through the API handler, over moto: the grant routes, and a person who is
FacilityAdmin at one facility and Educator at another."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, FAC_B1, UNIT_A1, UNIT_A2

CREATE_DENIED = {"code": "PERMISSION_DENIED", "message": "Requestor does not have permission to create this user"}
LEARNER = {"firstName": "Marcus", "lastName": "Hill", "dateOfBirth": "3/14/1988"}


def _stored(username: str) -> Any:
    from intake.dal.staff import get_staff

    return get_staff(username)


def _grant_entries(call_api, *facilities: str) -> list[tuple[str, str, str]]:
    """The grant changes in facilities' audit trails (read by the SystemAdmin): action, target, facility."""
    entries = []
    for facility in facilities:
        status, body, _ = call_api("GET", f"/facilities/{facility}/audit", "sys")
        assert status == 200, body
        entries += [
            (e["action"], e["targetId"], e["details"]["facilityId"])
            for e in body["entries"]
            if e["action"].startswith("STAFF_GRANT")
        ]
    return entries


def test_a_facility_admin_at_one_facility_and_educator_at_another_creates_at_the_first_and_only_reads_at_the_second(
    call_api, directory, user_pool
):
    # Given pat, invited by the agency admin as FacilityAdmin of ridge with a title and names
    invited = call_api(
        "POST",
        "/staff",
        "north",
        {
            "username": "pat",
            "role": "FacilityAdmin",
            "agencyId": AGENCY_A,
            "facilityIds": [FAC_A1],
            "title": "Professor",
            "firstName": "Pat",
            "lastName": "Jones",
            "displayFirstName": "Professor",
            "displayLastName": "Jones",
            "email": "pat@example.org",
        },
    )
    assert invited[0] == 201, invited[1]
    # When the agency admin makes pat an Educator at lake too
    status, body, _ = call_api("POST", "/staff/pat/grants", "north", {"role": "Educator", "facilityId": FAC_A2})
    # Then pat holds both grants, and the v1 fields still say FacilityAdmin of both facilities
    assert status == 200, body
    assert body["staff"]["grants"] == [
        {"role": "FacilityAdmin", "agencyId": AGENCY_A, "facilityId": FAC_A1},
        {"role": "Educator", "agencyId": AGENCY_A, "facilityId": FAC_A2},
    ]
    assert (body["staff"]["role"], body["staff"]["facilityIds"]) == ("FacilityAdmin", sorted([FAC_A1, FAC_A2]))
    assert (body["staff"]["displayFirstName"], body["staff"]["email"]) == ("Professor", "pat@example.org")
    listed = {s["username"]: s for s in call_api("GET", "/staff", "north")[1]["staff"]}
    assert listed["pat"] == body["staff"]
    # And pat creates a learner at ridge
    created = call_api("POST", "/learners", "pat", {**LEARNER, "docId": "410001", "locationId": UNIT_A1})
    assert created[0] == 201, created[1]
    # And at lake pat reads a learner and the roster, but may not create one
    lake_learner = call_api("POST", "/learners", "lake", {**LEARNER, "docId": "410002", "locationId": UNIT_A2})
    assert lake_learner[0] == 201
    learner_id = lake_learner[1]["learner"]["learnerId"]
    read = call_api("GET", f"/learners/{learner_id}", "pat")
    assert read[0] == 200 and read[1]["learner"]["docId"] == "410002"
    roster = call_api("GET", f"/facilities/{FAC_A2}/learners", "pat")
    assert roster[0] == 200 and [r["docId"] for r in roster[1]["learners"]] == ["410002"]
    refused = call_api("POST", "/learners", "pat", {**LEARNER, "docId": "410003", "locationId": UNIT_A2})
    assert refused[0] == 403 and refused[1] == CREATE_DENIED
    # And every change to the lake learner is refused, and the learner is as lake left it
    for method, path, change in (
        ("PATCH", f"/learners/{learner_id}", {"lastName": "Other"}),
        ("POST", f"/learners/{learner_id}/deactivate", None),
        ("POST", f"/learners/{learner_id}/password", {}),
    ):  # (moving them into ridge is an arrival, which any FacilityAdmin of ridge may take in, as today)
        status, answer, _ = call_api(method, path, "pat", change)
        assert status == 403, (path, answer)
    after = call_api("GET", f"/learners/{learner_id}", "lake")[1]["learner"]
    assert after == read[1]["learner"]
    assert call_api("GET", f"/learners/{learner_id}", "pat")[1]["learner"] == after
    assert call_api("POST", "/learners", "pat", {**LEARNER, "docId": "410004", "locationId": UNIT_A1})[0] == 201
    # And lake's FacilityAdmin still creates there (nothing about lake changed)
    assert call_api("POST", "/learners", "lake", {**LEARNER, "docId": "410005", "locationId": UNIT_A2})[0] == 201


def test_grants_are_added_and_removed_through_the_api_each_change_audited(call_api, directory):
    # When the agency admin gives teacher (Educator at ridge) FacilityAdmin at lake, then takes it back
    added = call_api("POST", "/staff/teacher/grants", "north", {"role": "FacilityAdmin", "facilityId": FAC_A2})
    removed = call_api("POST", "/staff/teacher/grants/remove", "north", {"role": "FacilityAdmin", "facilityId": FAC_A2})
    # Then each answers 200 with the record, the last one as teacher was (at version 2)
    assert added[0] == 200 and {g["facilityId"] for g in added[1]["staff"]["grants"]} == {FAC_A1, FAC_A2}
    assert removed[0] == 200 and removed[1]["staff"]["grants"] == [
        {"role": "Educator", "agencyId": AGENCY_A, "facilityId": FAC_A1}
    ]
    assert _stored("teacher") == directory["teacher"].model_copy(update={"version": 2})
    # And lake's trail holds both changes, newest first, with the role and facility
    assert _grant_entries(call_api, FAC_A2) == [
        ("STAFF_GRANT_REMOVED", "teacher", FAC_A2),
        ("STAFF_GRANT_ADDED", "teacher", FAC_A2),
    ]


@pytest.mark.parametrize(
    ("user", "path", "body", "status", "words"),
    [
        ("north", "/staff/ridge/grants", {"role": "FacilityAdmin", "facilityId": FAC_A1}, 409, "already holds"),
        ("north", "/staff/ridge/grants/remove", {"role": "Educator", "facilityId": FAC_A2}, 404, "does not hold"),
        (
            "north",
            "/staff/ridge/grants/remove",
            {"role": "FacilityAdmin", "facilityId": FAC_A1},
            409,
            "disable the staff member instead",
        ),
        ("ridge", "/staff/ridge/grants", {"role": "Educator", "facilityId": FAC_A2}, 403, "their own"),
        ("ridge", "/staff/teacher/grants", {"role": "FacilityAdmin", "facilityId": FAC_A2}, 403, "grant more"),
        ("ridge", "/staff/teacher/grants", {"role": "AgencyAdmin"}, 403, "grant more"),
        ("ridge", "/staff/peer/grants", {"role": "Educator", "facilityId": FAC_A1}, 403, "change this staff member"),
        ("ridge", "/staff/lake/grants", {"role": "Educator", "facilityId": FAC_A1}, 404, "No such staff member"),
        ("bay", "/staff/teacher/grants", {"role": "Educator", "facilityId": FAC_B1}, 404, "No such staff member"),
        ("teacher", "/staff/teacher/grants", {"role": "Educator", "facilityId": FAC_A2}, 403, "their own"),
        ("north", "/staff/teacher/grants", {"role": "Educator", "facilityId": FAC_B1}, 400, "Not a facility"),
        ("north", "/staff/teacher/grants", {"role": "Educator"}, 400, "needs a facilityId"),
        ("north", "/staff/teacher/grants", {"role": "Janitor", "facilityId": FAC_A2}, 400, "role"),
        ("north", "/staff/teacher/grants", {"role": "Educator", "facilityId": FAC_A2, "x": 1}, 400, "x"),
        ("sys", "/staff/teacher/grants", {"role": "SystemAdmin"}, 400, "stands alone"),
        (None, "/staff/teacher/grants", {"role": "Educator", "facilityId": FAC_A2}, 401, ""),
    ],
    ids=[
        "held",
        "not-held",
        "last",
        "own-record",
        "beyond-own-facility",
        "beyond-own-role",
        "peer",
        "out-of-scope",
        "other-agency",
        "educator-own",
        "other-agencys-facility",
        "no-facility",
        "unknown-role",
        "unknown-field",
        "system-admin",
        "no-token",
    ],
)
def test_refused_grant_changes_leave_the_stored_record_and_the_trail_unchanged(
    call_api, directory, user, path, body, status, words
):
    from intake.dal.staff import put_staff

    # Given ridge's FacilityAdmin peer, and every record as stored
    put_staff(directory["ridge"].model_copy(update={"username": "peer"}))
    target = path.split("/")[2]
    before = _stored(target)
    # When the grant change is asked for
    answer = call_api("POST", path, user, body)
    # Then it is refused with the status and words that say why
    assert answer[0] == status, answer[1]
    assert words in str(answer[1])
    # And, read again, the record is as it was, and no grant change is in any trail
    assert _stored(target) == before
    assert _grant_entries(call_api, FAC_A1, FAC_A2) == []
