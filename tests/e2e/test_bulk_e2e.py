"""Bulk uploads over the running local stack: presigned POST over HTTP and `aws s3 cp` drops, to results.csv."""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Api, Stack, aws_cli, stack_client

pytestmark = pytest.mark.e2e

HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"
# The acceptance size; INTAKE_E2E_BULK_ROWS (at least 1000) makes a quicker run while working on the flow.
BIG_ROWS = max(1000, int(os.environ.get("INTAKE_E2E_BULK_ROWS") or 10_000))
PLANTED = 50
FIRST_NAMES = ("Marcus", "José", "Ana María", "Li", "Zoë", "Dwayne", "Siobhán", "Tomás")
LAST_NAMES = ("Hill", "O'Neil", "Mary-Ann", "Nguyen", "Ørsted", "St. John", "García López", "Okafor")
VALIDATION_TIMEOUT_SECONDS = 180
# Creation is CPU-bound (an Argon2id hash per row): on a busy machine it is slow, not stuck; fail when it stalls.
CREATION_STALL_SECONDS = 180
CREATION_TIMEOUT_SECONDS = 3600
VALIDATED = {"VALIDATED", "VALIDATED_WITH_ERRORS"}
FINISHED = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "REJECTED", "EXPIRED"}


@pytest.fixture(scope="module")
def place(local_stack: Stack) -> dict[str, Any]:
    """The agency's second facility (where files go), its admin, and the first facility (where movers come from)."""
    agency = local_stack["agencies"][0]
    home, origin = agency["facilities"][1], agency["facilities"][0]

    def admin_of(facility_id: str) -> str:
        return next(
            s["username"]
            for s in local_stack["staff"]
            if s["role"] == "FacilityAdmin" and facility_id in s["facilityIds"]
        )

    return {
        "agencyId": agency["agencyId"],
        "facility": home["facilityId"],
        "locations": [home["facilityId"], *(u["locationId"] for u in home["housingUnits"])],
        "admin": admin_of(home["facilityId"]),
        "origin": origin["facilityId"],
        "originUnit": origin["housingUnits"][0]["locationId"],
        "originAdmin": admin_of(origin["facilityId"]),
    }


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def good_row(index: int, doc_id: str, location_id: str, password: str = "") -> list[str]:
    born = f"{index % 12 + 1}/{index % 28 + 1}/{1960 + index % 45}"
    first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
    return [f"R{index}", doc_id, first, last, born, "Learner", password, location_id]


def create_learner(api: Api, username: str, doc_id: str, location_id: str) -> dict[str, Any]:
    """A learner created through the API, as the facility it starts at would."""
    body = {"docId": doc_id, "firstName": "Ray", "lastName": "Moss", "dateOfBirth": "01/02/1990"}
    response = api.call("POST", "/learners", username, {**body, "locationId": location_id})
    assert response.status_code == 201, response.text
    return dict(response.json()["learner"])


def upload_via_link(api: Api, username: str, facility_id: str, data: bytes, file_name: str) -> str:
    """POST /uploads, then the file sent to the presigned POST with its fields, as a browser form would."""
    response = api.call("POST", "/uploads", username, {"facilityId": facility_id, "fileName": file_name})
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["status"] == "AWAITING_FILE" and link["upload"]["method"] == "POST"
    sent = requests.post(
        link["upload"]["url"],
        data=link["upload"]["fields"],
        files={"file": (file_name, data, "text/csv")},
        timeout=120,
    )
    assert sent.status_code in {200, 201, 204}, sent.text
    return str(link["uploadId"])


def drop_with_cli(stack: Stack, facility_id: str, data: bytes, tmp_path: Path) -> str:
    """The file put under the facility's incoming/ prefix with `aws s3 cp`, as its SFTP server would; its name."""
    name = f"nightly-{uuid.uuid4().hex[:8]}.csv"
    local = tmp_path / name
    local.write_bytes(data)
    aws_cli(stack, "s3", "cp", str(local), f"s3://{stack['uploadsBucket']}/incoming/{facility_id}/{name}")
    return name


def find_drop(api: Api, username: str, facility_id: str, file_name: str) -> str:
    """The upload a drop became, found in the facility's listing."""
    deadline = time.monotonic() + VALIDATION_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = api.call("GET", f"/facilities/{facility_id}/uploads", username)
        assert response.status_code == 200, response.text
        for upload in response.json()["uploads"]:
            if upload["source"] == "drop" and (upload.get("fileName") or "").endswith(file_name):
                return str(upload["uploadId"])
        time.sleep(0.5)
    raise AssertionError(f"no upload for the drop {file_name}")


def wait_for(
    api: Api,
    username: str,
    upload_id: str,
    statuses: set[str],
    timeout: float,
    every: float = 0.5,
    stall: float | None = None,
) -> dict[str, Any]:
    """Poll GET /uploads/{id} until its status is one of `statuses` (or a final one); fail on timeout or stall."""
    deadline = time.monotonic() + timeout
    upload: dict[str, Any] = {}
    progress, progressed = -1, time.monotonic()
    while time.monotonic() < deadline:
        response = api.call("GET", f"/uploads/{upload_id}", username)
        assert response.status_code == 200, response.text
        upload = response.json()
        if upload["status"] in statuses or upload["status"] in FINISHED:
            return upload
        done = sum(upload["counts"].get(name, 0) for name in ("created", "moved", "skipped", "failed"))
        if done != progress:
            progress, progressed = done, time.monotonic()
        elif stall is not None and time.monotonic() - progressed > stall:
            raise AssertionError(f"upload stalled at {upload['status']} for {stall} s: {upload['counts']}")
        time.sleep(every)
    raise AssertionError(f"upload still {upload.get('status')} after {timeout} s: {upload.get('counts')}")


def report(url: str) -> list[dict[str, str]]:
    """A CSV report from its presigned link."""
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def incoming(stack: Stack, facility_id: str) -> list[str]:
    """Keys left under the facility's incoming/ prefix."""
    listing = stack_client(stack, "s3").list_objects_v2(
        Bucket=stack["uploadsBucket"], Prefix=f"incoming/{facility_id}/"
    )
    return [entry["Key"] for entry in listing.get("Contents", [])]


def learners_at(stack: Stack, facility_id: str, doc_prefix: str) -> int:
    """How many learners of the facility (active or not) have a DOC ID with this prefix, counted in DynamoDB."""
    dynamodb = stack_client(stack, "dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("LearnersTable"))
    key = "".join(char for char in doc_prefix.lower() if char.isascii() and char.isalnum())  # as search_key does
    count = 0
    for status in ("ACTIVE", "INACTIVE"):
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table,
            IndexName="byRosterDocId",
            KeyConditionExpression="#r = :r AND begins_with(docKey, :p)",
            ExpressionAttributeNames={"#r": "roster"},
            ExpressionAttributeValues={":r": {"S": f"{facility_id}#{status}"}, ":p": {"S": key}},
            Select="COUNT",
        )
        count += sum(page["Count"] for page in pages)
    return count


def planted_roster(place: dict[str, Any], prefix: str, existing: list[str]) -> tuple[bytes, set[tuple[int, str, str]]]:
    """BIG_ROWS rows, PLANTED of them wrong in ten different ways; the (line, field, code) each must be reported as."""
    locations = place["locations"]
    rows = [good_row(i, f"{prefix}{i:05d}", locations[i % len(locations)]) for i in range(BIG_ROWS)]
    expected: set[tuple[int, str, str]] = set()
    step = BIG_ROWS // PLANTED
    for k in range(PLANTED):
        i = 17 + k * step  # spread over the file; never next to another planted row
        row, kind = rows[i], k % 10
        if kind == 0:
            row[2], planted = "  ", ("firstName", "REQUIRED")
        elif kind == 1:
            row[4], planted = "02/30/1990", ("dateOfBirth", "INVALID_DATE")
        elif kind == 2:
            row[4], planted = "01/01/2099", ("dateOfBirth", "INVALID_DATE")
        elif kind == 3:
            row[5], planted = "Teacher", ("role", "INVALID_ROLE")
        elif kind == 4:
            row[1], planted = f"{prefix}#{i}", ("docID", "INVALID_VALUE")
        elif kind == 5:
            row[1], planted = rows[i - 1][1], ("docID", "DUPLICATE_IN_FILE")
        elif kind == 6:
            row[7], planted = f"no-such-unit-{i}", ("locationId", "LOCATION_NOT_FOUND")
        elif kind == 7:
            row[7], planted = place["originUnit"], ("locationId", "PERMISSION_DENIED")
        elif kind == 8:
            row[3], planted = "Hill3", ("lastName", "INVALID_VALUE")
        else:
            row[1], planted = existing[k // 10], ("docID", "LEARNER_EXISTS")
        expected.add((i + 2, *planted))
    return csv_bytes(rows), expected


def test_ten_thousand_rows_with_fifty_errors_through_the_presigned_link(
    local_stack: Stack, api: Api, place: dict[str, Any]
) -> None:
    started = time.monotonic()
    # Given five learners already at the facility and a 10,000-row file with 50 planted errors of ten kinds
    prefix = f"T{uuid.uuid4().hex[:6].upper()}"
    existing = [f"{prefix}X{n}" for n in range(PLANTED // 10)]
    for doc_id in existing:
        create_learner(api, place["admin"], doc_id, place["locations"][1])
    data, expected = planted_roster(place, prefix, existing)
    assert len(expected) == PLANTED
    # When it is sent to the presigned POST link of POST /uploads
    upload_id = upload_via_link(api, place["admin"], place["facility"], data, "roster.csv")
    upload = wait_for(api, place["admin"], upload_id, VALIDATED, VALIDATION_TIMEOUT_SECONDS)
    validated = time.monotonic()
    # Then it is VALIDATED_WITH_ERRORS with exactly the 50 planted row errors, in the view and in errors.csv
    assert upload["status"] == "VALIDATED_WITH_ERRORS", upload.get("errors")
    assert upload["source"] == "link"
    counts = upload["counts"]
    assert (counts["rows"], counts["valid"], counts["invalid"]) == (BIG_ROWS, BIG_ROWS - PLANTED, PLANTED)
    assert (counts["toCreate"], counts["toMove"]) == (BIG_ROWS - PLANTED, 0)
    assert {(e["line"], e["field"], e["code"]) for e in upload["errors"]} == expected
    assert len(upload["errors"]) == PLANTED
    errors_csv = [e for e in report(upload["errorReportUrl"]) if e["severity"] == "error"]
    assert {(int(e["line"]), e["field"], e["code"]) for e in errors_csv} == expected and len(errors_csv) == PLANTED
    assert all(e["message"] for e in errors_csv)
    assert Counter(code for _, _, code in expected) == Counter(e["code"] for e in errors_csv)
    # When it is confirmed with skipInvalidRows (sent twice, as a retrying client would)
    body = {"skipInvalidRows": True}
    confirms = [api.call("POST", f"/uploads/{upload_id}/confirm", place["admin"], body) for _ in range(2)]
    assert [c.status_code for c in confirms] == [202, 202], [c.text for c in confirms]
    assert confirms[0].json() == confirms[1].json() == {"uploadId": upload_id, "status": "CREATING"}
    # (polled slowly: each poll costs the stack CPU the creation needs)
    done = wait_for(api, place["admin"], upload_id, FINISHED, CREATION_TIMEOUT_SECONDS, 3.0, CREATION_STALL_SECONDS)
    created_at = time.monotonic()
    # Then exactly 9,950 learners are created, and results.csv and the counts agree
    assert done["status"] == "COMPLETED", done["counts"]
    counts = done["counts"]
    assert (counts["created"], counts["moved"], counts["failed"]) == (BIG_ROWS - PLANTED, 0, 0)
    results = report(done["resultReportUrl"])
    assert len(results) == counts["created"]
    assert Counter(r["outcome"] for r in results) == {"CREATED": BIG_ROWS - PLANTED}
    assert len({r["learnerId"] for r in results}) == len(results) and all(len(r["password"]) >= 16 for r in results)
    planted_lines = {line for line, _, _ in expected}
    assert {int(r["line"]) for r in results} == set(range(2, BIG_ROWS + 2)) - planted_lines
    assert learners_at(local_stack, place["facility"], prefix) == BIG_ROWS - PLANTED + len(existing)
    # And nothing is left under incoming/
    assert incoming(local_stack, place["facility"]) == []
    print(
        f"\n{BIG_ROWS} rows: validated in {validated - started:.1f} s, created in {created_at - validated:.1f} s, "
        f"whole test {time.monotonic() - started:.1f} s"
    )


def test_drop_plans_learners_of_another_facility_as_moves_and_moves_them(
    local_stack: Stack, api: Api, place: dict[str, Any], tmp_path: Path
) -> None:
    # Given three learners at the agency's other facility
    prefix = f"M{uuid.uuid4().hex[:6].upper()}"
    movers = [create_learner(api, place["originAdmin"], f"{prefix}{n}", place["originUnit"]) for n in range(3)]
    # When the facility's SFTP drops (aws s3 cp) a file naming them and two new learners
    unit = place["locations"][1]
    rows = [good_row(n, m["docId"], unit) for n, m in enumerate(movers)]
    rows += [good_row(3, f"{prefix}N3", unit), good_row(4, f"{prefix}N4", unit, password="Given-Pass-77")]
    name = drop_with_cli(local_stack, place["facility"], csv_bytes(rows), tmp_path)
    upload_id = find_drop(api, place["admin"], place["facility"], name)
    upload = wait_for(api, place["admin"], upload_id, VALIDATED, VALIDATION_TIMEOUT_SECONDS)
    # Then it is an upload of source drop, planning three moves and two creations
    assert upload["status"] == "VALIDATED" and upload["source"] == "drop", upload
    assert (upload["counts"]["toMove"], upload["counts"]["toCreate"]) == (3, 2)
    # When it is confirmed with moveExisting
    confirm = api.call("POST", f"/uploads/{upload_id}/confirm", place["admin"], {"moveExisting": True})
    assert confirm.status_code == 202, confirm.text
    done = wait_for(api, place["admin"], upload_id, FINISHED, VALIDATION_TIMEOUT_SECONDS)
    # Then the three keep their learnerIds, are at the unit, and their history records the move of this upload
    assert done["status"] == "COMPLETED", done
    assert (done["counts"]["moved"], done["counts"]["created"], done["counts"]["failed"]) == (3, 2, 0)
    for mover in movers:
        found = api.call("GET", f"/learners?docId={mover['docId']}", place["admin"]).json()["learners"]
        [learner] = found
        assert learner["learnerId"] == mover["learnerId"]
        assert (learner["locationId"], learner["facilityId"]) == (unit, place["facility"])
        [entry] = [e for e in learner["history"] if e["kind"] == "MOVED"]  # v2 puts CREATED first
        assert (entry["fromLocationId"], entry["fromFacilityId"]) == (place["originUnit"], place["origin"])
        assert (entry["toLocationId"], entry["toFacilityId"]) == (unit, place["facility"])
    # And results.csv agrees, holds no given password, and the dropped file is gone
    results = report(done["resultReportUrl"])
    outcomes = {r["docID"]: (r["outcome"], r["learnerId"]) for r in results}
    assert {m["docId"]: ("MOVED", m["learnerId"]) for m in movers}.items() <= outcomes.items()
    assert Counter(r["outcome"] for r in results) == {"MOVED": 3, "CREATED": 2}
    assert "Given-Pass-77" not in str(results)
    assert incoming(local_stack, place["facility"]) == []


def test_without_move_existing_learners_of_another_facility_are_reported_and_left_alone(
    local_stack: Stack, api: Api, place: dict[str, Any]
) -> None:
    # Given two learners at the agency's other facility, named in a file with one new learner
    prefix = f"S{uuid.uuid4().hex[:6].upper()}"
    stay = [create_learner(api, place["originAdmin"], f"{prefix}{n}", place["originUnit"]) for n in range(2)]
    unit = place["locations"][2]
    rows = [good_row(n, s["docId"], unit) for n, s in enumerate(stay)] + [good_row(2, f"{prefix}N", unit)]
    upload_id = upload_via_link(api, place["admin"], place["facility"], csv_bytes(rows), "arrivals.csv")
    upload = wait_for(api, place["admin"], upload_id, VALIDATED, VALIDATION_TIMEOUT_SECONDS)
    assert upload["status"] == "VALIDATED" and upload["counts"]["toMove"] == 2, upload
    # When it is confirmed without moveExisting
    confirm = api.call("POST", f"/uploads/{upload_id}/confirm", place["admin"], {})
    assert confirm.status_code == 202, confirm.text
    done = wait_for(api, place["admin"], upload_id, FINISHED, VALIDATION_TIMEOUT_SECONDS)
    # Then the two are reported as skipped and stay where they were, untouched; the new one is created
    counts = done["counts"]
    assert (counts["skipped"], counts["moved"], counts["created"]) == (2, 0, 1), counts
    for learner in stay:
        [found] = api.call("GET", f"/learners?docId={learner['docId']}", place["originAdmin"]).json()["learners"]
        assert found["learnerId"] == learner["learnerId"] and found["locationId"] == place["originUnit"]
        assert [e["kind"] for e in found["history"]] == ["CREATED"]
    results = {r["docID"]: r for r in report(done["resultReportUrl"])}
    for learner in stay:
        assert results[learner["docId"]]["outcome"] == "SKIPPED" and results[learner["docId"]]["message"]
        assert results[learner["docId"]]["password"] == ""
    assert results[f"{prefix}N"]["outcome"] == "CREATED"
    assert incoming(local_stack, place["facility"]) == []
