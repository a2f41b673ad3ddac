"""Uploads nobody confirms: the scheduled sweeper expires them once, deletes their file and plan, and leaves the rest.

The sweeper is run the way the local stack runs it (local/schedules.py reads the template's Schedule event)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from local.resources import LocalResources
from local.schedules import run_once, schedules_of
from tests.conftest import FAC_A1, UNIT_A1
from tests.integration.bulk_helpers import csv_file, drain, keys_under, put_object


def _sweep(aws: LocalResources) -> int:
    (schedule,) = schedules_of(aws)
    assert (schedule.function.logical_id, schedule.expression) == ("SweeperFunction", "rate(1 hour)")
    return int(run_once(schedule, aws)["expired"])


def _upload_with_file(call_api: Any, aws: Any, doc_id: str) -> str:
    _, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    put_object(aws, body["upload"]["fields"]["key"], csv_file([f"1,{doc_id},Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"]))
    return body["uploadId"]


@pytest.fixture
def uploads_of_three_days_ago(call_api, aws, directory, monkeypatch) -> dict[str, str]:
    """Uploads made three days ago (clock pinned back): one never sent its file, one validated, one completed."""
    from intake import clock

    real_now = clock.utc_now
    monkeypatch.setattr(clock, "utc_now", lambda: real_now() - timedelta(days=3))
    _, never, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    validated = _upload_with_file(call_api, aws, "500001")
    completed = _upload_with_file(call_api, aws, "500002")
    drain(aws)
    assert call_api("POST", f"/uploads/{completed}/confirm", "ridge", {})[0] == 202
    drain(aws)
    monkeypatch.setattr(clock, "utc_now", real_now)
    return {"never": never["uploadId"], "validated": validated, "completed": completed}


def _status(upload_id: str) -> str:
    from intake.dal import uploads

    upload = uploads.get_upload(upload_id)
    assert upload is not None
    return upload.status.value


def test_sweeper_expires_due_uploads_once_and_removes_their_files(call_api, aws, uploads_of_three_days_ago):
    # Given due uploads (never sent, validated) next to a completed one and a fresh validated one
    due = uploads_of_three_days_ago
    fresh = _upload_with_file(call_api, aws, "500003")
    drain(aws)
    assert keys_under(aws, f"plans/{FAC_A1}/{due['validated']}/") != []
    # When the schedule fires twice in a row
    first, second = _sweep(aws), _sweep(aws)
    # Then the two due uploads were expired by the first run only, with their file and plan gone
    assert (first, second) == (2, 0)
    assert {name: _status(upload_id) for name, upload_id in due.items()} == {
        "never": "EXPIRED",
        "validated": "EXPIRED",
        "completed": "COMPLETED",
    }
    assert keys_under(aws, f"incoming/{FAC_A1}/{due['validated']}") == []
    assert keys_under(aws, f"plans/{FAC_A1}/{due['validated']}/") == []
    # And the fresh upload is untouched and still confirmable, while an expired one is not
    assert _status(fresh) == "VALIDATED"
    assert call_api("POST", f"/uploads/{due['validated']}/confirm", "ridge", {})[0] == 409
    assert call_api("POST", f"/uploads/{fresh}/confirm", "ridge", {})[0] == 202


def test_concurrent_sweeps_expire_each_upload_once(call_api, aws, uploads_of_three_days_ago, monkeypatch):
    # Given due uploads (each request to moto atomic, as each call to AWS is)
    due = uploads_of_three_days_ago
    # When three sweeps run at once (a slow run overlapping the next schedule)
    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(lambda _: _sweep(aws), range(3)))
    # Then each due upload is EXPIRED and counted by exactly one sweep
    assert sum(counts) == 2
    assert _status(due["never"]) == _status(due["validated"]) == "EXPIRED"
    assert _status(due["completed"]) == "COMPLETED"
