"""Learner sign-in over the running local stack (issue #16's acceptance): real HTTP with an access token of the tablet
client from the stack's token endpoint (client_credentials, HTTP Basic), the counters read from the stack's DynamoDB
with boto3, the audit records read from the stack's log.

The session stack runs with LearnerLockoutSeconds=1 (tests/e2e/conftest.py): a first lockout lasts 1 s, the next 2 s,
then 4 s..., so a test can wait one out. Every test signs in its own learners, created with a generated password
under a last name no other test uses; the facility switch is turned off only at the agency's second facility, and
back on before the test ends.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HTTP_TIMEOUT_SECONDS, Api, Stack, stack_client
from tests.e2e.test_secrets_e2e import dates_as_written, stack_log

pytestmark = pytest.mark.e2e

ROUTE = "/learner-sign-ins"
SCOPE = "intake/learner-sign-ins"
LOCKOUT_AFTER = 5
CONCURRENT_GUESSES = 50
# Every learner of this file is born on a day no other test uses: the scan looks for it in every log line.
BIRTH = (2, 29, 1984)
SIGN_IN_ACTIONS = ("LEARNER_SIGNED_IN", "LEARNER_SIGN_IN_FAILED", "LEARNER_LOCKED_OUT")
PROFILE_FIELDS = {"learnerId", "agencyId", "username", "firstName", "lastName", "facilityId", "locationId"}

# Every password (right or wrong) and every unknown login typed in this module, for the scan at its end.
TYPED_SECRETS: set[str] = set()


def word() -> str:
    """A last name no other test (or run) uses: letters only, as a name must be."""
    return "S" + "".join("abcdefghijklmnop"[int(c, 16)] for c in uuid.uuid4().hex[:9])


def new_doc_id() -> str:
    return f"SI{uuid.uuid4().int % 10**10:010d}"


def wrong_password() -> str:
    guess = f"Wrong-guess-{uuid.uuid4().hex[:10]}"
    TYPED_SECRETS.add(guess)
    return guess


@pytest.fixture(scope="module")
def place(local_stack: Stack) -> dict[str, Any]:
    """The first agency, its two facilities' first housing units and admins."""
    agency = local_stack["agencies"][0]
    first, second = agency["facilities"][:2]

    def admin_of(facility_id: str) -> str:
        return next(
            s["username"]
            for s in local_stack["staff"]
            if s["role"] == "FacilityAdmin" and facility_id in s["facilityIds"]
        )

    return {
        "agencyId": agency["agencyId"],
        "first": first["facilityId"],
        "firstUnit": first["housingUnits"][0]["locationId"],
        "firstAdmin": admin_of(first["facilityId"]),
        "second": second["facilityId"],
        "secondUnit": second["housingUnits"][0]["locationId"],
        "secondAdmin": admin_of(second["facilityId"]),
    }


class Tablet:
    """The tablet platform: POST /learner-sign-ins with its access token."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.url = stack["apiUrl"] + ROUTE
        self.token = token

    def sign_in(self, agency_id: str, username: str, password: str, token: str | None = None) -> requests.Response:
        TYPED_SECRETS.add(password)
        headers = {"Authorization": f"Bearer {token or self.token}"}
        body = {"agencyId": agency_id, "username": username, "password": password}
        return requests.post(self.url, json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def tablet(local_stack: Stack, tablet_access_token: str) -> Tablet:
    return Tablet(local_stack, tablet_access_token)


def create(api: Api, admin: str, location_id: str, doc_id: str | None = None) -> tuple[dict[str, Any], str]:
    """A learner made with POST /learners and no password: (the learner, the generated password shown once)."""
    month, day, year = BIRTH
    body = {
        "docId": doc_id or new_doc_id(),
        "firstName": "Tabitha",
        "lastName": word(),
        "dateOfBirth": f"{month:02d}/{day:02d}/{year}",
        "locationId": location_id,
    }
    response = api.call("POST", "/learners", admin, body)
    assert response.status_code == 201, response.text
    created = response.json()
    password = created["generatedPassword"]
    TYPED_SECRETS.add(password)
    return dict(created["learner"]), str(password)


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = dict(response.json())
    assert body["code"] == code and body["message"], body
    return body


def assert_signed_in(response: requests.Response, learner: dict[str, Any]) -> None:
    """200 with the learner's profile, and nothing more of the learner (no hash, DOB, DOC ID)."""
    assert response.status_code == 200, response.text
    profile = response.json()["learner"]
    assert set(profile) == PROFILE_FIELDS, profile
    assert profile == {name: learner[name] for name in PROFILE_FIELDS}
    assert "$argon2" not in response.text and str(BIRTH[2]) not in response.text


def login_key(username: str) -> str:
    """The attempts table's key of a login: sha256 hex of the canonical (lower-cased) username, never the text."""
    return hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()


@functools.cache
def _dynamodb(endpoint: str, region: str) -> tuple[Any, str]:
    """One DynamoDB client of the stack's embedded AWS (making one takes longer than a first lockout lasts here),
    and the attempts table's name."""
    client = stack_client({"awsEndpoint": endpoint, "region": region}, "dynamodb")
    table = next(name for name in client.list_tables()["TableNames"] if name.endswith("SignInAttemptsTable"))
    return client, table


def attempts(stack: Stack, agency_id: str, username: str) -> dict[str, Any] | None:
    """The (agency, login) failure counter as the stack's DynamoDB holds it (a consistent read), or None."""
    client, table = _dynamodb(stack["awsEndpoint"], stack["region"])
    got = client.get_item(
        TableName=table,
        Key={"agencyId": {"S": agency_id}, "loginKey": {"S": login_key(username)}},
        ConsistentRead=True,
    )
    return got.get("Item")


def failures(stack: Stack, agency_id: str, username: str) -> int:
    item = attempts(stack, agency_id, username)
    return 0 if item is None else int(item["failures"]["N"])


def _audit_of(line: str) -> dict[str, Any] | None:
    """The `audit` object of one JSON log line (Powertools' structured line: `audit: {action, agencyId, learnerId,
    facilityId, reason, failures, clientId}`), or None."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        document = json.loads(line[start:])
    except ValueError:
        return None
    audit = document.get("audit") if isinstance(document, dict) else None
    if isinstance(audit, str):
        try:
            audit = json.loads(audit)
        except ValueError:
            return None
    return audit if isinstance(audit, dict) else None


def log_lines(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return stack_log(stack, tmp_path_factory).read_text(encoding="utf-8", errors="replace").splitlines()


def sign_in_records(lines: list[str]) -> list[dict[str, Any]]:
    """Every sign-in audit record of the stack's log, in order; a line naming a sign-in action that is not one fails."""
    records, unreadable = [], []
    for line in lines:
        if not any(action in line for action in SIGN_IN_ACTIONS):
            continue
        record = _audit_of(line)
        if record is None or record.get("action") not in SIGN_IN_ACTIONS:
            unreadable.append(line)
        else:
            records.append(record)
    assert not unreadable, f"log lines naming a sign-in action without an `audit` record: {unreadable[:3]}"
    return records


def records_of(stack: Stack, tmp_path_factory: pytest.TempPathFactory, learner_id: str) -> list[dict[str, Any]]:
    return [r for r in sign_in_records(log_lines(stack, tmp_path_factory)) if r.get("learnerId") == learner_id]


def wait_for_records(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory, learner_id: str, count: int
) -> list[dict[str, Any]]:
    """The learner's audit records once there are `count` (the log is written as the requests are answered)."""
    deadline = time.monotonic() + 10
    while True:
        found = records_of(stack, tmp_path_factory, learner_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the local API verifies it; this reads what the token endpoint put in)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# ----------------------------------------------------------------------------------------------- the token


def test_the_token_endpoint_gives_the_tablet_client_a_scoped_access_token(local_stack: Stack) -> None:
    # Given the state file's tablet client
    client = local_stack["tabletClient"]
    assert client["scope"] == SCOPE and client["clientId"] and client["clientSecret"]
    assert client["tokenUrl"].endswith("/oauth2/token")
    # When it asks the token endpoint for a token with its id and secret in HTTP Basic
    response = requests.post(
        client["tokenUrl"],
        data={"grant_type": "client_credentials"},
        auth=(client["clientId"], client["clientSecret"]),
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    # Then it gets a Bearer access token of the pool for itself, carrying the scope, as Cognito's endpoint gives one
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < int(body["expires_in"]) <= 3600, body
    claims = claims_of(body["access_token"])
    assert claims["token_use"] == "access" and claims["client_id"] == client["clientId"], claims
    assert SCOPE in claims["scope"].split(), claims
    assert claims["iss"].endswith("/" + local_stack["userPoolId"]) and claims["exp"] > time.time()
    # And a wrong secret, or another grant, gets no token
    for data, auth in (
        ({"grant_type": "client_credentials"}, (client["clientId"], client["clientSecret"] + "x")),
        ({"grant_type": "password"}, (client["clientId"], client["clientSecret"])),
    ):
        refused = requests.post(client["tokenUrl"], data=data, auth=auth, timeout=HTTP_TIMEOUT_SECONDS)
        assert refused.status_code in (400, 401), refused.text
        assert "access_token" not in refused.text


# ----------------------------------------------------------------------------------------------- signing in


def test_a_learner_with_a_generated_password_signs_in_by_username_and_by_doc_id(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner created with a generated password
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    # When the tablet signs them in by username, as typed and in upper case
    for typed in (learner["username"], learner["username"].upper()):
        # Then it answers their profile
        assert_signed_in(tablet.sign_in(place["agencyId"], typed, password), learner)
    # And by DOC ID, as stored and in lower case with spaces around
    for typed in (learner["docId"], f" {learner['docId'].lower()} "):
        assert_signed_in(tablet.sign_in(place["agencyId"], typed, password), learner)
    # And no failure was counted, and each sign-in is audited by ids
    assert attempts(local_stack, place["agencyId"], learner["username"]) is None
    records = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 4)
    assert [r["action"] for r in records] == ["LEARNER_SIGNED_IN"] * 4, records
    assert all(r.get("facilityId") == place["first"] for r in records), records
    assert all(r.get("agencyId") == place["agencyId"] for r in records), records
    assert all(r.get("clientId") == local_stack["tabletClient"]["clientId"] for r in records), records
    # And the same username and password in another agency are unknown there
    other_agency = local_stack["agencies"][1]["agencyId"]
    assert_error(tablet.sign_in(other_agency, learner["username"], password), 401, "INVALID_CREDENTIALS")


def test_a_wrong_password_answers_as_an_unknown_username_does(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    unknown = f"nobody{uuid.uuid4().hex[:10]}"
    TYPED_SECRETS.add(unknown)
    # When the tablet sends their username with a wrong password, and a username nobody has
    wrong = tablet.sign_in(place["agencyId"], learner["username"], wrong_password())
    nobody = tablet.sign_in(place["agencyId"], unknown, wrong_password())
    # Then both are 401 INVALID_CREDENTIALS with the very same body, and neither says when to come back
    assert assert_error(wrong, 401, "INVALID_CREDENTIALS") == assert_error(nobody, 401, "INVALID_CREDENTIALS")
    assert "Retry-After" not in wrong.headers and "Retry-After" not in nobody.headers
    # And each counted one failure under its login's hash (the typed text is stored nowhere)
    counter = attempts(local_stack, place["agencyId"], learner["username"])
    assert counter is not None and int(counter["failures"]["N"]) == 1, counter
    assert float(counter["lastFailureAt"]["N"]) <= time.time() + 1
    assert int(counter["expiresAt"]["N"]) >= float(counter["lastFailureAt"]["N"]) + 23 * 3600, counter
    assert failures(local_stack, place["agencyId"], unknown) == 1
    # And the failure is audited by the learner's id with its reason; the unknown one without a learner
    [record] = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 1)
    assert (record["action"], record["reason"]) == ("LEARNER_SIGN_IN_FAILED", "WRONG_PASSWORD"), record
    assert any(r.get("reason") == "UNKNOWN_LOGIN" for r in sign_in_records(log_lines(local_stack, tmp_path_factory)))
    # When the right password follows
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], password), learner)
    # Then the counter is gone (a success resets it)
    assert attempts(local_stack, place["agencyId"], learner["username"]) is None


def test_the_sixth_wrong_attempt_is_locked_out_and_the_right_password_waits_for_the_lock(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    agency_id, username = place["agencyId"], learner["username"]
    # When five wrong passwords are sent in a row
    for n in range(1, LOCKOUT_AFTER + 1):
        # Then each is 401, counted
        assert_error(tablet.sign_in(agency_id, username, wrong_password()), 401, "INVALID_CREDENTIALS")
        if n < LOCKOUT_AFTER:
            assert failures(local_stack, agency_id, username) == n
    # When a sixth comes within the first wait (1 s here)
    sixth = tablet.sign_in(agency_id, username, wrong_password())
    # Then it is 429 LOCKED_OUT with retryAfter in the body and the Retry-After header; it counted (the wait doubled)
    body = assert_error(sixth, 429, "LOCKED_OUT")
    assert isinstance(body["retryAfter"], int) and 1 <= body["retryAfter"] <= 2, body
    assert sixth.headers["Retry-After"] == str(body["retryAfter"])
    assert failures(local_stack, agency_id, username) == LOCKOUT_AFTER + 1
    # When the right password is sent while locked
    locked = tablet.sign_in(agency_id, username, password)
    # Then it is refused too, without a check, and counts: the wait doubles again
    again = assert_error(locked, 429, "LOCKED_OUT")
    assert 2 <= again["retryAfter"] <= 4, again
    assert failures(local_stack, agency_id, username) == LOCKOUT_AFTER + 2
    # When the tablet waits as it was told and sends the right password
    time.sleep(again["retryAfter"] + 0.2)
    # Then the learner is signed in and the counter is gone
    assert_signed_in(tablet.sign_in(agency_id, username, password), learner)
    assert attempts(local_stack, agency_id, username) is None
    # And the trail: five failures, two lockout refusals, one sign-in, in that order
    records = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 8)
    assert [(r["action"], r.get("reason")) for r in records] == [
        *[("LEARNER_SIGN_IN_FAILED", "WRONG_PASSWORD")] * LOCKOUT_AFTER,
        ("LEARNER_LOCKED_OUT", "LOCKED_OUT"),
        ("LEARNER_LOCKED_OUT", "LOCKED_OUT"),
        ("LEARNER_SIGNED_IN", None),
    ], records
    assert [r.get("failures") for r in records[: LOCKOUT_AFTER + 2]] == list(range(1, LOCKOUT_AFTER + 3))


def test_a_deactivated_learner_is_disabled_but_only_with_the_right_password(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner who has signed in, then was deactivated (released)
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], password), learner)
    gone = api.call("POST", f"/learners/{learner['learnerId']}/deactivate", place["firstAdmin"])
    assert gone.status_code == 200 and gone.json()["learner"]["status"] == "INACTIVE", gone.text
    # When the tablet signs them in with the right password
    refused = tablet.sign_in(place["agencyId"], learner["username"], password)
    # Then it is 403 ACCOUNT_DISABLED, and no failure is counted
    assert_error(refused, 403, "ACCOUNT_DISABLED")
    assert attempts(local_stack, place["agencyId"], learner["username"]) is None
    # And a wrong password is the same 401 as anyone's: being disabled is told only to who knows the password
    assert_error(tablet.sign_in(place["agencyId"], learner["username"], wrong_password()), 401, "INVALID_CREDENTIALS")
    records = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 3)
    assert [(r["action"], r.get("reason")) for r in records[1:]] == [
        ("LEARNER_SIGN_IN_FAILED", "LEARNER_INACTIVE"),
        ("LEARNER_SIGN_IN_FAILED", "WRONG_PASSWORD"),
    ], records


def test_a_facility_with_learner_access_off_disables_its_learners_until_it_is_on(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner of the second facility who can sign in
    learner, password = create(api, place["secondAdmin"], place["secondUnit"])
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], password), learner)
    path = f"/facilities/{place['second']}/settings"
    try:
        # When the facility's admin turns learnerAccess OFF and the learner signs in with the right password
        turned = api.call("POST", path, place["secondAdmin"], {"learnerAccess": "OFF"})
        assert turned.status_code == 200 and turned.json()["settings"]["learnerAccess"] == "OFF", turned.text
        refused = tablet.sign_in(place["agencyId"], learner["username"], password)
        # Then it is 403 ACCOUNT_DISABLED at once (the change went through this API), no failure counted
        assert_error(refused, 403, "ACCOUNT_DISABLED")
        assert attempts(local_stack, place["agencyId"], learner["username"]) is None
        # And a learner of the agency's other facility still signs in
        elsewhere, other_password = create(api, place["firstAdmin"], place["firstUnit"])
        assert_signed_in(tablet.sign_in(place["agencyId"], elsewhere["username"], other_password), elsewhere)
    finally:
        # When it is turned ON again
        back = api.call("POST", path, place["secondAdmin"], {"learnerAccess": "ON"})
        assert back.status_code == 200 and back.json()["settings"]["learnerAccess"] == "ON", back.text
    # Then the learner signs in again, at once
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], password), learner)
    records = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 3)
    assert [(r["action"], r.get("reason")) for r in records] == [
        ("LEARNER_SIGNED_IN", None),
        ("LEARNER_SIGN_IN_FAILED", "LEARNER_ACCESS_OFF"),
        ("LEARNER_SIGNED_IN", None),
    ], records


def test_a_reset_password_works_at_once_and_the_old_one_fails(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any]
) -> None:
    # Given a learner who signs in with their generated password
    learner, old = create(api, place["firstAdmin"], place["firstUnit"])
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], old), learner)
    # When staff reset it
    reset = api.call("POST", f"/learners/{learner['learnerId']}/password", place["firstAdmin"], {})
    assert reset.status_code == 200, reset.text
    new = reset.json()["generatedPassword"]
    TYPED_SECRETS.add(new)
    # Then the new one signs in at once, by username and by DOC ID
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], new), learner)
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["docId"], new), learner)
    # And the old one is a wrong password
    assert_error(tablet.sign_in(place["agencyId"], learner["username"], old), 401, "INVALID_CREDENTIALS")
    assert failures(local_stack, place["agencyId"], learner["username"]) == 1


# ----------------------------------------------------------------------------------------------- who may call


def test_staff_tokens_are_refused_on_sign_in_and_the_tablets_on_every_other_route(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any]
) -> None:
    # Given a learner, a staff member's ID token (an admin's, who may do everything else) and the tablet's token
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    staff_token = api.token(place["firstAdmin"])
    # When staff call the sign-in route with the learner's right password
    response = tablet.sign_in(place["agencyId"], learner["username"], password, token=staff_token)
    # Then it is 403 (the route's scope is missing from an ID token), and nothing was checked or counted
    assert_error(response, 403, "PERMISSION_DENIED")
    assert "learner" not in response.json()
    assert attempts(local_stack, place["agencyId"], learner["username"]) is None
    # And without a token, or with a forged one, it is 401
    bare = requests.post(
        tablet.url,
        json={"agencyId": place["agencyId"], "username": learner["username"], "password": password},
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    assert_error(bare, 401, "UNAUTHENTICATED")
    header, payload, signature = tablet.token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    assert_error(tablet.sign_in(place["agencyId"], learner["username"], password, token=forged), 401, "UNAUTHENTICATED")
    # When the tablet's token is used on staff routes
    tablet_headers = {"Authorization": f"Bearer {tablet.token}"}
    for method, path, body in (
        ("GET", f"/learners?docId={learner['docId']}", None),
        ("GET", f"/learners/{learner['learnerId']}", None),
        ("GET", "/facilities", None),
        ("POST", f"/learners/{learner['learnerId']}/password", {}),
    ):
        refused = requests.request(
            method, local_stack["apiUrl"] + path, json=body, headers=tablet_headers, timeout=HTTP_TIMEOUT_SECONDS
        )
        # Then each is 403, and nothing of the learner is in the answer
        assert_error(refused, 403, "PERMISSION_DENIED")
        assert learner["docId"] not in refused.text and learner["username"] not in refused.text
    # And the password was not reset: the learner still signs in with it
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["username"], password), learner)


# ----------------------------------------------------------------------------------------------- concurrency


def test_fifty_concurrent_wrong_guesses_leave_it_locked_and_count_exactly_fifty(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a learner
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    agency_id, username = place["agencyId"], learner["username"]
    guesses = [wrong_password() for _ in range(CONCURRENT_GUESSES)]
    start = threading.Barrier(CONCURRENT_GUESSES)

    def guess(wrong: str) -> requests.Response:
        start.wait(timeout=30)
        return tablet.sign_in(agency_id, username, wrong)

    # When fifty wrong guesses arrive at the same time
    with ThreadPoolExecutor(max_workers=CONCURRENT_GUESSES) as pool:
        responses = list(pool.map(guess, guesses))
    # Then each is refused: 401, or 429 once five have counted (the five that counted first saw fewer than five)
    codes = [(r.status_code, r.json().get("code")) for r in responses]
    assert set(codes) <= {(401, "INVALID_CREDENTIALS"), (429, "LOCKED_OUT")}, codes
    assert codes.count((401, "INVALID_CREDENTIALS")) >= LOCKOUT_AFTER, codes
    # And the counter holds exactly fifty failures: none lost, none doubled
    counter = attempts(local_stack, agency_id, username)
    assert counter is not None and int(counter["failures"]["N"]) == CONCURRENT_GUESSES, counter
    # And the log holds exactly fifty failure or lockout records of this learner, one per guess
    records = wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], CONCURRENT_GUESSES)
    assert len(records) == CONCURRENT_GUESSES, [(r["action"], r.get("reason")) for r in records]
    assert {r["action"] for r in records} <= {"LEARNER_SIGN_IN_FAILED", "LEARNER_LOCKED_OUT"}, records
    refusals = sum(1 for r in records if r["action"] == "LEARNER_LOCKED_OUT")
    assert refusals == codes.count((429, "LOCKED_OUT")), (refusals, codes)
    # When the right password follows
    after = tablet.sign_in(agency_id, username, password)
    # Then it is still locked out, for the longest wait (15 minutes at most)
    body = assert_error(after, 429, "LOCKED_OUT")
    assert 60 < body["retryAfter"] <= 900, body
    assert failures(local_stack, agency_id, username) == CONCURRENT_GUESSES + 1


# ----------------------------------------------------------------------------------------------- secrets


def test_no_password_or_typed_login_is_in_any_log_line_or_sign_in_record(
    local_stack: Stack, api: Api, tablet: Tablet, place: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given the sign-in flows of this module (run before this test), and once more here: a success by DOC ID, a
    # password typed into the username box, an unknown username, a lockout
    learner, password = create(api, place["firstAdmin"], place["firstUnit"])
    assert_signed_in(tablet.sign_in(place["agencyId"], learner["docId"], password), learner)
    assert_error(tablet.sign_in(place["agencyId"], password, password), 401, "INVALID_CREDENTIALS")
    unknown = f"Typed-{uuid.uuid4().hex[:12]}"
    TYPED_SECRETS.add(unknown)
    for _ in range(LOCKOUT_AFTER + 1):
        tablet.sign_in(place["agencyId"], unknown, wrong_password())
    assert_error(tablet.sign_in(place["agencyId"], unknown, wrong_password()), 429, "LOCKED_OUT")
    wait_for_records(local_stack, tmp_path_factory, learner["learnerId"], 1)
    birth_dates = dates_as_written(*BIRTH)
    secrets = {*TYPED_SECRETS, *birth_dates}
    # When every line of the stack's log is scanned, and every sign-in audit record in it
    lines = log_lines(local_stack, tmp_path_factory)
    records = sign_in_records(lines)
    # Then the scan saw the flows (lines, records of successes, failures and lockouts)
    assert len(lines) > 0 and len(records) > 0
    assert {r["action"] for r in records} == set(SIGN_IN_ACTIONS), {r["action"] for r in records}
    assert any(r.get("learnerId") == learner["learnerId"] for r in records)
    # And no line holds a password, a typed login that is no username, a hash or a learner's date of birth
    leaks = [(n, s) for n, line in enumerate(lines, 1) for s in (*secrets, "$argon2") if s in line]
    assert not leaks, leaks
    # And no record holds a password, a login, a hash, or a field the design keeps out
    for record in records:
        text = json.dumps(record)
        assert not [s for s in (*secrets, "$argon2", learner["username"]) if s in text], record
        assert not {"password", "passwordHash", "username", "login", "dateOfBirth"} & set(record), record
    # And no item of the attempts table holds one, nor a username (logins are there as hashes only), nor does the
    # audit table hold a password
    dynamodb = stack_client(local_stack, "dynamodb")
    scanned = 0
    for table in dynamodb.list_tables()["TableNames"]:
        if not table.endswith(("SignInAttemptsTable", "AuditTable")):
            continue
        kept_out = {*TYPED_SECRETS, learner["username"]} if table.endswith("SignInAttemptsTable") else TYPED_SECRETS
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                scanned += 1
                text = json.dumps(item)
                assert not [s for s in kept_out if s in text], (table, item)
    assert scanned > 0
    assert attempts(local_stack, place["agencyId"], unknown) is not None
