"""Sync uploads (contract "Uploads: create or sync", issue 17) in-process over moto: planning, plan.csv, the hold
and the API's side of it (link mode, settings, confirm, drops). Applying the plan is the worker's (S2's tests)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1, UNIT_A1B
from tests.integration.bulk_helpers import csv_file, drain, get_text, keys_under, put_object


def _seed(learners: list[tuple[str, str, str, str]], status: str = "ACTIVE") -> dict[str, str]:
    """Learners of the ridge facility written straight into the table (doc, first, last, unit); their ids by DOC ID."""
    from intake.dal import learners as learner_store
    from intake.dal.tables import LearnerItem, bind_tables
    from intake.domain import Learner, LearnerStatus

    bind_tables()
    ids = {}
    with LearnerItem.batch_write() as batch:
        for doc, first, last, unit in learners:
            learner = Learner(
                learner_id=f"id-{doc}",
                agency_id=AGENCY_A,
                doc_id=doc,
                first_name=first,
                last_name=last,
                date_of_birth="01/02/1990",
                location_id=unit,
                facility_id=FAC_A1,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                created_by="seed",
                username=f"u{doc}",
                status=LearnerStatus(status),
                version=2,
            )
            batch.save(learner_store._item(learner, "not-a-real-hash"))
            ids[doc] = learner.learner_id
    return ids


def _row(n: int, doc: str, first: str = "Ann", last: str = "Lee", unit: str = UNIT_A1, password: str = "") -> str:
    return f"{n},{doc},{first},{last},01/02/1990,Learner,{password},{unit}"


def _sync_via_link(call_api: Any, aws: Any, data: bytes, user: str = "ridge") -> str:
    status, body, _ = call_api("POST", "/uploads", user, {"facilityId": FAC_A1, "fileName": "r.csv", "mode": "sync"})
    assert status == 201, body
    put_object(aws, body["upload"]["fields"]["key"], data)
    drain(aws)
    return body["uploadId"]


def _stored(upload_id: str) -> Any:
    from intake.dal import uploads as upload_store

    return upload_store.get_upload(upload_id)


def _plan_rows(aws: Any, upload_id: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{upload_id}/plan.csv"))))


def test_night_3_plans_two_updates_two_deactivations_one_create_and_one_reactivation(call_api, aws, directory):
    # Given a ridge roster of 20 active learners, and a released (inactive) one
    roster = [(f"93{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(20)]
    _seed(roster)
    _seed([("939999", "Rae", "Fox", UNIT_A1)], status="INACTIVE")
    # When a sync file has 17 of them as stored, one renamed (with a password, ignored), one moved to the other
    # housing unit, two missing, one new learner and the released one coming back
    rows = [_row(n + 1, doc) for n, (doc, *_) in enumerate(roster[:16])]
    rows.append(_row(17, roster[16][0], first="Anna", password="Ignored-Pass-1"))
    rows.append(_row(18, roster[17][0], unit=UNIT_A1B))
    rows.append(_row(19, "938888", first="Neo", password="=cmd|' /C calc'!A0"))
    rows.append(_row(20, "939999", first="Rae", last="Fox"))
    upload_id = _sync_via_link(call_api, aws, csv_file(rows))
    # Then the upload is a VALIDATED sync planning exactly that mix, with no hold (2 of 20 is 10%, not more)
    status, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert status == 200 and view["status"] == "VALIDATED" and view["mode"] == "sync"
    counts = view["counts"]
    assert (counts["toUpdate"], counts["toDeactivate"], counts["toCreate"], counts["toReactivate"]) == (2, 2, 1, 1)
    assert (counts["unchanged"], counts["toMove"], counts["rows"], counts["valid"]) == (16, 0, 20, 20)
    assert "hold" not in view and "planReportUrl" in view
    assert [(w["line"], w["field"], w["code"]) for w in view["warnings"]] == [(18, "password", "PASSWORD_IGNORED")]
    # And plan.csv lists every learner by line, UNCHANGED and DEACTIVATE too, naming the changed fields
    plan = _plan_rows(aws, upload_id)
    assert list(plan[0]) == ["line", "docID", "action", "changedFields"]
    assert [r["action"] for r in plan[:16]] == ["UNCHANGED"] * 16
    assert [(r["line"], r["docID"], r["action"], r["changedFields"]) for r in plan[16:]] == [
        ("18", roster[16][0], "UPDATE", "firstName"),
        ("19", roster[17][0], "UPDATE", "locationId"),
        ("20", "938888", "CREATE", ""),
        ("21", "939999", "REACTIVATE", ""),
        ("22", roster[18][0], "DEACTIVATE", ""),
        ("23", roster[19][0], "DEACTIVATE", ""),
    ]
    # And it holds no password and no date of birth
    text = get_text(aws, f"reports/{FAC_A1}/{upload_id}/plan.csv")
    assert "Ignored-Pass-1" not in text and "calc" not in text and "01/02/1990" not in text
    # And the plan chunks hold every action but UNCHANGED, UPDATE and DEACTIVATE with the learners' versions
    from intake.bulk.types import plan_chunk_of
    from intake.dal import objects

    chunks = [plan_chunk_of(objects.get_json(key)) for key in keys_under(aws, f"plans/{FAC_A1}/{upload_id}/")]
    planned = [(e.line, e.action) for chunk in chunks for e in chunk]
    assert planned == [
        (18, "UPDATE"),
        (19, "UPDATE"),
        (20, "CREATE"),
        (21, "REACTIVATE"),
        (22, "DEACTIVATE"),
        (23, "DEACTIVATE"),
    ]
    versions = {e.existing.version for chunk in chunks for e in chunk if e.action in ("UPDATE", "DEACTIVATE")}
    assert versions == {2}


def test_a_held_sync_is_refused_without_the_flag_and_unchanged_then_confirmed_with_it(call_api, aws, directory):
    # Given a roster of 5, and a sync file naming 2 of them (3 missing: 60% > 10%)
    roster = [(f"94{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(5)]
    _seed(roster)
    upload_id = _sync_via_link(call_api, aws, csv_file([_row(1, roster[0][0]), _row(2, roster[1][0])]))
    # Then it is VALIDATED and held, the numbers given
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["status"] == "VALIDATED" and view["counts"]["toDeactivate"] == 3
    assert {k: view["hold"][k] for k in ("code", "toDeactivate", "activeLearners")} == {
        "code": "MASS_DEACTIVATION",
        "toDeactivate": 3,
        "activeLearners": 5,
    }
    before = _stored(upload_id)
    chunks = keys_under(aws, f"plans/{FAC_A1}/{upload_id}/")
    # When confirmed without allowMassDeactivation (twice, as a retrying client would)
    for _ in range(2):
        status, body, _ = call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})
        # Then 409 CONFLICT with the reason, and nothing changed in storage
        assert status == 409 and body["code"] == "CONFLICT" and body["reason"] == "MASS_DEACTIVATION", body
    assert _stored(upload_id) == before and before.allow_mass_deactivation is None
    assert keys_under(aws, f"plans/{FAC_A1}/{upload_id}/") == chunks
    # When confirmed with it
    status, body, _ = call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"allowMassDeactivation": True})
    # Then it is CREATING, the flag recorded (the refusals were not answered again from a cached record)
    assert (status, body) == (202, {"uploadId": upload_id, "status": "CREATING"})
    after = _stored(upload_id)
    assert after.status.value == "CREATING" and after.allow_mass_deactivation is True
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["options"]["allowMassDeactivation"] is True


def test_a_create_upload_is_unchanged_by_sync(call_api, aws, directory):
    # Given a learner at ridge, When a create-mode file names it, Then LEARNER_EXISTS as in v1, no plan.csv, no hold
    _seed([("950001", "Ann", "Lee", UNIT_A1)])
    status, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    assert status == 201
    put_object(aws, body["upload"]["fields"]["key"], csv_file([_row(1, "950001")]))
    drain(aws)
    _, view, _ = call_api("GET", f"/uploads/{body['uploadId']}", "ridge")
    assert view["mode"] == "create" and [e["code"] for e in view["errors"]] == ["LEARNER_EXISTS"]
    assert "hold" not in view and "planReportUrl" not in view
    assert keys_under(aws, f"reports/{FAC_A1}/{body['uploadId']}/plan.csv") == []


def test_a_rejected_sync_plans_nothing_and_deactivates_nobody(call_api, aws, directory):
    # Given a roster of 3, When a sync file has a header typo, Then REJECTED, no plan, no plan.csv
    _seed([(f"96{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(3)])
    data = b"requestId,docID,firstName,lastNmae,dateOfBirth,role,password,locationId\n1,960000,A,B,01/02/1990,,,x\n"
    upload_id = _sync_via_link(call_api, aws, data)
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["status"] == "REJECTED" and "planReportUrl" not in view and "hold" not in view
    assert keys_under(aws, f"plans/{FAC_A1}/{upload_id}/") == []
    assert keys_under(aws, f"reports/{FAC_A1}/{upload_id}/plan.csv") == []
    # And a header-only file is EMPTY_FILE, never "deactivate everyone"
    upload_id = _sync_via_link(call_api, aws, csv_file([]))
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["status"] == "REJECTED" and view["errors"][0]["code"] == "EMPTY_FILE"
    assert keys_under(aws, f"plans/{FAC_A1}/{upload_id}/") == []


def test_facility_settings_read_and_change_drop_mode_and_the_percent(call_api, aws, directory):
    # Given the ridge facility with its defaults
    status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/settings", "ridge")
    assert status == 200
    assert (body["settings"]["dropMode"], body["settings"]["maxSyncDeactivationPercent"]) == ("create", 10)
    # When its admin sets sync and 25%
    status, body, _ = call_api(
        "POST", f"/facilities/{FAC_A1}/settings", "ridge", {"dropMode": "sync", "maxSyncDeactivationPercent": 25}
    )
    # Then both are stored and shown
    assert status == 200 and (body["settings"]["dropMode"], body["settings"]["maxSyncDeactivationPercent"]) == (
        "sync",
        25,
    )
    from intake.dal import directory as locations

    stored = locations.get_location(FAC_A1)
    assert stored is not None and (stored.drop_mode.value, stored.max_sync_deactivation_percent) == ("sync", 25)
    # And bad values are 400 and change nothing
    for bad in ({"dropMode": "merge"}, {"maxSyncDeactivationPercent": 101}, {"maxSyncDeactivationPercent": -1}):
        status, body, _ = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", bad)
        assert status == 400 and body["code"] == "VALIDATION_FAILED", (bad, body)
    assert locations.get_location(FAC_A1) == stored
    # And an Educator may not change them
    status, _, _ = call_api("POST", f"/facilities/{FAC_A1}/settings", "teacher", {"dropMode": "create"})
    assert status == 403
    # And null resets to the defaults
    status, body, _ = call_api(
        "POST", f"/facilities/{FAC_A1}/settings", "ridge", {"dropMode": None, "maxSyncDeactivationPercent": None}
    )
    assert (body["settings"]["dropMode"], body["settings"]["maxSyncDeactivationPercent"]) == ("create", 10)


def test_a_drop_of_a_sync_facility_with_a_hold_never_confirms_itself(call_api, aws, directory):
    # Given a facility that syncs its drops and auto-confirms them, with a roster of 4
    status, _, _ = call_api(
        "POST", f"/facilities/{FAC_A1}/settings", "ridge", {"dropMode": "sync", "autoConfirmDrops": True}
    )
    assert status == 200
    roster = [(f"97{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(4)]
    _seed(roster)
    # When a drop names only one of them
    put_object(aws, f"incoming/{FAC_A1}/nightly.csv", csv_file([_row(1, roster[0][0])]))
    drain(aws)
    # Then it is a sync, VALIDATED with no row error but held, and it stays VALIDATED (no creation)
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    (upload,) = listing["uploads"]
    assert (upload["source"], upload["mode"], upload["status"]) == ("drop", "sync", "VALIDATED")
    assert upload["hold"]["code"] == "MASS_DEACTIVATION" and upload["counts"]["toDeactivate"] == 3
    stored = _stored(upload["uploadId"])
    assert stored.status.value == "VALIDATED" and stored.confirmed_by is None


def test_a_drop_of_a_sync_facility_without_a_hold_confirms_itself(call_api, aws, directory, monkeypatch):
    from intake.bulk import creation

    # Given a facility that syncs its drops and auto-confirms them, with a roster of 4 (creation itself recorded,
    # not run: applying a sync is the worker's)
    call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", {"dropMode": "sync", "autoConfirmDrops": True})
    roster = [(f"98{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(4)]
    _seed(roster)
    confirmed: list[Any] = []
    monkeypatch.setattr(creation, "begin_creation", lambda upload, **options: confirmed.append((upload, options)))
    # When a drop names all of them, one renamed
    rows = [_row(n + 1, doc) for n, (doc, *_) in enumerate(roster[:3])] + [_row(4, roster[3][0], first="Anya")]
    put_object(aws, f"incoming/{FAC_A1}/nightly.csv", csv_file(rows))
    drain(aws)
    # Then it was validated without a hold and confirmed by itself
    ((upload, options),) = confirmed
    assert upload.hold is None and upload.mode.value == "sync" and upload.counts["toUpdate"] == 1
    assert options["confirmed_by"] == f"drop:{FAC_A1}"


def test_planning_a_5000_row_sync_reads_dynamodb_at_most_11_times_per_1000_rows(call_api, aws, directory):
    from bench.dynamo import READS, CountingClient

    # Given a facility of 5,000 learners, and a file with 1% changes: 50 renamed, 10 new, 10 missing
    roster = [(f"8{n:05d}", "Ann", "Lee", UNIT_A1 if n % 2 else UNIT_A1B) for n in range(5000)]
    _seed(roster)
    rows = []
    for n, (doc, first, last, unit) in enumerate(roster[:4990]):
        rows.append(_row(n + 1, doc, first="Anne" if n < 50 else first, last=last, unit=unit))
    rows += [_row(4991 + n, f"7{n:05d}") for n in range(10)]
    status, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1, "mode": "sync"})
    assert status == 201
    put_object(aws, body["upload"]["fields"]["key"], csv_file(rows))
    # When the validator plans it, its DynamoDB requests counted
    counter = CountingClient()
    with counter.installed():
        drain(aws)
    # Then the plan is right, with one paged roster Query and no look-up per row
    upload = _stored(body["uploadId"])
    assert upload.status.value == "VALIDATED"
    counts = upload.counts
    assert (counts["toUpdate"], counts["unchanged"], counts["toCreate"], counts["toDeactivate"]) == (50, 4940, 10, 10)
    reads = counter.total(READS)
    assert reads <= 11 * 5, counter.calls
    # (the roster in a couple of 1 MB pages, the 10 new DOC IDs in one batched read: 9 reads measured here)
    assert counter.calls[("Query", "intake-LearnersTable")] <= 3
    assert counter.calls[("BatchGetItem", "intake-LearnersTable")] == 1, counter.calls


def test_learners_staff_edit_between_validation_and_confirm_are_changed_since_plan_and_keep_the_edits(
    call_api, aws, directory
):
    # Given a roster of 12, and a validated sync that renames one learner and leaves another out (1 of 12: no hold)
    roster = [(f"95{n:04d}", "Ann", "Lee", UNIT_A1) for n in range(12)]
    ids = _seed(roster)
    renamed, missing = roster[0][0], roster[11][0]
    rows = [_row(1, renamed, first="Anna")] + [_row(n + 1, doc) for n, (doc, *_) in enumerate(roster[1:11], start=1)]
    upload_id = _sync_via_link(call_api, aws, csv_file(rows))
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["status"] == "VALIDATED" and (view["counts"]["toUpdate"], view["counts"]["toDeactivate"]) == (1, 1)
    # When a staff member edits both learners before the upload is confirmed
    for doc, change in ((renamed, {"lastName": "Staffedit"}), (missing, {"firstName": "Kept"})):
        status, body, _ = call_api("PATCH", f"/learners/{ids[doc]}", "ridge", change)
        assert status == 200, body
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then neither planned change is applied over the staff's: both rows are CHANGED_SINCE_PLAN, counted failed
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED_WITH_ERRORS", done
    assert (done["counts"]["updated"], done["counts"]["deactivated"], done["counts"]["failed"]) == (0, 0, 2)
    results = list(csv.DictReader(io.StringIO(get_text(aws, _stored(upload_id).result_report_key))))
    assert sorted((r["docID"], r["outcome"]) for r in results) == [
        (renamed, "CHANGED_SINCE_PLAN"),
        (missing, "CHANGED_SINCE_PLAN"),
    ]
    # And storage holds the staff's edits: the renamed learner's last name (first name as it was), the missing one
    # still active with its new first name
    from intake.dal import learners as learner_store

    first = learner_store.get_by_id(ids[renamed])
    second = learner_store.get_by_id(ids[missing])
    assert (first.first_name, first.last_name, first.status.value) == ("Ann", "Staffedit", "ACTIVE")
    assert (second.first_name, second.status.value) == ("Kept", "ACTIVE")
