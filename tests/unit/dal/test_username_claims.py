"""intake.dal.learners.insert_learner as two conditional writes: the username claim (owned by the DOC ID), then the
learner's put. What each crash or refusal between them leaves in storage, and that no two learners share a username."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake.dal import learners
from intake.dal.tables import UsernameItem
from intake.domain import Learner
from intake.errors import LearnerExists, UsernameTaken
from tests.integration.fault_injection import Rule, WorkerCrash

FAULTED = ("LearnerItem", "UsernameItem")
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _learner(doc_id: str = "D100", learner_id: str = "L-1", username: str = "lovelacead100", **changes: Any) -> Learner:
    fields = {
        "learner_id": learner_id,
        "agency_id": "ag",
        "doc_id": doc_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "12/10/1990",
        "location_id": "unit-a",
        "facility_id": "fac-ridge",
        "created_at": AT,
        "created_by": "ridge",
        "upload_id": "up-1",
        "username": username,
    }
    return Learner(**{**fields, **changes})


def _claims() -> dict[str, tuple[str, str]]:
    return {claim.username: (claim.docId, claim.learnerId) for claim in UsernameItem.query("ag", consistent_read=True)}


def test_a_learner_is_one_claim_update_then_one_put_and_no_transaction(aws: Any, faults: Any) -> None:
    # When a learner is inserted
    learners.insert_learner(_learner(), "h1")
    # Then it took two single writes at single units: the claim, then the put
    assert faults.calls[("dynamodb", "UpdateItem")] == 1
    assert faults.calls[("dynamodb", "PutItem")] == 1
    assert faults.calls[("dynamodb", "TransactWriteItems")] == 0
    assert _claims() == {"lovelacead100": ("D100", "L-1")}


def test_a_crash_between_the_claim_and_the_put_is_taken_over_by_the_retry_of_that_doc_id(aws: Any, faults: Any) -> None:
    # Given an insert that claimed its username and died before its put
    faults.add(Rule("dynamodb", "PutItem", kind="crash_before", table="Learners"))
    with pytest.raises(WorkerCrash):
        learners.insert_learner(_learner(), "h1")
    assert _claims() == {"lovelacead100": ("D100", "L-1")} and learners.get_by_doc_id("ag", "D100") is None
    # Then the claim keeps the username from another DOC ID
    with pytest.raises(UsernameTaken):
        learners.insert_learner(_learner("E200", "L-2"), "h2")
    # And the retry of the same row (a new learner id) takes the claim over and stores the learner under it
    stored = learners.insert_learner(_learner(learner_id="L-3"), "h3")
    assert stored.username == "lovelacead100" and stored.learner_id == "L-3"
    assert _claims() == {"lovelacead100": ("D100", "L-3")}
    assert learners.get_by_doc_id("ag", "E200") is None


def test_a_refused_put_under_another_username_releases_its_claim(aws: Any) -> None:
    # Given Ada stored as lovelacead100
    learners.insert_learner(_learner(), "h1")
    # When the same DOC ID is inserted again under another username (another spelling of the name)
    with pytest.raises(LearnerExists):
        learners.insert_learner(_learner(learner_id="L-2", first_name="Adah", username="lovelaceah100"), "h2")
    # Then that second claim was removed again, and the stored learner's claim is untouched
    assert _claims() == {"lovelacead100": ("D100", "L-1")}
    assert learners.get_by_doc_id("ag", "D100").username == "lovelacead100"


def test_a_refused_put_under_the_stored_learners_username_keeps_its_claim(aws: Any) -> None:
    # Given Ada stored as lovelacead100
    learners.insert_learner(_learner(), "h1")
    # When her creation is retried under a new id (the same username: the claim is shared)
    with pytest.raises(LearnerExists):
        learners.insert_learner(_learner(learner_id="L-9"), "h2")
    # Then the claim stays hers: the release checked that the stored learner holds it
    assert _claims() == {"lovelacead100": ("D100", "L-1")}


def test_a_failed_release_leaves_a_claim_that_keeps_its_username_from_others(aws: Any, faults: Any) -> None:
    # Given Ada stored, and the release of a refused insert's claim failing
    learners.insert_learner(_learner(), "h1")
    faults.add(Rule("dynamodb", "TransactWriteItems", code="InternalServerError", times=100))
    # When the same DOC ID is inserted under another username
    with pytest.raises(LearnerExists):
        learners.insert_learner(_learner(learner_id="L-2", username="lovelaceah100"), "h2")
    # Then the answer is still LearnerExists, and the left claim names Ada's DOC ID, so no other learner can take it
    assert _claims()["lovelaceah100"][0] == "D100"
    with pytest.raises(UsernameTaken):
        learners.insert_learner(_learner("E200", "L-3", username="lovelaceah100"), "h3")
