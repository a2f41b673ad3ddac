"""Facility SFTP drops through OpenSSH's own `sftp` client in batch mode, against the local stack's SFTP server."""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import stack_client, token
from tests.environment import missing

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _needs_sftp() -> None:
    if shutil.which("sftp") is None:
        missing("no OpenSSH sftp client: install Debian's openssh-client, as .ci/run does")


Stack = dict[str, Any]
FACILITY = "north-cedar-creek"
OTHER_FACILITY = "north-riverbend"
STAFF = "cedar-creek-admin"
HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"
SFTP_TIMEOUT = 20
WAIT_SECONDS = 30
COMMON_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")


def account(stack: Stack, facility_id: str) -> dict[str, str]:
    return next(a for a in stack["sftp"]["accounts"] if a["facilityId"] == facility_id)


def sftp(
    stack: Stack,
    user: dict[str, str],
    commands: list[str],
    cwd: Path,
    *,
    key: str | None = None,
    password: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `sftp -b` as `user` with a private key (default: the account's own) or, if given, a password."""
    batch = cwd / "batch"
    batch.write_text("\n".join(commands) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "DISPLAY")}
    if password is None:
        auth = ["-i", key or user["privateKeyPath"], "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no"]
        auth += ["-o", "KbdInteractiveAuthentication=no"]
    else:
        # sftp -b turns BatchMode on, which forbids password prompts; an option given first wins, and SSH_ASKPASS
        # answers the prompt without a terminal.
        askpass = cwd / "askpass"
        askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$INTAKE_TEST_SFTP_PASSWORD"\n')
        askpass.chmod(0o700)
        env |= {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
        env["INTAKE_TEST_SFTP_PASSWORD"] = password
        auth = ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
    destination = f"{user['username']}@{stack['sftp']['host']}"
    return subprocess.run(
        ["sftp", *auth, *COMMON_OPTIONS, "-P", str(stack["sftp"]["port"]), "-b", str(batch), destination],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SFTP_TIMEOUT,
        check=False,
    )


def s3(stack: Stack) -> Any:
    return stack_client(stack, "s3")


def all_keys(stack: Stack, prefix: str = "") -> set[str]:
    pages = s3(stack).get_paginator("list_objects_v2").paginate(Bucket=stack["uploadsBucket"], Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def api(stack: Stack, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(stack, STAFF)}"}
    return requests.request(method, stack["apiUrl"] + path, headers=headers, timeout=30, **kwargs)


def wait_for_upload(stack: Stack, file_name: str, statuses: set[str]) -> dict[str, Any]:
    """The facility's upload of file_name once its status is one of statuses."""
    deadline = time.monotonic() + WAIT_SECONDS
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = api(stack, "GET", f"/facilities/{FACILITY}/uploads")
        assert response.status_code == 200, response.text
        seen = [u for u in response.json()["uploads"] if u["fileName"] == file_name]
        if seen and seen[0]["status"] in statuses:
            return seen[0]
        time.sleep(0.3)
    pytest.fail(f"no upload of {file_name} reached {statuses} in {WAIT_SECONDS} s: {seen}")


def read_csv(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith("\ufeff".encode()), "reports are UTF-8 with BOM"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_put_becomes_a_drop_whose_reports_come_back_to_its_folder(local_stack: Stack, tmp_path: Path) -> None:
    # Given a roster with one good row and one with an impossible date, as a facility's nightly export
    doc_ids = [f"88{secrets.randbelow(10**6):06d}", f"89{secrets.randbelow(10**6):06d}"]
    unit = f"{FACILITY}-unit-a"
    name = f"roster-{secrets.token_hex(4)}.csv"
    (tmp_path / name).write_text(
        f"{HEADER}\nr1,{doc_ids[0]},Ann,Lee,03/14/1988,Learner,,{unit}\nr2,{doc_ids[1]},Bo,Ray,13/45/1988,Learner,,{unit}\n"
    )
    me = account(local_stack, FACILITY)

    # When the facility puts it into /incoming with key authentication
    put = sftp(local_stack, me, ["cd /incoming", f"put {name}", "ls -l"], tmp_path)

    # Then it is stored under incoming/{facilityId}/ and becomes an upload with source drop, validated with errors
    assert put.returncode == 0, put.stderr
    assert name in put.stdout
    assert f"incoming/{FACILITY}/{name}" in all_keys(local_stack, f"incoming/{FACILITY}/")
    upload = wait_for_upload(local_stack, name, {"VALIDATED_WITH_ERRORS", "VALIDATED", "REJECTED"})
    assert (upload["source"], upload["status"]) == ("drop", "VALIDATED_WITH_ERRORS")
    upload_id = upload["uploadId"]

    # When it gets the error report from /reports
    report = f"/reports/{upload_id}"
    got = sftp(local_stack, me, [f"ls {report}", f"get {report}/errors.csv errors.csv"], tmp_path)

    # Then errors.csv names the bad row and says what to fix
    assert got.returncode == 0, got.stderr
    errors = read_csv(tmp_path / "errors.csv")
    assert [(e["line"], e["docID"], e["field"], e["code"]) for e in errors] == [
        ("3", doc_ids[1], "dateOfBirth", "INVALID_DATE")
    ]

    # When staff confirm it, skipping the bad row, and the facility gets results.csv from the same folder
    confirmed = api(local_stack, "POST", f"/uploads/{upload_id}/confirm", json={"skipInvalidRows": True})
    assert confirmed.status_code == 202, confirmed.text
    wait_for_upload(local_stack, name, {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
    got = sftp(local_stack, me, [f"get {report}/results.csv results.csv"], tmp_path)

    # Then it lists the good row as created and nothing for the skipped row, without the generated password (that is
    # for the staff member who confirmed, outside /reports: issue 13)
    assert got.returncode == 0, got.stderr
    results = read_csv(tmp_path / "results.csv")
    assert [(row["line"], row["docID"], row["outcome"]) for row in results] == [("2", doc_ids[0], "CREATED")]
    assert results[0]["password"] == "" and results[0]["learnerId"]


def test_password_authentication_and_refused_credentials(local_stack: Stack, tmp_path: Path) -> None:
    me = account(local_stack, FACILITY)
    other = account(local_stack, OTHER_FACILITY)
    # Given the account's password, a wrong one, and another facility's private key
    # When each is used to sign in as the account
    by_password = sftp(local_stack, me, ["pwd", "ls /"], tmp_path, password=me["password"])
    wrong_password = sftp(local_stack, me, ["pwd"], tmp_path, password=me["password"] + "x")
    other_password = sftp(local_stack, me, ["pwd"], tmp_path, password=other["password"])
    other_key = sftp(local_stack, me, ["pwd"], tmp_path, key=other["privateKeyPath"])
    # Then only the account's own password opens the session, whose home shows exactly the two folders
    assert by_password.returncode == 0, by_password.stderr
    assert "Remote working directory: /" in by_password.stdout
    assert by_password.stdout.split("sftp> ls /", 1)[1].split() == ["/incoming", "/reports"]
    for refused in (wrong_password, other_password, other_key):
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr


ESCAPE = "sftp-escape"  # every name an escape attempt could create contains this


def escapes(kept: str) -> list[str]:
    """Ways out of the two folders, or past their rules; kept is a file of the account's own /incoming."""
    return [
        "cd ..",
        "cd /incoming/../..",
        "ls ..",
        "ls /incoming/../..",
        f"ls /{OTHER_FACILITY}",
        f"ls /incoming/../../incoming/{OTHER_FACILITY}",
        f"ls /reports/{OTHER_FACILITY}",
        "ls /etc",
        "get /etc/passwd",
        f"get /reports/../../reports/{OTHER_FACILITY}/sftp-secret/errors.csv",
        f"get ../reports/{OTHER_FACILITY}/sftp-secret/errors.csv",
        f"put roster.csv /incoming/../../incoming/{OTHER_FACILITY}/{ESCAPE}.csv",
        f"put roster.csv ../incoming/{OTHER_FACILITY}/{ESCAPE}.csv",
        f"put roster.csv /{OTHER_FACILITY}/{ESCAPE}.csv",
        f"put roster.csv /reports/{ESCAPE}.csv",
        f"put roster.csv /{ESCAPE}.csv",
        f"put roster.csv /incoming/{ESCAPE}-dir/{ESCAPE}.csv",
        f"mkdir /incoming/{ESCAPE}-dir",
        f"symlink /reports /incoming/{ESCAPE}-link",
        f"symlink /etc/passwd /incoming/{ESCAPE}-passwd",
        f"ln /reports /incoming/{ESCAPE}-hard",
        f"rename /incoming/{kept} /incoming/{ESCAPE}-moved.csv",
        f"rm /incoming/{kept}",
        f"get /incoming/{kept}",
    ]


def test_an_account_cannot_reach_another_facility_or_escape_its_home(local_stack: Stack, tmp_path: Path) -> None:
    # Given a report in another facility's folder, that facility able to read it, and a file of our own in /incoming
    secret_key = f"reports/{OTHER_FACILITY}/sftp-secret/errors.csv"
    s3(local_stack).put_object(Bucket=local_stack["uploadsBucket"], Key=secret_key, Body=b"line\r\nsecret\r\n")
    other = account(local_stack, OTHER_FACILITY)
    owner = sftp(local_stack, other, ["get /reports/sftp-secret/errors.csv mine.csv"], tmp_path)
    assert owner.returncode == 0, owner.stderr
    assert (tmp_path / "mine.csv").read_bytes().endswith(b"secret\r\n")
    me = account(local_stack, FACILITY)
    kept = f"sftp-kept-{secrets.token_hex(4)}.csv"
    row = f"r1,87{secrets.randbelow(10**6):06d},Cy,Fox,01/02/1990,Learner,,{FACILITY}-unit-b"
    (tmp_path / "roster.csv").write_text(f"{HEADER}\n{row}\n")
    assert sftp(local_stack, me, [f"put roster.csv /incoming/{kept}"], tmp_path).returncode == 0
    attempts = escapes(kept)

    # When the account tries each way out of its two folders, one session each (a batch stops at its first failure)
    def attempt(index: int) -> int:
        workdir = tmp_path / f"attempt-{index}"
        workdir.mkdir()
        shutil.copy(tmp_path / "roster.csv", workdir)
        return sftp(local_stack, me, [attempts[index]], workdir).returncode

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(attempt, range(len(attempts))))

    # Then every one fails: nothing was created, moved or removed, and nothing of the other facility was read or listed
    assert [command for command, code in zip(attempts, codes, strict=True) if code == 0] == []
    assert [key for key in all_keys(local_stack) if ESCAPE in key] == []
    assert f"incoming/{FACILITY}/{kept}" in all_keys(local_stack)
    assert not any(p.name in ("errors.csv", "passwd") for p in tmp_path.rglob("*"))
    listing = sftp(local_stack, me, ["ls /reports", "ls /incoming"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "sftp-secret" not in listing.stdout
    assert kept in listing.stdout
