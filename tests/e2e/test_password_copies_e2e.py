"""Issue 13 (findings 3, 4) over the local stack: after a bulk flow, no plaintext password is anywhere it should not be.

HTTP for staff, the presigned POST for the file, OpenSSH `sftp` for the facility's /reports folder, and a scan of
every object of the bucket.
"""

from __future__ import annotations

import csv
import io
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Api, stack_client, staff_named
from tests.e2e.test_sftp import FACILITY, HEADER, STAFF, account, sftp
from tests.environment import missing

pytestmark = [pytest.mark.e2e]
Stack = dict[str, Any]
WAIT_SECONDS = 60
UNFINISHED = {"AWAITING_FILE", "VALIDATING", "VALIDATED", "VALIDATED_WITH_ERRORS", "CREATING"}


def _wait(api: Api, upload_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = api.call("GET", f"/uploads/{upload_id}", STAFF)
        assert response.status_code == 200, response.text
        view = response.json()
        if view["status"] in statuses:
            return view
        time.sleep(0.3)
    pytest.fail(f"upload {upload_id} did not reach {statuses}: {view}")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _scan(stack: Stack) -> dict[str, str]:
    s3 = stack_client(stack, "s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack["uploadsBucket"]):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=stack["uploadsBucket"], Key=item["Key"])["Body"].read()
            found[item["Key"]] = body.decode("utf-8", "replace")
    return found


def _allowed(key: str, unfinished: set[str], fresh_password_copies: set[str]) -> bool:
    """incoming/ objects of unfinished uploads, and results with passwords within their 24 hours."""
    if key.startswith("incoming/"):
        return any(upload_id in key for upload_id in unfinished)
    return key in fresh_password_copies


def test_passwords_reach_only_the_confirmer(local_stack: Stack, api: Api, tmp_path: Path) -> None:
    if shutil.which("sftp") is None:
        missing("no OpenSSH sftp client: install Debian's openssh-client, as .ci/run does")
    # Given a file with given and blank passwords, uploaded through a presigned link by the facility's admin
    unit = f"{FACILITY}-unit-a"
    given = [f"Given-{secrets.token_hex(6)}!", f"Given-{secrets.token_hex(6)}!"]
    doc_ids = [f"77{secrets.randbelow(10**6):06d}" for _ in range(4)]
    lines = [
        f"r1,{doc_ids[0]},Ann,Lee,03/14/1988,Learner,{given[0]},{unit}",
        f"r2,{doc_ids[1]},Bea,Lee,03/14/1988,Learner,{given[1]},{unit}",
        f"r3,{doc_ids[2]},Cal,Lee,03/14/1988,Learner,,{unit}",
        f"r4,{doc_ids[3]},Dee,Lee,03/14/1988,Learner,,{unit}",
    ]
    created = api.call("POST", "/uploads", STAFF, {"facilityId": FACILITY, "fileName": "roster.csv"})
    assert created.status_code == 201, created.text
    link = created.json()
    upload_id = link["uploadId"]
    files = {"file": ("roster.csv", ("\n".join([HEADER, *lines]) + "\n").encode(), "text/csv")}
    sent = requests.post(link["upload"]["url"], data=link["upload"]["fields"], files=files, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    validated = _wait(api, upload_id, {"VALIDATED", "VALIDATED_WITH_ERRORS", "REJECTED"})
    assert validated["status"] == "VALIDATED", validated

    # Then, validated and not yet confirmed, no object holds a given password (the raw file is gone, the plan sealed)
    before = _scan(local_stack)
    assert not [key for key, text in before.items() if any(p in text for p in given)]

    # When it is confirmed and created
    assert api.call("POST", f"/uploads/{upload_id}/confirm", STAFF, {}).status_code == 202
    done = _wait(api, upload_id, {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
    assert done["status"] == "COMPLETED", done

    # Then the confirmer's link has the two generated passwords
    assert done["resultReportHasPasswords"] is True
    mine = _rows(requests.get(done["resultReportUrl"], timeout=30).text)
    generated = [r["password"] for r in mine if r["password"]]
    assert sorted(r["docID"] for r in mine if r["password"]) == sorted(doc_ids[2:]) and len(generated) == 2

    # And another writer of the facility (its AgencyAdmin) gets the same outcomes without passwords
    other = api.call("GET", f"/uploads/{upload_id}", staff_named(local_stack, "AgencyAdmin")).json()
    assert other["resultReportHasPasswords"] is False
    theirs = _rows(requests.get(other["resultReportUrl"], timeout=30).text)
    assert [r["outcome"] for r in theirs] == [r["outcome"] for r in mine] and {r["password"] for r in theirs} == {""}

    # And the facility's SFTP login reads results.csv from /reports without any password
    got = sftp(local_stack, account(local_stack, FACILITY), [f"get /reports/{upload_id}/results.csv r.csv"], tmp_path)
    assert got.returncode == 0, got.stderr
    sftp_text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert not [p for p in given + generated if p in sftp_text]

    # And across every object of the bucket, the passwords appear only in the confirmer's copy
    listing = api.call("GET", f"/facilities/{FACILITY}/uploads", STAFF).json()["uploads"]
    unfinished = {u["uploadId"] for u in listing if u["status"] in UNFINISHED}
    fresh = {f"passwords/{FACILITY}/{upload_id}/results.csv"}
    scanned = _scan(local_stack)
    assert len(scanned) > 0
    leaks = [
        key
        for key, text in scanned.items()
        if any(p in text for p in given + generated) and not _allowed(key, unfinished, fresh)
    ]
    assert leaks == []
    copy = scanned[f"passwords/{FACILITY}/{upload_id}/results.csv"]
    assert all(p in copy for p in generated) and not [p for p in given if p in copy]
