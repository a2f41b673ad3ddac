"""The whole bulk path in-process over moto: link, upload, validation, confirm, fan-out, results."""

from __future__ import annotations

import csv
import io

from tests.conftest import FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2
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
