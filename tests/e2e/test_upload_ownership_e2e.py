"""Issue 13 over the running local stack, with real clients: a row of another facility (HTTP), two files posted to one
presigned link (requests), and a file copied under an unknown facility's prefix (`aws s3 cp`)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Api, Stack, aws_cli, stack_client
from tests.e2e.test_bulk_e2e import FINISHED, VALIDATED, csv_bytes, good_row, learners_at, place, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["place"]  # the module fixture, shared with the bulk flow's tests
SETTLE_SECONDS = 60


def _agency_admin(stack: Stack, agency_id: str) -> str:
    return next(s["username"] for s in stack["staff"] if s["role"] == "AgencyAdmin" and s["agencyId"] == agency_id)


def _link(api: Api, username: str, facility_id: str) -> dict[str, Any]:
    response = api.call("POST", "/uploads", username, {"facilityId": facility_id, "fileName": "roster.csv"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _post(link: dict[str, Any], data: bytes) -> None:
    sent = requests.post(
        link["upload"]["url"], data=link["upload"]["fields"], files={"file": ("roster.csv", data)}, timeout=60
    )
    assert sent.status_code in {200, 201, 204}, sent.text


def _object(stack: Stack, key: str) -> bytes | None:
    s3 = stack_client(stack, "s3")
    try:
        return bytes(s3.get_object(Bucket=stack["uploadsBucket"], Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def test_an_agency_admins_upload_for_one_facility_creates_nobody_at_another(
    api: Api, local_stack: Stack, place: dict[str, Any]
) -> None:
    # Given an AgencyAdmin's upload link for facility A, and a file with a row of A and a row of B's housing unit
    # (blank passwords), as in the issue
    admin = _agency_admin(local_stack, place["agencyId"])
    prefix = f"OWN{uuid.uuid4().hex[:6].upper()}"
    link = _link(api, admin, place["facility"])
    rows = [good_row(1, f"{prefix}1", place["locations"][1]), good_row(2, f"{prefix}2", place["originUnit"])]
    _post(link, csv_bytes(rows))
    upload = wait_for(api, place["admin"], link["uploadId"], VALIDATED, timeout=120)
    # Then the row of B is a WRONG_FACILITY error naming the facility it belongs to
    assert upload["status"] == "VALIDATED_WITH_ERRORS", upload
    assert [(e["line"], e["code"]) for e in upload["errors"]] == [(3, "WRONG_FACILITY")]
    assert place["origin"] in upload["errors"][0]["message"]
    # When A's FacilityAdmin alone confirms it, skipping invalid rows
    confirmed = api.call("POST", f"/uploads/{link['uploadId']}/confirm", place["admin"], {"skipInvalidRows": True})
    assert confirmed.status_code == 202, confirmed.text
    done = wait_for(api, place["admin"], link["uploadId"], FINISHED, timeout=300)
    # Then the A learner exists and there is no learner at B
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 1
    assert learners_at(local_stack, place["facility"], prefix) == 1
    assert learners_at(local_stack, place["origin"], prefix) == 0


def test_two_files_posted_to_one_link_never_mix(api: Api, local_stack: Stack, place: dict[str, Any]) -> None:
    # Given one presigned link, and two different files (1 row and 3 rows) posted to it one after the other
    prefix = f"TWO{uuid.uuid4().hex[:6].upper()}"
    link = _link(api, place["admin"], place["facility"])
    key = link["upload"]["fields"]["key"]
    one = csv_bytes([good_row(1, f"{prefix}A", place["locations"][1])])
    three = csv_bytes([good_row(n, f"{prefix}B{n}", place["locations"][1]) for n in range(1, 4)])
    _post(link, one)
    _post(link, three)
    # When both events have been handled (the upload settles: the stored object and the status agree)
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        upload = wait_for(api, place["admin"], link["uploadId"], VALIDATED, timeout=120)
        stored = _object(local_stack, key)
        # A link upload's raw file is deleted once it is validated (docs/security.md, finding 3): gone, or for a
        # moment still the very file that was counted; a later file is refused and deleted.
        rows = upload["counts"].get("rows")
        settled = (upload["status"] == "FAILED" and stored is None) or (
            upload["status"] in VALIDATED and rows in {1, 3} and (stored is None or rows == stored.count(b"\n") - 1)
        )
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # Then the upload either failed with nothing left, or is exactly the stored file's
    assert settled, (upload["status"], upload["counts"], stored)
    if upload["status"] == "FAILED":
        return
    confirmed = api.call("POST", f"/uploads/{link['uploadId']}/confirm", place["admin"], {})
    assert confirmed.status_code == 202, confirmed.text
    done = wait_for(api, place["admin"], link["uploadId"], FINISHED, timeout=300)
    # And what is created is what was counted, from that file only
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == upload["counts"]["toCreate"]
    assert learners_at(local_stack, place["facility"], prefix) == upload["counts"]["toCreate"]
    other = f"{prefix}A" if upload["counts"]["rows"] == 3 else f"{prefix}B"
    assert learners_at(local_stack, place["facility"], other) == 0


def test_a_file_copied_under_an_unknown_facility_is_deleted(local_stack: Stack, tmp_path: Path) -> None:
    # Given a file with a password copied with `aws s3 cp` under a prefix that is no facility's
    name = f"stray-{uuid.uuid4().hex[:8]}.csv"
    local = tmp_path / name
    local.write_bytes(csv_bytes([good_row(1, "STRAY1", "nowhere", password="Stray-Secret-42")]))
    key = f"incoming/no-such-facility/{name}"
    aws_cli(local_stack, "s3", "cp", str(local), f"s3://{local_stack['uploadsBucket']}/{key}")
    # Then it is gone soon after, not days later
    deadline = time.monotonic() + SETTLE_SECONDS
    while _object(local_stack, key) is not None:
        assert time.monotonic() < deadline, "the stray object is still in incoming/"
        time.sleep(0.5)
