"""Crashes on the bulk path: a validator or worker dying before, during and after its writes; concurrent confirms.

A crash is a WorkerCrash raised from a botocore hook (tests/integration/fault_injection.py) just before a request is
sent or just after its answer arrived: the invocation fails, SQS redelivers the message, and every row must still end
exactly once.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1
from tests.integration import fault_flows
from tests.integration.bulk_helpers import csv_file, drain, put_object
from tests.integration.fault_injection import Faults, Rule, install

# (where the process dies, the rule). Upload updates in order: VALIDATING, VALIDATED, CREATING (the confirm), one
# part record per chunk (three chunks of one part), COMPLETED. Each learner is a username claim (an UpdateItem) then
# its conditional put; each part files its audit entries (a batch write) before its record.
CRASHES = {
    "validator-before-writing-the-plan": Rule("s3", "PutObject", kind="crash_before", key_part="/plans/"),
    "validator-after-its-data-key-kept": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Uploads", skip=1),
    "validator-after-VALIDATED": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Uploads", skip=2),
    "worker-before-its-first-learner": Rule("dynamodb", "UpdateItem", kind="crash_before", table="Usernames"),
    "worker-between-a-claim-and-its-learner": Rule("dynamodb", "PutItem", kind="crash_before", table="Learners"),
    "worker-between-learners": Rule("dynamodb", "PutItem", kind="crash_before", table="Learners", skip=3),
    "worker-after-a-learner-written": Rule("dynamodb", "PutItem", kind="crash_after", table="Learners", skip=3),
    "worker-after-a-move": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Learners"),
    "worker-after-a-result-part-saved": Rule("s3", "PutObject", kind="crash_after", key_part="/results/"),
    "worker-after-a-part's-entries-filed": Rule("dynamodb", "BatchWriteItem", kind="crash_after", table="Audit"),
    "worker-before-a-part-counted": Rule("dynamodb", "UpdateItem", kind="crash_before", table="Uploads", skip=4),
    "worker-after-a-part-counted": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Uploads", skip=4),
    "worker-after-results-csv-saved": Rule("s3", "PutObject", kind="crash_after", key_part="results.csv"),
    # (the 8th UpdateItem of the uploads table: claim, data key kept, validated, creating, three parts, COMPLETED)
    "worker-after-COMPLETED": Rule("dynamodb", "UpdateItem", kind="crash_after", table="Uploads", skip=7),
    "worker-during-clean-up": Rule("s3", "DeleteObjects", kind="crash_before"),
}


@pytest.fixture
def faults(aws, directory, monkeypatch) -> Faults:
    monkeypatch.setenv("CREATION_CHUNK_SIZE", "5")
    from intake.settings import get_settings

    get_settings.cache_clear()
    return install(monkeypatch)


@pytest.mark.parametrize("point", list(CRASHES))
def test_crash_is_retried_without_loss_or_duplicate(call_api, aws, faults, point):
    # Given a process that dies once at this point
    rule = faults.add(dataclasses.replace(CRASHES[point]))
    # When one upload runs end to end (the failed message is redelivered)
    flow = fault_flows.run(call_api, aws, faults)
    # Then it died there, and still every row ended exactly once with a working password
    assert rule.fired == 1, point
    fault_flows.assert_exactly_once(call_api, aws, flow, check_passwords=fault_flows.NEW_ROWS)


def _validated_upload(call_api, aws, rows: int) -> str:
    data = csv_file([f"{i},80{i:04d},Ann,Lee,01/02/1990,Learner,,{UNIT_A1}" for i in range(1, rows + 1)])
    _status, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    put_object(aws, body["upload"]["fields"]["key"], data)
    drain(aws)
    return body["uploadId"]


def _learners_of_upload(upload_id: str) -> list:
    from intake.dal.tables import LearnerItem

    return [item for item in LearnerItem.query(AGENCY_A) if item.uploadId == upload_id]


def test_worker_crashing_after_half_a_chunk_is_retried_without_duplicates(call_api, aws, directory, monkeypatch):
    # Given a validated upload of 120 rows (one chunk, three parts)
    upload_id = _validated_upload(call_api, aws, 120)
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    # And a worker that dies after writing 60 learners (past one recorded part, inside the next)
    faults = install(monkeypatch)
    rule = faults.add(Rule("dynamodb", "PutItem", kind="crash_before", table="Learners", skip=60))
    # When the queue is drained (the failed message is redelivered and retried)
    drain(aws)
    faults.armed = False
    # Then every row was created exactly once, the counts add up, and every password in results.csv works
    assert rule.fired == 1
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED"
    assert done["counts"]["created"] == 120 and done["counts"]["failed"] == 0
    learners = _learners_of_upload(upload_id)
    assert len(learners) == 120 and len({item.docId for item in learners}) == 120
    import csv
    import io

    from intake.dal.learners import stored_password_hash
    from intake.passwords import verify_password
    from tests.integration.bulk_helpers import get_text

    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))))
    assert len(results) == 120
    for row in results:  # across the crash point: the password reported is the one stored
        assert verify_password(stored_password_hash(AGENCY_A, row["docID"]) or "", row["password"])


@pytest.mark.parametrize("callers", [2, 4])
def test_concurrent_confirms_create_once(call_api, aws, directory, callers, monkeypatch):
    # Given a validated upload (each request to moto atomic, as each call to AWS is)
    upload_id = _validated_upload(call_api, aws, 10)
    # When several confirms arrive at once
    with ThreadPoolExecutor(max_workers=callers) as pool:
        answers = list(
            pool.map(lambda _: call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {}), range(callers))
        )
    # Then each answers 202 CREATING or 409 (another is in progress), and the learners are created once
    assert {status for status, _, _ in answers} <= {202, 409}
    assert any(status == 202 for status, _, _ in answers)
    drain(aws)
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 10
    assert len(_learners_of_upload(upload_id)) == 10
