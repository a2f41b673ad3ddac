"""The staff page's admin screens (issue 19) in headless Chromium against the local stack: Staff, Locations, Facility
settings and Audit. Each screen's main task runs end to end through the API, a refused action shows the API's error,
each screen is shown only to the roles that may use it, and axe-core finds nothing on any of them.

What a test creates is left so as not to change what other tests of the session stack see: the facility made here is
deleted at the end, and nothing changes a seeded facility's settings, names or units."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shots
from tests.browser.test_staff_page import fits_the_screen, password_of
from tests.e2e.conftest import cognito

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
AGENCY = "northern-doc"
AGENCY_ADMIN = "north-agency-admin"
CEDAR, RIVERBEND = "north-cedar-creek", "north-riverbend"
CEDAR_NAME, RIVERBEND_NAME = "Cedar Creek Correctional Center", "Riverbend Reentry Facility"
CEDAR_ADMIN, EDUCATOR, MIXED = "cedar-creek-admin", "cedar-creek-educator", "riverbend-admin-cedar-educator"
ADMIN_TASKS = ("Staff", "Locations", "Facility settings", "Audit")
AUDIT_PAGE = 25  # the page's page size (app.js AUDIT_PAGE)


def suffix() -> str:
    return secrets.token_hex(3)


def login_token(stack: Stack, username: str, password: str) -> str:
    result = cognito(stack).initiate_auth(
        ClientId=stack["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


class Api:
    """HTTP calls to the stack as one staff member (the checks of what the page did, and the test's own set-up)."""

    def __init__(self, stack: Stack, username: str, password: str | None = None) -> None:
        self.url = stack["apiUrl"]
        known = password or password_of(stack, username)
        self.headers = {"Authorization": f"Bearer {login_token(stack, username, known)}"}

    def call(self, method: str, path: str, body: Any = None, expected: int = 200) -> Any:
        response = requests.request(method, self.url + path, json=body, headers=self.headers, timeout=30)
        assert response.status_code == expected, (method, path, response.status_code, response.text)
        return response.json()

    def staff(self, username: str) -> dict[str, Any]:
        (member,) = [s for s in self.call("GET", f"/staff?q={username}")["staff"] if s["username"] == username]
        return dict(member)

    def locations(self) -> dict[str, dict[str, Any]]:
        return {f["facilityId"]: f for f in self.call("GET", f"/agencies/{AGENCY}/locations")["facilities"]}


def sign_in_as(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Facility", exact=True)).to_be_visible()


def open_task(page: Page, name: str) -> None:
    page.locator("nav.tasks").get_by_role("button", name=name, exact=True).click()


def visible_admin_tasks(page: Page) -> list[str]:
    nav = page.locator("nav.tasks")
    return [name for name in ADMIN_TASKS if nav.get_by_role("button", name=name, exact=True).is_visible()]


def delete_facility(api: Api, facility_id: str) -> None:
    """The facility and its housing units, gone (a test's own facility, never a seeded one)."""
    facility = api.locations().get(facility_id)
    if facility is None:
        return
    for unit in facility["housingUnits"]:
        api.call("POST", f"/locations/{unit['locationId']}/delete")
    api.call("POST", f"/locations/{facility_id}/delete")


@pytest.fixture
def own_facility(local_stack: Stack) -> Iterator[dict[str, str]]:
    """A facility of the northern agency with one housing unit, made for one test and deleted after it."""
    api = Api(local_stack, AGENCY_ADMIN)
    facility_id = f"browser-{suffix()}"
    name = f"Browser Test Facility {facility_id[-6:]}"
    api.call("POST", "/facilities", {"agencyId": AGENCY, "facilityId": facility_id, "name": name}, expected=201)
    unit = api.call("POST", f"/facilities/{facility_id}/housing-units", {"name": "Browser Unit"}, expected=201)
    try:
        yield {"facilityId": facility_id, "name": name, "unitId": unit["location"]["locationId"]}
    finally:
        delete_facility(api, facility_id)


def test_each_admin_screen_is_shown_only_where_the_role_may_use_it(new_page: Any, local_stack: Stack) -> None:
    # Given an Educator: none of the admin screens
    page = new_page()
    sign_in_as(page, EDUCATOR, password_of(local_stack, EDUCATOR))
    assert visible_admin_tasks(page) == []
    assert_accessible(page, "educator: no admin screens")

    # Given the FacilityAdmin of Riverbend who is an Educator at Cedar Creek (issue 19's mixed person)
    page = new_page()
    sign_in_as(page, MIXED, password_of(local_stack, MIXED))
    facility = page.get_by_label("Facility", exact=True)
    # Then at Cedar Creek (Educator) Staff and Locations only; at Riverbend (FacilityAdmin) settings and audit too
    facility.select_option(CEDAR)
    assert visible_admin_tasks(page) == ["Staff", "Locations"]
    facility.select_option(RIVERBEND)
    assert visible_admin_tasks(page) == list(ADMIN_TASKS)
    # And leaving Riverbend while its settings are open goes back to a screen the role may use
    open_task(page, "Facility settings")
    expect(page.get_by_role("heading", name="Facility settings")).to_be_visible()
    facility.select_option(CEDAR)
    expect(page.get_by_role("heading", name="Add a learner")).to_be_visible()
    expect(page.locator("#task-settings")).to_be_hidden()

    # And on Locations a FacilityAdmin sees their own facility, may add and change its housing units, but may not
    # add, rename or deactivate a facility (an AgencyAdmin's), and sees no other facility
    open_task(page, "Locations")
    blocks = page.locator(".location-block")
    expect(blocks).to_have_count(2)  # Riverbend (FacilityAdmin) and Cedar Creek (Educator: seen, not changed)
    riverbend = blocks.filter(has=page.get_by_role("heading", name=RIVERBEND_NAME))
    cedar = blocks.filter(has=page.get_by_role("heading", name=CEDAR_NAME))
    expect(riverbend.get_by_role("button", name="Add housing unit")).to_be_visible()
    expect(riverbend.get_by_role("button", name="Rename housing unit Riverbend East")).to_be_visible()
    expect(riverbend.get_by_role("button", name=f"Rename facility {RIVERBEND_NAME}")).to_have_count(0)
    expect(cedar.get_by_role("button")).to_have_count(0)
    expect(page.locator("#facility-add-form")).to_be_hidden()
    assert_accessible(page, "locations: a facility admin's")

    # Given the agency's AgencyAdmin: every admin screen at every facility of the agency
    page = new_page()
    sign_in_as(page, AGENCY_ADMIN, password_of(local_stack, AGENCY_ADMIN))
    for facility_id in (CEDAR, RIVERBEND):
        page.get_by_label("Facility", exact=True).select_option(facility_id)
        assert visible_admin_tasks(page) == list(ADMIN_TASKS)
    assert fits_the_screen(page)


def test_staff_add_one_with_a_temporary_password_then_change_roles_and_access(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    api = Api(local_stack, AGENCY_ADMIN)
    username = f"pjones-{suffix()}"
    # Given the agency's AgencyAdmin on the Staff screen
    page = new_page()
    sign_in_as(page, AGENCY_ADMIN, password_of(local_stack, AGENCY_ADMIN))
    open_task(page, "Staff")
    table = page.locator("#staff-table")
    expect(table.get_by_role("row").filter(has_text=CEDAR_ADMIN)).to_be_visible()
    shot(page, "staff-list")
    assert_accessible(page, "staff: list")

    # When they search by part of a username, the API's search answers (server-side, every word must match)
    page.get_by_label("Search staff").fill("riverbend")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#staff-status")).to_have_text("2 staff members match “riverbend”.")
    assert sorted(table.locator("tbody tr td:nth-child(2)").all_inner_texts()) == ["riverbend-admin", MIXED]

    # When they add a staff member: title, names, display names, email, a role at a facility
    page.get_by_role("button", name="Add a staff member").click()
    form = page.locator("#staff-add-form")
    expect(page.get_by_label("Sign-in username")).to_be_focused()
    form.get_by_label("Sign-in username").fill(username)
    form.get_by_label("Email").fill(f"{username}@northern.example")
    form.get_by_label("Title (optional)").fill("Professor")
    form.get_by_label("First name", exact=True).fill("Paula")
    form.get_by_label("Last name", exact=True).fill("Jones")
    form.get_by_label("Display first name (optional)").fill("Professor")
    form.get_by_label("Display last name (optional)").fill("Jones")
    form.get_by_label("Role").select_option("Educator")
    form.get_by_label("At the facility").select_option(RIVERBEND)
    assert_accessible(page, "staff: add form")
    form.get_by_role("button", name="Add staff member").click()

    # Then the temporary password is shown once, and the record holds what was typed and the grant
    expect(page.get_by_role("heading", name="Staff member added")).to_be_visible()
    temporary = page.locator("#staff-invited-password").inner_text()
    assert len(temporary) >= 12
    shot(page, "staff-added")
    assert_accessible(page, "staff: temporary password")
    stored = api.staff(username)
    assert (stored["title"], stored["firstName"], stored["lastName"]) == ("Professor", "Paula", "Jones")
    assert (stored["displayFirstName"], stored["displayLastName"]) == ("Professor", "Jones")
    assert stored["email"] == f"{username}@northern.example"
    assert stored["grants"] == [{"role": "Educator", "agencyId": AGENCY, "facilityId": RIVERBEND}]

    # When they open the record and add a role at another facility, then remove the first one
    page.get_by_role("button", name="Open their record").click()
    expect(page.locator("#staff-record-name")).to_have_text("Paula Jones")
    expect(page.locator("#staff-details")).to_contain_text("Professor Jones")
    page.locator("#grant-form").get_by_label("Role").select_option("FacilityAdmin")
    page.locator("#grant-form").get_by_label("At the facility").select_option(CEDAR)
    page.get_by_role("button", name="Add role").click()
    expect(page.locator("#staff-record-status")).to_have_text(f"Added: Facility admin at {CEDAR_NAME}.")
    assert {(g["role"], g["facilityId"]) for g in api.staff(username)["grants"]} == {
        ("Educator", RIVERBEND),
        ("FacilityAdmin", CEDAR),
    }
    shot(page, "staff-two-roles")
    assert_accessible(page, "staff: a record with two roles")
    page.get_by_role("button", name=f"Remove the role Educator at {RIVERBEND_NAME}").click()
    expect(page.locator("#staff-record-status")).to_have_text(f"Removed: Educator at {RIVERBEND_NAME}.")
    assert api.staff(username)["grants"] == [{"role": "FacilityAdmin", "agencyId": AGENCY, "facilityId": CEDAR}]

    # When they try to remove the last role: the API refuses, and the page shows its reason; nothing changed
    page.get_by_role("button", name=f"Remove the role Facility admin at {CEDAR_NAME}").click()
    expect(page.locator("#staff-record-error")).to_contain_text("last grant")
    expect(page.locator("#grants-table tbody tr")).to_have_count(1)
    assert api.staff(username)["grants"] == [{"role": "FacilityAdmin", "agencyId": AGENCY, "facilityId": CEDAR}]
    shot(page, "staff-refused")
    assert_accessible(page, "staff: a refused change")

    # When they disable the staff member: the record and the login are off; enabling turns both on again
    page.get_by_role("button", name="Disable access").click()
    expect(page.locator("#staff-record-status")).to_have_text(f"{username} is disabled: they can no longer sign in.")
    assert api.staff(username)["active"] is False
    user = cognito(local_stack).admin_get_user(UserPoolId=local_stack["userPoolId"], Username=username)
    assert user["Enabled"] is False
    page.get_by_role("button", name="Enable access").click()
    expect(page.locator("#staff-record-status")).to_contain_text("is enabled")
    assert api.staff(username)["active"] is True
    assert_accessible(page, "staff: enabled again")

    # And back on the list, a search by name and display name finds them, and the password is gone from the page
    page.get_by_role("button", name="Back to the list").click()
    page.get_by_label("Search staff").fill("paula professor")
    page.get_by_label("Search staff").press("Enter")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("Facility admin at " + CEDAR_NAME)
    assert temporary not in page.content()
    assert fits_the_screen(page)

    # And the newcomer signs in on the page with the temporary password, is asked for their own, and has Cedar Creek
    newcomer = new_page()
    newcomer.get_by_label("Username", exact=True).fill(username)
    newcomer.get_by_label("Password", exact=True).fill(temporary)
    newcomer.get_by_role("button", name="Sign in").click()
    expect(newcomer.locator("#new-password")).to_be_focused()
    assert_accessible(newcomer, "first sign-in: choose a password")
    own = f"Own-{secrets.token_hex(6)}-Pw1"
    newcomer.locator("#new-password").fill(own)
    newcomer.get_by_role("button", name="Save and sign in").click()
    expect(newcomer.get_by_label("Facility", exact=True)).to_have_value(CEDAR)
    assert visible_admin_tasks(newcomer) == list(ADMIN_TASKS)
    # And from then on the temporary password is refused and their own one signs in
    with pytest.raises(ClientError) as refused:
        login_token(local_stack, username, temporary)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert login_token(local_stack, username, own)


def test_staff_an_invite_the_api_refuses_shows_its_errors(new_page: Any, local_stack: Stack) -> None:
    # Given a FacilityAdmin on the add form
    page = new_page()
    sign_in_as(page, CEDAR_ADMIN, password_of(local_stack, CEDAR_ADMIN))
    open_task(page, "Staff")
    page.get_by_role("button", name="Add a staff member").click()
    form = page.locator("#staff-add-form")
    # Then they are offered no AgencyAdmin role (above their own) and only their own facility
    assert form.get_by_label("Role").locator("option").all_inner_texts() == ["Educator", "Facility admin"]
    assert form.get_by_label("At the facility").locator("option").all_inner_texts() == [CEDAR_NAME]
    # When the username is one already taken, and the email is not one
    form.get_by_label("Sign-in username").fill(EDUCATOR)
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_role("button", name="Add staff member").click()
    # Then the API's field error is beside the email
    expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#staff-add-email-error")).not_to_be_empty()
    assert_accessible(page, "staff: add form field error")
    # When the email is fixed: the taken username is refused as a conflict, shown as the API says it
    form.get_by_label("Email").fill("someone@northern.example")
    form.get_by_role("button", name="Add staff member").click()
    expect(page.locator("#staff-add-error")).not_to_be_empty()
    expect(page.get_by_role("heading", name="Staff member added")).to_be_hidden()
    assert_accessible(page, "staff: add refused")


def test_locations_add_rename_deactivate_and_reactivate(new_page: Any, local_stack: Stack, shot: Shots) -> None:
    api = Api(local_stack, AGENCY_ADMIN)
    facility_id = f"browser-loc-{suffix()}"
    name = f"Browser Locations {facility_id[-6:]}"
    page = new_page()
    sign_in_as(page, AGENCY_ADMIN, password_of(local_stack, AGENCY_ADMIN))
    try:
        # Given the AgencyAdmin on Locations: the agency's facilities with their housing units
        open_task(page, "Locations")
        expect(page.get_by_role("heading", name=CEDAR_NAME)).to_be_visible()
        expect(page.get_by_role("table", name=f"Housing units of {CEDAR_NAME}")).to_contain_text("Cedar Creek Unit A")
        shot(page, "locations")
        assert_accessible(page, "locations")

        # When they add a facility, with a chosen id
        page.get_by_label("Facility name").fill(name)
        page.get_by_label("Facility id (optional)").fill(facility_id)
        page.get_by_role("button", name="Add facility").click()
        expect(page.locator("#locations-status")).to_have_text(f"Facility {name} added.")
        block = page.locator(f'.location-block[data-facility-id="{facility_id}"]')
        expect(block.get_by_role("heading", name=name)).to_be_focused()
        # Then it exists, and the facility bar offers it at once
        assert api.locations()[facility_id]["active"] is True
        expect(page.get_by_label("Facility", exact=True).locator(f'option[value="{facility_id}"]')).to_have_count(1)

        # When they add a housing unit to it, then rename the unit
        block.get_by_label("New housing unit").fill("Unit Alpha")
        block.get_by_role("button", name="Add housing unit").click()
        expect(page.locator("#locations-status")).to_have_text(f"Housing unit Unit Alpha added to {name}.")
        (unit,) = api.locations()[facility_id]["housingUnits"]
        block.get_by_role("button", name="Rename housing unit Unit Alpha").click()
        expect(page.get_by_label("New name")).to_be_focused()
        assert_accessible(page, "locations: rename")
        page.get_by_label("New name").fill("Unit Alpha North")
        page.get_by_role("button", name="Save the name").click()
        expect(page.locator("#locations-status")).to_have_text("The housing unit Unit Alpha is now Unit Alpha North.")
        assert [u["name"] for u in api.locations()[facility_id]["housingUnits"]] == ["Unit Alpha North"]

        # When they deactivate the unit, then reactivate it
        block.get_by_role("button", name="Deactivate housing unit Unit Alpha North").click()
        row = block.locator(f'tr[data-location-id="{unit["locationId"]}"]')
        expect(row).to_contain_text("Deactivated")
        assert api.locations()[facility_id]["housingUnits"][0]["active"] is False
        block.get_by_role("button", name="Reactivate housing unit Unit Alpha North").click()
        expect(row).to_contain_text("Active")
        assert api.locations()[facility_id]["housingUnits"][0]["active"] is True

        # When they deactivate the facility: it and its units close, and it leaves the facility bar
        block.get_by_role("button", name=f"Deactivate facility {name}").click()
        expect(block.get_by_role("heading", name=f"{name} (deactivated)")).to_be_visible()
        stored = api.locations()[facility_id]
        assert stored["active"] is False and stored["housingUnits"][0]["active"] is False
        expect(page.get_by_label("Facility", exact=True).locator(f'option[value="{facility_id}"]')).to_have_count(0)
        shot(page, "locations-deactivated")

        # When they add a housing unit to the deactivated facility: refused, with the API's reason; nothing added
        block.get_by_label("New housing unit").fill("Unit Beta")
        block.get_by_role("button", name="Add housing unit").click()
        expect(page.locator("#locations-error")).to_contain_text("reactivate it before adding housing units")
        assert len(api.locations()[facility_id]["housingUnits"]) == 1
        assert_accessible(page, "locations: a refused change")

        # When they reactivate the facility, it is back in the facility bar
        block.get_by_role("button", name=f"Reactivate facility {name}").click()
        expect(block.get_by_role("heading", name=name, exact=True)).to_be_visible()
        expect(page.get_by_label("Facility", exact=True).locator(f'option[value="{facility_id}"]')).to_have_count(1)
        assert api.locations()[facility_id]["active"] is True
        assert fits_the_screen(page)
        assert_accessible(page, "locations: reactivated")
    finally:
        delete_facility(api, facility_id)


def test_facility_settings_show_every_setting_and_save_the_changed_ones(
    new_page: Any, local_stack: Stack, shot: Shots, own_facility: dict[str, str]
) -> None:
    api = Api(local_stack, AGENCY_ADMIN)
    settings_path = f"/facilities/{own_facility['facilityId']}/settings"
    # Given the AgencyAdmin on the settings of a facility that has none of its own yet
    page = new_page()
    sign_in_as(page, AGENCY_ADMIN, password_of(local_stack, AGENCY_ADMIN))
    page.get_by_label("Facility", exact=True).select_option(own_facility["facilityId"])
    open_task(page, "Facility settings")
    # Then each setting shows its default
    expect(page.get_by_label("On: the facility's learners can sign in")).to_be_checked()
    expect(page.get_by_label("This facility has its own password rule")).not_to_be_checked()
    expect(page.get_by_label("Shortest password (characters)")).to_be_hidden()
    expect(page.get_by_label("New learners (create; the default)")).to_be_checked()
    expect(page.get_by_label("Confirm drops by themselves")).not_to_be_checked()
    expect(page.get_by_label("Hold a sync that deactivates more than (percent)")).to_have_value("10")
    system = api.call("GET", settings_path)["settings"]
    expect(page.get_by_label("Most rows in one file")).to_have_value(str(system["systemMaxUploadRows"]))
    shot(page, "settings-defaults")
    assert_accessible(page, "settings: defaults")

    # When they give the facility a password rule with a guessable blank format: the API refuses it beside the field
    page.get_by_label("This facility has its own password rule").check()
    page.get_by_label("Shortest password (characters)").fill("14")
    page.get_by_label("an upper-case letter").check()
    page.get_by_label("a digit").check()
    page.get_by_label("Format of a password left blank (optional)").fill("{lastName}{docIdLast4}")
    page.get_by_role("button", name="Save settings").click()
    blank_format = page.get_by_label("Format of a password left blank (optional)")
    expect(blank_format).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#settings-blankFormat-error")).not_to_be_empty()
    assert api.call("GET", settings_path)["settings"]["passwordRule"] is None
    shot(page, "settings-refused")
    assert_accessible(page, "settings: a refused format")

    # When the format is fixed, learner sign-in turned off, drops made syncs that confirm themselves, the hold at 25%
    blank_format.fill("{lastName}-Z9{random:12}")
    page.get_by_label("Off: no learner of this facility can sign in").check()
    page.get_by_label("A sync of the whole roster").check()
    page.get_by_label("Confirm drops by themselves").check()
    page.get_by_label("Hold a sync that deactivates more than (percent)").fill("25")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-status")).to_contain_text(f"Saved for {own_facility['name']}")
    expect(blank_format).not_to_have_attribute("aria-invalid", "true")

    # Then the API holds exactly that, and the limits not touched are still the system's
    saved = api.call("GET", settings_path)["settings"]
    rule = {"minLength": 14, "requiredClasses": ["upper", "digit"], "blankFormat": "{lastName}-Z9{random:12}"}
    assert saved["passwordRule"] == rule
    assert (saved["learnerAccess"], saved["dropMode"], saved["autoConfirmDrops"]) == ("OFF", "sync", True)
    assert saved["maxSyncDeactivationPercent"] == 25
    assert (saved["maxUploadRows"], saved["maxUploadBytes"]) == (system["maxUploadRows"], system["maxUploadBytes"])
    assert fits_the_screen(page)
    shot(page, "settings-saved")
    assert_accessible(page, "settings: saved")

    # When the rule is turned off again and nothing else changes, only the rule is sent (null: no rule)
    page.get_by_label("This facility has its own password rule").uncheck()
    with page.expect_request(lambda r: r.url.endswith("/settings") and r.method == "POST") as sent:
        page.get_by_role("button", name="Save settings").click()
    assert sent.value.post_data_json == {"passwordRule": None}
    expect(page.locator("#settings-status")).to_contain_text("password rule")
    assert api.call("GET", settings_path)["settings"]["passwordRule"] is None


def test_audit_pages_by_next_and_filters_by_action(
    new_page: Any, local_stack: Stack, shot: Shots, own_facility: dict[str, str]
) -> None:
    api = Api(local_stack, AGENCY_ADMIN)
    unit = own_facility["unitId"]
    # Given a facility whose trail holds its creation, its unit's, and more renames than a page shows
    renames = AUDIT_PAGE + 5
    for n in range(renames):
        api.call("POST", f"/locations/{unit}/rename", {"name": f"Browser Unit {n}"})
    total = 2 + renames  # FACILITY_CREATED, HOUSING_UNIT_CREATED, the renames
    # When the AgencyAdmin opens its Audit screen
    page = new_page()
    sign_in_as(page, AGENCY_ADMIN, password_of(local_stack, AGENCY_ADMIN))
    page.get_by_label("Facility", exact=True).select_option(own_facility["facilityId"])
    open_task(page, "Audit")
    rows = page.locator("#audit-table tbody tr")
    # Then one page of the newest entries is shown, with a way to the older ones
    expect(rows).to_have_count(AUDIT_PAGE)
    expect(rows.first).to_contain_text(f"housing unit {unit}")
    expect(rows.first).to_contain_text("Location renamed")
    expect(page.locator("#audit-status")).to_contain_text("older ones follow")
    shot(page, "audit")
    assert_accessible(page, "audit")
    # When the older entries are asked for (the API's `next`), the whole trail is there, oldest last
    page.get_by_role("button", name="Show older entries").click()
    expect(rows).to_have_count(total)
    expect(rows.last).to_contain_text("Facility created")
    expect(page.get_by_role("button", name="Show older entries")).to_be_hidden()

    # When the trail is filtered by one action, only its entries are shown, paged the same way
    page.get_by_label("Action").select_option(label="Housing unit created")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Housing unit created")
    page.get_by_label("Action").select_option(label="Location renamed")
    expect(rows).to_have_count(AUDIT_PAGE)
    page.get_by_role("button", name="Show older entries").click()
    expect(rows).to_have_count(renames)
    assert set(page.locator("#audit-table tbody tr td:nth-child(3)").all_inner_texts()) == {"Location renamed"}
    expect(page.locator("#audit-caption")).to_contain_text("(Location renamed)")
    page.get_by_label("Action").select_option(label="Staff role removed")
    expect(page.locator("#audit-status")).to_have_text(f"No entries (Staff role removed) for {own_facility['name']}.")
    assert fits_the_screen(page)
    assert_accessible(page, "audit: filtered")


def test_a_facility_admin_demoted_meanwhile_sees_the_apis_refusal_on_settings_and_audit(
    new_page: Any, local_stack: Stack, own_facility: dict[str, str]
) -> None:
    api = Api(local_stack, AGENCY_ADMIN)
    facility_id = own_facility["facilityId"]
    # Given a FacilityAdmin of the facility, signed in with the Facility settings and Audit screens open
    username, password = f"fadmin-{suffix()}", f"Known-{secrets.token_hex(6)}-Pw1"
    invite = {"username": username, "role": "FacilityAdmin", "agencyId": AGENCY, "facilityIds": [facility_id]}
    api.call("POST", "/staff", invite, expected=201)
    cognito(local_stack).admin_set_user_password(
        UserPoolId=local_stack["userPoolId"], Username=username, Password=password, Permanent=True
    )
    page = new_page()
    sign_in_as(page, username, password)
    expect(page.get_by_label("Facility", exact=True)).to_have_value(facility_id)
    open_task(page, "Facility settings")
    expect(page.get_by_label("Hold a sync that deactivates more than (percent)")).to_have_value("10")

    # When the AgencyAdmin makes them an Educator there, and they save a change
    api.call("POST", f"/staff/{username}/scope", {"role": "Educator", "agencyId": AGENCY, "facilityIds": [facility_id]})
    page.get_by_label("Hold a sync that deactivates more than (percent)").fill("30")
    page.get_by_role("button", name="Save settings").click()
    # Then the API's refusal is shown, and the setting is unchanged
    expect(page.locator("#settings-error")).to_contain_text("does not have permission")
    assert api.call("GET", f"/facilities/{facility_id}/settings")["settings"]["maxSyncDeactivationPercent"] == 10
    assert_accessible(page, "settings: refused")

    # And the audit trail (open before the change) is refused too when they look again
    open_task(page, "Audit")
    expect(page.locator("#audit-error")).to_contain_text("does not have permission")
    expect(page.locator("#audit-table")).to_be_hidden()
    assert_accessible(page, "audit: refused")


def test_every_admin_screen_is_labelled_has_contrast_and_fits(new_page: Any, local_stack: Stack, shot: Shots) -> None:
    from tests.browser.test_staff_page import CONTRAST_SCRIPT, UNLABELLED_SCRIPT

    # Given a SystemAdmin (every screen, and the agency choice on Locations)
    page = new_page()
    sign_in_as(page, "sysadmin", password_of(local_stack, "sysadmin"))
    for task in ADMIN_TASKS:
        # When each admin screen is shown (and has loaded)
        open_task(page, task)
        expect(page.locator(".card:visible [role=status]").first).not_to_have_text("Loading", timeout=15_000)
        # Then every visible control has a label, text reaches WCAG AA contrast, and 1366×768 needs no sideways scroll
        assert page.evaluate(UNLABELLED_SCRIPT) == [], task
        selectors = ["body", "label", "button", ".hint", ".task", "th", "td", "a", "h1", "h2", "legend", "dt", "dd"]
        ratios = page.evaluate(CONTRAST_SCRIPT, selectors)
        assert ratios and all(ratio >= 4.5 for _, ratio in ratios), [r for r in ratios if r[1] < 4.5]
        assert fits_the_screen(page), task
        assert_accessible(page, task)
    # And on Locations the SystemAdmin chooses the agency: the other agency's facilities are listed
    open_task(page, "Locations")
    page.get_by_label("Agency", exact=True).select_option("southern-doc")
    expect(page.get_by_role("heading", name="Pine Woods Correctional Institution")).to_be_visible()
    expect(page.get_by_role("heading", name=CEDAR_NAME)).to_have_count(0)
    shot(page, "locations-other-agency")
    assert_accessible(page, "locations: another agency")
