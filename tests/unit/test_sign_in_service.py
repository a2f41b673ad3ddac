"""intake.sign_in_service over moto: its metrics (successes, failures, and lockouts also by facility for the alarm)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import passwords, sign_in_service
from intake.dal import learners
from intake.domain import Learner
from intake.errors import InvalidCredentials, LockedOut
from intake.observability import metrics
from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1

PASSWORD = "Gardenia-Road-77"


@pytest.fixture
def learner(directory: dict[str, Any]) -> Learner:
    stored = Learner(
        learner_id="L-1",
        agency_id=AGENCY_A,
        doc_id="600001",
        first_name="Ann",
        last_name="Lee",
        date_of_birth="07/19/1983",
        location_id=UNIT_A1,
        facility_id=FAC_A1,
        created_at=datetime(2026, 11, 30, tzinfo=UTC),
        created_by="ridge",
        username="leea0001",
    )
    return learners.insert_learner(stored, passwords.hash_password(PASSWORD))


@pytest.fixture
def counted() -> Iterator[dict[str, Any]]:
    metrics.clear_metrics()
    yield metrics.metric_set
    metrics.clear_metrics()


def _emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_successes_and_failures_are_counted(learner: Learner, counted: dict[str, Any]) -> None:
    sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, "c")
    with pytest.raises(InvalidCredentials):
        sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", "c")
    assert counted["LearnerSignIns"]["Value"] == [1.0]
    assert counted["LearnerSignInFailures"]["Value"] == [1.0]
    assert "LearnerSignInLockouts" not in counted


def test_the_failure_that_starts_a_lock_is_a_lockout_also_by_facility(
    learner: Learner, counted: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given 4 failures
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", "c")
    capfd.readouterr()
    assert "LearnerSignInLockouts" not in counted
    # When the 5th fails, then a 6th is tried
    with pytest.raises(InvalidCredentials):
        sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", "c")
    fifth = _emf_lines(capfd.readouterr().out)
    with pytest.raises(LockedOut) as locked:
        sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", "c")
    sixth = _emf_lines(capfd.readouterr().out)
    # Then the 5th started the lock: one lockout, and one metric line of it by facility (and service) for the alarm
    assert counted["LearnerSignInLockouts"]["Value"] == [1.0]
    [line] = fifth
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["facilityId", "service"]]
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Intake"
    assert (line["facilityId"], line["LearnerSignInLockouts"]) == (FAC_A1, [1.0])
    # And the 6th, refused while locked, is a failure, not a new lockout
    assert sixth == [] and counted["LearnerSignInFailures"]["Value"] == [1.0] * 6
    assert locked.value.retry_after == 120  # 60 s doubled: the 6th counted


def test_an_unknown_login_locks_too_without_a_facility_metric(
    directory: dict[str, Any], counted: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            sign_in_service.sign_in(AGENCY_A, "nobodyhere1", "wrong-pass-1", "c")
    with pytest.raises(LockedOut):
        sign_in_service.sign_in(AGENCY_A, "nobodyhere1", "wrong-pass-1", "c")
    assert counted["LearnerSignInLockouts"]["Value"] == [1.0]
    assert _emf_lines(capfd.readouterr().out) == []
