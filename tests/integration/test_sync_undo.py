"""POST /uploads/{uploadId}/undo-deactivations over moto: a completed sync's deactivations undone once, the learners
changed since skipped, a repeat answering the same without a write, and the 30-day window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import FAC_A1
from tests.integration import sync_fault_flows
from tests.integration.bulk_helpers import drain
from tests.integration.fault_injection import install

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def completed_sync(call_api, aws, directory, monkeypatch):
    """A completed sync that deactivated 3 learners (and created and updated others)."""
    monkeypatch.setenv("CREATION_CHUNK_SIZE", str(sync_fault_flows.CHUNK_SIZE))
    from intake.settings import get_settings

    get_settings.cache_clear()
    flow = sync_fault_flows.prepare(call_api, aws, missing=3)
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    _, upload, _ = call_api("GET", f"/uploads/{flow.upload_id}", "ridge")
    assert (upload["status"], upload["counts"]["deactivated"]) == ("COMPLETED", 3), upload
    return flow


def _learner(learner_id: str):
    from intake.dal.learners import get_by_id

    learner = get_by_id(learner_id)
    assert learner is not None
    return learner


def test_undo_reactivates_what_the_sync_deactivated_skips_the_edited_and_repeats_without_writing(
    call_api, aws, completed_sync, monkeypatch
):
    # Given a completed sync that deactivated 3 learners, one of them edited by staff since
    flow = completed_sync
    edited, *kept = flow.missing.values()
    status, body, _ = call_api("PATCH", f"/learners/{edited}", "ridge", {"firstName": "Staffedit"})
    assert status == 200, body
    edited_before = _learner(edited)
    # When staff undo its deactivations
    status, answer, _ = call_api("POST", f"/uploads/{flow.upload_id}/undo-deactivations", "ridge")
    # Then 2 are reactivated and 1 skipped
    assert (status, answer) == (200, {"reactivated": 2, "skipped": 1})
    # And in storage: the 2 are active on the facility's roster, their last change a REACTIVATED entry of the upload
    # by the requestor; the edited one is as staff left it (inactive, with their edit)
    from intake.dal.tables import LearnerItem

    for learner_id in kept:
        learner = _learner(learner_id)
        item = LearnerItem.get(learner.agency_id, learner.doc_id)
        assert (item.status, item.roster) == ("ACTIVE", f"{FAC_A1}#ACTIVE")
        assert [(e.kind.value, e.upload_id, e.by) for e in learner.history[1:]] == [
            ("DEACTIVATED", flow.upload_id, "ridge"),
            ("REACTIVATED", flow.upload_id, "ridge"),
        ]
    assert _learner(edited) == edited_before
    # And it is audited: one LEARNER_REACTIVATED per learner and the undo's counts, by ids
    from intake.dal.audit import list_entries

    trail = list_entries(FAC_A1, limit=1000)
    reactivated = sorted(e.target_id for e in trail if e.action == "LEARNER_REACTIVATED")
    assert reactivated == sorted(kept)
    (summary,) = [e for e in trail if e.action == "UPLOAD_DEACTIVATIONS_UNDONE"]
    assert (summary.target_id, summary.actor, summary.details) == (
        flow.upload_id,
        "ridge",
        {"reactivated": 2, "skipped": 1},
    )
    items_before = {item.docId: item.serialize() for item in LearnerItem.scan()}
    audit_before = sorted(e.entry_id for e in trail)

    # When it is asked for again
    faults = install(monkeypatch)
    status, again, _ = call_api("POST", f"/uploads/{flow.upload_id}/undo-deactivations", "ridge")
    # Then it answers the same and wrote nothing at all
    assert (status, again) == (200, answer)
    writes = {call: n for call, n in faults.calls.items() if call[1] in WRITE_OPERATIONS}
    assert writes == {}, writes
    assert faults.calls[("dynamodb", "Query")] >= 1  # the recorder saw the repeat's reads
    assert {item.docId: item.serialize() for item in LearnerItem.scan()} == items_before
    assert sorted(e.entry_id for e in list_entries(FAC_A1, limit=1000)) == audit_before


def test_undo_after_30_days_is_409_and_changes_nothing(call_api, aws, completed_sync, monkeypatch):
    # Given a completed sync, 30 days and a minute after it completed
    flow = completed_sync
    from intake import clock
    from intake.dal.uploads import get_upload

    upload = get_upload(flow.upload_id)
    assert upload is not None and upload.completed_at is not None
    late = datetime.fromisoformat(upload.completed_at) + timedelta(days=30, minutes=1)
    monkeypatch.setattr(clock, "utc_now", lambda: late)
    # When staff undo its deactivations
    status, body, _ = call_api("POST", f"/uploads/{flow.upload_id}/undo-deactivations", "ridge")
    # Then it is a conflict saying it is too late, and the learners stay inactive
    assert status == 409, body
    assert body["code"] == "CONFLICT" and "more than 30 days ago" in body["message"]
    assert {_learner(i).status.value for i in flow.missing.values()} == {"INACTIVE"}


def test_undo_is_for_writers_of_the_facility_and_finished_syncs(call_api, aws, directory):
    # Given a sync still awaiting its confirm
    flow = sync_fault_flows.prepare(call_api, aws, missing=1)
    path = f"/uploads/{flow.upload_id}/undo-deactivations"
    # Then a writer gets 409 (not finished), its Educator 403, another facility's staff and unknown ids 404
    status, body, _ = call_api("POST", path, "ridge")
    assert (status, body["code"]) == (409, "CONFLICT") and "once it has completed" in body["message"]
    assert call_api("POST", path, "teacher")[0] == 403
    assert call_api("POST", path, "lake")[0] == 404
    assert call_api("POST", "/uploads/no-such-upload/undo-deactivations", "ridge")[0] == 404
