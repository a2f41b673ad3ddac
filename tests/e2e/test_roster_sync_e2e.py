"""Issue 17's acceptance over the running local stack: a facility's nightly roster dropped over OpenSSH `sftp`.

The facility (Pine Woods, southern agency: no other e2e test uses it) is set to `dropMode: sync` with
`autoConfirmDrops`, so each night confirms itself when it may. Its seeded active learners are kept on every night's
file (the file is the facility's whole roster). DynamoDB requests are counted by the local stack's counter
(local/dynamodb_requests.py) around night 2; what each night applied is read back through the API.
"""

from __future__ import annotations

import csv
import io
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.dynamodb_requests import COUNTER_PATH
from tests.e2e.conftest import token
from tests.e2e.test_sftp import account, sftp
from tests.environment import missing

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
FACILITY = "south-pine-woods"
UNIT_1, UNIT_2 = f"{FACILITY}-unit-1", f"{FACILITY}-unit-2"
STAFF = "pine-woods-admin"
HEADER = ["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId"]
ROSTER = 30
WAIT_SECONDS = 90  # validation and creation run through the stack's SQS pollers, 30 generated hashes included
SETTLED = {"REJECTED", "VALIDATED", "VALIDATED_WITH_ERRORS", "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "EXPIRED"}
FINISHED = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "REJECTED", "EXPIRED"}
LEARNER_TABLES = ("LearnersTable", "UsernamesTable")  # a learner's item and its username claim
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


@pytest.fixture(autouse=True)
def _needs_sftp() -> None:
    if shutil.which("sftp") is None:
        missing("no OpenSSH sftp client: install Debian's openssh-client, as .ci/run does")


def api(stack: Stack, method: str, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(stack, STAFF)}"}
    return requests.request(method, stack["apiUrl"] + path, headers=headers, json=body, timeout=60)


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def roster_of(stack: Stack, status: str = "ACTIVE") -> dict[str, dict[str, Any]]:
    """The facility's learners by DOC ID, read through the API (every page)."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        query = f"status={status}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = ok(api(stack, "GET", f"/facilities/{FACILITY}/learners?{query}"))
        found.update({learner["docId"]: learner for learner in page["learners"]})
        cursor = page.get("nextCursor")
        if not cursor:
            return found


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def row_of(learner: dict[str, Any], n: int) -> dict[str, str]:
    """A roster row with a learner's stored details (blank password: a sync never sets one for them)."""
    return {
        "requestId": f"r{n}",
        "docID": learner["docId"],
        "firstName": learner["firstName"],
        "lastName": learner["lastName"],
        "dateOfBirth": learner["dateOfBirth"],
        "role": "Learner",
        "password": "",
        "locationId": learner["locationId"],
    }


def drop(stack: Stack, tmp_path: Path, name: str, data: bytes) -> None:
    """The facility's SFTP server puts the file into /incoming, as its nightly job does."""
    (tmp_path / name).write_bytes(data)
    put = sftp(stack, account(stack, FACILITY), ["cd /incoming", f"put {name}"], tmp_path)
    assert put.returncode == 0, put.stderr


def wait_for(stack: Stack, name: str, statuses: set[str]) -> dict[str, Any]:
    """The facility's upload of `name`, once its status is one of `statuses`."""
    deadline = time.monotonic() + WAIT_SECONDS
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = [u for u in ok(api(stack, "GET", f"/facilities/{FACILITY}/uploads"))["uploads"] if u["fileName"] == name]
        if seen and seen[0]["status"] in statuses:
            return ok(api(stack, "GET", f"/uploads/{seen[0]['uploadId']}"))  # type: ignore[no-any-return]
        time.sleep(0.3)
    pytest.fail(f"no upload of {name} reached {statuses} in {WAIT_SECONDS} s: {seen}")


def wait_upload(stack: Stack, upload_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    upload: dict[str, Any] = {}
    while time.monotonic() < deadline:
        upload = ok(api(stack, "GET", f"/uploads/{upload_id}"))
        if upload["status"] in statuses:
            return upload
        time.sleep(0.3)
    pytest.fail(f"upload {upload_id} did not reach {statuses} in {WAIT_SECONDS} s: {upload}")


def plan_csv(upload: dict[str, Any]) -> list[dict[str, str]]:
    """plan.csv of the upload, as staff download it from `planReportUrl`."""
    assert upload.get("planReportUrl"), upload
    response = requests.get(upload["planReportUrl"], timeout=60)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def dynamodb_requests(stack: Stack) -> Counter[tuple[str, str]]:
    """The local stack's DynamoDB request counters, by (operation, logical table name)."""
    response = requests.get(stack["awsEndpoint"] + COUNTER_PATH, timeout=30)
    assert response.status_code == 200, response.text
    return Counter(
        {(r["operation"], r["table"].removeprefix("intake-")): r["count"] for r in response.json()["requests"]}
    )


def on(counts: Counter[tuple[str, str]], operations: set[str], tables: tuple[str, ...]) -> int:
    return sum(n for (operation, table), n in counts.items() if operation in operations and table in tables)


def counts_of(upload: dict[str, Any], *names: str) -> dict[str, int]:
    counts = upload.get("counts") or {}
    return {name: int(counts.get(name) or 0) for name in names}


PLAN_COUNTS = ("toCreate", "toMove", "toReactivate", "toUpdate", "unchanged", "toDeactivate", "invalid")
DONE_COUNTS = ("created", "moved", "reactivated", "updated", "deactivated", "failed")


@pytest.fixture
def sync_facility(local_stack: Stack) -> Iterator[dict[str, dict[str, Any]]]:
    """Pine Woods set to dropMode sync with autoConfirmDrops; its seeded active learners; the settings put back."""
    before = ok(api(local_stack, "GET", f"/facilities/{FACILITY}/settings"))["settings"]
    changed = ok(
        api(
            local_stack,
            "POST",
            f"/facilities/{FACILITY}/settings",
            {"dropMode": "sync", "autoConfirmDrops": True},
        )
    )["settings"]
    assert (changed["dropMode"], changed["autoConfirmDrops"], changed["maxSyncDeactivationPercent"]) == (
        "sync",
        True,
        10,
    )
    try:
        yield roster_of(local_stack)
    finally:
        api(
            local_stack,
            "POST",
            f"/facilities/{FACILITY}/settings",
            {"dropMode": before.get("dropMode", "create"), "autoConfirmDrops": before["autoConfirmDrops"]},
        )


def test_four_nights_of_a_roster_over_sftp_then_undo(
    local_stack: Stack, sync_facility: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    seeded = [row_of(learner, n) for n, learner in enumerate(sync_facility.values(), start=900)]
    stem = f"PW9{secrets.randbelow(10**5):05d}"
    names = ["Ada", "Ben", "Cleo", "Dara", "Eli", "Faye", "Gus", "Hana", "Ivo", "Jude"]
    learners = [
        {
            "requestId": f"r{n}",
            "docID": f"{stem}{n:02d}",
            "firstName": names[n % 10],
            "lastName": f"Okafor{chr(65 + n % 26)}",
            "dateOfBirth": f"{n % 12 + 1:02d}/{n % 28 + 1:02d}/19{60 + n}",
            "role": "Learner",
            "password": "",
            "locationId": UNIT_1 if n % 2 else UNIT_2,
        }
        for n in range(ROSTER + 1)  # the last one is night 3's new learner
    ]
    roster = learners[:ROSTER]
    night = secrets.token_hex(3)

    # Given night 1's roster of 30 learners (and the facility's seeded ones, as they are stored)
    night1 = csv_bytes(seeded + roster)
    # When the facility's SFTP job puts it into /incoming
    drop(local_stack, tmp_path, f"roster-{night}-1.csv", night1)
    # Then it plans 30 CREATE, confirms itself and creates them
    upload = wait_for(local_stack, f"roster-{night}-1.csv", FINISHED)
    assert (upload["source"], upload["mode"], upload["status"]) == ("drop", "sync", "COMPLETED"), upload
    assert counts_of(upload, *PLAN_COUNTS) == {
        "toCreate": ROSTER, "toMove": 0, "toReactivate": 0, "toUpdate": 0, "unchanged": len(seeded),
        "toDeactivate": 0, "invalid": 0,
    }  # fmt: skip
    assert counts_of(upload, "created", "failed", "deactivated") == {"created": ROSTER, "failed": 0, "deactivated": 0}
    stored = roster_of(local_stack)
    assert {r["docID"] for r in roster} <= set(stored)
    assert len(stored) == ROSTER + len(seeded)

    # Given the very same roster the next night
    before = dynamodb_requests(local_stack)
    # When it is dropped again
    drop(local_stack, tmp_path, f"roster-{night}-2.csv", night1)
    upload = wait_for(local_stack, f"roster-{night}-2.csv", SETTLED)
    if upload["status"] not in FINISHED:  # confirmed itself: wait for the (empty) creation to finish
        upload = wait_upload(local_stack, upload["uploadId"], FINISHED | {"VALIDATED"})
    during = dynamodb_requests(local_stack) - before
    # Then every row is UNCHANGED, with no row error and no warning
    assert upload["status"] in ("VALIDATED", "COMPLETED"), upload
    assert counts_of(upload, *PLAN_COUNTS) == {
        "toCreate": 0, "toMove": 0, "toReactivate": 0, "toUpdate": 0, "unchanged": ROSTER + len(seeded),
        "toDeactivate": 0, "invalid": 0,
    }  # fmt: skip
    assert upload.get("errors", []) == []
    assert {r["action"] for r in plan_csv(upload)} == {"UNCHANGED"}
    # And not one DynamoDB write touched a learner or a username: the writes are the upload's own record and, when the
    # night confirmed itself, its one UPLOAD_CONFIRMED audit entry (a drop that confirms itself is audited)
    written = {table for (operation, table), n in during.items() if operation in WRITES and n}
    assert on(during, WRITES, LEARNER_TABLES) == 0, dict(during)
    assert written <= {"UploadsTable", "AuditTable", "IdempotencyTable"}, dict(during)
    assert on(during, WRITES, ("AuditTable",)) == (1 if upload["status"] == "COMPLETED" else 0), dict(during)
    # And the roster was read with a handful of requests, not one per row
    assert 0 < on(during, READS, ("LearnersTable",)) <= 10, dict(during)

    # Given, the day after, one learner released by staff (deactivated), and night 3's roster:
    # one name changed, one learner moved to the other housing unit, two missing, one new, the released one back
    released, renamed, moved, gone = roster[29], roster[0], roster[1], roster[2:4]
    ok(api(local_stack, "POST", f"/learners/{stored[released['docID']]['learnerId']}/deactivate"))
    night3 = [dict(r) for r in roster if r not in gone] + [learners[ROSTER]]
    for r in night3:
        if r["docID"] == renamed["docID"]:
            r["lastName"] = "Okafor-Hill"
        if r["docID"] == moved["docID"]:
            r["locationId"] = UNIT_2 if moved["locationId"] == UNIT_1 else UNIT_1
    # When it is dropped
    drop(local_stack, tmp_path, f"roster-{night}-3.csv", csv_bytes(seeded + night3))
    upload = wait_for(local_stack, f"roster-{night}-3.csv", FINISHED)
    # Then the plan is exactly UPDATE 2 (naming the fields), DEACTIVATE 2, CREATE 1, REACTIVATE 1, the rest UNCHANGED
    assert counts_of(upload, *PLAN_COUNTS) == {
        "toCreate": 1, "toMove": 0, "toReactivate": 1, "toUpdate": 2, "unchanged": ROSTER - 5 + len(seeded),
        "toDeactivate": 2, "invalid": 0,
    }  # fmt: skip
    assert "hold" not in upload or not upload["hold"], upload
    plan = {r["docID"]: r for r in plan_csv(upload) if r["action"] != "UNCHANGED"}
    assert {doc_id: (r["action"], r["changedFields"]) for doc_id, r in plan.items()} == {
        renamed["docID"]: ("UPDATE", "lastName"),
        moved["docID"]: ("UPDATE", "locationId"),
        gone[0]["docID"]: ("DEACTIVATE", ""),
        gone[1]["docID"]: ("DEACTIVATE", ""),
        learners[ROSTER]["docID"]: ("CREATE", ""),
        released["docID"]: ("REACTIVATE", ""),
    }
    assert sorted(int(plan[g["docID"]]["line"]) for g in gone) == [
        len(night3) + len(seeded) + 2,
        len(night3) + len(seeded) + 3,
    ]
    # And confirming (itself: no row error, no hold) applied exactly that
    assert upload["status"] == "COMPLETED", upload
    assert counts_of(upload, *DONE_COUNTS) == {
        "created": 1, "moved": 0, "reactivated": 1, "updated": 2, "deactivated": 2, "failed": 0,
    }  # fmt: skip
    everyone = roster_of(local_stack, "ALL")
    assert everyone[renamed["docID"]]["lastName"] == "Okafor-Hill"
    assert everyone[moved["docID"]]["locationId"] != moved["locationId"]
    assert [everyone[g["docID"]]["status"] for g in gone] == ["INACTIVE", "INACTIVE"]
    assert everyone[released["docID"]]["status"] == "ACTIVE"
    assert everyone[released["docID"]]["learnerId"] == stored[released["docID"]]["learnerId"]
    assert everyone[learners[ROSTER]["docID"]]["status"] == "ACTIVE"
    active = roster_of(local_stack)
    assert len(active) == ROSTER - 2 + 1 + len(seeded)

    # Given night 4's roster with half the learners missing
    kept = night3[: len(night3) // 2]
    missing_ids = {r["docID"] for r in night3[len(night3) // 2 :]}
    # When it is dropped
    drop(local_stack, tmp_path, f"roster-{night}-4.csv", csv_bytes(seeded + kept))
    upload = wait_for(local_stack, f"roster-{night}-4.csv", SETTLED)
    # Then it is held (MASS_DEACTIVATION) and does not confirm itself
    assert upload["status"] == "VALIDATED", upload
    hold = upload.get("hold") or {}
    assert (hold.get("code"), hold.get("toDeactivate"), hold.get("activeLearners")) == (
        "MASS_DEACTIVATION",
        len(missing_ids),
        len(active),
    ), upload
    assert hold.get("message")
    time.sleep(3)  # the pollers have long finished with it: still waiting for staff
    assert ok(api(local_stack, "GET", f"/uploads/{upload['uploadId']}"))["status"] == "VALIDATED"
    # When staff confirm it without the flag
    refused = api(local_stack, "POST", f"/uploads/{upload['uploadId']}/confirm", {})
    # Then 409 CONFLICT, reason MASS_DEACTIVATION, and nobody was deactivated
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json().get("reason")) == ("CONFLICT", "MASS_DEACTIVATION")
    assert set(roster_of(local_stack)) == set(active)
    # When they confirm it with allowMassDeactivation
    accepted = api(local_stack, "POST", f"/uploads/{upload['uploadId']}/confirm", {"allowMassDeactivation": True})
    assert accepted.status_code == 202, accepted.text
    upload = wait_upload(local_stack, upload["uploadId"], FINISHED)
    # Then exactly the missing half is deactivated
    assert upload["status"] == "COMPLETED", upload
    assert counts_of(upload, "deactivated", "failed") == {"deactivated": len(missing_ids), "failed": 0}
    after = roster_of(local_stack)
    assert set(active) - set(after) == missing_ids

    # When staff undo that night's deactivations
    undone = api(local_stack, "POST", f"/uploads/{upload['uploadId']}/undo-deactivations")
    # Then every one of them is active again, and a repeat answers the same, changing nothing
    assert ok(undone) == {"reactivated": len(missing_ids), "skipped": 0}
    assert set(roster_of(local_stack)) == set(active)
    assert ok(api(local_stack, "POST", f"/uploads/{upload['uploadId']}/undo-deactivations")) == {
        "reactivated": len(missing_ids),
        "skipped": 0,
    }


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ([h if h != "docID" else "dcoID" for h in HEADER], None),  # a header typo
        ([h for h in HEADER if h != "docID"], "MISSING_COLUMN"),  # no docID column at all
    ],
    ids=["header-typo", "missing-docID"],
)
def test_a_sync_file_whose_header_is_wrong_is_rejected_and_deactivates_nobody(
    local_stack: Stack,
    sync_facility: dict[str, dict[str, Any]],
    tmp_path: Path,
    header: list[str],
    code: str | None,
) -> None:
    # Given a sync facility and a roster of one of its learners under a broken header
    active = roster_of(local_stack)
    first = next(iter(active.values()))
    row = dict(zip(header, row_of(first, 1).values(), strict=False))
    name = f"roster-broken-{secrets.token_hex(3)}.csv"
    before = dynamodb_requests(local_stack)
    # When it is dropped
    drop(local_stack, tmp_path, name, csv_bytes([row], header))
    upload = wait_for(local_stack, name, SETTLED)
    during = dynamodb_requests(local_stack) - before
    # Then it is REJECTED with one file-level error, plans nothing and nobody is deactivated
    assert upload["status"] == "REJECTED", upload
    assert [e["line"] for e in upload["errors"]] == [0]
    if code:
        assert upload["errors"][0]["code"] == code
    assert counts_of(upload, "toDeactivate", "toUpdate", "toCreate", "unchanged") == {
        "toDeactivate": 0, "toUpdate": 0, "toCreate": 0, "unchanged": 0,
    }  # fmt: skip
    assert roster_of(local_stack) == active
    assert on(during, WRITES, (*LEARNER_TABLES, "AuditTable")) == 0, dict(during)


def test_the_same_file_under_the_same_name_the_next_night_is_planned_again(
    local_stack: Stack, sync_facility: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # Given a sync facility whose nightly job always writes roster.csv, and tonight's file planned
    rows = [row_of(learner, n) for n, learner in enumerate(sync_facility.values(), start=1)]
    name = f"roster-same-{secrets.token_hex(3)}.csv"
    drop(local_stack, tmp_path, name, csv_bytes(rows))
    first = wait_for(local_stack, name, SETTLED)
    # When the next night's file, with nothing changed in it, is put under the same name
    drop(local_stack, tmp_path, name, csv_bytes(rows))
    # Then it is a new upload of its own, planned against the roster as it is that night
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        uploads = ok(api(local_stack, "GET", f"/facilities/{FACILITY}/uploads"))["uploads"]
        if len([u for u in uploads if u["fileName"] == name]) > 1:
            break
        time.sleep(0.3)
    uploads = [
        u for u in ok(api(local_stack, "GET", f"/facilities/{FACILITY}/uploads"))["uploads"] if u["fileName"] == name
    ]
    assert len(uploads) == 2 and uploads[1]["uploadId"] == first["uploadId"], uploads
