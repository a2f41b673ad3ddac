"""The whole bulk path in-process over moto: link, upload, validation, confirm, fan-out, results."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2
from tests.integration.bulk_helpers import csv_file, drain, get_text, keys_under, put_object


def _upload_via_link(call_api, aws, user: str, data: bytes) -> str:
    status, body, _ = call_api("POST", "/uploads", user, {"facilityId": FAC_A1, "fileName": "roster.csv"})
    assert status == 201 and body["status"] == "AWAITING_FILE"
    link = body["upload"]
    assert link["method"] == "POST" and link["fields"]["key"] == f"incoming/{FAC_A1}/{body['uploadId']}.csv"
    put_object(aws, link["fields"]["key"], data)
    drain(aws)
    return body["uploadId"]


def test_file_with_errors_is_reported_then_confirmed_with_skip(call_api, aws, directory):
    # Given a file with 6 good rows and 2 bad ones
    rows = [f"{i},70{i:04d},Ann,Lee,01/02/1990,Learner,,{UNIT_A1 if i % 2 else UNIT_A1B}" for i in range(1, 7)]
    rows += ["7,,Bob,Ray,01/02/1990,Learner,,", f"8,700001,Cy,Fox,01/02/1990,learner,,{UNIT_A1}"]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    # When staff read the upload
    status, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    # Then it says exactly what is wrong, line by line
    assert status == 200 and upload["status"] == "VALIDATED_WITH_ERRORS"
    assert upload["counts"]["rows"] == 8 and upload["counts"]["valid"] == 6 and upload["counts"]["toCreate"] == 6
    found = {(e["line"], e["field"], e["code"]) for e in upload["errors"]}
    assert (8, "docID", "REQUIRED") in found and (8, "locationId", "PERMISSION_DENIED") in found
    assert (9, "role", "INVALID_ROLE") in found
    assert "errorReportUrl" in upload
    # And confirming without skipInvalidRows is a conflict
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 409
    # When they confirm with skipInvalidRows (twice, as a retrying client would)
    first = call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"skipInvalidRows": True})
    second = call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"skipInvalidRows": True})
    assert first[0] == second[0] == 202 and first[1] == second[1] == {"uploadId": upload_id, "status": "CREATING"}
    drain(aws)
    # Then exactly the six good rows are created, the results agree, and the raw file is gone
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 6 and done["counts"]["failed"] == 0
    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))))
    assert [r["outcome"] for r in results] == ["CREATED"] * 6
    assert all(len(r["password"]) >= 16 for r in results)
    # (results.csv under reports/, what SFTP and other staff read, has the same outcomes and no passwords)
    plain = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))))
    assert [r["outcome"] for r in plain] == ["CREATED"] * 6 and {r["password"] for r in plain} == {""}
    assert keys_under(aws, "incoming/") == [] and keys_under(aws, "plans/") == []
    assert "resultReportUrl" in done
    # And an Educator of the facility sees the upload but not the results with passwords
    status, seen, _ = call_api("GET", f"/uploads/{upload_id}", "teacher")
    assert status == 200 and "resultReportUrl" not in seen


def test_drop_of_learners_from_another_facility_plans_moves(call_api, aws, directory):
    # Given two learners already at the lake facility
    for doc in ("900001", "900002"):
        body = {"docId": doc, "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990", "locationId": UNIT_A2}
        assert call_api("POST", "/learners", "lake", body)[0] == 201
    # When the ridge facility's SFTP drops a file naming them and one new learner
    data = csv_file(
        [
            f"1,900001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}",
            f"2,900002,Al,Bo,01/01/1990,Learner,,{UNIT_A1}",
            f"3,900003,Cy,Do,01/01/1990,Learner,Secret-Pass1,{UNIT_A1}",
        ]
    )
    put_object(aws, f"incoming/{FAC_A1}/nightly roster.csv", data)
    drain(aws)
    # Then the drop is an upload of that facility, planning two moves and one creation
    status, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    assert status == 200 and len(listing["uploads"]) == 1
    upload = listing["uploads"][0]
    assert upload["source"] == "drop" and upload["status"] == "VALIDATED"
    assert upload["counts"]["toMove"] == 2 and upload["counts"]["toCreate"] == 1
    # When confirmed with moveExisting
    assert call_api("POST", f"/uploads/{upload['uploadId']}/confirm", "ridge", {"moveExisting": True})[0] == 202
    drain(aws)
    # Then the two learners moved (same ids, history updated) and one was created
    _, done, _ = call_api("GET", f"/uploads/{upload['uploadId']}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["moved"] == 2 and done["counts"]["created"] == 1
    _, found, _ = call_api("GET", "/learners", "ridge", query={"docId": "900001"})
    learner = found["learners"][0]
    assert learner["facilityId"] == FAC_A1 and learner["history"][-1]["fromFacilityId"] == FAC_A2
    results = get_text(aws, f"reports/{FAC_A1}/{upload['uploadId']}/results.csv")
    assert "Secret-Pass1" not in results


def test_a_part_of_moves_is_audited_under_both_facilities_once(call_api, aws, directory):
    # Given a full creation part (50 rows) of learners arriving from the lake facility: 100 audit entries, one more
    # than a part's transaction carries beside its counts
    from intake.bulk.creation import PART_SIZE
    from intake.dal.audit import list_entries

    docs = [f"95{i:04d}" for i in range(PART_SIZE)]
    for doc in docs:
        body = {"docId": doc, "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990", "locationId": UNIT_A2}
        assert call_api("POST", "/learners", "lake", body)[0] == 201
    rows = [f"{i},{doc},Al,Bo,01/01/1990,Learner,,{UNIT_A1}" for i, doc in enumerate(docs, 1)]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    # When the moves are confirmed and created
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    drain(aws)
    # Then every learner moved, and each move is filed once under the facility it left and once where it arrived
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["moved"] == PART_SIZE
    for facility in (FAC_A1, FAC_A2):
        moves = [e for e in list_entries(facility, limit=500) if e.details.get("uploadId") == upload_id]
        assert len(moves) == len({e.target_id for e in moves}) == PART_SIZE, facility
        assert {e.action for e in moves} == {"LEARNER_MOVED"}


def test_moves_without_move_existing_are_reported_and_left_alone(call_api, aws, directory):
    body = {"docId": "910001", "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990", "locationId": UNIT_A2}
    assert call_api("POST", "/learners", "lake", body)[0] == 201
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file([f"1,910001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["counts"]["skipped"] == 1 and done["counts"]["moved"] == 0
    _, found, _ = call_api("GET", "/learners", "ridge", query={"docId": "910001"})
    assert found["learners"][0]["facilityId"] == FAC_A2


def test_learner_already_at_this_facility_is_an_error(call_api, aws, directory):
    body = {"docId": "920001", "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990", "locationId": UNIT_A1}
    assert call_api("POST", "/learners", "ridge", body)[0] == 201
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file([f"1,920001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "VALIDATED_WITH_ERRORS"
    assert [(e["line"], e["code"]) for e in upload["errors"]] == [(2, "LEARNER_EXISTS")]


def test_duplicated_object_event_makes_one_upload(call_api, aws, directory):
    # Given a drop whose S3 event is delivered twice
    data = csv_file([f"1,930001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"])
    put_object(aws, f"incoming/{FAC_A1}/dup.csv", data)
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = aws.queue_urls["ValidationQueue"]
    message = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    drain(aws)
    # Then there is one upload
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    assert len(listing["uploads"]) == 1 and listing["uploads"][0]["counts"]["rows"] == 1


def test_other_facility_cannot_see_upload(call_api, aws, directory):
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file([f"1,940001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    assert call_api("GET", f"/uploads/{upload_id}", "lake")[0] == 404
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "lake", {})[0] == 404
    assert call_api("POST", "/uploads", "lake", {"facilityId": FAC_A1})[0] == 404
    assert call_api("POST", "/uploads", "teacher", {"facilityId": FAC_A1})[0] == 403
    assert call_api("GET", f"/facilities/{FAC_A2}/uploads", "ridge")[0] == 404


def test_rejected_file_names_the_problem(call_api, aws, directory):
    upload_id = _upload_via_link(call_api, aws, "ridge", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "REJECTED"
    assert upload["errors"][0]["line"] == 0 and upload["errors"][0]["code"] == "NOT_CSV"
    assert keys_under(aws, "incoming/") == []


def test_doc_id_that_lost_its_leading_zeros_warns_naming_the_learner(call_api, aws, directory):
    # Given a learner with DOC ID 0045123 at another facility of the agency
    body = {"docId": "0045123", "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990", "locationId": UNIT_A2}
    status, created, _ = call_api("POST", "/learners", "lake", body)
    assert status == 201
    learner = created["learner"]
    # When a file saved by Excel lists them as 45123 beside a full-width DOC ID
    rows = [f"1,45123,Al,Bo,01/01/1990,Learner,,{UNIT_A1}", f"2,7712345,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}"]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    # Then the row is still valid but carries a warning naming that learner and the restored DOC ID
    assert upload["status"] == "VALIDATED" and upload["counts"]["warnings"] == 1
    [warning] = upload["warnings"]
    assert (warning["line"], warning["field"], warning["code"]) == (2, "docID", "DOC_ID_LEADING_ZEROS")
    assert learner["learnerId"] in warning["message"] and "0045123" in warning["message"]


def test_short_numeric_doc_id_with_no_such_learner_has_no_warning(call_api, aws, directory):
    # Given no learner with DOC ID 0045999, when a file lists 45999 beside a longer DOC ID
    rows = [f"1,45999,Al,Bo,01/01/1990,Learner,,{UNIT_A1}", f"2,7712399,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}"]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    # Then nothing is warned: short IDs are normal unless a learner matches once the zeros are restored
    assert upload["status"] == "VALIDATED" and upload["warnings"] == [] and upload["counts"]["warnings"] == 0


def _deactivated(call_api, doc_id: str, location_id: str = UNIT_A2, user: str = "lake") -> str:
    """A learner created at `location_id`, then deactivated (straight in the store); its learnerId."""
    from intake import clock
    from intake.dal import learners as learner_store
    from intake.domain import HistoryKind, LearnerStatus, history_entry

    body = {"docId": doc_id, "firstName": "Al", "lastName": "Bo", "dateOfBirth": "01/01/1990"}
    status, created, _ = call_api("POST", "/learners", user, {**body, "locationId": location_id})
    assert status == 201, created
    learner = learner_store.get_by_doc_id(AGENCY_A, doc_id)
    assert learner is not None
    entry = history_entry(HistoryKind.DEACTIVATED, clock.utc_now(), user)
    assert learner_store.set_status(learner, LearnerStatus.INACTIVE, entry) is not None
    return learner.learner_id


def _learner_items(doc_id: str) -> list:
    from intake.dal.tables import LearnerItem

    return [item for item in LearnerItem.query(AGENCY_A) if item.docId == doc_id]


def test_an_inactive_learner_uploaded_at_another_facility_is_reactivated_there(call_api, aws, directory):
    from intake.bulk.keys import plan_chunk_key
    from intake.dal import learners as learner_store
    from intake.dal.audit import list_entries
    from intake.domain import HistoryKind, LearnerStatus
    from intake.passwords import verify_password

    # Given a learner of the lake facility, deactivated (released)
    learner_id = _deactivated(call_api, "960001")
    # When the ridge facility uploads a file with its DOC ID (and a new learner)
    rows = [f"1,960001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}", f"2,960002,Cy,Do,01/01/1990,Learner,,{UNIT_A1}"]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    # Then the plan says REACTIVATE for it: counted, no error, naming the inactive learner
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "VALIDATED" and upload["errors"] == [], upload
    assert (upload["counts"]["toReactivate"], upload["counts"]["toMove"], upload["counts"]["toCreate"]) == (1, 0, 1)
    plan = json.loads(get_text(aws, plan_chunk_key(FAC_A1, upload_id, 0)))
    assert [(e["docId"], e["action"]) for e in plan] == [("960001", "REACTIVATE"), ("960002", "CREATE")]
    assert plan[0]["existing"] == {
        "learnerId": learner_id,
        "locationId": UNIT_A2,
        "facilityId": FAC_A2,
        "status": "INACTIVE",
    }
    # When it is confirmed (no moveExisting needed) and created
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then the same learner is ACTIVE at the new location, and no second learner has its DOC ID
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED", done
    assert (done["counts"]["reactivated"], done["counts"]["created"], done["counts"]["moved"]) == (1, 1, 0)
    back = learner_store.get_by_doc_id(AGENCY_A, "960001")
    assert back is not None and back.learner_id == learner_id
    assert (back.status, back.location_id, back.facility_id) == (LearnerStatus.ACTIVE, UNIT_A1, FAC_A1)
    assert len(_learner_items("960001")) == 1
    # And its history has one move and one reactivation, both by this upload
    kinds = [e.kind for e in back.history]
    assert kinds.count(HistoryKind.MOVED) == 1 and kinds.count(HistoryKind.REACTIVATED) == 1
    assert {e.upload_id for e in back.history if e.kind in (HistoryKind.MOVED, HistoryKind.REACTIVATED)} == {upload_id}
    # And results.csv says REACTIVATED; the new password is in the confirmer's copy only, and it is the one stored
    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))))
    plain = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))))
    [row] = [r for r in results if r["docID"] == "960001"]
    assert (row["outcome"], row["learnerId"], row["locationId"]) == ("REACTIVATED", learner_id, UNIT_A1)
    assert verify_password(learner_store.stored_password_hash(AGENCY_A, "960001") or "", row["password"])
    assert [r["outcome"] for r in plain] == ["REACTIVATED", "CREATED"] and {r["password"] for r in plain} == {""}
    # And the reactivation is audited once under the facility it left and once where it came back
    for facility in (FAC_A1, FAC_A2):
        found = [e for e in list_entries(facility, limit=100) if e.action == "LEARNER_REACTIVATED"]
        assert [(e.target_id, e.details.get("uploadId")) for e in found] == [(learner_id, upload_id)], facility


def test_a_learner_reactivated_by_staff_after_the_check_fails_its_row_and_nothing_else_changes(
    call_api, aws, directory
):
    from intake import clock
    from intake.dal import learners as learner_store
    from intake.domain import HistoryKind, LearnerStatus, history_entry

    # Given a validated upload planning the reactivation of a released learner
    learner_id = _deactivated(call_api, "961001")
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file([f"1,961001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    # And staff of the lake facility reactivating it before the upload is confirmed
    learner = learner_store.get_by_doc_id(AGENCY_A, "961001")
    assert learner is not None
    entry = history_entry(HistoryKind.REACTIVATED, clock.utc_now(), "lake")
    assert learner_store.set_status(learner, LearnerStatus.ACTIVE, entry) is not None
    hash_before = learner_store.stored_password_hash(AGENCY_A, "961001")
    # When the upload is confirmed and created
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then the row failed with a clear message, and the learner stays where staff left it, with its password
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED_WITH_ERRORS" and done["counts"]["failed"] == 1
    [row] = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))))
    assert (row["outcome"], row["learnerId"]) == ("FAILED", learner_id)
    assert "reactivated or changed by someone else" in row["message"]
    after = learner_store.get_by_doc_id(AGENCY_A, "961001")
    assert after is not None and (after.status, after.location_id) == (LearnerStatus.ACTIVE, UNIT_A2)
    assert learner_store.stored_password_hash(AGENCY_A, "961001") == hash_before


@pytest.mark.parametrize("kind", ["crash_before", "crash_after"])
def test_a_worker_crashing_mid_reactivation_is_retried_to_one_outcome_and_one_working_password(
    call_api, aws, directory, monkeypatch, kind
):
    from intake.dal import learners as learner_store
    from intake.domain import HistoryKind, LearnerStatus
    from intake.passwords import verify_password
    from tests.integration.fault_injection import Rule, install

    # Given two released learners of the lake facility, in a validated ridge upload with a new learner
    ids = {doc: _deactivated(call_api, doc) for doc in ("962001", "962002")}
    rows = [f"{i},{doc},Al,Bo,01/01/1990,Learner,,{UNIT_A1}" for i, doc in enumerate(("962001", "962002", "962003"))]
    upload_id = _upload_via_link(call_api, aws, "ridge", csv_file(rows))
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    # And a worker that dies once around its second reactivation's write (after the first is stored)
    faults = install(monkeypatch)
    rule = faults.add(Rule("dynamodb", "UpdateItem", kind=kind, table="Learners", skip=1))
    # When the queue is drained (the failed message is redelivered and retried)
    drain(aws)
    faults.armed = False
    # Then it died there, and each row ended once: two reactivations and one creation
    assert rule.fired == 1
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED", done
    assert (done["counts"]["reactivated"], done["counts"]["created"], done["counts"]["failed"]) == (2, 1, 0)
    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))))
    assert sorted((r["docID"], r["outcome"]) for r in results) == [
        ("962001", "REACTIVATED"),
        ("962002", "REACTIVATED"),
        ("962003", "CREATED"),
    ]
    # And in storage: one learner per DOC ID, reactivated once, and the one password reported is the one that works
    for row in results:
        assert len(_learner_items(row["docID"])) == 1, row["docID"]
        assert verify_password(learner_store.stored_password_hash(AGENCY_A, row["docID"]) or "", row["password"])
    for doc, learner_id in ids.items():
        back = learner_store.get_by_doc_id(AGENCY_A, doc)
        assert back is not None and back.learner_id == learner_id and back.status is LearnerStatus.ACTIVE
        assert [e.kind for e in back.history].count(HistoryKind.REACTIVATED) == 1, doc
