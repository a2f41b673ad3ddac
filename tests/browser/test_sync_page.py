"""The staff page's roster sync (issue 17) in headless Chromium: the plan by action, the hold's second yes, undo."""

from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shots
from tests.browser.test_staff_page import LONG, fits_the_screen, sign_in, upload
from tests.e2e.conftest import token

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
ADMIN = "riverbend-admin"
FACILITY = "north-riverbend"
EAST, WEST = "north-riverbend-east", "north-riverbend-west"
HEADER = ["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId"]
NEW = 10  # learners the first sync creates
KEPT = 2  # of them, on the second file: 8 missing of 10 + the facility's own is far above 10%


def call(stack: Stack, method: str, path: str) -> Any:
    response = requests.request(
        method, stack["apiUrl"] + path, headers={"Authorization": f"Bearer {token(stack, ADMIN)}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def active_learners(stack: Stack) -> dict[str, dict[str, Any]]:
    page = call(stack, "GET", f"/facilities/{FACILITY}/learners?status=ACTIVE&limit=200")
    assert not page.get("nextCursor")
    return {learner["docId"]: learner for learner in page["learners"]}


def roster_file(path: Path, learners: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(learners)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def row(doc_id: str, first: str, last: str, born: str, location_id: str) -> dict[str, str]:
    return {
        "requestId": "",
        "docID": doc_id,
        "firstName": first,
        "lastName": last,
        "dateOfBirth": born,
        "role": "Learner",
        "password": "",
        "locationId": location_id,
    }


def planned(page: Page, action: str) -> str:
    """The Planned cell of one action's row of the plan table."""
    return page.locator(f'#plan-table tr[data-action="{action}"] td').first.inner_text()


def test_a_held_sync_needs_a_second_yes_and_its_deactivations_can_be_undone(
    new_page: Any, local_stack: Stack, shot: Shots, tmp_path: Path
) -> None:
    # Given a facility admin on the bulk upload task, and the facility's active learners as stored
    own = [
        row(x["docId"], x["firstName"], x["lastName"], x["dateOfBirth"], x["locationId"])
        for x in active_learners(local_stack).values()
    ]
    stem = f"RS{secrets.randbelow(10**6):06d}"
    new = [
        row(f"{stem}{n:02d}", "Iris", f"Vance{chr(65 + n)}", f"04/0{n % 9 + 1}/1990", EAST if n % 2 else WEST)
        for n in range(NEW)
    ]
    page = new_page()
    sign_in(page, local_stack, ADMIN)
    page.get_by_role("button", name="Bulk upload").click()

    # When the whole roster (its own learners and ten new ones) is uploaded in sync mode and applied
    page.get_by_label("The facility's whole roster (sync)").check()
    upload(page, roster_file(tmp_path / "roster-1.csv", own + new))
    expect(page.locator("#bulk-status")).to_contain_text("Every row is ready", timeout=LONG)
    # Then the plan shows each action's count, the mode and a link to plan.csv
    expect(page.locator("#plan-mode")).to_contain_text("Mode: sync")
    assert (planned(page, "Create"), planned(page, "Unchanged"), planned(page, "Deactivate")) == (
        str(NEW),
        str(len(own)),
        "0",
    )
    expect(page.get_by_role("link", name="Download the plan (plan.csv)")).to_be_visible()
    shot(page, "sync-plan")
    assert_accessible(page, "sync: the plan")
    page.get_by_role("button", name=f"Apply the roster: create {NEW}").click()
    expect(page.locator("#creation-text")).to_contain_text(f"{NEW} learners created", timeout=LONG)

    # When the next roster leaves out all but two of the new learners
    expect(page.get_by_label("The facility's whole roster (sync)")).to_be_checked()
    upload(page, roster_file(tmp_path / "roster-2.csv", own + new[:KEPT]))
    expect(page.locator("#bulk-status")).to_contain_text("Every row is ready", timeout=LONG)

    # Then the page shows the hold: the number in red with its message, and Confirm waits for a second yes
    missing = NEW - KEPT
    expect(page.locator("#hold-count")).to_contain_text(f"{missing} learners would be deactivated")
    expect(page.locator("#hold-message")).not_to_be_empty()
    colour = page.locator("#hold-count").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(160, 24, 28)", colour  # --error
    assert planned(page, "Deactivate") == str(missing)
    confirm = page.locator("#confirm-button")
    expect(confirm).to_be_disabled()
    shot(page, "sync-hold")
    assert_accessible(page, "sync: held")
    # When the staff member ticks the explicit yes and confirms
    page.get_by_label(f"Yes, deactivate these {missing} learners").check()
    expect(page.get_by_role("button", name=f"Deactivate {missing} learners and apply the roster")).to_be_enabled()
    with page.expect_request(lambda r: r.url.endswith("/confirm") and r.method == "POST") as sent:
        confirm.click()
    # Then the confirm carried allowMassDeactivation, and the learners left out are deactivated
    assert sent.value.post_data_json.get("allowMassDeactivation") is True
    expect(page.locator("#creation-text")).to_contain_text(f"{missing} deactivated", timeout=LONG)
    left = set(active_learners(local_stack))
    assert {r["docID"] for r in new[KEPT:]}.isdisjoint(left)
    assert {r["docID"] for r in own + new[:KEPT]} <= left
    expect(page.locator('#plan-table tr[data-action="Deactivate"] td').nth(1)).to_have_text(str(missing))
    expect(page.get_by_role("button", name="Undo deactivations")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, "sync-applied")
    assert_accessible(page, "sync: applied, undo offered")

    # When they undo the deactivations
    page.get_by_role("button", name="Undo deactivations").click()
    # Then the page shows the answer's counts and every one of them is active again
    expect(page.locator("#undo-status")).to_have_text(f"Undone: {missing} learners reactivated.", timeout=LONG)
    assert {r["docID"] for r in own + new} <= set(active_learners(local_stack))
    shot(page, "sync-undone")
    assert_accessible(page, "sync: undone")
