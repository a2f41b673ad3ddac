"""The staff page in headless Chromium against the local stack: sign in, add, find and move, bulk upload to slips."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import ARTIFACTS, Shots
from tests.e2e.conftest import token

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
ADMIN = "cedar-creek-admin"
RECEIVING_ADMIN = "riverbend-admin"
FACILITY = "north-cedar-creek"
UNIT_A, UNIT_B = "north-cedar-creek-unit-a", "north-cedar-creek-unit-b"
BULK_ROWS = 20
BAD_DATE_ROW, BLANK_NAME_ROW = 4, 11  # 0-based rows: spreadsheet lines 6 and 13
FIRST_NAMES = ["Ada", "Ben", "Cleo", "Dara", "Eli", "Faye", "Gus", "Hana", "Ivo", "Jude"]
FIRST_NAMES += ["Kai", "Lena", "Milo", "Nia", "Otto", "Pia", "Quin", "Rosa", "Sami", "Tess"]
LONG = 60_000  # ms: validation and creation run through the stack's SQS pollers


def password_of(stack: Stack, username: str) -> str:
    return str(next(s["password"] for s in stack["staff"] if s["username"] == username))


def sign_in(page: Page, stack: Stack, username: str) -> None:
    """Sign in with the keyboard only, as a staff member would."""
    expect(page.get_by_label("Username", exact=True)).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password_of(stack, username))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Facility", exact=True)).to_be_visible()


def unique_doc_id(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**12}"


def api_get(stack: Stack, username: str, path: str) -> Any:
    response = requests.get(
        stack["apiUrl"] + path, headers={"Authorization": f"Bearer {token(stack, username)}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_sign_in_add_a_learner_print_the_slip_then_move_them(new_page: Any, local_stack: Stack, shot: Shots) -> None:
    # Given the page of the local stack, signed out
    page = new_page()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "sign-in")
    assert_accessible(page, "sign-in")

    # When a wrong password is tried, then the right one (keyboard only)
    page.get_by_label("Username", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="username or password is not right")).to_be_visible()
    assert_accessible(page, "sign-in error")
    page.get_by_label("Username", exact=True).fill("")
    page.get_by_label("Username", exact=True).focus()
    sign_in(page, local_stack, ADMIN)

    # Then the staff member's facility is chosen and its housing units are offered
    expect(page.get_by_text(f"Signed in as {ADMIN}")).to_be_visible()
    expect(page.get_by_label("Facility", exact=True)).to_have_value(FACILITY)
    shot(page, "signed-in")

    # When a learner is added with a date the API rejects, the field says what to fix
    doc_id = unique_doc_id("W")
    form = page.locator("#task-add")
    form.get_by_label("DOC ID").fill(doc_id)
    form.get_by_label("First name").fill("Marcus")
    form.get_by_label("Last name").fill("Hill")
    form.get_by_label("Date of birth").fill("14/03/1988")
    form.get_by_label("Housing unit").select_option(UNIT_A)
    form.get_by_role("button", name="Create learner").click()
    expect(form.get_by_label("Date of birth")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#add-dateOfBirth-error")).not_to_be_empty()
    shot(page, "add-field-error")
    assert_accessible(page, "add a learner: field error")

    # And once fixed, the learner is created and the generated password is shown once, big, with a print button
    form.get_by_label("Date of birth").fill("03/14/1988")
    form.get_by_role("button", name="Create learner").click()
    expect(page.get_by_role("heading", name="Learner created")).to_be_visible()
    password = page.locator("#add-slip .password").inner_text()
    assert len(password) >= 12
    font_px = float(page.locator("#add-slip .password").evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert font_px >= 24
    shot(page, "added-password")
    assert_accessible(page, "add a learner: generated password")
    page.get_by_role("button", name="Print this slip").click()
    assert page.evaluate("window.__printed") == [1]
    page.emulate_media(media="print")
    expect(page.locator("#print-area .password")).to_have_text(password)
    expect(page.locator("#app-view")).to_be_hidden()
    shot(page, "added-slip-print")
    page.emulate_media(media="screen")
    found = api_get(local_stack, ADMIN, f"/learners?docId={doc_id}")["learners"]
    assert [(x["firstName"], x["locationId"]) for x in found] == [("Marcus", UNIT_A)]

    # When the receiving facility's admin finds the learner by DOC ID and moves them to one of their units
    receiving = new_page()
    sign_in(receiving, local_stack, RECEIVING_ADMIN)
    receiving.get_by_role("button", name="Find and move a learner").click()
    receiving.locator("#task-find").get_by_label("DOC ID").fill(doc_id)
    receiving.get_by_role("button", name="Find", exact=True).click()
    row = receiving.get_by_role("row").filter(has_text=doc_id)
    expect(row).to_contain_text(FACILITY)  # outside the receiving scope: ids, not names
    shot(receiving, "found")
    assert_accessible(receiving, "find and move: found")
    row.get_by_label("Move Marcus Hill to").select_option("north-riverbend-east")
    row.get_by_role("button", name="Move").click()

    # Then the page says where they went, and the API agrees (same learner, new place)
    expect(receiving.get_by_role("status").filter(has_text="moved to Riverbend Reentry Facility")).to_be_visible()
    shot(receiving, "moved")
    assert_accessible(receiving, "find and move: moved")
    moved = api_get(local_stack, RECEIVING_ADMIN, f"/learners?docId={doc_id}")["learners"]
    assert [(x["learnerId"], x["locationId"]) for x in moved] == [(found[0]["learnerId"], "north-riverbend-east")]
    assert fits_the_screen(receiving)


def roster(header: list[str], doc_ids: list[str], broken: bool) -> bytes:
    """A filled-in template of BULK_ROWS learners; with `broken`, two rows carry mistakes."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for index, doc_id in enumerate(doc_ids):
        row = {
            "requestId": f"r{index + 1}",
            "docID": doc_id,
            "firstName": FIRST_NAMES[index],
            "lastName": "Okafor",
            "dateOfBirth": f"0{1 + index % 9}/1{index % 9}/1990",
            "role": "Learner",
            "password": "",
            "locationId": UNIT_A if index % 2 else UNIT_B,
        }
        if broken and index == BAD_DATE_ROW:
            row["dateOfBirth"] = "31/02/1990"
        if broken and index == BLANK_NAME_ROW:
            row["lastName"] = ""
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def upload(page: Page, path: Path) -> None:
    page.get_by_label("CSV or Excel file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#upload-percent")).to_have_text("100%")


def test_bulk_upload_with_two_errors_fix_confirm_and_print_credentials(
    new_page: Any, local_stack: Stack, shot: Shots, tmp_path: Path
) -> None:
    # Given a signed-in facility admin on the bulk upload task
    page = new_page()
    sign_in(page, local_stack, ADMIN)
    page.get_by_role("button", name="Bulk upload").click()
    shot(page, "bulk-start")
    assert_accessible(page, "bulk upload: start")

    # When the template is downloaded and filled in with 20 learners, two of them with mistakes
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the template").click()
    template = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(template)))
    assert header == ["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId"]
    stem = unique_doc_id("B")
    doc_ids = [f"{stem}{n:02d}" for n in range(BULK_ROWS)]
    broken = tmp_path / "roster.csv"
    broken.write_bytes(roster(header, doc_ids, broken=True))
    upload(page, broken)

    # Then the page lists exactly the two rows to fix: line, field and what to fix
    expect(page.locator("#bulk-status")).to_contain_text("Some rows need fixing", timeout=LONG)
    rows = page.locator("#errors-table tbody tr")
    expect(rows).to_have_count(2)
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(2)]
    assert [(c[0], c[1], c[2]) for c in cells] == [
        (str(BAD_DATE_ROW + 2), doc_ids[BAD_DATE_ROW], "dateOfBirth"),
        (str(BLANK_NAME_ROW + 2), doc_ids[BLANK_NAME_ROW], "lastName"),
    ]
    assert all(c[3] for c in cells)
    # And confirming needs the explicit choice to skip them
    expect(page.get_by_role("button", name="Fix the file, or tick")).to_be_disabled()
    page.get_by_label("Skip the 2 rows with errors").check()
    expect(page.get_by_role("button", name="Create 18 learners")).to_be_enabled()
    with page.expect_download() as report_info:
        page.get_by_role("link", name="Download the error report").click()
    report = Path(report_info.value.path()).read_text(encoding="utf-8-sig")
    assert doc_ids[BAD_DATE_ROW] in report and doc_ids[BLANK_NAME_ROW] in report
    assert fits_the_screen(page)
    shot(page, "errors")
    assert_accessible(page, "bulk upload: rows to fix")

    # When the file is fixed and uploaded again
    fixed = tmp_path / "roster-fixed.csv"
    fixed.write_bytes(roster(header, doc_ids, broken=False))
    upload(page, fixed)
    expect(page.locator("#bulk-status")).to_contain_text("Every row is ready", timeout=LONG)
    expect(page.locator("#errors-table")).to_be_hidden()
    shot(page, "fixed")
    assert_accessible(page, "bulk upload: ready to confirm")

    # And confirmed
    page.get_by_role("button", name=f"Create {BULK_ROWS} learners").click()
    expect(page.locator("#done-summary")).to_have_text(f"{BULK_ROWS} learners created.", timeout=LONG)
    expect(page.locator("#creation-bar")).to_have_attribute("value", "100")
    shot(page, "created")
    assert_accessible(page, "bulk upload: created")

    # Then one credential slip per new learner is printed
    page.get_by_role("button", name="Print credential slips").click()
    expect(page.locator("#slips-preview .slip")).to_have_count(BULK_ROWS)
    assert_accessible(page, "bulk upload: slips")
    assert page.evaluate("window.__printed") == [BULK_ROWS]
    printed = page.locator("#print-area .slip")
    slip_docs = [printed.nth(i).locator("dd").nth(1).inner_text() for i in range(BULK_ROWS)]
    assert sorted(slip_docs) == doc_ids
    passwords = printed.locator(".password").all_inner_texts()
    assert len(set(passwords)) == BULK_ROWS and all(len(p) >= 12 for p in passwords)
    page.emulate_media(media="print")
    expect(page.locator("#app-view")).to_be_hidden()
    shot(page, "slips-print")
    page.pdf(path=str(ARTIFACTS / "bulk-credential-slips.pdf"), format="Letter")
    page.emulate_media(media="screen")

    # And the credentials file downloads too, with the same passwords
    with page.expect_download() as results_info:
        page.get_by_role("button", name="Download credentials (CSV)").click()
    results = list(csv.DictReader(io.StringIO(Path(results_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert sorted(r["password"] for r in results) == sorted(passwords)
    assert {r["outcome"] for r in results} == {"CREATED"}
    # And the learners exist
    assert api_get(local_stack, ADMIN, f"/learners?docId={doc_ids[BAD_DATE_ROW]}")["learners"]


def test_api_docs_render_from_local_files_only_and_try_calls_with_the_page_token(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    # Given a staff member signed in on the page
    page = new_page()
    sign_in(page, local_stack, ADMIN)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    # When the API docs are opened from it
    page.get_by_role("link", name="API docs").click()

    # Then Swagger UI renders the API's own routes, and nothing came from outside the stack
    confirm_route = page.locator(".opblock-summary-path").filter(has_text="/uploads/{uploadId}/confirm")
    expect(confirm_route).to_be_visible(timeout=LONG)
    allowed = {urlsplit(local_stack["apiUrl"]).netloc, urlsplit(local_stack["awsEndpoint"]).netloc}
    assert requested and {urlsplit(url).netloc for url in requested} <= allowed
    shot(page, "api-docs")

    # And "Try it out" on GET /facilities answers 200 with the signed-in staff member's facility
    facilities = page.locator(".opblock.opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/facilities"]')
    )
    facilities.locator(".opblock-summary").click()
    facilities.get_by_role("button", name="Try it out").click()
    facilities.get_by_role("button", name="Execute").click()
    expect(facilities.locator(".live-responses-table .response-col_status:not(.col_header)").first).to_have_text(
        "200", timeout=LONG
    )
    expect(facilities.locator(".live-responses-table .microlight").first).to_contain_text(FACILITY)
    shot(page, "api-docs-try-it")


CONTRAST_SCRIPT = """
(selectors) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const [r, g, b] = c.slice(0, 3).map(channel);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.offsetParent) continue;
      const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))].sort((x, y) => y - x);
      out.push([selector, (a + 0.05) / (b + 0.05)]);
    }
  }
  return out;
}
"""
UNLABELLED_SCRIPT = """
() => Array.from(document.querySelectorAll('input, select, button'))
  .filter((el) => el.offsetParent && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.id || el.outerHTML.slice(0, 60))
"""


def test_every_control_is_labelled_and_text_has_contrast(new_page: Any, local_stack: Stack, shot: Shots) -> None:
    # Given a signed-in staff member
    page = new_page()
    sign_in(page, local_stack, ADMIN)
    for task in ("Add a learner", "Find and move a learner", "Learners", "Bulk upload", "Uploads"):
        # When each task is shown
        page.get_by_role("button", name=task, exact=True).click()
        # Then every visible control has a label, text reaches WCAG AA contrast, and 1366×768 needs no sideways scroll
        assert page.evaluate(UNLABELLED_SCRIPT) == []
        ratios = page.evaluate(CONTRAST_SCRIPT, ["body", "label", "button", ".hint", ".task", "th", "a", "h1", "h2"])
        assert ratios and all(ratio >= 4.5 for _, ratio in ratios), [r for r in ratios if r[1] < 4.5]
        assert fits_the_screen(page)
        assert_accessible(page, task)
    # And the keyboard reaches the task buttons and shows where focus is
    page.get_by_label("Facility", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add a learner")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    shot(page, "keyboard-focus", full_page=False)


def test_the_page_library_signs_in_with_srp_as_the_deployed_client_does(
    new_page: Any, local_stack: Stack, shot: Shots
) -> None:
    # Given the page of the local stack, with its sign-in library loaded under the page's Content-Security-Policy
    page = new_page()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # When the library signs in with SRP (the deployed client's only flow) against the stack's user pool
    result = page.evaluate(
        """([username, password]) => fetch("client-config").then((r) => r.json()).then((config) =>
          new Promise((resolve) => {
            const sdk = window.AmazonCognitoIdentity;
            const pool = new sdk.CognitoUserPool({
              UserPoolId: config.userPoolId, ClientId: config.userPoolClientId, endpoint: config.cognitoEndpoint,
              Storage: window.sessionStorage,
            });
            const user = new sdk.CognitoUser({ Username: username, Pool: pool, Storage: window.sessionStorage });
            user.setAuthenticationFlowType("USER_SRP_AUTH");
            const details = new sdk.AuthenticationDetails({ Username: username, Password: password });
            user.authenticateUser(details, {
              onSuccess: (session) => resolve({ idToken: session.getIdToken().getJwtToken() }),
              onFailure: (error) => resolve({ error: String(error.code || error.message) }),
            });
          }))""",
        [ADMIN, password_of(local_stack, ADMIN)],
    )

    # Then it gets an ID token the API accepts (the SRP exchange ran in the browser; no password was sent)
    assert "idToken" in result, result
    response = requests.get(
        local_stack["apiUrl"] + "/facilities", headers={"Authorization": f"Bearer {result['idToken']}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    shot(page, "srp-sign-in")


@pytest.mark.parametrize("step", ["new-password-form", "mfa-code-form", "mfa-setup-form"])
def test_each_sign_in_challenge_form_has_no_axe_violations(
    new_page: Any, local_stack: Stack, shot: Shots, step: str
) -> None:
    # Given the sign-in screen
    page = new_page()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # When the form of one of Cognito's challenges is the one shown (as the page shows it when Cognito asks)
    page.evaluate(
        """(step) => {
          for (const form of document.querySelectorAll("#sign-in-view form")) form.hidden = form.id !== step;
        }""",
        step,
    )
    expect(page.locator("#" + step)).to_be_visible()

    # Then axe-core finds nothing on it
    assert_accessible(page, "sign-in: " + step)
    shot(page, step)
