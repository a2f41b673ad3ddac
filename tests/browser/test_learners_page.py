"""The staff page's Learners and Uploads tabs and the optional password of "Add a learner", in headless Chromium
against the local stack, with axe-core run on every screen they show."""

from __future__ import annotations

import csv
import io
import secrets
import string
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible, violations
from tests.browser.conftest import Shots
from tests.browser.test_staff_page import ADMIN, FACILITY, LONG, UNIT_A, UNIT_B, api_get, sign_in, unique_doc_id
from tests.e2e.conftest import stack_client, token

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
EDUCATOR = "cedar-creek-educator"


def letters(n: int = 8) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


def create_learner(stack: Stack, first: str, last: str, unit: str) -> dict[str, Any]:
    """A learner created over HTTP, as another staff member would."""
    body = {"docId": unique_doc_id("L"), "firstName": first, "lastName": last, "dateOfBirth": "04/05/1991"}
    response = requests.post(
        stack["apiUrl"] + "/learners",
        json={**body, "locationId": unit},
        headers={"Authorization": f"Bearer {token(stack, ADMIN)}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["learner"])


def roster_rows(page: Page) -> Any:
    return page.locator("#roster-table tbody tr")


def search(page: Page, text: str) -> None:
    page.get_by_label("Search", exact=True).fill(text)
    page.get_by_label("Search", exact=True).press("Enter")


def pdf_text(data: bytes) -> str | None:
    """The PDF's text when a PDF library is installed (the cards' own tests need one); None otherwise."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def test_axe_reports_a_planted_violation(new_page: Any, local_stack: Stack) -> None:
    # Given the sign-in screen with an input that has no label planted in it
    page = new_page()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.evaluate("document.getElementById('sign-in-form').append(document.createElement('input'))")

    # Then axe-core, as the tests inject it, reports it
    assert "label" in {v["id"] for v in violations(page)}


def test_learners_tab_search_filter_deactivate_reactivate_edit_reset_and_cards(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    # Given five learners of the facility who share an accented last name, in two housing units
    suffix = letters()
    last = "Núñez" + suffix
    made = {
        first: create_learner(local_stack, first, last, unit)
        for first, unit in (("Ana", UNIT_A), ("Bo", UNIT_A), ("Cy", UNIT_B), ("Di", UNIT_B), ("Ed", UNIT_B))
    }
    page = new_page()
    sign_in(page, local_stack, ADMIN)

    # When the Learners tab is opened and the name is searched without accents, in capitals
    page.get_by_role("button", name="Learners", exact=True).click()
    expect(page.locator("#roster-status")).to_contain_text("Showing", timeout=LONG)
    assert_accessible(page, "learners: list")
    search(page, "NUNEZ" + suffix.upper())

    # Then the five are listed, sorted by name as the API answers, with their usernames
    expect(roster_rows(page)).to_have_count(5)
    names = page.locator("#roster-table tbody tr td:nth-child(2)").all_inner_texts()
    assert names == [f"{last}, {first}" for first in ("Ana", "Bo", "Cy", "Di", "Ed")]
    expect(roster_rows(page).first).to_contain_text(made["Ana"]["username"])
    shot(page, "learners-search")
    assert_accessible(page, "learners: search results")

    # And a DOC ID prefix finds one of them
    search(page, made["Cy"]["docId"])
    expect(roster_rows(page)).to_have_count(1)
    search(page, "nunez" + suffix)

    # When filtered to one housing unit
    page.locator("#roster-form").get_by_label("Housing unit", exact=True).select_option(UNIT_A)
    expect(roster_rows(page)).to_have_count(2)
    page.locator("#roster-form").get_by_label("Housing unit", exact=True).select_option("")
    expect(roster_rows(page)).to_have_count(5)

    # When three are ticked and deactivated at once
    for first in ("Ana", "Bo", "Cy"):
        page.get_by_label(f"Select {first} {last}").check()
    expect(page.locator("#roster-selected")).to_have_text("3 selected")
    page.get_by_role("button", name="Deactivate", exact=True).click()

    # Then the page says so, and only the other two are still listed as active
    expect(page.locator("#roster-status")).to_have_text("3 learners deactivated.")
    expect(roster_rows(page)).to_have_count(2)
    assert page.locator("#roster-table tbody tr td:nth-child(2)").all_inner_texts() == [f"{last}, Di", f"{last}, Ed"]
    assert_accessible(page, "learners: deactivated")

    # And under Inactive the three are listed; one is reactivated
    page.get_by_label("Status", exact=True).select_option("INACTIVE")
    expect(roster_rows(page)).to_have_count(3)
    assert page.locator("#roster-table tbody tr td:nth-child(6)").all_inner_texts() == ["Inactive"] * 3
    shot(page, "learners-inactive")
    page.get_by_label(f"Select Bo {last}").check()
    page.get_by_role("button", name="Reactivate", exact=True).click()
    expect(page.locator("#roster-status")).to_have_text("1 learner reactivated.")
    expect(roster_rows(page)).to_have_count(2)
    learner = api_get(local_stack, ADMIN, f"/learners/{made['Bo']['learnerId']}")["learner"]
    assert learner["status"] == "ACTIVE"

    # When one learner is opened from the list (all statuses)
    page.get_by_label("Status", exact=True).select_option("ALL")
    expect(roster_rows(page)).to_have_count(5)
    page.get_by_role("button", name=f"{last}, Di").click()
    expect(page.get_by_role("heading", name=f"Di {last}")).to_be_visible()
    expect(page.locator("#history-table tbody")).to_contain_text("Created")
    assert_accessible(page, "learner: details")

    # And its last name is edited
    page.get_by_role("button", name="Edit", exact=True).click()
    edit = page.locator("#edit-form")
    expect(edit.get_by_label("Last name")).to_have_value(last)
    assert_accessible(page, "learner: edit")
    edit.get_by_label("Last name").fill("Nuñes" + suffix)
    edit.get_by_role("button", name="Save changes").click()

    # Then the new name shows, and the history has the edit with the field it changed
    expect(page.get_by_role("heading", name=f"Di Nuñes{suffix}")).to_be_visible()
    expect(page.locator("#learner-status")).to_have_text("Saved: last name.")
    edited = page.locator("#history-table tbody tr").filter(has_text="Edited")
    expect(edited).to_contain_text("last name")
    expect(edited).to_contain_text(ADMIN)
    shot(page, "learner-edited")

    # When its password is reset with none given, a new one is shown once
    page.get_by_role("button", name="Reset password", exact=True).click()
    assert_accessible(page, "learner: reset password")
    page.locator("#password-form").get_by_role("button", name="Reset password").click()
    new_password = page.locator("#password-slip .password")
    expect(new_password).to_be_visible()
    assert len(new_password.inner_text()) >= 12
    expect(page.locator("#history-table tbody")).to_contain_text("Password reset")
    assert_accessible(page, "learner: new password")
    shot(page, "learner-password")

    # When the three active learners are ticked for "Reset passwords and print cards" and it is confirmed
    page.get_by_role("button", name="Back to the list").click()
    for label in (f"Bo {last}", f"Di Nuñes{suffix}", f"Ed {last}"):
        page.get_by_label(f"Select {label}", exact=True).check()
    page.get_by_role("button", name="Reset passwords and print cards").click()
    expect(page.locator("#reset-confirm")).to_contain_text("3 selected learners")
    assert_accessible(page, "learners: confirm reset and cards")
    with page.expect_download() as reset_info:
        page.get_by_role("button", name="Reset the passwords and download the cards").click()

    # Then a PDF of their cards downloads, with each username on it
    data = Path(reset_info.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    if text is not None:
        for first in ("Bo", "Di", "Ed"):
            assert made[first]["username"] in text
    expect(page.locator("#roster-status")).to_contain_text("3 cards downloaded, with new passwords")

    # And "Print cards" (no reset) downloads a PDF too
    with page.expect_download() as cards_info:
        page.get_by_role("button", name="Print cards", exact=True).click()
    assert Path(cards_info.value.path()).read_bytes().startswith(b"%PDF")
    shot(page, "learners-cards")


def test_an_educator_reads_the_list_but_is_refused_a_deactivation(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    # Given a learner of the facility, and its educator signed in on the Learners tab
    suffix = letters()
    create_learner(local_stack, "Eve", "Okoro" + suffix, UNIT_A)
    page = new_page()
    sign_in(page, local_stack, EDUCATOR)
    page.get_by_role("button", name="Learners", exact=True).click()
    search(page, "okoro" + suffix)
    expect(roster_rows(page)).to_have_count(1)

    # When they try to deactivate the learner
    page.get_by_label(f"Select Eve Okoro{suffix}").check()
    page.get_by_role("button", name="Deactivate", exact=True).click()

    # Then the page says nothing was changed, and the learner is still listed as active
    expect(page.get_by_role("alert").filter(has_text="Nothing was changed")).to_be_visible()
    expect(roster_rows(page)).to_have_count(1)
    assert_accessible(page, "learners: refused")
    shot(page, "educator-refused")


def drop_file(stack: Stack, doc_ids: list[str]) -> str:
    """A CSV put under the facility's incoming/ prefix, as its SFTP drop does; its file name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId"])
    for index, doc_id in enumerate(doc_ids):
        writer.writerow([f"d{index}", doc_id, "Femi", "Adeyemi" + "ab"[index], "02/03/1989", "Learner", "", UNIT_A])
    name = f"nightly-{letters()}.csv"
    stack_client(stack, "s3").put_object(
        Bucket=stack["uploadsBucket"], Key=f"incoming/{FACILITY}/{name}", Body=out.getvalue().encode("utf-8")
    )
    return name


def test_uploads_tab_lists_a_drop_awaiting_confirmation_and_confirms_it(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    # Given a file dropped into the facility's folder (drops wait for a person to confirm them)
    doc_ids = [unique_doc_id("D") + str(n) for n in range(2)]
    name = drop_file(local_stack, doc_ids)
    page = new_page()
    sign_in(page, local_stack, ADMIN)

    # When the Uploads tab is opened (and refreshed until the drop is checked)
    page.get_by_role("button", name="Uploads", exact=True).click()
    row = page.locator("#uploads-table tbody tr").filter(has_text=name)
    deadline = time.monotonic() + LONG / 1000
    while "Awaiting confirmation" not in (row.inner_text() if row.count() else ""):
        assert time.monotonic() < deadline, "the drop never showed as awaiting confirmation"
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Refresh the list").click()
        expect(page.locator("#uploads-status")).not_to_have_text("Loading uploads…")

    # Then it is listed as a drop awaiting confirmation, with its counts
    cells = row.locator("td").all_inner_texts()
    assert cells[1:6] == ["Drop folder", "Awaiting confirmation", "2", "2", "0"]
    expect(page.locator("#uploads-status")).to_contain_text("awaiting confirmation")
    shot(page, "uploads-list")
    assert_accessible(page, "uploads: list")

    # When it is opened, it shows the check and confirm steps, and is confirmed
    row.get_by_role("button", name="Open").click()
    expect(page.locator("#opened-upload")).to_contain_text(name)
    expect(page.locator("#bulk-status")).to_contain_text("Every row is ready")
    expect(page.locator("#upload-form")).to_be_hidden()
    assert_accessible(page, "uploads: opened drop")
    shot(page, "uploads-opened")
    page.get_by_role("button", name="Create 2 learners").click()

    # Then its learners are created, and back on the list it is completed
    expect(page.locator("#done-summary")).to_have_text("2 learners created.", timeout=LONG)
    assert_accessible(page, "uploads: confirmed drop")
    page.get_by_role("button", name="Back to the uploads").click()
    expect(row).to_contain_text("Completed")
    assert api_get(local_stack, ADMIN, f"/learners?docId={doc_ids[1]}")["learners"]
    shot(page, "uploads-completed")


def test_add_a_learner_with_a_password_of_ones_own(new_page: Any, local_stack: Stack, shot: Shots) -> None:
    # Given a signed-in facility admin on "Add a learner"
    page = new_page()
    sign_in(page, local_stack, ADMIN)
    form = page.locator("#task-add")
    doc_id = unique_doc_id("P")
    form.get_by_label("DOC ID").fill(doc_id)
    form.get_by_label("First name").fill("Tomás")
    form.get_by_label("Last name").fill("Reyes")
    form.get_by_label("Date of birth").fill("07/08/1985")
    form.get_by_label("Housing unit").select_option(UNIT_B)

    # When a password too short is given, the password field says what to fix
    form.get_by_label("Password (optional)").fill("short")
    form.get_by_role("button", name="Create learner").click()
    expect(form.get_by_label("Password (optional)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#add-password-error")).not_to_be_empty()
    assert_accessible(page, "add a learner: password error")

    # And with a good one the learner is created with it: no password is generated or shown
    form.get_by_label("Password (optional)").fill("Cedar-Creek-2026!")
    form.get_by_role("button", name="Create learner").click()
    expect(page.get_by_role("heading", name="Learner created")).to_be_visible()
    expect(page.locator("#add-result-text")).to_have_text("The learner signs in with the password you entered.")
    expect(page.locator("#add-slip .password")).to_have_count(0)
    expect(form.get_by_label("Password (optional)")).to_have_value("")
    assert_accessible(page, "add a learner: created with a given password")
    shot(page, "added-own-password")
    assert [x["firstName"] for x in api_get(local_stack, ADMIN, f"/learners?docId={doc_id}")["learners"]] == ["Tomás"]
