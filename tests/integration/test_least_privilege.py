"""Least privilege you can check: the AWS actions each function's code really calls, against its role in template.yaml.

moto enforces no IAM, so a role that cannot do what its code does (the validator without s3:ListBucket reads a
missing object as 403, not 404; without s3:DeleteObject on plans/ its clean-up is AccessDenied) passes every other
test. Here each function's handler runs its flows over moto (the API: every route family of the authorization matrix;
the validator: a good file, a rejected file, a missing object, a drop and an ignored object; the worker: a bulk
confirm with a hand-back, a sync's updates and deactivations (then undone through the API); both dead-letter
handlers; the sweeper), every botocore call is recorded and attributed to the function whose handler made it
(tests/iam_recorder.py), mapped to the IAM action and resource it needs, and compared with the statements of that
function's role:
- MISSING: a call no statement allows → add the action and resource to the function's role in template.yaml;
- UNUSED: an action on a resource that no call needed → remove it (or, if a path these flows cannot reach needs it,
  add it to NOT_EXERCISED below with the reason).
A new AWS call in a function's code shows here as MISSING until its role grants it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from local.schedules import run_once, schedules_of
from tests.conftest import FAC_A1, FAC_A2, UNIT_A1, UNIT_A2, FakeLambdaContext, moto_resources, reset_intake_caches
from tests.iam_recorder import Grant, Need, Recorder, function_grants, platform_needs
from tests.integration import test_authz_matrix as matrix
from tests.integration.bulk_helpers import csv_file, drain, put_object, sqs_event

# Grants no flow here can reach, each with its reason: (function, statement Sid, action) → why it is still needed.
_POWERTOOLS_DELETE = "Powertools' idempotency deletes its in-progress record when the decorated call raises"
_RELEASE_CLAIM = "a learner's put refused for an existing DOC ID releases the username it claimed (a duplicate)"
NOT_EXERCISED: dict[tuple[str, str, str], str] = {
    ("ApiFunction", "IdempotencyRecords", "dynamodb:DeleteItem"): _POWERTOOLS_DELETE,
    ("WorkerFunction", "IdempotencyRecords", "dynamodb:DeleteItem"): _POWERTOOLS_DELETE,
    # byRosterDocId is exercised (whether a location has learners); byRosterName/byRosterFirst serve
    # GET /facilities/{id}/learners, whose route lands with issue #15's API part: remove this entry then
    ("ApiFunction", "LearnerRosters", "dynamodb:Query"): "the roster route (issue #15's API part) lists and searches",
    # intake.dal.learners._release_claim: a creation refused for an existing DOC ID deletes its username claim in one
    # transaction with a check that the stored learner does not hold it (tests/unit/dal/test_username_claims.py)
    ("ApiFunction", "ClaimUsernames", "dynamodb:DeleteItem"): _RELEASE_CLAIM,
    ("ApiFunction", "Learners", "dynamodb:ConditionCheckItem"): _RELEASE_CLAIM,
    ("WorkerFunction", "ClaimUsernames", "dynamodb:DeleteItem"): _RELEASE_CLAIM,
    ("WorkerFunction", "Learners", "dynamodb:ConditionCheckItem"): _RELEASE_CLAIM,
}

FUNCTIONS = (
    "ApiFunction",
    "ValidatorFunction",
    "WorkerFunction",
    "ValidationDeadLetterFunction",
    "CreationDeadLetterFunction",
    "SweeperFunction",
)


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    """The botocore hooks, in before moto starts and before any client of the module is made."""
    with pytest.MonkeyPatch.context() as patch, Recorder().installed(patch) as installed:
        reset_intake_caches()
        yield installed
    reset_intake_caches()


@pytest.fixture(scope="module")
def aws(recorder: Recorder) -> Iterator[Any]:
    """One moto for the module, with the template's resources and user pool, and every handler attributed."""
    with pytest.MonkeyPatch.context() as patch, moto_resources(patch, user_pool=True) as resources:
        recorder.resources = resources
        recorder.wrap_handlers(patch)
        yield resources


world = matrix.world  # the authorization matrix's directory, learners and validated uploads (through the handlers)


def _api(method: str, path: str, user: str | None = "sys", body: Any = None) -> tuple[int, Any]:
    status, answer, _ = matrix._call(method, path, user, body, context=FakeLambdaContext())
    return status, answer


def _sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _take(aws: Any, queue: str) -> list[dict[str, Any]]:
    """Every message of a queue, received and deleted: the flow delivers them itself."""
    taken: list[dict[str, Any]] = []
    url = aws.queue_urls[queue]
    while got := _sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages"):
        for message in got:
            _sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if "Records" in message["Body"] or queue != "ValidationQueue":
                taken.append(message)
    return taken


def _upload_with(aws: Any, data: bytes) -> str:
    status, body = _api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    assert status == 201, body
    put_object(aws, body["upload"]["fields"]["key"], data)
    return str(body["uploadId"])


def _rows(doc_ids: Iterator[int], count: int, unit: str = UNIT_A1) -> bytes:
    return csv_file([f"{i},{next(doc_ids)},Ann,Lee,01/02/1990,Learner,,{unit}" for i in range(1, count + 1)])


def _worker_short_of_time(aws: Any, upload_id: str) -> list[dict[str, Any]]:
    """Confirm, then give the chunk to a worker with 10 s left: it does one part and hands the rest back."""
    import worker_handler

    assert _api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    (message,) = _take(aws, "CreationQueue")
    event = sqs_event([message], aws.queue_arns["CreationQueue"])
    assert worker_handler.lambda_handler(event, FakeLambdaContext(remaining_ms=10_000)) == {"batchItemFailures": []}
    return _take(aws, "CreationQueue")


def _dead_letter(aws: Any, dlq: str, messages: list[dict[str, Any]]) -> None:
    import deadletter_handler

    assert messages, dlq
    result = deadletter_handler.lambda_handler(sqs_event(messages, aws.queue_arns[dlq]), FakeLambdaContext())
    assert result == {"batchItemFailures": []}


def _api_routes(world: Any) -> None:
    """Every route of the authorization matrix, as the SystemAdmin at home and as a FacilityAdmin of elsewhere."""
    for make in matrix.ROUTES.values():
        for user, target in (("sys", "home"), ("ridge", "other_agency")):
            facility_id, unit_id = matrix.TARGETS[target]
            request = make(world, facility_id, unit_id)
            status, _answer, _ = matrix._call(
                request.method, request.path, user, request.body, request.query, context=FakeLambdaContext()
            )
            assert status < 500, (request, status)
    # a change of several learners at once records its audit entries in one batch write (not only one PutItem)
    facility_id, unit_id = matrix.TARGETS["home"]
    pair = [matrix._new_learner(world, facility_id, unit_id)["learnerId"] for _ in range(2)]
    status, answer = _api(
        "POST", f"/facilities/{facility_id}/learners/status", body={"learnerIds": pair, "status": "INACTIVE"}
    )
    assert status == 200 and [r["outcome"] for r in answer["results"]] == ["CHANGED", "CHANGED"], answer
    # an invitation whose login cannot be made (the name is already a login) takes its staff record back out
    from intake.settings import get_settings as settings_now

    taken = f"taken-{next(world.doc_ids)}"
    boto3.client("cognito-idp", region_name="us-east-1").admin_create_user(
        UserPoolId=settings_now().user_pool_id, Username=taken
    )
    facility_id, _unit = matrix.TARGETS["home"]
    body = {
        "username": taken,
        "role": "Educator",
        "agencyId": matrix.AGENCY_OF[facility_id],
        "facilityIds": [facility_id],
    }
    status, answer = _api("POST", "/staff", body=body)
    assert (status, answer["code"]) == (409, "CONFLICT"), answer
    assert _api("GET", "/staff")[1]["staff"] and taken not in {s["username"] for s in _api("GET", "/staff")[1]["staff"]}
    # with StaffMfa=ADMINS_REQUIRED (as deployed by default) an administrator's login is checked for an authenticator
    from intake.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAFF_MFA", "ADMINS_REQUIRED")
        get_settings.cache_clear()
        status, answer = _api("GET", "/facilities", "north")
        assert (status, answer["code"]) == (403, "MFA_REQUIRED")
    get_settings.cache_clear()


def _sign_in_paths(aws: Any, doc_ids: Iterator[int]) -> None:
    """The tablet client's sign-ins: by username and by DOC ID, wrong passwords into a lockout, a refused right
    password while locked, a right one after the wait (the counter reset), and one whose old hash is rehashed."""
    import time

    from argon2 import PasswordHasher

    from intake.dal import learners as learner_store
    from intake.domain import Learner
    from intake.settings import get_settings
    from tests.integration.sign_in_helpers import sign_in

    password = "tablet-sign-in-pass-1"
    new = {"docId": str(next(doc_ids)), "firstName": "Sig", "lastName": "Nin", "dateOfBirth": "01/02/1990"}
    status, created = _api("POST", "/learners", "sys", {**new, "locationId": UNIT_A1, "password": password})
    assert status == 201, created
    learner = created["learner"]
    tablet = get_settings().tablet_client_id
    context = FakeLambdaContext()

    def attempt(login: str, typed: str) -> int:
        body = {"agencyId": learner["agencyId"], "username": login, "password": typed}
        return sign_in(tablet, body, context)[0]

    assert attempt(learner["username"], password) == 200
    assert attempt(learner["docId"], password) == 200
    assert attempt("nobody-at-all", password) == 401
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEARNER_LOCKOUT_SECONDS", "1")
        get_settings.cache_clear()
        assert [attempt(learner["username"], "wrong-password-0") for _ in range(5)] == [401] * 5
        assert attempt(learner["username"], password) == 429
        time.sleep(2.5)  # the wait after 6 failures with a base of 1 s: 2 s
        assert attempt(learner["username"], password) == 200
    get_settings.cache_clear()
    # a learner whose hash has older (weaker) parameters: rehashed on a successful sign-in
    old = Learner.model_validate(
        {
            **{k: v for k, v in learner.items() if k not in ("learnerId", "docId", "username", "version", "history")},
            "learnerId": f"lrn-old-{next(doc_ids)}",
            "docId": str(next(doc_ids)),
            "username": f"oldhash{next(doc_ids)}",
        }
    )
    learner_store.insert_learner(old, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password))
    assert attempt(str(old.username), password) == 200


def _validator_paths(aws: Any, doc_ids: Iterator[int]) -> None:
    """A rejected file, a missing object, a facility drop and an object under no facility's prefix."""
    s3 = boto3.client("s3", region_name="us-east-1")
    _upload_with(aws, b"\x89PNG\r\n\x1a\n not a spreadsheet")
    gone = _upload_with(aws, _rows(doc_ids, 1))
    s3.delete_object(Bucket=aws.bucket, Key=f"incoming/{FAC_A1}/{gone}.csv")
    # as an earlier attempt that stopped after writing part of its plan leaves it: the "file gone" path removes it
    put_object(aws, f"plans/{FAC_A1}/{gone}/chunk-000000.json", b"[]")
    put_object(aws, f"incoming/{FAC_A1}/roster-drop.csv", _rows(doc_ids, 2))
    put_object(aws, "incoming/no-such-facility/roster.csv", _rows(doc_ids, 1))
    # a drop of a facility that confirms its drops itself: the validator fans the creation out
    assert _api("POST", f"/facilities/{FAC_A2}/settings", "sys", {"autoConfirmDrops": True})[0] == 200
    put_object(aws, f"incoming/{FAC_A2}/roster-auto.csv", _rows(doc_ids, 2, UNIT_A2))
    drain(aws)
    assert _api("GET", f"/uploads/{gone}", "ridge")[1]["status"] == "FAILED"
    assert not s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"plans/{FAC_A1}/{gone}/").get("Contents")


def _creation_paths(aws: Any, doc_ids: Iterator[int]) -> None:
    """A bulk confirm whose worker hands rows back, to completion; another whose handed-back chunk dead-letters."""
    # one row of the file is a learner of another facility of the agency: a move
    mover = {
        "docId": "8099999",
        "firstName": "Mo",
        "lastName": "Ver",
        "dateOfBirth": "01/02/1990",
        "locationId": UNIT_A2,
    }
    assert _api("POST", "/learners", "sys", mover)[0] == 201
    moved_row = f"61,{mover['docId']},Mo,Ver,01/02/1990,Learner,,{UNIT_A1}"
    finished = _upload_with(aws, _rows(doc_ids, 60)[:-1] + b"\n" + moved_row.encode() + b"\n")
    stopped = _upload_with(aws, _rows(doc_ids, 60))
    drain(aws)
    for message in _worker_short_of_time(aws, finished):
        _sqs().send_message(QueueUrl=aws.queue_urls["CreationQueue"], MessageBody=message["Body"])
    drain(aws)
    status, view = _api("GET", f"/uploads/{finished}", "ridge")
    assert (status, view["status"]) == (200, "COMPLETED"), view
    assert "resultReportUrl" in view and view["counts"]["moved"] == 1
    _dead_letter(aws, "CreationDLQ", _worker_short_of_time(aws, stopped))
    assert _api("GET", f"/uploads/{stopped}", "ridge")[1]["status"] == "FAILED"
    # a link upload and a drop with no valid row, confirmed with skipInvalidRows: a worker completes each (the API
    # writes no report and may not touch incoming/)
    bad_row = f"1,{next(doc_ids)},Ann,Lee,13/45/1990,Learner,,{UNIT_A1}"
    empty_link = _upload_with(aws, csv_file([bad_row]))
    put_object(aws, f"incoming/{FAC_A1}/roster-empty.csv", csv_file([bad_row.replace("1,", "2,", 1)]))
    drain(aws)
    empty_drop = next(
        u["uploadId"]
        for u in _api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")[1]["uploads"]
        if u["source"] == "drop" and u["fileName"] == "roster-empty.csv"
    )
    for upload_id in (empty_link, empty_drop):
        status, answer = _api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"skipInvalidRows": True})
        assert status == 202, answer
    drain(aws)
    for upload_id in (empty_link, empty_drop):
        assert _api("GET", f"/uploads/{upload_id}", "ridge")[1]["status"] == "COMPLETED"


def _sync_paths(aws: Any) -> None:
    """A sync's updates and deactivations applied by the worker, then undone through the API (issue 17)."""
    from tests.integration import sync_fault_flows

    def call(method: str, path: str, user: str, body: Any = None) -> Any:
        return matrix._call(method, path, user, body, context=FakeLambdaContext())

    flow = sync_fault_flows.prepare(call, aws, tag=9, missing=2)
    assert _api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    assert _api("GET", f"/uploads/{flow.upload_id}", "ridge")[1]["counts"]["deactivated"] == 2
    status, answer = _api("POST", f"/uploads/{flow.upload_id}/undo-deactivations", "ridge")
    assert (status, answer) == (200, {"reactivated": 2, "skipped": 0}), answer


def _validation_dead_letter(aws: Any, doc_ids: Iterator[int]) -> None:
    """The object events of a link upload (part of whose plan an attempt wrote) and of a drop, dead-lettered."""
    failed = _upload_with(aws, _rows(doc_ids, 1))
    put_object(aws, f"plans/{FAC_A1}/{failed}/chunk-000000.json", b"[]")
    put_object(aws, f"incoming/{FAC_A1}/roster-dead.csv", _rows(doc_ids, 1))
    _dead_letter(aws, "ValidationDLQ", _take(aws, "ValidationQueue"))
    assert _api("GET", f"/uploads/{failed}", "ridge")[1]["status"] == "FAILED"
    assert (
        len([u for u in _api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")[1]["uploads"] if u["status"] == "FAILED"])
        >= 2
    )


def _sweeper(aws: Any, doc_ids: Iterator[int]) -> None:
    """Uploads of three days ago, one never sent and one validated, expired by the sweeper as EventBridge runs it,
    and one completed, whose results with passwords the sweeper deletes after their 24 hours."""
    from intake import clock

    real_now = clock.utc_now
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "utc_now", lambda: real_now() - timedelta(days=3))
        _api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
        _upload_with(aws, _rows(doc_ids, 1))
        read_late = _upload_with(aws, _rows(doc_ids, 1))
        completed = _upload_with(aws, _rows(doc_ids, 1))
        drain(aws)
        _api("POST", f"/uploads/{completed}/confirm", "ridge", {})
        drain(aws)
    # an upload read after its expiry is expired by the API on the spot (its file and plan removed)
    assert _api("GET", f"/uploads/{read_late}", "ridge")[1]["status"] == "EXPIRED"
    (schedule,) = schedules_of(aws)
    assert run_once(schedule, aws)["expired"] == 2


def _scim_paths(aws: Any) -> None:
    """A SCIM client of agency A: discovery, create, filter, a group's member added and removed, PATCH, PUT, a
    deactivation held by the guard and released by the agency's admin through the API, and DELETE."""
    import copy
    import json

    import api_handler
    from intake.dal import scim as scim_store
    from tests.conftest import AGENCY_A, load_event

    scim_store.bind_client(AGENCY_A, "least-privilege-scim")

    def scim(method: str, path: str, body: Any = None, query: Any = None) -> int:
        event = copy.deepcopy(load_event("api_request.json"))
        event.update(httpMethod=method, path=f"/scim/v2{path}", queryStringParameters=query)
        event["requestContext"]["httpMethod"] = method
        claims = {"token_use": "access", "scope": "intake/scim", "client_id": "least-privilege-scim"}
        event["requestContext"]["authorizer"] = {"claims": claims}
        event["body"] = json.dumps(body) if body is not None else None
        return int(api_handler.lambda_handler(event, FakeLambdaContext())["statusCode"])

    def patch(*operations: dict[str, Any]) -> dict[str, Any]:
        return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}

    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "title": "Teacher"}
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert scim("GET", path) == 200, path
    for name in ("scim-one", "scim-two"):
        assert scim("POST", "/Users", {**user, "userName": name}) == 201
        member = patch({"op": "add", "path": "members", "value": [{"value": name}]})
        assert scim("PATCH", f"/Groups/{FAC_A1}.Educator", member) == 200
    assert scim("GET", "/Users", query={"filter": 'userName eq "scim-one"'}) == 200
    assert scim("GET", "/Groups") == 200
    assert scim("PUT", "/Users/scim-one", {**user, "userName": "scim-one", "title": "Dean"}) == 200
    assert scim("PATCH", "/Users/scim-one", patch({"op": "Replace", "path": "active", "value": "False"})) == 200
    assert scim("PATCH", "/Users/scim-two", patch({"op": "Replace", "path": "active", "value": "False"})) == 409
    assert _api("POST", f"/agencies/{AGENCY_A}/scim-holds/release", "north", {})[0] == 200
    assert scim("PATCH", f"/Groups/{FAC_A1}.Educator", patch({"op": "remove", "path": 'members[value eq "scim-two"]'}))
    assert scim("DELETE", "/Users/scim-one") == 204


@pytest.fixture(scope="module")
def needs(recorder: Recorder, aws: Any, world: Any) -> set[Need]:
    """What every function's flows needed, plus what Lambda itself does with each role."""
    doc_ids = itertools.count(8_100_001)
    _api_routes(world)
    _sign_in_paths(aws, doc_ids)
    _scim_paths(aws)
    _validator_paths(aws, doc_ids)
    _creation_paths(aws, doc_ids)
    _sync_paths(aws)
    _validation_dead_letter(aws, doc_ids)
    _sweeper(aws, doc_ids)
    return recorder.needs() | platform_needs(aws)


@pytest.fixture(scope="module")
def grants(aws: Any) -> dict[str, list[Grant]]:
    return function_grants(aws)


def test_every_function_ran_its_flows(needs: set[Need], grants: dict[str, list[Grant]]) -> None:
    # Given the calls recorded while the flows ran (not counting what Lambda does with the role)
    by_code = {n.function for n in needs if not n.operation.startswith("(")}

    # Then every function of the template made calls of its own: a function without flows here is untested
    assert set(grants) == set(FUNCTIONS)
    assert by_code == set(FUNCTIONS)


def test_no_function_calls_what_its_role_does_not_allow(needs: set[Need], grants: dict[str, list[Grant]]) -> None:
    # Given each call's (function, action, resource) and each function role's statements

    # When looking for calls no statement allows
    missing = sorted(n.describe() for n in needs if not any(g.allows(n) for g in grants[n.function]))

    # Then there is none (each line: add that action on that resource to the function's role in template.yaml)
    assert not missing, "MISSING from template.yaml:\n" + "\n".join(missing)


def test_no_role_grants_what_its_function_never_calls(needs: set[Need], grants: dict[str, list[Grant]]) -> None:
    # Given each function role's grants (action × resource of every statement) and the calls its flows needed

    # When looking for grants no call used
    unused = sorted(
        g.describe()
        for function_grants_ in grants.values()
        for g in function_grants_
        if (g.function, g.sid, g.action) not in NOT_EXERCISED and not any(g.allows(n) for n in needs)
    )

    # Then there is none (each line: remove it from template.yaml, or list it in NOT_EXERCISED with the reason)
    assert not unused, "UNUSED in template.yaml:\n" + "\n".join(unused)
