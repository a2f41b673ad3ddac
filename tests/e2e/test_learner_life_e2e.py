"""A learner's whole account life over the running local stack (issue #15's acceptance): real HTTP with ID tokens,
the stored hashes read from the stack's DynamoDB with boto3 and checked with argon2, card PDFs read with pypdf.

Searches use the learners the seed creates (local/seed.py); every test that changes a learner creates its own, under a
last name no other test uses, so the shared stack's other tests never see them change.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from pypdf import PdfReader

from tests.e2e.conftest import Api, Stack, stack_client
from tests.e2e.test_bulk_e2e import (
    FINISHED,
    VALIDATED,
    VALIDATION_TIMEOUT_SECONDS,
    csv_bytes,
    good_row,
    report,
    upload_via_link,
    wait_for,
)

pytestmark = pytest.mark.e2e

USERNAME = re.compile(r"^[a-z][a-z0-9]{2,31}$")
# intake.passwords.generate_password's shape: four groups of two syllables, then two digits
_GROUP = "[bdfghjkmnprstvwz][aeiu][bdfghjkmnprstvwz][aeiu]"
GENERATED = re.compile(rf"{_GROUP}(?:-{_GROUP}){{3}}-[2-9]{{2}}")
CONCURRENT_CREATIONS = 20
# The seed's learners at the first facility whose DOC IDs start CC1001 (local/seed.py); CC100107 is inactive.
SEEDED_PREFIX = "CC1001"
SEEDED_NAMED = {f"CC10010{n}" for n in range(1, 9)}
SEEDED_INACTIVE = "CC100107"


def key(text: str) -> str:
    """The test's own accent- and case-blind form of a name: decomposed, marks dropped, casefolded, a-z0-9 kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return re.sub(r"[^a-z0-9]", "", plain)


def word() -> str:
    """A last name no other test (or run) uses: letters only, as a name must be."""
    return "Q" + "".join("abcdefghijklmnop"[int(c, 16)] for c in uuid.uuid4().hex[:9])


def new_doc_id() -> str:
    return f"LL{uuid.uuid4().hex[:12].upper()}"


def verifies(password_hash: str, password: str) -> bool:
    """Whether an Argon2id hash is of this password (argon2-cffi, as a sign-in would check it)."""
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError):
        return False


@pytest.fixture(scope="module")
def north(local_stack: Stack) -> dict[str, Any]:
    """The first agency's two facilities and their units, their admins, the educator; the other agency's admin."""
    agency, other = local_stack["agencies"][0], local_stack["agencies"][1]
    first, second = agency["facilities"][:2]
    staff = local_stack["staff"]

    def admin_of(facility_id: str) -> str:
        return next(s["username"] for s in staff if s["role"] == "FacilityAdmin" and facility_id in s["facilityIds"])

    return {
        "agencyId": agency["agencyId"],
        "first": first["facilityId"],
        "firstName": first["name"],
        "firstUnits": [u["locationId"] for u in first["housingUnits"]],
        "unitNames": {u["locationId"]: u["name"] for f in agency["facilities"] for u in f["housingUnits"]},
        "second": second["facilityId"],
        "secondUnits": [u["locationId"] for u in second["housingUnits"]],
        "firstAdmin": admin_of(first["facilityId"]),
        "secondAdmin": admin_of(second["facilityId"]),
        "educator": next(
            s["username"] for s in staff if s["role"] == "Educator" and first["facilityId"] in s["facilityIds"]
        ),
        "agencyAdmin": next(
            s["username"] for s in staff if s["role"] == "AgencyAdmin" and s["agencyId"] == agency["agencyId"]
        ),
        "otherFacility": other["facilities"][0]["facilityId"],
        "otherAdmin": admin_of(other["facilities"][0]["facilityId"]),
    }


def roster(api: Api, username: str, facility_id: str, **params: Any) -> requests.Response:
    return api.call("GET", f"/facilities/{facility_id}/learners", username, params=params)


def found(api: Api, username: str, facility_id: str, **params: Any) -> list[dict[str, Any]]:
    """The learners a roster request answers (asserting 200)."""
    response = roster(api, username, facility_id, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["learners"])


def stored_item(stack: Stack, agency_id: str, doc_id: str) -> dict[str, Any]:
    """The learner's item as the stack's DynamoDB holds it."""
    dynamodb = stack_client(stack, "dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("LearnersTable"))
    item = dynamodb.get_item(TableName=table, Key={"agencyId": {"S": agency_id}, "docId": {"S": doc_id}})
    return dict(item.get("Item") or {})


def stored_hash(stack: Stack, agency_id: str, doc_id: str) -> str:
    return str(stored_item(stack, agency_id, doc_id)["passwordHash"]["S"])


def create(
    api: Api,
    username: str,
    location_id: str,
    last_name: str,
    first_name: str = "Marcus",
    password: str | None = None,
    doc_id: str | None = None,
) -> dict[str, Any]:
    """POST /learners; the 201 body."""
    body = {
        "docId": doc_id or new_doc_id(),
        "firstName": first_name,
        "lastName": last_name,
        "dateOfBirth": "03/14/1988",
        "locationId": location_id,
    }
    if password is not None:
        body["password"] = password
    response = api.call("POST", "/learners", username, body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def kinds(learner: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in learner["history"]]


# ----------------------------------------------------------------------------------------------- find


def test_facility_admin_finds_a_seeded_learner_by_first_last_in_any_case_and_accents(api: Api, north: dict) -> None:
    # Given the seeded José Núñez at the first facility (and namesakes at another facility and another agency)
    for q in ("josé núñez", "JOSE NUNEZ", "Jose Nún", "núñez", "JOSÉ"):
        # When its admin searches the facility's roster by "first last", last or first name, in other case and accents
        learners = found(api, north["firstAdmin"], north["first"], q=q)
        # Then José Núñez of this facility is found, and no namesake of another facility or agency
        assert "CC100101" in {x["docId"] for x in learners}, (q, learners)
        assert all(x["facilityId"] == north["first"] for x in learners), q
        assert not {"RB300101", "PW400101"} & {x["docId"] for x in learners}
    [zoe] = [x for x in found(api, north["firstAdmin"], north["first"], q="zoe o'brien") if x["docId"] == "CC100102"]
    assert (zoe["firstName"], zoe["lastName"], zoe["status"]) == ("Zoë", "O'Brien", "ACTIVE")
    assert found(api, north["firstAdmin"], north["first"], q="ZOË OBRIEN")[0]["docId"] == "CC100102"


def test_facility_admin_finds_seeded_learners_by_doc_id_prefix_and_by_username(api: Api, north: dict) -> None:
    # When the admin searches by a DOC ID prefix, in lower case
    learners = found(api, north["firstAdmin"], north["first"], q=SEEDED_PREFIX.lower())
    # Then exactly the active seeded learners with that prefix, each with a typeable username
    assert {x["docId"] for x in learners} == SEEDED_NAMED - {SEEDED_INACTIVE}
    assert all(USERNAME.fullmatch(x["username"]) for x in learners), [x["username"] for x in learners]
    assert len({x["username"] for x in learners}) == len(learners)
    # And with status=ALL the inactive one too
    everyone = found(api, north["firstAdmin"], north["first"], q=SEEDED_PREFIX, status="ALL")
    assert {x["docId"] for x in everyone} == SEEDED_NAMED
    # When they search by José's username, whole and as a prefix, in upper case
    jose = next(x for x in learners if x["docId"] == "CC100101")
    assert jose["username"].startswith("nunez"), jose["username"]
    for q in (jose["username"], jose["username"].upper(), jose["username"][:-1]):
        # Then José is found
        assert "CC100101" in {x["docId"] for x in found(api, north["firstAdmin"], north["first"], q=q)}, q


def test_a_name_search_is_sorted_by_last_then_first_and_filters_by_unit_and_status(api: Api, north: dict) -> None:
    # When the admin searches "smith"
    smiths = [x for x in found(api, north["firstAdmin"], north["first"], q="smith") if x["docId"] in SEEDED_NAMED]
    # Then the active seeded learners whose last name starts Smith, sorted by last then first name (Mac Smith's
    # last name starts Mac, and Smithers is inactive)
    assert [x["docId"] for x in smiths] == ["CC100105", "CC100104", "CC100103", "CC100106"]
    # And a housing unit filter keeps that unit's, and status=INACTIVE shows the inactive Smithers only there
    unit_a = north["firstUnits"][0]
    in_a = found(api, north["firstAdmin"], north["first"], q="smith", locationId=unit_a)
    assert {x["docId"] for x in in_a if x["docId"] in SEEDED_NAMED} == {"CC100103", "CC100105"}
    assert all(x["locationId"] == unit_a for x in in_a)
    inactive = found(api, north["firstAdmin"], north["first"], q="smith", status="INACTIVE")
    assert SEEDED_INACTIVE in {x["docId"] for x in inactive} and all(x["status"] == "INACTIVE" for x in inactive)


def test_the_roster_pages_with_an_opaque_cursor_that_cannot_be_reused_elsewhere(api: Api, north: dict) -> None:
    # Given the first facility's whole roster (the seed puts a few dozen learners there, some inactive)
    pages, seen, cursor, first_cursor = 0, [], None, ""
    while True:
        params: dict[str, Any] = {"status": "ALL", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        # When it is read 7 at a time, following nextCursor
        response = roster(api, north["firstAdmin"], north["first"], **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["learners"]) <= 7
        seen += page["learners"]
        pages += 1
        cursor = page.get("nextCursor")
        if not cursor:
            break
        first_cursor = first_cursor or cursor
    # Then every learner comes once, sorted by last then first name, seeded ones of both statuses included
    ids = [x["learnerId"] for x in seen]
    assert len(ids) == len(set(ids)) and pages >= 6
    names = [key(x["lastName"]) + key(x["firstName"]) for x in seen]
    assert names == sorted(names)
    assert {x["status"] for x in seen} == {"ACTIVE", "INACTIVE"}
    assert {x["docId"] for x in seen} >= SEEDED_NAMED
    assert all(x["facilityId"] == north["first"] for x in seen)
    # And the cursor works only where it was made: not for another status, not at another facility, not made up
    for username, facility_id, params in (
        (north["firstAdmin"], north["first"], {"status": "INACTIVE", "cursor": first_cursor}),
        (north["agencyAdmin"], north["second"], {"status": "ALL", "cursor": first_cursor}),
        (north["firstAdmin"], north["first"], {"status": "ALL", "cursor": "not-a-cursor"}),
    ):
        response = roster(api, username, facility_id, **params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["code"] == "VALIDATION_FAILED"
    # And a limit outside 1-200 or an unknown status is a 400 too
    for params in ({"limit": 0}, {"limit": 201}, {"status": "GONE"}):
        assert roster(api, north["firstAdmin"], north["first"], **params).status_code == 400, params


# ----------------------------------------------------------------------------------------------- change


def test_admin_edits_the_last_name_and_sees_it_in_the_history(local_stack: Stack, api: Api, north: dict) -> None:
    # Given a learner with a misspelt last name
    old, new = word(), word()
    created = create(api, north["firstAdmin"], north["firstUnits"][0], old)["learner"]
    assert kinds(created) == ["CREATED"]
    # When the admin fixes the last name
    response = api.call("PATCH", f"/learners/{created['learnerId']}", north["firstAdmin"], {"lastName": new})
    # Then the learner has it, with an EDITED entry naming the field, by whom, and nothing else changed
    assert response.status_code == 200, response.text
    edited = response.json()["learner"]
    assert edited["lastName"] == new and edited["learnerId"] == created["learnerId"]
    assert (edited["username"], edited["docId"], edited["firstName"]) == (
        created["username"],
        created["docId"],
        created["firstName"],
    )
    assert kinds(edited) == ["CREATED", "EDITED"]
    entry = edited["history"][-1]
    assert entry["fields"] == ["lastName"] and entry["by"] == north["firstAdmin"] and entry["at"]
    assert edited["updatedAt"] and edited["updatedAt"] >= (created.get("updatedAt") or "")
    # And reading it again, and searching the new name, show the same; the old name finds nothing
    again = api.call("GET", f"/learners/{created['learnerId']}", north["firstAdmin"]).json()["learner"]
    assert again["lastName"] == new and kinds(again) == ["CREATED", "EDITED"]
    assert [x["learnerId"] for x in found(api, north["firstAdmin"], north["first"], q=new)] == [created["learnerId"]]
    assert found(api, north["firstAdmin"], north["first"], q=old) == []
    # When the date of birth and the housing unit are changed
    response = api.call(
        "PATCH",
        f"/learners/{created['learnerId']}",
        north["firstAdmin"],
        {"dateOfBirth": "7/9/1979", "locationId": north["firstUnits"][1]},
    )
    # Then both change, and the history names the fields but never holds the date itself
    assert response.status_code == 200, response.text
    moved = response.json()["learner"]
    assert (moved["dateOfBirth"], moved["locationId"]) == ("07/09/1979", north["firstUnits"][1])
    edited_fields = {name for entry in moved["history"] if entry["kind"] == "EDITED" for name in entry["fields"]}
    assert {"lastName", "dateOfBirth"} <= edited_fields
    assert "1979" not in str(moved["history"])
    assert stored_item(local_stack, north["agencyId"], created["docId"])["lastName"]["S"] == new
    # And a bad name, or (even for the agency's admin) a unit of another facility (that is a move), is a 400
    for body, field in (({"lastName": "Sm1th"}, "lastName"), ({"locationId": north["secondUnits"][0]}, "locationId")):
        refused = api.call("PATCH", f"/learners/{created['learnerId']}", north["agencyAdmin"], body)
        assert refused.status_code == 400, refused.text
        assert field in {e["field"] for e in refused.json()["errors"]}
    after = api.call("GET", f"/learners/{created['learnerId']}", north["firstAdmin"]).json()["learner"]
    assert after["history"] == moved["history"] and after["locationId"] == north["firstUnits"][1]


def test_admin_deactivates_three_at_once_sees_them_only_as_inactive_and_reactivates_one(api: Api, north: dict) -> None:
    # Given three learners sharing a last name no one else has
    last = word()
    ids = [
        create(api, north["firstAdmin"], north["firstUnits"][n % 2], last, f"Ana{'bcd'[n]}")["learner"]["learnerId"]
        for n in range(3)
    ]
    unknown = str(uuid.uuid4())
    path = f"/facilities/{north['first']}/learners/status"
    # When the admin deactivates the three at once (and an id that is no learner)
    response = api.call("POST", path, north["firstAdmin"], {"learnerIds": [*ids, unknown], "status": "INACTIVE"})
    # Then each id has its own result
    assert response.status_code == 200, response.text
    results = {r["learnerId"]: r["outcome"] for r in response.json()["results"]}
    assert results == {**dict.fromkeys(ids, "CHANGED"), unknown: "NOT_FOUND"}
    # And the same request again changes nothing
    again = api.call("POST", path, north["firstAdmin"], {"learnerIds": ids, "status": "INACTIVE"})
    assert {r["learnerId"]: r["outcome"] for r in again.json()["results"]} == dict.fromkeys(ids, "UNCHANGED")
    # And they are listed only under status=INACTIVE (and ALL)
    assert found(api, north["firstAdmin"], north["first"], q=last) == []
    assert sorted(
        x["learnerId"] for x in found(api, north["firstAdmin"], north["first"], q=last, status="INACTIVE")
    ) == sorted(ids)
    assert len(found(api, north["firstAdmin"], north["first"], q=last, status="ALL")) == 3
    one = api.call("GET", f"/learners/{ids[0]}", north["firstAdmin"]).json()["learner"]
    assert one["status"] == "INACTIVE" and kinds(one) == ["CREATED", "DEACTIVATED"]
    assert one["history"][-1]["by"] == north["firstAdmin"]
    # When the admin reactivates one (twice, as a retrying client would)
    first = api.call("POST", f"/learners/{ids[0]}/reactivate", north["firstAdmin"])
    second = api.call("POST", f"/learners/{ids[0]}/reactivate", north["firstAdmin"])
    # Then it is active, with one REACTIVATED entry, and the repeat answers the same
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    back = first.json()["learner"]
    assert back["status"] == "ACTIVE" and kinds(back) == ["CREATED", "DEACTIVATED", "REACTIVATED"]
    assert [x["learnerId"] for x in found(api, north["firstAdmin"], north["first"], q=last)] == [ids[0]]
    assert sorted(
        x["learnerId"] for x in found(api, north["firstAdmin"], north["first"], q=last, status="INACTIVE")
    ) == sorted(ids[1:])
    # And deactivating one alone, repeated, answers the same and records it once
    alone = [api.call("POST", f"/learners/{ids[0]}/deactivate", north["firstAdmin"]) for _ in range(2)]
    assert [a.status_code for a in alone] == [200, 200] and alone[0].json() == alone[1].json()
    assert kinds(alone[1].json()["learner"]) == ["CREATED", "DEACTIVATED", "REACTIVATED", "DEACTIVATED"]


def test_admin_resets_a_password_and_only_the_new_one_verifies(local_stack: Stack, api: Api, north: dict) -> None:
    # Given a learner whose stored hash verifies their password
    old = f"Old-pass-{secrets.token_hex(4)}"
    learner = create(api, north["firstAdmin"], north["firstUnits"][0], word(), password=old)["learner"]
    doc_id, path = learner["docId"], f"/learners/{learner['learnerId']}/password"
    assert verifies(stored_hash(local_stack, north["agencyId"], doc_id), old)
    # When the admin resets it without giving one
    response = api.call("POST", path, north["firstAdmin"], {})
    # Then a generated password is shown once; the stored hash verifies it and no longer the old one
    assert response.status_code == 200, response.text
    generated = response.json()["generatedPassword"]
    reset = response.json()["learner"]
    assert generated and generated not in str(reset) and "passwordHash" not in response.text
    now = stored_hash(local_stack, north["agencyId"], doc_id)
    assert now.startswith("$argon2id$") and verifies(now, generated) and not verifies(now, old)
    assert kinds(reset)[-1] == "PASSWORD_RESET" and reset["history"][-1]["by"] == north["firstAdmin"]
    assert generated not in str(stored_item(local_stack, north["agencyId"], doc_id))
    # When the admin gives a password
    given = f"Given-pass-{secrets.token_hex(4)}"
    response = api.call("POST", path, north["firstAdmin"], {"password": given})
    # Then none is generated, and only the given one verifies
    assert response.status_code == 200, response.text
    assert "generatedPassword" not in response.json() and given not in response.text
    now = stored_hash(local_stack, north["agencyId"], doc_id)
    assert verifies(now, given) and not verifies(now, generated) and not verifies(now, old)
    # And a password that breaks the rules is a 400 that leaves the hash alone
    refused = api.call("POST", path, north["firstAdmin"], {"password": "short"})
    assert refused.status_code == 400 and refused.json()["code"] == "VALIDATION_FAILED"
    assert stored_hash(local_stack, north["agencyId"], doc_id) == now


def cards(api: Api, username: str, facility_id: str, body: dict[str, Any]) -> requests.Response:
    """POST learner-cards asking for the PDF (API Gateway sends binary only to a request that Accepts its type)."""
    return requests.post(
        f"{api.stack['apiUrl']}/facilities/{facility_id}/learner-cards",
        json=body,
        headers={"Authorization": f"Bearer {api.token(username)}", "Accept": "application/pdf"},
        timeout=120,
    )


def pdf_text(response: requests.Response) -> str:
    """The text of a PDF answer (asserting it is one, as an attachment)."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/pdf"), response.headers
    assert response.headers.get("Content-Disposition", "").startswith("attachment"), response.headers
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def test_cards_for_three_with_reset_hold_each_username_and_a_new_password(
    local_stack: Stack, api: Api, north: dict
) -> None:
    # Given three learners with passwords of their own
    last = word()
    olds = {f"Card-pass-{secrets.token_hex(4)}": n for n in range(3)}
    learners = [
        create(api, north["firstAdmin"], north["firstUnits"][n % 2], last, f"Ben{'xyz'[n]}", password=pw)["learner"]
        for pw, n in olds.items()
    ]
    ids = [x["learnerId"] for x in learners]
    # When the admin prints their cards with new passwords
    text = pdf_text(cards(api, north["firstAdmin"], north["first"], {"learnerIds": ids, "resetPasswords": True}))
    # Then each card shows the learner's name, username, DOC ID, facility and housing unit
    flat = " ".join(text.split())
    for learner in learners:
        for value in (learner["username"], learner["docId"], learner["firstName"], learner["lastName"]):
            assert value in flat, (value, flat[:2000])
        assert north["unitNames"][learner["locationId"]] in flat
    assert north["firstName"] in flat
    # And a new password that the stored hash verifies, where the old one no longer does; no old password is shown
    assert not [old for old in olds if old in flat]
    candidates = set(GENERATED.findall(flat)) | {t for t in flat.split() if len(t) >= 8 and any(c.isdigit() for c in t)}
    for learner, old in zip(learners, olds, strict=True):
        now = stored_hash(local_stack, north["agencyId"], learner["docId"])
        assert not verifies(now, old)
        assert [c for c in candidates if verifies(now, c)], f"no password on the cards verifies for {learner['docId']}"
        after = api.call("GET", f"/learners/{learner['learnerId']}", north["firstAdmin"]).json()["learner"]
        assert kinds(after)[-1] == "PASSWORD_RESET"
    # When the cards are printed again without reset, by the admin and by the Educator (who may read)
    for username in (north["firstAdmin"], north["educator"]):
        plain = " ".join(pdf_text(cards(api, username, north["first"], {"learnerIds": ids})).split())
        # Then they show the usernames and no password at all
        assert all(x["username"] in plain for x in learners)
        assert not GENERATED.findall(plain) and not [old for old in olds if old in plain]


# ----------------------------------------------------------------------------------------------- who may


def write_calls(facility_id: str, learner: dict[str, Any], location_id: str) -> list[tuple[str, str, Any]]:
    """Every v2 (and v1) change of one learner, as (method, path, body)."""
    learner_id = learner["learnerId"]
    return [
        ("PATCH", f"/learners/{learner_id}", {"lastName": "Changed"}),
        ("POST", f"/learners/{learner_id}/deactivate", None),
        ("POST", f"/learners/{learner_id}/reactivate", None),
        ("POST", f"/learners/{learner_id}/password", {}),
        ("POST", f"/learners/{learner_id}/move", {"locationId": location_id}),
        ("POST", f"/facilities/{facility_id}/learners/status", {"learnerIds": [learner_id], "status": "INACTIVE"}),
        ("POST", f"/facilities/{facility_id}/learner-cards", {"learnerIds": [learner_id], "resetPasswords": True}),
    ]


def test_educator_gets_403_on_every_write_and_200_on_every_read(local_stack: Stack, api: Api, north: dict) -> None:
    # Given a learner of the educator's facility
    body = create(api, north["firstAdmin"], north["firstUnits"][0], word(), password="Edu-pass-12345")
    learner, before = body["learner"], stored_item(local_stack, north["agencyId"], body["learner"]["docId"])
    # When the educator tries every change
    for method, path, payload in write_calls(north["first"], learner, north["firstUnits"][1]):
        response = api.call(method, path, north["educator"], payload)
        # Then each is 403 PERMISSION_DENIED
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "PERMISSION_DENIED"
    assert stored_item(local_stack, north["agencyId"], learner["docId"]) == before
    # And every read in scope answers 200
    reads = [
        api.call("GET", f"/learners/{learner['learnerId']}", north["educator"]),
        api.call("GET", f"/learners?docId={learner['docId']}", north["educator"]),
        roster(api, north["educator"], north["first"]),
        roster(api, north["educator"], north["first"], q=learner["lastName"], status="ALL"),
        cards(api, north["educator"], north["first"], {"learnerIds": [learner["learnerId"]]}),
    ]
    assert [r.status_code for r in reads] == [200] * len(reads), [r.text[:300] for r in reads]
    assert [x["learnerId"] for x in reads[3].json()["learners"]] == [learner["learnerId"]]


def test_another_facilitys_learner_is_404_everywhere(local_stack: Stack, api: Api, north: dict) -> None:
    # Given a learner of the first facility
    body = create(api, north["firstAdmin"], north["firstUnits"][0], word(), password="Far-pass-12345")
    learner, before = body["learner"], stored_item(local_stack, north["agencyId"], body["learner"]["docId"])
    learner_id = learner["learnerId"]
    # When the other agency's admin reads it, or tries any change at its own facility
    other = north["otherAdmin"]
    for method, path, payload in [
        ("GET", f"/learners/{learner_id}", None),
        *write_calls(north["otherFacility"], learner, north["firstUnits"][1])[:4],
        ("POST", f"/facilities/{north['otherFacility']}/learner-cards", {"learnerIds": [learner_id]}),
    ]:
        response = api.call(method, path, other, payload)
        # Then each is 404, as for a learner that does not exist
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    # And the admin of the agency's other facility (who may find it by DOC ID, to move it) may change nothing of it
    for method, path, payload in write_calls(north["second"], learner, north["firstUnits"][1])[:4]:
        response = api.call(method, path, north["secondAdmin"], payload)
        assert response.status_code == 404, (method, path, response.text)
    cards = api.call(
        "POST",
        f"/facilities/{north['second']}/learner-cards",
        north["secondAdmin"],
        {"learnerIds": [learner_id], "resetPasswords": True},
    )
    assert cards.status_code == 404, cards.text
    # And a selection at their own facility says NOT_FOUND for it; their rosters never list it
    for username, facility_id in ((north["secondAdmin"], north["second"]), (other, north["otherFacility"])):
        response = api.call(
            "POST",
            f"/facilities/{facility_id}/learners/status",
            username,
            {"learnerIds": [learner_id], "status": "INACTIVE"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"] == [{"learnerId": learner_id, "outcome": "NOT_FOUND"}]
        assert found(api, username, facility_id, q=learner["docId"], status="ALL") == []
    # And the first facility's roster is 404 for them
    for username in (north["secondAdmin"], other):
        assert roster(api, username, north["first"]).status_code == 404
    assert stored_item(local_stack, north["agencyId"], learner["docId"]) == before


# ----------------------------------------------------------------------------------------------- re-entry


def test_re_entry_in_bulk_at_another_facility_reactivates_the_same_learner(
    local_stack: Stack, api: Api, north: dict
) -> None:
    # Given a learner of the first facility, released (deactivated)
    doc_id = new_doc_id()
    created = create(api, north["firstAdmin"], north["firstUnits"][0], word(), doc_id=doc_id)["learner"]
    gone = api.call("POST", f"/learners/{created['learnerId']}/deactivate", north["firstAdmin"])
    assert gone.status_code == 200 and gone.json()["learner"]["status"] == "INACTIVE"
    # When the agency's other facility uploads a file naming its DOC ID, through the presigned link
    destination = north["secondUnits"][1]
    data = csv_bytes([good_row(0, doc_id, destination)])
    upload_id = upload_via_link(api, north["secondAdmin"], north["second"], data, "re-entry.csv")
    upload = wait_for(api, north["secondAdmin"], upload_id, VALIDATED, VALIDATION_TIMEOUT_SECONDS)
    # Then the plan reactivates it (a planned action with its own count), creating and moving nothing
    assert upload["status"] == "VALIDATED", upload
    counts = upload["counts"]
    assert (counts["toReactivate"], counts["toCreate"], counts["toMove"]) == (1, 0, 0), counts
    # When it is confirmed
    confirm = api.call("POST", f"/uploads/{upload_id}/confirm", north["secondAdmin"], {})
    assert confirm.status_code == 202, confirm.text
    done = wait_for(api, north["secondAdmin"], upload_id, FINISHED, VALIDATION_TIMEOUT_SECONDS)
    # Then the same learner is active at the new unit, with one MOVED and one REACTIVATED entry
    assert done["status"] == "COMPLETED", done
    assert (done["counts"]["reactivated"], done["counts"]["created"], done["counts"]["failed"]) == (1, 0, 0)
    [result] = report(done["resultReportUrl"])
    assert (result["outcome"], result["learnerId"]) == ("REACTIVATED", created["learnerId"])
    [learner] = api.call("GET", f"/learners?docId={doc_id}", north["secondAdmin"]).json()["learners"]
    assert (learner["learnerId"], learner["username"]) == (created["learnerId"], created["username"])
    assert (learner["status"], learner["locationId"], learner["facilityId"]) == ("ACTIVE", destination, north["second"])
    assert kinds(learner) == ["CREATED", "DEACTIVATED", "MOVED", "REACTIVATED"]
    move = learner["history"][2]
    assert (move["fromFacilityId"], move["toFacilityId"], move["toLocationId"]) == (
        north["first"],
        north["second"],
        destination,
    )
    # And no second learner exists: the first facility's roster has it no more, the second's has it once
    assert found(api, north["firstAdmin"], north["first"], q=doc_id, status="ALL") == []
    assert [x["learnerId"] for x in found(api, north["secondAdmin"], north["second"], q=doc_id)] == [
        created["learnerId"]
    ]


def test_re_entry_through_post_learners_reactivates_with_a_new_password(
    local_stack: Stack, api: Api, north: dict
) -> None:
    # Given a released learner of the second facility with a password of their own
    doc_id, old = new_doc_id(), "Before-pass-2468"
    created = create(api, north["secondAdmin"], north["secondUnits"][0], word(), doc_id=doc_id, password=old)
    learner_id = created["learner"]["learnerId"]
    assert created["outcome"] == "CREATED"
    assert api.call("POST", f"/learners/{learner_id}/deactivate", north["secondAdmin"]).status_code == 200
    # When the first facility creates a learner with that DOC ID
    again = create(api, north["firstAdmin"], north["firstUnits"][1], "Returned", doc_id=doc_id)
    # Then it is the same learner, reactivated there with a new password shown once
    assert again["outcome"] == "REACTIVATED"
    learner = again["learner"]
    assert (learner["learnerId"], learner["username"]) == (learner_id, created["learner"]["username"])
    assert (learner["status"], learner["locationId"]) == ("ACTIVE", north["firstUnits"][1])
    now = stored_hash(local_stack, north["agencyId"], doc_id)
    assert verifies(now, again["generatedPassword"]) and not verifies(now, old)
    assert [
        x["learnerId"] for x in api.call("GET", f"/learners?docId={doc_id}", north["firstAdmin"]).json()["learners"]
    ] == [learner_id]


# ----------------------------------------------------------------------------------------------- usernames


def test_twenty_concurrent_creations_with_one_username_base_get_twenty_usernames(api: Api, north: dict) -> None:
    # Given twenty learners whose names and DOC IDs' last four give the same username base
    last = word()
    run = uuid.uuid4().hex[:6].upper()
    bodies = [
        {
            "docId": f"U{run}{n:02d}-4821",
            "firstName": f"J{'abcdefghijklmnopqrst'[n]}nn",
            "lastName": last,
            "dateOfBirth": "01/02/1990",
            "locationId": north["firstUnits"][n % 2],
        }
        for n in range(CONCURRENT_CREATIONS)
    ]
    base = f"{key(last)}j"[:20] + "4821"
    token = api.token(north["firstAdmin"])
    start = threading.Barrier(CONCURRENT_CREATIONS)

    def post(body: dict[str, str]) -> requests.Response:
        start.wait(timeout=30)
        return requests.post(
            api.stack["apiUrl"] + "/learners", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    # When they are all created over HTTP at the same time
    with ThreadPoolExecutor(max_workers=CONCURRENT_CREATIONS) as pool:
        responses = list(pool.map(post, bodies))
    # Then all twenty are created, with twenty distinct usernames: the base, then base2 ... base20
    assert [r.status_code for r in responses] == [201] * CONCURRENT_CREATIONS, [r.text for r in responses]
    usernames = [r.json()["learner"]["username"] for r in responses]
    assert all(USERNAME.fullmatch(u) for u in usernames), usernames
    assert sorted(usernames) == sorted([base] + [f"{base}{n}" for n in range(2, CONCURRENT_CREATIONS + 1)])
    # And each is found by its username
    listed = found(api, north["firstAdmin"], north["first"], q=last, limit=50)
    assert sorted(x["username"] for x in listed) == sorted(usernames)
