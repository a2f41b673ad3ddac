"""A sync's plan (CREATE, UPDATE, DEACTIVATE) under the faults of docs/reliability.md: crashes before and after each
kind of write, throttling, transient 500s, lost responses, duplicated and concurrent deliveries. 0 lost, 0 applied
twice, checked in storage (tests/integration/sync_fault_flows.py). And a learner edited by staff after planning."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import AGENCY_A, FAC_A1
from tests.integration import sync_fault_flows
from tests.integration.bulk_helpers import drain
from tests.integration.fault_injection import Faults, Rule, install
from tests.integration.test_delivery_faults import _deliver_tolerant, _take_all

BEFORE_PARTS = 3  # upload updates before the first part record: VALIDATING, VALIDATED, CREATING
# Learner writes in order: chunk 0 creates 3 (a username claim, then a put) and updates 2, chunk 1 updates 2 and
# deactivates 3, chunk 2 deactivates 1 (every UPDATE and DEACTIVATE is one UpdateItem on the learners table).
CRASHES = {
    "before-the-first-update": Rule("dynamodb", "UpdateItem", kind="crash_before", table="Learners"),
    "after-the-first-update": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Learners"),
    "after-an-update-mid-part": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Learners", skip=2),
    "after-the-first-deactivation": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Learners", skip=4),
    "before-a-deactivation": Rule("dynamodb", "UpdateItem", kind="crash_before", table="Learners", skip=5),
    "after-the-last-deactivation": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Learners", skip=7),
    "after-a-result-part-saved": Rule("s3", "PutObject", kind="crash_after", key_part="/results/"),
    "after-a-part's-entries-filed": Rule("dynamodb", "BatchWriteItem", kind="crash_after", table="Audit", skip=1),
    "before-a-part-counted": Rule("dynamodb", "UpdateItem", kind="crash_before", table="Uploads", skip=BEFORE_PARTS),
    "after-a-part-counted": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Uploads", skip=BEFORE_PARTS + 1),
    "after-results-csv-saved": Rule("s3", "PutObject", kind="crash_after", key_part="results.csv"),
    "during-clean-up": Rule("s3", "DeleteObjects", kind="crash_before"),
}
# The writes of the confirm and the workers (UPDATE and DEACTIVATE are UpdateItem on the learners table).
WRITES = [
    ("dynamodb", "UpdateItem", "UsernamesTable"),
    ("dynamodb", "PutItem", "LearnersTable"),
    ("dynamodb", "UpdateItem", "LearnersTable"),
    ("dynamodb", "UpdateItem", "UploadsTable"),
    ("dynamodb", "BatchWriteItem", "AuditTable"),
    ("dynamodb", "PutItem", "AuditTable"),
    ("s3", "PutObject", None),
    ("s3", "DeleteObjects", None),
    ("sqs", "SendMessageBatch", None),
]
SERVER_ERROR = {"dynamodb": "InternalServerError", "s3": "InternalError", "sqs": "InternalError"}


@pytest.fixture
def faults(aws, directory, monkeypatch) -> Faults:
    monkeypatch.setenv("CREATION_CHUNK_SIZE", str(sync_fault_flows.CHUNK_SIZE))
    from intake.settings import get_settings

    get_settings.cache_clear()
    return install(monkeypatch)


def test_a_sync_plan_applies_each_entry_once(call_api, aws, faults):
    # Given no fault
    # When a sync's plan is confirmed and applied
    flow = sync_fault_flows.run(call_api, aws, faults)
    # Then every entry ended exactly once, with one learner write per UPDATE and DEACTIVATE
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)
    assert faults.calls[("dynamodb", "UpdateItem")] >= sync_fault_flows.RENAMED + sync_fault_flows.MISSING


@pytest.mark.parametrize("point", list(CRASHES))
def test_a_crash_is_retried_without_loss_or_a_second_write(call_api, aws, faults, point):
    # Given a worker that dies once at this point
    rule = faults.add(dataclasses.replace(CRASHES[point]))
    # When the sync runs end to end (the failed message is redelivered)
    flow = sync_fault_flows.run(call_api, aws, faults)
    # Then it died there, and every entry still ended exactly once (one history entry, one audit entry, counted once)
    assert rule.fired == 1, point
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttled_learner_writes_are_retried(call_api, aws, faults, code):
    # Given learner updates throttled twice (the SDK retries), then five times in a row (SQS redelivers)
    short = faults.add(Rule("dynamodb", "UpdateItem", code=code, status=400, table="Learners", times=2))
    long = faults.add(Rule("dynamodb", "UpdateItem", code=code, status=400, table="Learners", skip=6, times=5))
    # When the sync runs end to end
    flow = sync_fault_flows.run(call_api, aws, faults)
    # Then each was retried to success, and every entry ended exactly once
    assert (short.fired, long.fired) == (2, 5)
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)


def test_transient_500s_on_the_workers_reads_and_learner_writes_are_retried(call_api, aws, faults):
    # Given the worker's upload and location reads and its learner writes each answering 500 twice
    calls = (
        ("GetItem", "Uploads"),
        ("GetItem", "Locations"),
        ("UpdateItem", "Learners"),
        ("PutItem", "Learners"),
    )
    rules = [faults.add(Rule("dynamodb", operation, table=table, times=2)) for operation, table in calls]
    # When the sync runs end to end
    flow = sync_fault_flows.run(call_api, aws, faults)
    # Then the SDK retried each, and every entry ended exactly once
    assert [rule.fired for rule in rules] == [2, 2, 2, 2]
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("service", ["dynamodb", "s3", "sqs"])
def test_writes_applied_but_their_responses_lost_are_not_applied_twice(call_api, aws, faults, service):
    # Given every write of one service applied but answered with a 500 (each retry then meets its own effect:
    # a refused conditional update, whose learner shows this upload's own history entry)
    rules = [
        faults.add(Rule(s, operation, kind="lost", code=SERVER_ERROR[s], table=table, times=1000, period=2))
        for s, operation, table in WRITES
        if s == service
    ]
    # When the sync runs end to end
    flow = sync_fault_flows.run(call_api, aws, faults)
    # Then nothing was applied twice or reported CHANGED_SINCE_PLAN, and every entry ended exactly once
    assert all(rule.fired >= 1 for rule in rules)
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("copies", [2, 3])
def test_sync_chunks_delivered_concurrently_and_again_after_completion(call_api, aws, faults, copies):
    # Given a confirmed sync whose creation messages are all waiting
    with faults.disarmed():
        flow = sync_fault_flows.prepare(call_api, aws)
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {})[0] == 202
    chunks = _take_all(aws, "CreationQueue")
    assert len(chunks) == 3
    # When each is delivered to several workers at once, then the refused ones and every chunk once more
    failed = []
    for message in chunks:
        with ThreadPoolExecutor(max_workers=copies) as pool:
            answers = list(
                pool.map(
                    lambda i, m=message: _deliver_tolerant(aws, dict(m, MessageId=f"{m['MessageId']}-{i}")),
                    range(copies),
                )
            )
        failed += [m for m, answer in zip([message] * copies, answers, strict=True) if answer]
    for message in failed + chunks:
        assert not _deliver_tolerant(aws, dict(message, MessageId="later"))
    # Then every entry ended exactly once
    sync_fault_flows.assert_exactly_once(call_api, aws, flow)


def test_a_learner_edited_by_staff_after_planning_is_changed_since_plan_and_keeps_the_edit(call_api, aws, faults):
    # Given a planned sync, then staff editing one learner it updates and one it deactivates (PATCH /learners)
    with faults.disarmed():
        flow = sync_fault_flows.prepare(call_api, aws)
    (renamed_id, *_), (missing_id, *_) = flow.renamed.values(), flow.missing.values()
    for learner_id in (renamed_id, missing_id):
        status, body, _ = call_api("PATCH", f"/learners/{learner_id}", "ridge", {"firstName": "Staffedit"})
        assert status == 200, body
    # When the sync is confirmed and applied
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then those two are CHANGED_SINCE_PLAN (counted failed), keep the staff edit, and nothing of the sync is on them
    from intake.dal.learners import get_by_id

    _, upload, _ = call_api("GET", f"/uploads/{flow.upload_id}", "ridge")
    assert upload["status"] == "COMPLETED_WITH_ERRORS"
    counts = upload["counts"]
    assert (counts["updated"], counts["deactivated"], counts["failed"]) == (
        sync_fault_flows.RENAMED + sync_fault_flows.REHOUSED - 1,
        sync_fault_flows.MISSING - 1,
        2,
    )
    for learner_id in (renamed_id, missing_id):
        learner = get_by_id(learner_id)
        assert learner is not None
        assert (learner.first_name, learner.last_name, learner.status.value) == ("Staffedit", "Reed", "ACTIVE")
        assert [(e.kind.value, e.upload_id) for e in learner.history[1:]] == [("EDITED", None)]
    import csv
    import io

    from tests.integration.bulk_helpers import get_text

    rows = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{flow.upload_id}/results.csv"))))
    refused = [row for row in rows if row["outcome"] == "CHANGED_SINCE_PLAN"]
    assert sorted(row["learnerId"] for row in refused) == sorted([renamed_id, missing_id])
    assert all("changed since the file was checked" in row["message"] and not row["password"] for row in refused)
    assert all("03/04/1988" not in ",".join(row.values()) for row in rows)  # no date of birth in results.csv
    # And the audit trail has no update or deactivation of them by the sync
    from intake.dal.audit import list_entries

    by_sync = {(e.action, e.target_id) for e in list_entries(FAC_A1, 1000) if e.details.get("uploadId")}
    assert not {action for action, target in by_sync if target in (renamed_id, missing_id)}
    assert AGENCY_A  # the learners are of agency A, the upload of FAC_A1
