"""Learner sign-in over the tables (moto): by username or DOC ID, one answer for unknown and wrong, the lockout and its
atomic counter, refusals only after a right password, resets and rehashes, the request budget, and clean logs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import argon2
import pytest

from bench.dynamo import CountingClient
from intake import admin_service, learner_service, passwords, sign_in_service
from intake.admin_models import FacilitySettingsRequest
from intake.dal import learners as learner_store
from intake.dal import sign_ins
from intake.dal.tables import LearnerItem, SignInAttemptItem
from intake.domain import Learner, LearnerStatus, NewLearner
from intake.errors import AccountDisabled, InvalidCredentials, LockedOut
from intake.settings import get_settings
from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1
from tests.log_capture import cloudwatch_lines

CLIENT = "tablet-client-1"
PASSWORD = "Gardenia-Road-77"
OTHER_PASSWORD = "Juniper-Hill-4242"


def _create(directory: dict[str, Any], doc_id: str, first: str, last: str, password: str = PASSWORD) -> Learner:
    created = learner_service.create_learner(
        directory["ridge"],
        NewLearner(
            location_id=UNIT_A1,
            doc_id=doc_id,
            first_name=first,
            last_name=last,
            date_of_birth="07/19/1983",
            password=password,
        ),
    )
    return created.learner


def _counter(learner_or_login: Learner | str) -> SignInAttemptItem | None:
    login = learner_or_login.username if isinstance(learner_or_login, Learner) else learner_or_login
    try:
        return SignInAttemptItem.get(AGENCY_A, sign_ins.login_key(str(login)), consistent_read=True)
    except SignInAttemptItem.DoesNotExist:
        return None


@pytest.fixture
def ann(directory: dict[str, Any]) -> Learner:
    return _create(directory, "600001", "Ann", "Lee")


@pytest.fixture
def short_lockout(monkeypatch: pytest.MonkeyPatch, aws: Any) -> Iterator[int]:
    monkeypatch.setenv("LEARNER_LOCKOUT_SECONDS", "1")
    get_settings.cache_clear()
    yield 1
    get_settings.cache_clear()


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hash of every argon2 verify made (argon2 itself still runs: this only records its argument)."""
    seen: list[str] = []
    real = argon2.PasswordHasher.verify

    def verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return seen


def _refusal(call: Any) -> Exception:
    with pytest.raises((InvalidCredentials, AccountDisabled, LockedOut)) as caught:
        call()
    return caught.value


# ------------------------------------------------------------------ who signs in


def test_a_learner_signs_in_by_username_and_by_doc_id(ann: Learner) -> None:
    # Given a learner created with a password (username leea0001, DOC ID 600001)
    assert ann.username == "leea0001"
    # When they sign in by username (any case, spaces around) and by DOC ID
    by_username = sign_in_service.sign_in(AGENCY_A, "  LeeA0001 ", PASSWORD, CLIENT)
    by_doc_id = sign_in_service.sign_in(AGENCY_A, "600001", PASSWORD, CLIENT)
    # Then both are that learner, and no counter was written
    assert by_username.learner_id == by_doc_id.learner_id == ann.learner_id
    assert by_username.username == "leea0001" and by_doc_id.facility_id == FAC_A1
    assert _counter(ann) is None and _counter("600001") is None


def test_a_username_wins_over_a_doc_id_naming_another_learner(directory: dict[str, Any], ann: Learner) -> None:
    # Given a second learner whose DOC ID is the first learner's username
    other = _create(directory, "LEEA0001", "Bo", "Ray", password=OTHER_PASSWORD)
    # When "leea0001" is typed with each learner's password
    signed = sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)
    refused = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", OTHER_PASSWORD, CLIENT))
    # Then it names the username's learner: the other learner's password fails (counted against the username),
    # while the other learner signs in by their own username
    assert signed.learner_id == ann.learner_id
    assert isinstance(refused, InvalidCredentials)
    counter = _counter(ann)
    assert counter is not None and counter.failures == 1
    assert sign_in_service.sign_in(AGENCY_A, str(other.username), OTHER_PASSWORD, CLIENT).learner_id == other.learner_id


def test_unknown_and_wrong_get_the_same_answer_after_the_same_verify(ann: Learner, verified: list[str]) -> None:
    # Given a known learner and a login that names nobody
    stored = learner_store.stored_password_hash(AGENCY_A, ann.doc_id)
    # When a wrong password is tried for each
    wrong = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", "Not-The-One-11", CLIENT))
    unknown = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "nobodyhere1", "Not-The-One-11", CLIENT))
    # Then both raise the same error with the same body
    assert type(wrong) is type(unknown) is InvalidCredentials
    assert (wrong.code, wrong.message, wrong.details()) == (unknown.code, unknown.message, unknown.details())  # type: ignore[attr-defined]
    # And each cost exactly one argon2 verify: the stored hash, then the dummy one (same parameters)
    assert verified == [stored, passwords.dummy_hash()]
    assert not passwords.needs_rehash(passwords.dummy_hash())
    # And each counted one failure, the unknown one under the typed text's key
    assert _counter(ann).failures == 1  # type: ignore[union-attr]
    assert _counter("nobodyhere1").failures == 1  # type: ignore[union-attr]


# ------------------------------------------------------------------ lockout


def test_the_lockout_doubles_refuses_the_right_password_and_ends_after_the_wait(
    ann: Learner, short_lockout: int, verified: list[str]
) -> None:
    # Given a 1 s base wait
    # When 5 wrong passwords are tried
    for _ in range(5):
        assert isinstance(
            _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", CLIENT)), InvalidCredentials
        )
    # Then the 6th, at once, is refused unchecked and counted: the wait is doubled (2 s)
    sixth = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", CLIENT))
    assert isinstance(sixth, LockedOut) and sixth.retry_after == 2
    assert sixth.details() == {"retryAfter": 2}
    # And the right password, while locked, is refused too and counts (4 s), by username or by DOC ID alike
    right = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "600001", PASSWORD, CLIENT))
    assert isinstance(right, LockedOut) and right.retry_after == 4
    assert len(verified) == 5  # nothing was verified while locked
    assert _counter(ann).failures == 7  # type: ignore[union-attr]
    # When the wait has passed
    time.sleep(4.05)
    # Then the right password signs in, and the counter is gone from storage
    assert sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT).learner_id == ann.learner_id
    assert _counter(ann) is None


def test_fifty_concurrent_wrong_guesses_count_exactly_fifty_and_lock(ann: Learner) -> None:
    # Given 50 wrong guesses for one username at once
    start = threading.Barrier(10)

    def guess(n: int) -> type[Exception]:
        if n < 10:
            start.wait()
        return type(_refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", f"guess-{n}-xx", CLIENT)))

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(guess, range(50)))
    # Then every one was refused, and the stored counter holds exactly 50
    assert set(answers) <= {InvalidCredentials, LockedOut} and answers.count(InvalidCredentials) >= 5
    assert _counter(ann).failures == 50  # type: ignore[union-attr]
    # And the next attempt, even with the right password, is locked out
    assert isinstance(_refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)), LockedOut)
    assert _counter(ann).failures == 51  # type: ignore[union-attr]


def test_a_success_resets_the_counter_of_the_username_whichever_login_was_typed(ann: Learner) -> None:
    # Given two failures typed as the DOC ID (counted under the username)
    for _ in range(2):
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "600001", "wrong-pass-1", CLIENT))
    assert _counter(ann).failures == 2 and _counter("600001") is None  # type: ignore[union-attr]
    # When the right password is typed with the username
    sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)
    # Then the counter is deleted
    assert _counter(ann) is None


def test_a_failure_counted_meanwhile_is_not_erased_by_a_reset(ann: Learner) -> None:
    # Given a counter at 2 that a concurrent failure took to 3
    key = sign_ins.login_key("leea0001")
    for _ in range(3):
        sign_ins.record_failure(AGENCY_A, key, time.time())
    # When a success that saw 2 resets it
    sign_ins.reset_failures(AGENCY_A, key, 2)
    # Then the counter keeps the 3 failures; one that saw 3 deletes it
    assert _counter(ann).failures == 3  # type: ignore[union-attr]
    sign_ins.reset_failures(AGENCY_A, key, 3)
    assert _counter(ann) is None


# ------------------------------------------------------------------ refusals after a right password


def test_an_inactive_learner_is_disabled_only_with_the_right_password(directory: dict[str, Any], ann: Learner) -> None:
    # Given a deactivated learner
    learner_service.set_learner_status(directory["ridge"], ann.learner_id, LearnerStatus.INACTIVE)
    # When they try a wrong, then the right password
    wrong = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", CLIENT))
    right = _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT))
    # Then only the right one learns the account is disabled, and it left the counter as it was
    assert isinstance(wrong, InvalidCredentials) and isinstance(right, AccountDisabled)
    assert _counter(ann).failures == 1  # type: ignore[union-attr]


def test_a_facility_with_learner_access_off_disables_its_learners_at_once(
    directory: dict[str, Any], ann: Learner
) -> None:
    # Given a learner who signed in (the facility's switch is cached now)
    sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)
    # When the facility's learnerAccess is turned OFF through this sandbox
    admin_service.update_facility_settings(directory["ridge"], FAC_A1, FacilitySettingsRequest(learnerAccess="OFF"))
    # Then the right password answers AccountDisabled at once, and no counter is written
    assert isinstance(
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)), AccountDisabled
    )
    assert _counter(ann) is None
    # And turned ON again, the learner signs in at once
    admin_service.update_facility_settings(directory["ridge"], FAC_A1, FacilitySettingsRequest(learnerAccess="ON"))
    assert sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT).learner_id == ann.learner_id


# ------------------------------------------------------------------ resets and rehashes


def test_a_reset_password_works_at_once_and_the_old_one_fails(directory: dict[str, Any], ann: Learner) -> None:
    # Given a learner who signed in
    sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)
    # When staff reset the password (generated)
    reset = learner_service.reset_password(directory["ridge"], ann.learner_id, None)
    assert reset.generated_password
    # Then the new one signs in, and the old one fails
    assert sign_in_service.sign_in(AGENCY_A, "leea0001", reset.generated_password, CLIENT).learner_id == ann.learner_id
    assert isinstance(
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)), InvalidCredentials
    )


def _weak_hash(password: str) -> str:
    return argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


def _store_hash(learner: Learner, password_hash: str) -> None:
    LearnerItem(agencyId=learner.agency_id, docId=learner.doc_id).update(
        actions=[LearnerItem.passwordHash.set(password_hash)]
    )


def test_a_hash_with_weaker_parameters_is_replaced_on_success(ann: Learner) -> None:
    # Given a learner whose stored hash was made with weaker parameters
    weak = _weak_hash(PASSWORD)
    _store_hash(ann, weak)
    before = learner_store.get_by_id(ann.learner_id)
    assert passwords.needs_rehash(weak)
    # When they sign in
    sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)
    # Then the stored hash is today's, of the same password, with no new version or history entry
    stored = learner_store.stored_password_hash(AGENCY_A, ann.doc_id)
    assert stored and stored != weak and not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, PASSWORD)
    after = learner_store.get_by_id(ann.learner_id)
    assert after is not None and before is not None
    assert (after.version, after.history) == (before.version, before.history)
    # And a wrong password never rehashes
    _store_hash(ann, weak)
    _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", "wrong-pass-1", CLIENT))
    assert learner_store.stored_password_hash(AGENCY_A, ann.doc_id) == weak


def test_a_reset_meanwhile_wins_over_a_rehash(directory: dict[str, Any], ann: Learner) -> None:
    # Given a weak hash seen by a sign-in's look-up
    _store_hash(ann, _weak_hash(PASSWORD))
    look = sign_ins.look_up(AGENCY_A, "leea0001")
    assert look.learner is not None and look.password_hash
    # When staff reset the password before the sign-in rehashes
    reset = learner_service.reset_password(directory["ridge"], ann.learner_id, OTHER_PASSWORD)
    assert reset.generated_password is None
    reset_hash = learner_store.stored_password_hash(AGENCY_A, ann.doc_id)
    done = sign_ins.rehash(look.learner, look.password_hash, passwords.hash_password(PASSWORD))
    # Then the rehash is refused, and the reset's hash stays: the old password fails, the new one works
    assert done is False
    assert learner_store.stored_password_hash(AGENCY_A, ann.doc_id) == reset_hash
    assert isinstance(
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT)), InvalidCredentials
    )
    assert sign_in_service.sign_in(AGENCY_A, "leea0001", OTHER_PASSWORD, CLIENT).learner_id == ann.learner_id


# ------------------------------------------------------------------ the request budget


def _requests(call: Any) -> int:
    counting = CountingClient()
    with counting.installed(), contextlib.suppress(InvalidCredentials, AccountDisabled, LockedOut):
        call()
    return sum(counting.calls.values())


@pytest.mark.parametrize("login", ["leea0001", "600001"])
def test_a_success_costs_two_requests_and_a_failure_three(ann: Learner, login: str) -> None:
    # Given the facility's switch cached by a first sign-in
    sign_in_service.sign_in(AGENCY_A, login, PASSWORD, CLIENT)
    # When the learner signs in again, then fails once
    success = _requests(lambda: sign_in_service.sign_in(AGENCY_A, login, PASSWORD, CLIENT))
    failure = _requests(lambda: sign_in_service.sign_in(AGENCY_A, login, "wrong-pass-1", CLIENT))
    # Then the success took at most 2 DynamoDB requests and the failure at most 3 (its counter update included)
    assert success <= 2
    assert failure <= 3
    # And an unknown login, a failure, 2 (the look-up and the counter)
    assert _requests(lambda: sign_in_service.sign_in(AGENCY_A, "nobodyhere1", "wrong-pass-1", CLIENT)) == 2


def test_the_facility_switch_is_read_once_per_cache_lifetime(ann: Learner) -> None:
    # Given a first sign-in (the look-up and the switch: 3 requests with the claimed learner's read)
    first = _requests(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT))
    # When the learner signs in again within the cache's lifetime
    again = _requests(lambda: sign_in_service.sign_in(AGENCY_A, "leea0001", PASSWORD, CLIENT))
    # Then the switch was not read again
    assert first == again + 1


# ------------------------------------------------------------------ logs


def test_sign_ins_are_audited_by_ids_and_log_no_password_or_typed_login(
    directory: dict[str, Any], ann: Learner, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given every line of the service's logger, as CloudWatch receives it, while sign-ins of every outcome run
    typed_password_as_login = "Typed-Into-The-Box-99"
    capfd.readouterr()
    with cloudwatch_lines() as logged:
        sign_in_service.sign_in(AGENCY_A, "LEEA0001", PASSWORD, CLIENT)
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "LEEA0001", OTHER_PASSWORD, CLIENT))
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, typed_password_as_login, PASSWORD, CLIENT))
        learner_service.set_learner_status(directory["ridge"], ann.learner_id, LearnerStatus.INACTIVE)
        _refusal(lambda: sign_in_service.sign_in(AGENCY_A, "LEEA0001", PASSWORD, CLIENT))
    written = capfd.readouterr()
    # Then each attempt left one audit line of ids and reasons
    audits = [record["audit"] for record in logged.records if "audit" in record]
    assert [(a["action"], a["reason"], a["learnerId"]) for a in audits] == [
        ("LEARNER_SIGNED_IN", None, ann.learner_id),
        ("LEARNER_SIGN_IN_FAILED", "WRONG_PASSWORD", ann.learner_id),
        ("LEARNER_SIGN_IN_FAILED", "UNKNOWN_LOGIN", None),
        ("LEARNER_SIGN_IN_FAILED", "LEARNER_INACTIVE", ann.learner_id),
    ]
    assert all(a["agencyId"] == AGENCY_A and a["clientId"] == CLIENT for a in audits)
    assert set(audits[0]) == {"action", "agencyId", "learnerId", "facilityId", "reason", "failures", "clientId"}
    # And no password, hash, date of birth or typed login is in any line, nor in what reached stdout (metrics)
    stored = learner_store.stored_password_hash(AGENCY_A, ann.doc_id)
    assert stored
    for secret in (PASSWORD, OTHER_PASSWORD, typed_password_as_login, "LEEA0001", "leea0001", stored, "07/19/1983"):
        assert not logged.mentions(secret), secret
        assert secret not in written.out + written.err, secret
