"""Administration through the API handler over moto: agencies, locations, settings, staff, audit."""

from __future__ import annotations

from typing import Any

import boto3

from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1, FAC_A2, FAC_B1, UNIT_A1, UNIT_A1B, UNIT_A2
from tests.integration.bulk_helpers import csv_file, drain, put_object

LEARNER = {"docId": "300100", "firstName": "Ada", "lastName": "Hill", "dateOfBirth": "03/14/1988"}


def _audit(call_api, facility_id: str, user: str = "sys") -> list[dict[str, Any]]:
    status, body, _ = call_api("GET", f"/facilities/{facility_id}/audit", user)
    assert status == 200, body
    return body["entries"]


# ------------------------------------------------------------------ agencies and locations


def test_system_admin_creates_renames_and_lists_agencies(call_api, directory):
    # Given a SystemAdmin
    # When they create an agency with a chosen id and one with a generated id, and rename the first
    chosen = call_api("POST", "/agencies", "sys", {"agencyId": "west-doc", "name": "Western DOC"})
    generated = call_api("POST", "/agencies", "sys", {"name": "Eastern Dept. of Corrections"})
    renamed = call_api("POST", "/agencies/west-doc/rename", "sys", {"name": "Western State DOC"})
    # Then both exist, the generated id comes from the name, and the rename shows in the list
    assert chosen[0] == 201 and chosen[1]["agency"] == {"agencyId": "west-doc", "name": "Western DOC"}
    assert generated[0] == 201 and generated[1]["agency"]["agencyId"].startswith("eastern-dept-of-corrections-")
    assert renamed[0] == 200 and renamed[1]["agency"]["name"] == "Western State DOC"
    status, listed, _ = call_api("GET", "/agencies", "sys")
    assert status == 200
    assert {a["agencyId"]: a["name"] for a in listed["agencies"]}["west-doc"] == "Western State DOC"
    # And the same id again is a conflict, an AgencyAdmin may neither create nor rename, and sees only its agency
    assert call_api("POST", "/agencies", "sys", {"agencyId": "west-doc", "name": "Again"})[0] == 409
    assert call_api("POST", "/agencies", "north", {"name": "Mine"})[0] == 403
    assert call_api("POST", f"/agencies/{AGENCY_A}/rename", "north", {"name": "Mine"})[0] == 403
    assert call_api("POST", "/agencies/nowhere/rename", "sys", {"name": "X"})[0] == 404
    assert [a["agencyId"] for a in call_api("GET", "/agencies", "north")[1]["agencies"]] == [AGENCY_A]


def test_agency_admin_builds_facilities_and_units_only_in_its_agency(call_api, directory):
    # Given the AgencyAdmin of agency A
    # When they create a facility (chosen id), a unit (generated id), and try the same in agency B
    facility = call_api(
        "POST", "/facilities", "north", {"agencyId": AGENCY_A, "facilityId": "fac-hill", "name": "Hill"}
    )
    unit = call_api("POST", "/facilities/fac-hill/housing-units", "north", {"name": "Hill Unit A"})
    foreign = call_api("POST", "/facilities", "north", {"agencyId": AGENCY_B, "name": "Not mine"})
    foreign_unit = call_api("POST", f"/facilities/{FAC_B1}/housing-units", "north", {"name": "Not mine"})
    # Then the own ones exist as a facility and its housing unit, the foreign agency and facility are not found
    assert facility[0] == 201 and facility[1]["location"]["kind"] == "FACILITY"
    assert unit[0] == 201 and unit[1]["location"]["facilityId"] == "fac-hill"
    assert unit[1]["location"]["locationId"].startswith("hill-unit-a-")
    assert foreign[0] == foreign_unit[0] == 404
    # And a FacilityAdmin may add units to its own facility but not create facilities; an Educator neither
    assert (
        call_api("POST", f"/facilities/{FAC_A1}/housing-units", "ridge", {"locationId": "u-new", "name": "N"})[0] == 201
    )
    assert call_api("POST", "/facilities", "ridge", {"agencyId": AGENCY_A, "name": "X"})[0] == 403
    assert call_api("POST", f"/facilities/{FAC_A1}/housing-units", "teacher", {"name": "X"})[0] == 403
    # And a taken location id is a conflict, whatever agency holds it
    assert call_api("POST", f"/facilities/{FAC_A1}/housing-units", "sys", {"locationId": FAC_B1, "name": "X"})[0] == 409
    # And the agency's locations list them for the agency admin
    status, listed, _ = call_api("GET", f"/agencies/{AGENCY_A}/locations", "north")
    assert status == 200
    by_id = {f["facilityId"]: f for f in listed["facilities"]}
    assert set(by_id) == {FAC_A1, FAC_A2, "fac-hill"}
    assert [u["name"] for u in by_id["fac-hill"]["housingUnits"]] == ["Hill Unit A"]
    assert call_api("GET", f"/agencies/{AGENCY_B}/locations", "north")[0] == 404


def test_rename_deactivate_and_delete_locations(call_api, directory):
    # Given a learner in unit A1 of the ridge facility
    assert call_api("POST", "/learners", "ridge", {**LEARNER, "locationId": UNIT_A1})[0] == 201
    # When its FacilityAdmin renames the unit, and tries to delete it
    renamed = call_api("POST", f"/locations/{UNIT_A1}/rename", "ridge", {"name": "Ridge Dorm 1"})
    deleted = call_api("POST", f"/locations/{UNIT_A1}/delete", "ridge")
    # Then the rename holds, but a unit with learners is not deleted: only deactivated
    assert renamed[0] == 200 and renamed[1]["location"]["name"] == "Ridge Dorm 1"
    assert deleted[0] == 409 and "deactivate" in deleted[1]["message"]
    deactivated = call_api("POST", f"/locations/{UNIT_A1}/deactivate", "ridge")
    assert deactivated[0] == 200 and deactivated[1]["location"]["active"] is False
    # And an empty unit can be deleted; a facility with units cannot; a FacilityAdmin cannot rename its facility
    assert call_api("POST", f"/locations/{UNIT_A2}/delete", "lake")[0] == 200
    assert call_api("GET", f"/agencies/{AGENCY_A}/locations", "lake")[1]["facilities"][0]["housingUnits"] == []
    assert call_api("POST", f"/locations/{FAC_A1}/delete", "north")[0] == 409
    assert call_api("POST", f"/locations/{FAC_A1}/rename", "ridge", {"name": "X"})[0] == 403
    assert call_api("POST", f"/locations/{FAC_B1}/deactivate", "ridge")[0] == 404
    # And the deactivated unit is gone from GET /facilities but listed, inactive, for administration
    units = [u["locationId"] for u in call_api("GET", "/facilities", "ridge")[1]["facilities"][0]["housingUnits"]]
    assert units == [UNIT_A1B]
    listed = call_api("GET", f"/agencies/{AGENCY_A}/locations", "ridge")[1]["facilities"]
    assert {u["locationId"]: u["active"] for u in listed[0]["housingUnits"]} == {UNIT_A1: False, UNIT_A1B: True}
    # And reactivating brings it back
    assert call_api("POST", f"/locations/{UNIT_A1}/reactivate", "ridge")[1]["location"]["active"] is True


def test_deactivated_locations_refuse_new_learners_single_and_bulk(call_api, aws, directory):
    # Given unit A1 deactivated, and the lake facility deactivated (which closes its unit too)
    assert call_api("POST", f"/locations/{UNIT_A1}/deactivate", "north")[0] == 200
    assert call_api("POST", f"/locations/{FAC_A2}/deactivate", "north")[0] == 200
    # When a learner is created there one by one
    single = [
        call_api("POST", "/learners", "north", {**LEARNER, "locationId": location})
        for location in (UNIT_A1, FAC_A2, UNIT_A2)
    ]
    # Then each is refused with a 400 naming the location field
    for status, body, _ in single:
        assert status == 400 and body["errors"][0]["code"] == "LOCATION_INACTIVE", body
    # When a file with a row for the closed unit and one for an open unit is uploaded
    link = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})[1]
    rows = [f"1,310001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}", f"2,310002,Bo,Lee,01/02/1990,Learner,,{UNIT_A1B}"]
    put_object(aws, link["upload"]["fields"]["key"], csv_file(rows))
    drain(aws)
    upload = call_api("GET", f"/uploads/{link['uploadId']}", "ridge")[1]
    # Then the closed unit's row has a row error that says what to do, the other row is valid
    assert upload["status"] == "VALIDATED_WITH_ERRORS" and upload["counts"]["valid"] == 1
    (error,) = upload["errors"]
    assert (error["line"], error["field"], error["code"]) == (2, "locationId", "LOCATION_INACTIVE")
    assert "no longer in use" in error["message"] and "active" in error["message"]


def test_unit_deactivated_after_validation_gets_no_learner_from_the_confirm(call_api, aws, directory):
    # Given a validated file for unit A1B, then the unit deactivated before the confirm
    link = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})[1]
    put_object(aws, link["upload"]["fields"]["key"], csv_file([f"1,320001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1B}"]))
    drain(aws)
    assert call_api("POST", f"/locations/{UNIT_A1B}/deactivate", "ridge")[0] == 200
    # When the upload is confirmed
    assert call_api("POST", f"/uploads/{link['uploadId']}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then the row fails and nobody is created
    done = call_api("GET", f"/uploads/{link['uploadId']}", "ridge")[1]
    assert (
        done["status"] == "COMPLETED_WITH_ERRORS" and done["counts"]["created"] == 0 and done["counts"]["failed"] == 1
    )
    assert call_api("GET", "/learners", "ridge", query={"docId": "320001"})[1]["learners"] == []


# ------------------------------------------------------------------ facility settings


def test_facility_settings_stay_within_the_system(call_api, directory):
    # Given the ridge FacilityAdmin
    # When they set auto-confirm, a password rule and smaller upload limits
    wanted = {
        "autoConfirmDrops": True,
        "passwordRule": {
            "minLength": 10,
            "requiredClasses": ["digit"],
            "blankFormat": "{lastName}{docIdLast4}-{random:9}-1",
        },
        "maxUploadRows": 500,
    }
    status, body, _ = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", wanted)
    # Then they are stored, with the system's limits alongside
    assert status == 200, body
    settings = body["settings"]
    assert settings["autoConfirmDrops"] is True and settings["maxUploadRows"] == 500
    assert settings["passwordRule"]["blankFormat"] == "{lastName}{docIdLast4}-{random:9}-1"
    assert settings["maxUploadBytes"] == settings["systemMaxUploadBytes"]
    assert call_api("GET", f"/facilities/{FAC_A1}/settings", "teacher")[1]["settings"] == settings
    # And limits above the system's, a format without placeholders, and other people's facilities are refused
    too_big = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", {"maxUploadRows": 10**9})
    assert too_big[0] == 400 and too_big[1]["errors"][0]["field"] == "maxUploadRows"
    no_placeholder = {"passwordRule": {"blankFormat": "welcome"}}
    assert call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", no_placeholder)[0] == 400
    assert call_api("POST", f"/facilities/{FAC_A1}/settings", "teacher", {"autoConfirmDrops": False})[0] == 403
    assert call_api("POST", f"/facilities/{FAC_A2}/settings", "ridge", {"autoConfirmDrops": False})[0] == 404
    # And null resets a limit to the system's
    reset = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", {"maxUploadRows": None})[1]["settings"]
    assert reset["maxUploadRows"] == reset["systemMaxUploadRows"] and reset["autoConfirmDrops"] is True


# ------------------------------------------------------------------ staff

ROLES = ("SystemAdmin", "AgencyAdmin", "FacilityAdmin", "Educator")
RANK = {role: rank for rank, role in enumerate(reversed(ROLES), start=1)}
FACILITIES = {FAC_A1: AGENCY_A, FAC_A2: AGENCY_A, FAC_B1: AGENCY_B}


def _covers(role: str, agency: str | None, facilities: tuple[str, ...]) -> set[str]:
    """The facilities a grant reaches (independent of intake.authz: the oracle of the tests below)."""
    if role == "SystemAdmin":
        return set(FACILITIES) | {"*"} | {f"agency:{a}" for a in FACILITIES.values()}
    if role == "AgencyAdmin":
        return {f for f, a in FACILITIES.items() if a == agency} | {f"agency:{agency}"}
    return set(facilities)


def _grants() -> list[dict[str, Any]]:
    grants: list[dict[str, Any]] = [{"role": "SystemAdmin"}]
    grants += [{"role": "AgencyAdmin", "agencyId": agency} for agency in (AGENCY_A, AGENCY_B)]
    for role in ("FacilityAdmin", "Educator"):
        grants += [
            {"role": role, "agencyId": AGENCY_A, "facilityIds": [FAC_A1]},
            {"role": role, "agencyId": AGENCY_A, "facilityIds": [FAC_A2]},
            {"role": role, "agencyId": AGENCY_A, "facilityIds": [FAC_A1, FAC_A2]},
            {"role": role, "agencyId": AGENCY_B, "facilityIds": [FAC_B1]},
        ]
    return grants


def _allowed(requestor: Any, grant: dict[str, Any]) -> bool:
    mine = _covers(requestor.role.value, requestor.agency_id, requestor.facility_ids)
    theirs = _covers(grant["role"], grant.get("agencyId"), tuple(grant.get("facilityIds", ())))
    return requestor.role.value != "Educator" and RANK[grant["role"]] <= RANK[requestor.role.value] and theirs <= mine


def test_no_role_grants_more_than_its_own_scope(call_api, directory, user_pool):
    # Given staff of every role, and every grant of every role over one or more facilities of either agency
    for index, grant in enumerate(_grants()):
        for name, requestor in directory.items():
            username = f"new-{name}-{index}"
            # When each requestor invites someone with that grant
            status, body, _ = call_api("POST", "/staff", name, {"username": username, **grant})
            # Then it is created exactly when the grant is within the requestor's own role and scope
            expected = _allowed(requestor, grant)
            assert status == (201 if expected else 403), (name, grant, body)
            if expected:
                assert body["staff"]["role"] == grant["role"] and len(body["temporaryPassword"]) >= 12


def test_no_one_changes_their_own_grant_or_raises_someone_beyond_theirs(call_api, directory, user_pool):
    from intake.dal.staff import get_staff

    # Given the ridge FacilityAdmin, an Educator of ridge, and the lake FacilityAdmin
    # When ridge tries to make itself an AgencyAdmin, or to extend itself to the lake facility
    self_promote = call_api("POST", "/staff/ridge/scope", "ridge", {"role": "AgencyAdmin", "agencyId": AGENCY_A})
    self_extend = call_api(
        "POST",
        "/staff/ridge/scope",
        "ridge",
        {"role": "FacilityAdmin", "agencyId": AGENCY_A, "facilityIds": [FAC_A1, FAC_A2]},
    )
    # And tries to raise its Educator to AgencyAdmin, or to give them the lake facility
    raise_other = call_api("POST", "/staff/teacher/scope", "ridge", {"role": "AgencyAdmin", "agencyId": AGENCY_A})
    extend_other = call_api(
        "POST", "/staff/teacher/scope", "ridge", {"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A2]}
    )
    # And tries to change or disable the lake FacilityAdmin, who is outside its scope, or the AgencyAdmin above it
    outside = call_api("POST", "/staff/lake/disable", "ridge")
    above = call_api("POST", "/staff/north/disable", "ridge")
    # Then every attempt is refused and no record changed
    assert self_promote[0] == self_extend[0] == 403
    assert raise_other[0] == extend_other[0] == 403
    assert outside[0] == above[0] == 404
    assert get_staff("ridge") == directory["ridge"] and get_staff("teacher") == directory["teacher"]
    assert get_staff("lake") == directory["lake"] and get_staff("north") == directory["north"]
    # And an AgencyAdmin may not disable itself either
    assert call_api("POST", "/staff/north/disable", "north")[0] == 403
    # But within its scope ridge may promote its Educator to FacilityAdmin of ridge
    promoted = call_api(
        "POST",
        "/staff/teacher/scope",
        "ridge",
        {"role": "FacilityAdmin", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]},
    )
    assert promoted[0] == 200 and promoted[1]["staff"]["role"] == "FacilityAdmin"


def _peer_changes(target: str, role: str, agency: str | None, facilities: list[str]) -> list[tuple[str, Any]]:
    """Every change of a staff member: disable, enable, demote, and a scope within the requestor's own grant."""
    demoted = {"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]}
    same_scope = {"role": role, **({"agencyId": agency} if agency else {}), "facilityIds": facilities}
    return [
        (f"/staff/{target}/disable", None),
        (f"/staff/{target}/enable", None),
        (f"/staff/{target}/scope", demoted),
        (f"/staff/{target}/scope", same_scope if facilities else {"role": role, "agencyId": agency}),
    ]


def test_peers_cannot_lock_each_other_out(call_api, directory, user_pool):
    from intake.dal.staff import get_staff, put_staff
    from intake.domain import Role, StaffMember

    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    # Given a second FacilityAdmin of ridge's own facility and a second AgencyAdmin of north's agency, with logins
    peers = {
        "ridge": StaffMember(username="ridge-2", role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_ids=(FAC_A1,)),
        "north": StaffMember(username="north-2", role=Role.AGENCY_ADMIN, agency_id=AGENCY_A),
    }
    for peer in peers.values():
        put_staff(peer)
        cognito.admin_create_user(UserPoolId=user_pool, Username=peer.username, MessageAction="SUPPRESS")
    for requestor, peer in peers.items():
        facilities = list(peer.facility_ids)
        for path, body in _peer_changes(peer.username, peer.role.value, peer.agency_id, facilities):
            # When the peer of the same role and scope tries to disable, enable, demote or re-scope them
            status, answer, _ = call_api("POST", path, requestor, body)
            # Then it is refused as a change the requestor may not make, and the record and login are unchanged
            assert (status, answer["code"]) == (403, "PERMISSION_DENIED"), (requestor, path, answer)
            assert get_staff(peer.username) == peer
            assert cognito.admin_get_user(UserPoolId=user_pool, Username=peer.username)["Enabled"] is True
    # But the role above each may disable them (and the record and login say so)
    for above, peer in (("north", peers["ridge"]), ("sys", peers["north"])):
        status, answer, _ = call_api("POST", f"/staff/{peer.username}/disable", above)
        assert status == 200 and answer["staff"]["active"] is False
        assert get_staff(peer.username).active is False
        assert cognito.admin_get_user(UserPoolId=user_pool, Username=peer.username)["Enabled"] is False


def test_system_admins_manage_each_other_but_not_themselves(call_api, directory, user_pool):
    from intake.dal.staff import get_staff, put_staff
    from intake.domain import Role, StaffMember

    # Given a second SystemAdmin (the top role has no one above it: SystemAdmins are the exception to the peer rule)
    other = put_staff(StaffMember(username="sys-2", role=Role.SYSTEM_ADMIN))
    # When the first disables the second, and then tries to disable itself
    disabled = call_api("POST", "/staff/sys-2/disable", "sys")
    itself = call_api("POST", "/staff/sys/disable", "sys")
    # Then a departed SystemAdmin can be shut out through the API, but no one changes their own record
    assert disabled[0] == 200 and get_staff("sys-2") == other.model_copy(update={"active": False, "version": 1})
    assert itself[0] == 403 and get_staff("sys").active is True


def test_invite_list_disable_and_enable_staff(call_api, directory, user_pool):
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    # Given the AgencyAdmin of agency A
    # When they invite an Educator of the lake facility
    status, body, _ = call_api(
        "POST",
        "/staff",
        "north",
        {"username": "mia", "role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A2]},
    )
    # Then the login exists with a temporary password that must be changed, and the record has the grant
    assert status == 201
    user = cognito.admin_get_user(UserPoolId=user_pool, Username="mia")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD" and user["Enabled"] is True
    assert body["staff"] == {
        "username": "mia",
        "role": "Educator",
        "agencyId": AGENCY_A,
        "facilityIds": [FAC_A2],
        "active": True,
        "title": None,
        "firstName": None,
        "lastName": None,
        "displayFirstName": None,
        "displayLastName": None,
        "email": None,
        "grants": [{"role": "Educator", "agencyId": AGENCY_A, "facilityId": FAC_A2}],
        "version": 0,
    }
    # And inviting the same username again is a conflict; a bad facility is a validation error
    assert (
        call_api(
            "POST",
            "/staff",
            "north",
            {"username": "mia", "role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A2]},
        )[0]
        == 409
    )
    bad = call_api(
        "POST", "/staff", "sys", {"username": "zed", "role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_B1]}
    )
    assert bad[0] == 400 and bad[1]["errors"][0]["field"] == "facilityIds"
    # And the lists show each admin only whom they could have granted
    assert {s["username"] for s in call_api("GET", "/staff", "lake")[1]["staff"]} == {"lake", "mia"}
    assert "mia" not in {s["username"] for s in call_api("GET", "/staff", "ridge")[1]["staff"]}
    assert call_api("GET", "/staff", "teacher")[0] == 403
    # When the lake FacilityAdmin disables mia
    disabled = call_api("POST", "/staff/mia/disable", "lake")
    # Then the record and the login are disabled, and mia's requests are refused
    assert disabled[0] == 200 and disabled[1]["staff"]["active"] is False
    assert cognito.admin_get_user(UserPoolId=user_pool, Username="mia")["Enabled"] is False
    assert call_api("GET", "/facilities", "mia")[0] == 401
    # And enabling restores both
    assert call_api("POST", "/staff/mia/enable", "lake")[1]["staff"]["active"] is True
    assert cognito.admin_get_user(UserPoolId=user_pool, Username="mia")["Enabled"] is True


# ------------------------------------------------------------------ audit


def test_audit_records_who_did_what_by_ids_only(call_api, aws, directory, user_pool):
    # Given a learner created at ridge and moved to lake, a unit renamed, a staff invite and a bulk upload
    created = call_api("POST", "/learners", "ridge", {**LEARNER, "locationId": UNIT_A1})[1]["learner"]
    call_api("POST", f"/learners/{created['learnerId']}/move", "north", {"locationId": UNIT_A2})
    call_api("POST", f"/locations/{UNIT_A1B}/rename", "ridge", {"name": "Dorm B"})
    call_api(
        "POST",
        "/staff",
        "ridge",
        {"username": "eve", "role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]},
    )
    link = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})[1]
    put_object(aws, link["upload"]["fields"]["key"], csv_file([f"1,330001,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}"]))
    drain(aws)
    call_api("POST", f"/uploads/{link['uploadId']}/confirm", "ridge", {})
    drain(aws)
    # When the ridge FacilityAdmin reads its facility's audit trail
    entries = _audit(call_api, FAC_A1, "ridge")
    # Then every change is there, newest first, with who and what, and no names or dates of birth
    actions = [(e["action"], e["actor"]) for e in entries]
    assert actions == [
        ("LEARNER_CREATED", "ridge"),
        ("UPLOAD_CONFIRMED", "ridge"),
        ("STAFF_INVITED", "ridge"),
        ("LOCATION_RENAMED", "ridge"),
        ("LEARNER_MOVED", "north"),
        ("LEARNER_CREATED", "ridge"),
    ]
    assert entries[0]["details"]["uploadId"] == link["uploadId"]
    assert entries[-1]["targetId"] == created["learnerId"]
    text = str(entries)
    assert "Ada" not in text and "Hill" not in text and "Dorm B" not in text and "1988" not in text
    # And the move is also filed under the receiving facility
    assert [e["action"] for e in _audit(call_api, FAC_A2, "lake")] == ["LEARNER_MOVED"]
    # And pages follow `next`
    status, page, _ = call_api("GET", f"/facilities/{FAC_A1}/audit", "ridge", query={"limit": "4"})
    assert status == 200 and len(page["entries"]) == 4 and page["next"]
    status, rest, _ = call_api(
        "GET", f"/facilities/{FAC_A1}/audit", "ridge", query={"limit": "4", "before": page["next"]}
    )
    assert [e["action"] for e in page["entries"] + rest["entries"]] == [a for a, _ in actions] and rest["next"] is None
    # And an Educator may not read it, another facility's admin does not see it
    assert call_api("GET", f"/facilities/{FAC_A1}/audit", "teacher")[0] == 403
    assert call_api("GET", f"/facilities/{FAC_A1}/audit", "lake")[0] == 404


def test_facility_settings_apply_to_single_and_bulk_creation(call_api, aws, directory):
    from intake.dal.learners import stored_password_hash
    from intake.passwords import verify_password

    # Given ridge's rule (10+ characters with a digit; blank passwords are last name + last 4 of the DOC ID + a
    # random part, issue 13), drops confirmed by themselves, and at most 2 rows and 4 KiB per upload
    rule = {"minLength": 10, "requiredClasses": ["digit"], "blankFormat": "{lastName}{docIdLast4}-{random:9}-1"}
    settings = {"passwordRule": rule, "autoConfirmDrops": True, "maxUploadRows": 2, "maxUploadBytes": 4096}
    assert call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", settings)[0] == 200
    # When a learner is created with a password that breaks the rule, then with none
    weak = call_api("POST", "/learners", "ridge", {**LEARNER, "locationId": UNIT_A1, "password": "Sunrisepass"})
    blank = call_api("POST", "/learners", "ridge", {**LEARNER, "locationId": UNIT_A1})
    # Then the first is refused saying what the rule needs, the second gets the facility's format
    assert weak[0] == 400 and "at least 10 characters including a digit" in weak[1]["errors"][0]["message"]
    made = blank[1]["generatedPassword"]
    assert blank[0] == 201 and made.startswith("Hill0100-") and made.endswith("-1") and len(made) == 20
    assert verify_password(stored_password_hash(AGENCY_A, "300100") or "", made)
    # When a facility drop has a row breaking the rule and a blank one, and another drop has 3 rows
    rows = [
        f"1,340001,Ann,O'Neil,01/02/1990,Learner,,{UNIT_A1}",
        f"2,340002,Bo,Lee,01/02/1990,Learner,weakpassword,{UNIT_A1}",
    ]
    put_object(aws, f"incoming/{FAC_A1}/roster.csv", csv_file(rows))
    put_object(aws, f"incoming/{FAC_A1}/big.csv", csv_file([*rows, f"3,340003,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}"]))
    drain(aws)
    uploads = {u["fileName"]: u for u in call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")[1]["uploads"]}
    # Then the weak password is a row error, the 3-row file is rejected by the facility's row limit
    roster = uploads["roster.csv"]
    assert roster["status"] == "VALIDATED_WITH_ERRORS"
    assert [(e["line"], e["field"]) for e in roster["errors"]] == [(3, "password")]
    assert uploads["big.csv"]["status"] == "REJECTED" and uploads["big.csv"]["errors"][0]["code"] == "TOO_MANY_ROWS"
    # And a clean drop confirms itself, its blank password made from the format
    put_object(aws, f"incoming/{FAC_A1}/clean.csv", csv_file([rows[0]]))
    drain(aws)
    clean = next(
        u
        for u in call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")[1]["uploads"]
        if u["fileName"] == "clean.csv"
    )
    assert clean["status"] == "COMPLETED" and clean["counts"]["created"] == 1
    call_api("GET", f"/uploads/{clean['uploadId']}", "ridge")  # an auto-confirmed drop's passwords: the first writer's
    from tests.integration.bulk_helpers import get_text

    issued = get_text(aws, f"passwords/{FAC_A1}/{clean['uploadId']}/results.csv").splitlines()[1].split(",")[8]
    assert issued.startswith("ONeil0001-") and verify_password(stored_password_hash(AGENCY_A, "340001") or "", issued)
    confirmed = [e for e in _audit(call_api, FAC_A1, "ridge") if e["action"] == "UPLOAD_CONFIRMED"]
    assert [e["actor"] for e in confirmed] == [f"drop:{FAC_A1}"]
    # And upload links carry the facility's limits
    assert call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})[1]["upload"]["maxBytes"] == 4096


def test_admin_routes_are_in_the_openapi_document_and_the_template(call_api):
    from local.template import load_template

    # Given the API function's events in template.yaml
    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    deployed = {(e["Properties"]["Method"].lower(), e["Properties"]["Path"]) for e in events}
    # When the OpenAPI document is read
    status, document, _ = call_api("GET", "/openapi.json")
    documented = {(method, path) for path, methods in document["paths"].items() for method in methods}
    # Then every administration route is both documented and deployed
    admin = {
        (method, path)
        for method, path in documented
        if path.split("/")[1] in ("agencies", "locations", "staff")
        or path.endswith(("/settings", "/audit", "/housing-units"))
        or (method, path) == ("post", "/facilities")
    }
    assert status == 200 and len(admin) == 20  # 18, and a staff member's grants added and removed (issue 19)
    assert admin <= deployed


def test_invite_of_a_taken_login_leaves_no_staff_record(call_api, directory, user_pool):
    from intake.dal.staff import get_staff

    # Given a login named ghost in the user pool that is no staff member
    boto3.client("cognito-idp", region_name="us-east-1").admin_create_user(
        UserPoolId=user_pool, Username="ghost", MessageAction="SUPPRESS"
    )
    # When an admin invites ghost
    status, body, _ = call_api(
        "POST",
        "/staff",
        "north",
        {"username": "ghost", "role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]},
    )
    # Then it is a conflict, and no half-made staff record is left behind (a retry with another name works)
    assert status == 409 and "ghost" in body["message"]
    assert get_staff("ghost") is None
    assert _audit(call_api, FAC_A1, "north") == []
