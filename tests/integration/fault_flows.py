"""One bulk upload driven end to end under faults, and the check that every row ended exactly once."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A2
from tests.integration.bulk_helpers import csv_file, drain, get_text, keys_under, put_object
from tests.integration.fault_injection import Faults

NEW_ROWS = 9
MOVED_ROWS = 3


@dataclass
class Flow:
    """An upload of NEW_ROWS new learners and MOVED_ROWS learners arriving from another facility."""

    upload_id: str
    new_doc_ids: list[str]
    moved_doc_ids: list[str]


def prepare(call_api: Any, aws: Any, tag: int = 1) -> tuple[str, Flow]:
    """Learners at another facility, and a validated-to-be link upload whose file holds them and new ones."""
    moved = [f"7{tag}{i:03d}" for i in range(MOVED_ROWS)]
    for doc_id in moved:
        learner = {"docId": doc_id, "firstName": "Ray", "lastName": "Moss", "dateOfBirth": "05/06/1985"}
        status, _, _ = call_api("POST", "/learners", "lake", {**learner, "locationId": UNIT_A2})
        assert status == 201
    new = [f"8{tag}{i:03d}" for i in range(NEW_ROWS)]
    status, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    assert status == 201
    return body["upload"]["fields"]["key"], Flow(body["uploadId"], new, moved)


def file_of(flow: Flow) -> bytes:
    """The CSV of a flow: its new learners, then the ones to move."""
    rows = [f"r{d},{d},Ann,Lee,01/02/1990,Learner,,{UNIT_A1}" for d in flow.new_doc_ids]
    rows += [f"m{d},{d},Ray,Moss,05/06/1985,Learner,,{UNIT_A1}" for d in flow.moved_doc_ids]
    return csv_file(rows)


def run(call_api: Any, aws: Any, faults: Faults, tag: int = 1) -> Flow:
    """Upload, validate, confirm and create, with the faults armed on the asynchronous path only."""
    with faults.disarmed():
        key, flow = prepare(call_api, aws, tag)
        put_object(aws, key, file_of(flow))
    drain(aws)
    with faults.disarmed():
        _, upload, _ = call_api("GET", f"/uploads/{flow.upload_id}", "ridge")
        assert upload["status"] == "VALIDATED", upload
    status, answer, _ = call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {"moveExisting": True})
    assert status == 202, answer
    drain(aws)
    faults.armed = False
    return flow


def assert_exactly_once(
    call_api: Any, aws: Any, flow: Flow, check_passwords: int = NEW_ROWS + MOVED_ROWS
) -> dict[str, Any]:
    """Every row ended once in the right state, the counts add up, results.csv has each row once, nothing is left."""
    from intake.dal.audit import list_entries
    from intake.dal.learners import stored_password_hash
    from intake.dal.tables import LearnerItem
    from intake.passwords import verify_password

    _, upload, _ = call_api("GET", f"/uploads/{flow.upload_id}", "ridge")
    assert upload["status"] == "COMPLETED", upload
    counts = upload["counts"]
    assert counts["rows"] == counts["valid"] == NEW_ROWS + MOVED_ROWS
    assert (counts["toCreate"], counts["toMove"]) == (NEW_ROWS, MOVED_ROWS)
    assert (counts["created"], counts["moved"], counts["skipped"], counts["failed"]) == (NEW_ROWS, MOVED_ROWS, 0, 0)

    learners = {item.docId: item for item in LearnerItem.query(AGENCY_A)}
    created = [item for item in learners.values() if item.uploadId == flow.upload_id]
    assert sorted(item.docId for item in created) == sorted(flow.new_doc_ids)
    assert all(item.locationId == UNIT_A1 and item.history == [] for item in created)
    for doc_id in flow.moved_doc_ids:
        item = learners[doc_id]
        assert item.locationId == UNIT_A1, doc_id
        assert [(m.toLocationId, m.uploadId) for m in item.history] == [(UNIT_A1, flow.upload_id)], doc_id

    # results.csv (reports/) has the outcomes and no passwords; the confirmer's copy (passwords/) has them too
    plain = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{flow.upload_id}/results.csv"))))
    assert {row["password"] for row in plain} == {""}
    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{flow.upload_id}/results.csv"))))
    assert [{k: v for k, v in r.items() if k != "password"} for r in results] == [
        {k: v for k, v in r.items() if k != "password"} for r in plain
    ]
    assert sorted(row["docID"] for row in results) == sorted(flow.new_doc_ids + flow.moved_doc_ids)
    assert {row["outcome"] for row in results if row["docID"] in flow.new_doc_ids} == {"CREATED"}
    assert {row["outcome"] for row in results if row["docID"] in flow.moved_doc_ids} == {"MOVED"}
    # every password issued (check_passwords defaults to every row) verifies against the stored hash
    for row in [r for r in results if r["outcome"] == "CREATED"][:check_passwords]:
        assert verify_password(stored_password_hash(AGENCY_A, row["docID"]) or "", row["password"]), row["docID"]
    assert keys_under(aws, f"incoming/{FAC_A1}/") == []
    assert keys_under(aws, f"plans/{FAC_A1}/{flow.upload_id}/") == []

    # the audit trail holds each learner once: created and moved under this facility, moves also under their origin
    def trail(scope: str) -> list[tuple[str, str]]:
        entries = list_entries(scope, limit=1000)
        return sorted((e.action, e.target_id) for e in entries if e.details.get("uploadId") == flow.upload_id)

    ids = {doc_id: learners[doc_id].learnerId for doc_id in flow.new_doc_ids + flow.moved_doc_ids}
    moves = [("LEARNER_MOVED", ids[doc_id]) for doc_id in flow.moved_doc_ids]
    assert trail(FAC_A1) == sorted([("LEARNER_CREATED", ids[doc_id]) for doc_id in flow.new_doc_ids] + moves)
    assert trail(FAC_A2) == sorted(moves)
    return upload
