"""SCIM 2.0 for staff (issue 19): users and groups of one agency's client over the staff records, the grant rules,
Entra's and Okta's PATCH shapes, filters and paging, and the mass-deactivation guard; end states read from storage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from scim2_models import SCIMException

from intake import scim_holds, scim_service
from intake.dal import audit as audit_store
from intake.dal import scim as scim_store
from intake.dal import staff as staff_store
from intake.domain import Role
from intake.errors import PermissionDenied
from intake.settings import get_settings
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1, FAC_A2, FAC_B1

BASE = "https://api.example/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _login(username: str) -> dict[str, Any]:
    import boto3

    return boto3.client("cognito-idp", region_name="us-east-1").admin_get_user(
        UserPoolId=get_settings().user_pool_id, Username=username
    )


def _new_user(client: scim_service.ScimClient, username: str = "jones", **extra: Any) -> Any:
    payload = {
        "schemas": [USER_SCHEMA],
        "userName": username,
        "name": {"givenName": "Pat", "familyName": "Jones"},
        "displayName": "Professor Jones",
        "title": "Teacher",
        "emails": [{"value": f"{username}@doc.example", "primary": True, "type": "work"}],
        "externalId": f"ext-{username}",
        **extra,
    }
    return scim_service.create_user(client, payload, BASE)


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def _actions(scope: str) -> list[str]:
    return [entry.action for entry in audit_store.list_entries(scope, 100)]


def _grants(username: str) -> list[tuple[str, str | None]]:
    member = staff_store.get_staff(username)
    assert member is not None
    return [(g.role.value, g.facility_id) for g in member.grants]


def _scim_error(call: Any, *args: Any) -> SCIMException:
    with pytest.raises(SCIMException) as raised:
        call(*args)
    return raised.value


# ------------------------------------------------------------------ clients


def test_a_client_is_its_agencys_only_and_an_unbound_one_is_refused(north: scim_service.ScimClient) -> None:
    # Given a client bound to agency A
    # Then it acts as an administrator of A named after the client, never as a SystemAdmin
    assert north.agency_id == AGENCY_A
    assert (north.actor.username, north.actor.role, north.actor.agency_id) == (
        "scim:client-north",
        Role.AGENCY_ADMIN,
        AGENCY_A,
    )
    # And a client bound to no agency is refused
    with pytest.raises(PermissionDenied):
        scim_service.scim_client("client-nobody")


def test_a_client_bound_to_two_agencies_reaches_neither(user_pool: str) -> None:
    # Given a broken binding: one client on both agencies
    scim_store.bind_client(AGENCY_A, "client-both")
    scim_store.bind_client(AGENCY_B, "client-both")
    # Then it reaches no agency at all
    assert scim_store.agency_of_client("client-both") is None
    with pytest.raises(PermissionDenied):
        scim_service.scim_client("client-both")


# ------------------------------------------------------------------ users


def test_create_makes_a_record_with_no_grant_and_a_login_and_audits_it(north: scim_service.ScimClient) -> None:
    # When the client creates a user
    user = _new_user(north, password="Temp-Passw0rd!")
    # Then the record is in agency A, covers nothing until a group gives it a grant, and holds the profile
    stored = staff_store.get_staff("jones")
    assert stored is not None and stored.agency_id == AGENCY_A and stored.grants == () and stored.active
    assert (stored.title, stored.first_name, stored.last_name, stored.email) == (
        "Teacher",
        "Pat",
        "Jones",
        "jones@doc.example",
    )
    assert (stored.display_first_name, stored.display_last_name) == ("Professor", "Jones")
    # And the login exists, must change its password, and the password is kept nowhere else
    assert _login("jones")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert "Temp-Passw0rd!" not in (stored.scim_record or "")
    assert "password" not in scim_service.dump_user(user)
    # And the invitation is audited as the client's
    assert "STAFF_INVITED" in _actions(f"agency:{AGENCY_A}")
    assert user.external_id == "ext-jones" and user.id == "jones"


def test_create_refuses_a_taken_username_anywhere_and_changes_nothing(
    north: scim_service.ScimClient, south: scim_service.ScimClient
) -> None:
    # Given bay, staff of agency B
    before = staff_store.get_staff("bay")
    # When agency A's client creates bay
    error = _scim_error(_new_user, north, "bay")
    # Then 409 uniqueness, and bay is untouched
    assert (error.status, error.scim_type) == (409, "uniqueness")
    assert staff_store.get_staff("bay") == before


def test_another_agencys_staff_and_admins_are_not_there(
    north: scim_service.ScimClient, south: scim_service.ScimClient
) -> None:
    # Given a user of agency B's client, B's staff, A's AgencyAdmin and a SystemAdmin
    _new_user(south, "theirs")
    for user_id in ("theirs", "bay", "north", "sys", "nobody"):
        # Then agency A's client finds none of them, by id or by filter
        assert _scim_error(scim_service.get_user, north, user_id, BASE).status == 404, user_id
        listed = scim_service.list_users(north, {"filter": f'userName eq "{user_id}"'}, BASE)
        assert listed["totalResults"] == 0, user_id
    # And it lists exactly the staff it may manage: A's FacilityAdmins and Educators
    everyone = scim_service.list_users(north, {}, BASE)
    assert [u["id"] for u in everyone["Resources"]] == ["lake", "ridge", "teacher"]


def test_filters_eq_on_username_and_external_id_with_and_and_bad_filters(north: scim_service.ScimClient) -> None:
    _new_user(north, "jones")
    _new_user(north, "smith")

    def ids(expression: str) -> list[str]:
        return [u["id"] for u in scim_service.list_users(north, {"filter": expression}, BASE).get("Resources", [])]

    # userName is not case-exact (RFC 7643): any case finds it; externalId is
    assert ids('userName eq "JONES"') == ["jones"]
    assert ids('externalId eq "ext-smith"') == ["smith"]
    assert ids('externalId eq "EXT-SMITH"') == []
    assert ids('userName eq "jones" and externalId eq "ext-jones"') == ["jones"]
    assert ids('userName eq "jones" and externalId eq "ext-smith"') == []
    assert ids('userName eq "jones" or userName eq "smith"') == ["jones", "smith"]
    # And a filter that cannot be read is 400 invalidFilter
    for broken in ("userName eq", 'userName zz "x"', '(userName eq "x"'):
        error = _scim_error(scim_service.list_users, north, {"filter": broken}, BASE)
        assert (error.status, error.scim_type) == (400, "invalidFilter"), broken


def test_paging_by_start_index_and_count(north: scim_service.ScimClient) -> None:
    # Given 3 staff and 2 more users (5 in all)
    _new_user(north, "jones")
    _new_user(north, "smith")
    # When paging 2 at a time
    pages = [scim_service.list_users(north, {"startIndex": str(i), "count": "2"}, BASE) for i in (1, 3, 5, 7)]
    # Then each page has its slice, and the total every time
    assert [[u["id"] for u in p.get("Resources", [])] for p in pages] == [
        ["jones", "lake"],
        ["ridge", "smith"],
        ["teacher"],
        [],
    ]
    assert {p["totalResults"] for p in pages} == {5}
    assert [p["itemsPerPage"] for p in pages] == [2, 2, 1, 0]
    # And count=0 gives the total alone; a startIndex below 1 is 1; a count that is no number is 400
    assert scim_service.list_users(north, {"count": "0"}, BASE)["totalResults"] == 5
    assert scim_service.list_users(north, {"startIndex": "-4", "count": "1"}, BASE)["startIndex"] == 1
    assert _scim_error(scim_service.list_users, north, {"count": "many"}, BASE).status == 400


def test_entra_patch_shapes_replace_title_and_disable_with_a_string_boolean(north: scim_service.ScimClient) -> None:
    _new_user(north)
    # When Entra replaces the title and the name in its shapes (capitalised ops, a path-less value)
    scim_service.patch_user(
        north,
        "jones",
        _patch(
            {"op": "Replace", "path": "title", "value": "Professor"},
            {"op": "Add", "value": {"name.givenName": "Patricia"}},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "p.jones@doc.example"},
        ),
        BASE,
    )
    stored = staff_store.get_staff("jones")
    assert stored is not None
    assert (stored.title, stored.first_name, stored.email) == ("Professor", "Patricia", "p.jones@doc.example")
    assert "STAFF_PROFILE_CHANGED" in _actions(f"agency:{AGENCY_A}")
    # When it disables them with "False" as a string
    user = scim_service.patch_user(north, "jones", _patch({"op": "Replace", "path": "active", "value": "False"}), BASE)
    # Then the record and the login are disabled at once
    assert user.active is False
    assert staff_store.get_staff("jones").active is False  # type: ignore[union-attr]
    assert _login("jones")["Enabled"] is False
    # And "True" enables them again
    scim_service.patch_user(north, "jones", _patch({"op": "Replace", "path": "active", "value": "True"}), BASE)
    assert staff_store.get_staff("jones").active is True  # type: ignore[union-attr]
    assert _login("jones")["Enabled"] is True


def test_okta_patch_shape_and_put(north: scim_service.ScimClient) -> None:
    _new_user(north)
    # When Okta sends a path-less replace with a map of attributes
    scim_service.patch_user(
        north, "jones", _patch({"op": "replace", "value": {"active": False, "title": "Dean"}}), BASE
    )
    stored = staff_store.get_staff("jones")
    assert stored is not None and (stored.active, stored.title) == (False, "Dean")
    # When it PUTs the whole user: what is not sent is cleared, and active=true enables them
    user = scim_service.replace_user(
        north,
        "jones",
        {"schemas": [USER_SCHEMA], "userName": "jones", "name": {"familyName": "Jones"}, "active": True},
        BASE,
    )
    stored = staff_store.get_staff("jones")
    assert stored is not None and stored.active is True
    assert (stored.title, stored.first_name, stored.last_name, stored.email) == (None, None, "Jones", None)
    assert user.title is None and user.external_id is None


def test_username_never_changes(north: scim_service.ScimClient) -> None:
    _new_user(north)
    error = _scim_error(
        scim_service.patch_user, north, "jones", _patch({"op": "replace", "path": "userName", "value": "x"}), BASE
    )
    assert (error.status, error.scim_type) == (400, "mutability")
    put = {"schemas": [USER_SCHEMA], "userName": "other"}
    assert _scim_error(scim_service.replace_user, north, "jones", put, BASE).scim_type == "mutability"
    assert staff_store.get_staff("other") is None and staff_store.get_staff("jones") is not None


def test_a_bad_patch_changes_nothing(north: scim_service.ScimClient) -> None:
    _new_user(north)
    before = staff_store.get_staff("jones")
    for operations in (
        [{"op": "jump", "path": "title", "value": "x"}],
        [{"op": "remove"}],
        [{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "noSuchThing[", "value": 1}],
    ):
        with pytest.raises((SCIMException, ValueError)):
            scim_service.patch_user(north, "jones", _patch(*operations), BASE)
    assert staff_store.get_staff("jones") == before


def test_api_changes_win_over_what_the_client_sent(north: scim_service.ScimClient) -> None:
    # Given a user the client made, whose title an admin then changes through the API
    from intake import admin_service

    _new_user(north)
    admin = staff_store.get_staff("north")
    assert admin is not None
    admin_service.update_staff_record(admin, "jones", {"title": "Librarian"})
    # Then the client reads the record's title, and keeps the rest as it sent it
    user = scim_service.get_user(north, "jones", BASE)
    assert user.title == "Librarian" and user.display_name == "Professor Jones" and user.external_id == "ext-jones"


def test_delete_disables_keeps_the_record_and_the_trail_and_hides_it(north: scim_service.ScimClient) -> None:
    _new_user(north)
    # When the client deletes the user
    scim_service.delete_user(north, "jones")
    # Then the record stays, disabled, and so does the login; SCIM answers 404 for it from now on
    stored = staff_store.get_staff("jones")
    assert stored is not None and stored.active is False and _login("jones")["Enabled"] is False
    assert _scim_error(scim_service.get_user, north, "jones", BASE).status == 404
    assert scim_service.list_users(north, {"filter": 'userName eq "jones"'}, BASE)["totalResults"] == 0
    assert {"STAFF_INVITED", "STAFF_DISABLED"} <= set(_actions(f"agency:{AGENCY_A}"))
    # And the username stays taken
    assert _scim_error(_new_user, north, "jones").scim_type == "uniqueness"


# ------------------------------------------------------------------ groups


def test_groups_are_each_facility_and_role_of_the_agency(north: scim_service.ScimClient) -> None:
    listed = scim_service.list_groups(north, {}, BASE)
    # Then one per facility of agency A and role FacilityAdmin or Educator, members the grants' holders
    by_id = {g["id"]: g for g in listed["Resources"]}
    assert set(by_id) == {f"{f}.{r}" for f in (FAC_A1, FAC_A2) for r in ("FacilityAdmin", "Educator")}
    assert [m["value"] for m in by_id[f"{FAC_A1}.FacilityAdmin"]["members"]] == ["ridge"]
    assert [m["value"] for m in by_id[f"{FAC_A1}.Educator"]["members"]] == ["teacher"]
    # And a group is found by its displayName, and another agency's is not there
    found = scim_service.list_groups(north, {"filter": f'displayName eq "{FAC_A2} - Educator"'}, BASE)
    assert [g["id"] for g in found["Resources"]] == [f"{FAC_A2}.Educator"]
    for missing in (f"{FAC_B1}.Educator", f"{FAC_A1}.AgencyAdmin", f"{FAC_A1}.SystemAdmin", "nonsense"):
        assert _scim_error(scim_service.get_group, north, missing, BASE).status == 404


def test_membership_is_the_grant_in_entras_and_oktas_shapes(north: scim_service.ScimClient) -> None:
    _new_user(north)
    group = f"{FAC_A1}.FacilityAdmin"
    # When Entra adds the user to a group
    scim_service.patch_group(
        north, group, _patch({"op": "Add", "path": "members", "value": [{"value": "jones"}]}), BASE
    )
    # Then they hold that grant, audited
    assert _grants("jones") == [("FacilityAdmin", FAC_A1)]
    assert "STAFF_GRANT_ADDED" in _actions(FAC_A1)
    # When Okta adds them to another with a filter-less replace of its members... (PUT: the members sent)
    other = f"{FAC_A2}.Educator"
    scim_service.replace_group(
        north,
        other,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"{FAC_A2} - Educator",
            "members": [{"value": "jones"}],
        },
        BASE,
    )
    assert sorted(_grants("jones")) == [("Educator", FAC_A2), ("FacilityAdmin", FAC_A1)]
    # When Entra removes them with the value shape, and Okta with a path filter
    scim_service.patch_group(
        north, group, _patch({"op": "Remove", "path": "members", "value": [{"value": "jones"}]}), BASE
    )
    scim_service.patch_group(north, other, _patch({"op": "remove", "path": 'members[value eq "jones"]'}), BASE)
    # (and a replace of the members, as Okta sends it, takes the grant from whoever it leaves out)
    scim_service.patch_group(
        north, group, _patch({"op": "replace", "path": "members", "value": [{"value": "jones"}]}), BASE
    )
    assert _grants("jones") == [("FacilityAdmin", FAC_A1)] and _grants("ridge") == []  # ridge was left out
    scim_service.patch_group(north, group, _patch({"op": "replace", "path": "members", "value": []}), BASE)
    assert _grants("ridge") == []
    # Then the last grant goes too: the record covers nothing, and stays
    assert _grants("jones") == []
    assert staff_store.get_staff("jones") is not None
    assert "STAFF_GRANT_REMOVED" in _actions(FAC_A1)


def test_groups_never_take_users_the_client_cannot_see_nor_change_their_name(north: scim_service.ScimClient) -> None:
    group = f"{FAC_A1}.Educator"
    before = {name: staff_store.get_staff(name) for name in ("bay", "north", "sys")}
    for outsider in ("bay", "north", "sys", "nobody"):
        error = _scim_error(
            scim_service.patch_group,
            north,
            group,
            _patch({"op": "add", "path": "members", "value": [{"value": outsider}]}),
            BASE,
        )
        assert error.status == 400, outsider
    assert {name: staff_store.get_staff(name) for name in before} == before
    rename = _patch({"op": "replace", "path": "displayName", "value": "Admins"})
    assert _scim_error(scim_service.patch_group, north, group, rename, BASE).scim_type == "mutability"
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "New group"}
    assert _scim_error(scim_service.create_group, north, body, BASE).status == 403
    body["displayName"] = f"{FAC_A1} - Educator"
    assert _scim_error(scim_service.create_group, north, body, BASE).scim_type == "uniqueness"
    assert _scim_error(scim_service.delete_group, north, group).status == 403


# ------------------------------------------------------------------ the mass-deactivation guard


def _disable(client: scim_service.ScimClient, username: str) -> Any:
    return scim_service.patch_user(client, username, _patch({"op": "replace", "path": "active", "value": False}), BASE)


def test_past_ten_percent_in_an_hour_deactivations_are_held(
    north: scim_service.ScimClient, many: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 20 staff with grants in agency A (10 %: 2 an hour)
    # When the client disables 2, then a third in the same hour
    _disable(north, many[0])
    _disable(north, many[1])
    error = _scim_error(_disable, north, many[2])
    # Then the third is held: 409 saying how it is released, the staff member still active, the hold on the record
    assert error.status == 409 and "AgencyAdmin" in error.detail and f"/agencies/{AGENCY_A}/scim-holds" in error.detail
    held = staff_store.get_staff(many[2])
    assert held is not None and held.active is True
    assert scim_holds.record_of(held).hold is not None
    assert "SCIM_DEACTIVATION_HELD" in _actions(FAC_A2)
    # And a DELETE is held the same way
    assert _scim_error(scim_service.delete_user, north, many[3]).status == 409
    assert staff_store.get_staff(many[3]).active is True  # type: ignore[union-attr]
    # And a retry of a held deactivation stays held without being counted; a change of something else keeps the hold
    assert _scim_error(_disable, north, many[2]).status == 409
    scim_service.patch_user(north, many[2], _patch({"op": "replace", "path": "title", "value": "Tutor"}), BASE)
    retried = staff_store.get_staff(many[2])
    assert retried is not None and retried.active and retried.title == "Tutor"
    assert scim_holds.record_of(retried).hold is not None
    assert _actions(FAC_A2).count("SCIM_DEACTIVATION_HELD") == 2  # many[2] once, many[3] once
    # And a user without grants (no access to lose) is never held
    _new_user(north, "nogrant")
    assert _disable(north, "nogrant").active is False
    # When the next hour starts, the count starts again, but what is held stays held for an AgencyAdmin
    later = scim_service.utc_now() + timedelta(hours=1)
    monkeypatch.setattr(scim_service, "utc_now", lambda: later)
    assert _disable(north, many[4]).active is False
    assert _scim_error(_disable, north, many[2]).status == 409
    assert staff_store.get_staff(many[2]).active is True  # type: ignore[union-attr]


def test_an_exact_username_look_up_reads_one_record_not_the_table(north: scim_service.ScimClient) -> None:
    from intake.dal.tables import StaffItem

    # Given a user, and every Scan DynamoDB is sent counted
    _new_user(north)
    scans: list[str] = []
    client = StaffItem._get_connection().connection.client
    client.meta.events.register(
        "provide-client-params.dynamodb.Scan", lambda **kw: scans.append(str(kw["params"].get("TableName")))
    )
    # When Okta looks the user up by exact userName
    found = scim_service.list_users(north, {"filter": 'userName eq "jones"'}, BASE)
    # Then it is found from its one record: no table was scanned for it but the agency's facilities
    assert [u["id"] for u in found["Resources"]] == ["jones"]
    assert get_settings().staff_table not in scans
    # And another agency's record found that way is still not there; a look-up in another letter case reads all
    assert scim_service.list_users(north, {"filter": 'userName eq "bay"'}, BASE)["totalResults"] == 0
    assert scim_service.list_users(north, {"filter": 'userName eq "JONES"'}, BASE)["totalResults"] == 1
    assert get_settings().staff_table in scans
