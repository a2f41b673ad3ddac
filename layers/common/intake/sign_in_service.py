"""Learner sign-in: (agency, username or DOC ID, password) → the learner, with a lockout of guessing.

One look-up reads the learner, its hash and its counter of failures in a row. A locked login is refused unchecked,
and the attempt counts (the wait doubles). Otherwise the password is verified, against a dummy hash when the login
names nobody (the same CPU: the timing does not tell who exists); a wrong or unknown one counts a failure and gets
one answer. Only a right password learns that the learner is inactive or its facility's access is off. A success
resets a non-zero counter and rehashes a hash made with older parameters.
"""

from __future__ import annotations

import math
import time

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from intake import audit, facility_access, passwords, rules
from intake.dal import sign_ins
from intake.domain import Learner, LearnerStatus
from intake.errors import AccountDisabled, InvalidCredentials, LockedOut
from intake.observability import logger, metrics
from intake.settings import get_settings


def _lockout_metric(facility_id: str | None) -> None:
    metrics.add_metric(name="LearnerSignInLockouts", unit=MetricUnit.Count, value=1)
    if facility_id:  # by facility too, for the alarm on a burst of lockouts in one facility
        with single_metric(name="LearnerSignInLockouts", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="facilityId", value=facility_id)


def _failed(action: str, reason: str, agency_id: str, learner: Learner | None, failures: int, client_id: str) -> None:
    audit.sign_in_event(
        action,
        agency_id=agency_id,
        learner_id=learner.learner_id if learner else None,
        facility_id=learner.facility_id if learner else None,
        reason=reason,
        failures=failures,
        client_id=client_id,
    )
    metrics.add_metric(name="LearnerSignInFailures", unit=MetricUnit.Count, value=1)


def sign_in(agency_id: str, login: str, password: str, client_id: str) -> Learner:
    """The learner behind (agency, username or DOC ID, password); InvalidCredentials, AccountDisabled or LockedOut."""
    base = get_settings().learner_lockout_seconds
    look = sign_ins.look_up(agency_id, login)
    learner = look.learner
    now = time.time()
    until = rules.locked_until(look.failures, look.last_failure_at, base)
    if until is not None and until > now:
        failures, at = sign_ins.record_failure(agency_id, look.login_key, now)
        wait = (rules.locked_until(failures, at, base) or at) - at  # from this failure (stored to the millisecond)
        _failed(audit.LEARNER_LOCKED_OUT, "LOCKED_OUT", agency_id, learner, failures, client_id)
        raise LockedOut(max(1, math.ceil(wait)))

    if not passwords.verify_password(look.password_hash or passwords.dummy_hash(), password) or learner is None:
        failures, _ = sign_ins.record_failure(agency_id, look.login_key, now)
        reason = "UNKNOWN_LOGIN" if learner is None else "WRONG_PASSWORD"
        _failed(audit.LEARNER_SIGN_IN_FAILED, reason, agency_id, learner, failures, client_id)
        if failures == rules.LOCKOUT_AFTER:  # this failure starts a lock
            _lockout_metric(learner.facility_id if learner else None)
        raise InvalidCredentials

    refusal = None
    if learner.status is not LearnerStatus.ACTIVE:
        refusal = "LEARNER_INACTIVE"
    elif not facility_access.learner_access_on(learner.facility_id):
        refusal = "LEARNER_ACCESS_OFF"
    if refusal is not None:
        _failed(audit.LEARNER_SIGN_IN_FAILED, refusal, agency_id, learner, look.failures, client_id)
        raise AccountDisabled

    if look.failures > 0:
        sign_ins.reset_failures(agency_id, look.login_key, look.failures)
    stored = look.password_hash or ""
    if passwords.needs_rehash(stored) and not sign_ins.rehash(learner, stored, passwords.hash_password(password)):
        logger.info("rehash skipped: the password changed meanwhile", extra={"learner_id": learner.learner_id})
    audit.sign_in_event(
        audit.LEARNER_SIGNED_IN,
        agency_id=agency_id,
        learner_id=learner.learner_id,
        facility_id=learner.facility_id,
        reason=None,
        failures=look.failures,
        client_id=client_id,
    )
    metrics.add_metric(name="LearnerSignIns", unit=MetricUnit.Count, value=1)
    return learner
