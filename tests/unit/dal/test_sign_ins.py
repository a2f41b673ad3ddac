"""intake.dal.sign_ins: the sign-in look-up in one BatchGetItem (plus one GetItem when needed), the counter of failures
kept by atomic writes under the sha256 of the login, conditional resets and rehashes, storage failures wrapped."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime

import pytest

from bench.dynamo import CountingClient
from intake.dal import learners, sign_ins
from intake.dal.tables import LearnerItem, SignInAttemptItem, UsernameItem
from intake.domain import Learner
from intake.errors import StorageUnavailable

FAULTED = ("LearnerItem", "SignInAttemptItem")

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _learner(doc_id: str, username: str, learner_id: str) -> Learner:
    return Learner(
        learner_id=learner_id,
        agency_id="ag",
        doc_id=doc_id,
        first_name="Ada",
        last_name="Lovelace",
        date_of_birth="12/10/1990",
        location_id="unit-a",
        facility_id="fac-ridge",
        created_at=AT,
        created_by="ridge",
        username=username,
    )


def _counted(call):
    counting = CountingClient()
    with counting.installed():
        value = call()
    return value, sorted(operation for (operation, _), n in counting.calls.items() for _ in range(n))


def test_a_login_key_is_the_sha256_of_the_canonical_login() -> None:
    assert sign_ins.login_key("lovelacea0100") == hashlib.sha256(b"lovelacea0100").hexdigest()


def test_a_login_naming_nobody_is_one_batch_get(aws) -> None:
    # When a login that names nobody is looked up
    look, operations = _counted(lambda: sign_ins.look_up("ag", " Nobody-Here "))
    # Then one BatchGetItem answered: no learner, no hash, the typed text's key (trimmed, lower-cased), no failures
    assert operations == ["BatchGetItem"]
    assert look == sign_ins.SignInLook(None, None, sign_ins.login_key("nobody-here"), 0, None)


def test_a_username_costs_the_batch_and_the_claimed_learner(aws) -> None:
    # Given a learner
    learners.insert_learner(_learner("D100", "lovelacea0100", "L-1"), "h1")
    # When its username is looked up (in capitals)
    look, operations = _counted(lambda: sign_ins.look_up("ag", "LOVELACEA0100"))
    # Then the batch found the claim, one consistent GetItem the learner and its hash
    assert operations == ["BatchGetItem", "GetItem"]
    assert look.learner is not None and look.learner.learner_id == "L-1"
    assert (look.password_hash, look.login_key, look.failures) == ("h1", sign_ins.login_key("lovelacea0100"), 0)


def test_a_doc_id_finds_the_learner_and_the_counter_of_its_username(aws) -> None:
    # Given a learner with 2 failures counted under its username
    learners.insert_learner(_learner("D100", "lovelacea0100", "L-1"), "h1")
    key = sign_ins.login_key("lovelacea0100")
    sign_ins.record_failure("ag", key, 1000.0)
    sign_ins.record_failure("ag", key, 1001.25)
    # When the DOC ID is looked up (lower case)
    look, operations = _counted(lambda: sign_ins.look_up("ag", "d100"))
    # Then the batch found the learner, one GetItem the username's counter
    assert operations == ["BatchGetItem", "GetItem"]
    assert look.learner is not None and look.learner.learner_id == "L-1" and look.password_hash == "h1"
    assert (look.login_key, look.failures, look.last_failure_at) == (key, 2, 1001.25)


def test_a_username_that_is_also_its_learners_doc_id_is_one_request(aws) -> None:
    # Given a learner whose username is its own DOC ID lower-cased
    learners.insert_learner(_learner("ABC123", "abc123", "L-1"), "h1")
    # Then looking it up is the batch alone
    look, operations = _counted(lambda: sign_ins.look_up("ag", "abc123"))
    assert operations == ["BatchGetItem"] and look.learner is not None and look.learner.learner_id == "L-1"


def test_a_claim_whose_learner_holds_another_username_names_nobody(aws) -> None:
    # Given a learner, and a claim of another username left for its DOC ID (a refused creation of the same person
    # whose release of the claim failed: intake.dal.learners.insert_learner)
    learners.insert_learner(_learner("D100", "lovelacea0100", "L-1"), "h1")
    UsernameItem(agencyId="ag", username="lovelacea0101", docId="D100", learnerId="L-2", createdAt=AT).save()
    # When the left claim's username is typed
    look = sign_ins.look_up("ag", "lovelacea0101")
    # Then it names nobody: that learner's password does not sign in under a username the learner does not hold
    assert (look.learner, look.password_hash) == (None, None)
    assert look.login_key == sign_ins.login_key("lovelacea0101")
    # And the learner's own username still finds it
    assert sign_ins.look_up("ag", "lovelacea0100").password_hash == "h1"


def test_failures_count_atomically_under_the_hashed_login_with_a_ttl(aws) -> None:
    # When two failures are recorded
    key = sign_ins.login_key("typed-secret-in-box")
    first = sign_ins.record_failure("ag", key, 1000.1234)
    second, operations = _counted(lambda: sign_ins.record_failure("ag", key, 1060.5))
    # Then each is one UpdateItem answering the new count and time; the item expires 24 h after the last
    assert operations == ["UpdateItem"]
    assert first == (1, 1000.123) and second == (2, 1060.5)
    [item] = list(SignInAttemptItem.scan())
    assert (item.agencyId, item.loginKey, item.failures) == ("ag", key, 2)
    assert item.expiresAt == math.ceil(1060.5) + 24 * 3600
    # And the typed text is stored nowhere
    assert "typed-secret-in-box" not in str(item.serialize())


def test_a_reset_deletes_only_the_counter_it_saw(aws) -> None:
    key = sign_ins.login_key("x")
    sign_ins.record_failure("ag", key, time.time())
    sign_ins.record_failure("ag", key, time.time())
    sign_ins.reset_failures("ag", key, 1)  # a failure came meanwhile: kept
    assert SignInAttemptItem.get("ag", key).failures == 2
    sign_ins.reset_failures("ag", key, 2)
    assert list(SignInAttemptItem.scan()) == []
    sign_ins.reset_failures("ag", key, 2)  # nothing left: nothing to do


def test_a_rehash_is_conditional_on_the_hash_seen(aws) -> None:
    learner = learners.insert_learner(_learner("D100", "lovelacea0100", "L-1"), "old")
    assert sign_ins.rehash(learner, "other", "new") is False
    assert learners.stored_password_hash("ag", "D100") == "old"
    assert sign_ins.rehash(learner, "old", "new") is True
    item = LearnerItem.get("ag", "D100")
    assert (item.passwordHash, item.version, len(item.history)) == ("new", 1, 0)


@pytest.mark.parametrize(
    ("operation", "call", "message"),
    [
        ("BatchGetItem", lambda: sign_ins.look_up("ag", "lovelacea0100"), "look up the sign-in"),
        ("UpdateItem", lambda: sign_ins.record_failure("ag", "k", 1.0), "count the failed sign-in"),
        ("DeleteItem", lambda: sign_ins.reset_failures("ag", "k", 1), "reset the failed sign-ins"),
    ],
)
def test_storage_failures_are_storage_unavailable_and_change_nothing(aws, refuse, operation, call, message) -> None:
    # Given a counter, and DynamoDB throttling one operation
    sign_ins.record_failure("ag", "k", 1.0)
    rule = refuse("dynamodb", operation, "ProvisionedThroughputExceededException")
    # When it is called
    with pytest.raises(StorageUnavailable) as raised:
        call()
    # Then the domain error says what failed, after botocore's retries, and the counter is as it was
    assert raised.value.message == f"Could not {message} right now; try again in a moment"
    assert rule.fired > 1
    assert SignInAttemptItem.get("ag", "k").failures == 1
