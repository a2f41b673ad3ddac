"""card_service.learner_cards over moto: who may print which cards, resets that really change the stored hash, and
an audit trail that holds ids and counts, never a password or hash. The PDF is read back with pypdf."""

from __future__ import annotations

import io
import json
import re

import pytest
from pypdf import PdfReader

from intake import card_service, learner_creation, passwords
from intake.dal import audit as audit_store
from intake.dal import learners as learner_store
from intake.domain import Learner
from intake.errors import NotFound, PermissionDenied, ValidationFailed
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2

OLD_PASSWORD = "Old-pass-123"


def _learner(doc_id: str, first: str, last: str, location_id: str, facility_id: str, username: str | None) -> Learner:
    made = learner_creation.new_learner(
        agency_id=AGENCY_A,
        doc_id=doc_id,
        first_name=first,
        last_name=last,
        date_of_birth="01/02/1990",
        location_id=location_id,
        facility_id=facility_id,
        created_by="seed",
    )
    learner = made.model_copy(update={"username": username or f"tmp{doc_id.lower()}"})
    learner_store.insert_learner(learner, passwords.hash_password(OLD_PASSWORD))
    if username is None:  # an item stored before usernames (not yet migrated) has none
        from intake.dal.tables import LearnerItem

        LearnerItem(agencyId=AGENCY_A, docId=doc_id).update(actions=[LearnerItem.username.remove()])
        return made
    return learner


@pytest.fixture
def roster(directory: dict) -> dict[str, Learner]:
    """Three learners of the Ridge facility (two housing units), one of Lake."""
    return {
        "jose": _learner("A1001", "José", "Núñez", UNIT_A1, FAC_A1, "nunezj1001"),
        "ann": _learner("A1002", "Ann", "Smith", UNIT_A1B, FAC_A1, "smitha1002"),
        "li": _learner("A1003", "Li", "Zhang", UNIT_A1, FAC_A1, "zhangl1003"),
        "lake": _learner("B2001", "Omar", "Hill", UNIT_A2, FAC_A2, "hillo2001"),
    }


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _ridge(roster: dict[str, Learner]) -> list[Learner]:
    return [roster["jose"], roster["ann"], roster["li"]]


def _hash(learner: Learner) -> str | None:
    return learner_store.stored_password_hash(learner.agency_id, learner.doc_id)


def _entries(facility_id: str) -> list:
    return audit_store.list_entries(facility_id, 50)


def test_given_an_admin_when_printing_without_reset_then_each_card_shows_name_username_doc_id_unit_and_no_password(
    roster, directory
) -> None:
    learners = _ridge(roster)
    before = {learner.learner_id: _hash(learner) for learner in learners}
    pdf = card_service.learner_cards(directory["ridge"], FAC_A1, [learner.learner_id for learner in learners])
    text = _text(pdf)
    for learner in learners:
        for shown in (f"{learner.first_name} {learner.last_name}", learner.username, learner.doc_id):
            assert shown and shown in text, shown
    assert FAC_A1 in text and UNIT_A1 in text and UNIT_A1B in text
    assert "PASSWORD" not in text.upper()
    # Then nothing changed the passwords, and one entry says who printed how many, by id
    assert {learner.learner_id: _hash(learner) for learner in learners} == before
    [entry] = _entries(FAC_A1)
    assert (entry.action, entry.actor, entry.target_id) == ("LEARNER_CARDS_PRINTED", "ridge", FAC_A1)
    assert entry.details["count"] == 3 and entry.details["resetPasswords"] is False
    assert set(str(entry.details["learnerIds"]).split(",")) == {learner.learner_id for learner in learners}


def test_given_cards_then_they_come_by_housing_unit_then_last_name(roster, directory) -> None:
    ids = [learner.learner_id for learner in reversed(_ridge(roster))]
    text = _text(card_service.learner_cards(directory["ridge"], FAC_A1, ids))
    order = [text.index(username) for username in ("nunezj1001", "zhangl1003", "smitha1002")]
    assert order == sorted(order)  # unit-ridge-a: Núñez, Zhang; then unit-ridge-b: Smith


@pytest.mark.parametrize(
    ("who", "reset", "outcome"),
    [
        ("sys", True, None),
        ("north", True, None),
        ("ridge", True, None),
        ("teacher", False, None),
        ("teacher", True, PermissionDenied),
        ("lake", False, NotFound),
        ("lake", True, NotFound),
        ("bay", False, NotFound),
    ],
)
def test_scope_matrix(roster, directory, who: str, reset: bool, outcome: type[Exception] | None) -> None:
    learner = roster["ann"]
    before = _hash(learner)
    if outcome is None:
        text = _text(card_service.learner_cards(directory[who], FAC_A1, [learner.learner_id], reset_passwords=reset))
        assert learner.username in text
        assert (_hash(learner) != before) is reset
        assert [e.action for e in _entries(FAC_A1)].count("LEARNER_CARDS_PRINTED") == 1
        return
    with pytest.raises(outcome):
        card_service.learner_cards(directory[who], FAC_A1, [learner.learner_id], reset_passwords=reset)
    assert _hash(learner) == before and _entries(FAC_A1) == []


@pytest.mark.parametrize("stranger", ["lake", "unknown"])
def test_given_a_learner_not_of_the_facility_then_not_found_naming_no_id_and_nothing_changes(
    roster, directory, stranger: str
) -> None:
    other = roster["lake"].learner_id if stranger == "lake" else "no-such-learner"
    ours = roster["jose"]
    before = _hash(ours)
    with pytest.raises(NotFound) as refused:
        card_service.learner_cards(directory["north"], FAC_A1, [ours.learner_id, other], reset_passwords=True)
    assert other not in refused.value.message and roster["lake"].doc_id not in refused.value.message
    assert refused.value.message == "1 of the 2 learners are not in this facility"
    assert _hash(ours) == before and _entries(FAC_A1) == []
    assert passwords.verify_password(_hash(roster["lake"]) or "", OLD_PASSWORD)


def test_given_a_reset_then_each_card_has_a_new_password_that_verifies_and_the_old_one_no_longer_does(
    roster, directory
) -> None:
    learners = _ridge(roster)
    text = _text(
        card_service.learner_cards(
            directory["ridge"], FAC_A1, [learner.learner_id for learner in learners], reset_passwords=True
        )
    )
    shown = re.findall(r"New password +(\S+)", text)
    assert len(shown) == 3 and len(set(shown)) == 3
    for learner in learners:
        stored = _hash(learner) or ""
        assert not passwords.verify_password(stored, OLD_PASSWORD)
        assert sum(passwords.verify_password(stored, password) for password in shown) == 1
    # Then the audit trail holds ids and counts only: no password, no hash
    trail = json.dumps([entry.to_json_dict() for entry in _entries(FAC_A1)])
    assert "LEARNER_CARDS_PRINTED" in trail and "LEARNER_PASSWORD_RESET" in trail
    for secret in [*shown, OLD_PASSWORD, *(_hash(learner) or "-" for learner in learners), "$argon2"]:
        assert secret not in trail
    printed = next(entry for entry in _entries(FAC_A1) if entry.action == "LEARNER_CARDS_PRINTED")
    assert printed.details["count"] == 3 and printed.details["resetPasswords"] is True


def test_given_a_second_print_without_reset_then_no_password_is_shown_again(roster, directory) -> None:
    ids = [roster["ann"].learner_id]
    first = _text(card_service.learner_cards(directory["ridge"], FAC_A1, ids, reset_passwords=True))
    assert re.findall(r"New password +(\S+)", first)
    again = _text(card_service.learner_cards(directory["ridge"], FAC_A1, ids))
    assert "PASSWORD" not in again.upper()


def test_given_a_learner_without_a_username_yet_then_the_card_shows_its_doc_id_to_sign_in_with(directory) -> None:
    old = _learner("A1009", "Dee", "Lee", UNIT_A1, FAC_A1, None)
    text = _text(card_service.learner_cards(directory["ridge"], FAC_A1, [old.learner_id]))
    assert re.findall(r"Username +(\S+)", text) == ["A1009"]


@pytest.mark.parametrize("count", [0, 501])
def test_given_no_or_too_many_ids_then_validation_fails(roster, directory, count: int) -> None:
    with pytest.raises(ValidationFailed):
        card_service.learner_cards(directory["ridge"], FAC_A1, [f"id-{n}" for n in range(count)])


def test_given_repeated_ids_then_one_card_each(roster, directory) -> None:
    learner_id = roster["li"].learner_id
    text = _text(card_service.learner_cards(directory["ridge"], FAC_A1, [learner_id, learner_id]))
    assert text.count("zhangl1003") == 1


def test_given_more_cards_than_are_read_one_by_one_then_every_learner_comes_once_even_one_the_roster_lacks(
    directory,
) -> None:
    # Given more learners of Ridge than card_service reads one by one, one of them stored before rosters (not in the
    # roster index: it has no roster keys yet) and one learner of Lake
    many = [
        _learner(f"B{n:04d}", "Bo", f"Reed{chr(97 + n % 26)}", UNIT_A1, FAC_A1, f"reedb{n:04d}")
        for n in range(card_service.ROSTER_READ_FROM + 5)
    ]
    from intake.dal.tables import LearnerItem

    LearnerItem(agencyId=AGENCY_A, docId="B0000").update(actions=[LearnerItem.roster.remove()])
    lake = _learner("C0001", "Cy", "Lake", UNIT_A2, FAC_A2, "lakec0001")
    # When cards are printed for all of them
    text = _text(card_service.learner_cards(directory["ridge"], FAC_A1, [one.learner_id for one in many]))
    # Then each has its card, the one outside the roster index included
    assert sorted(re.findall(r"Username +(\S+)", text)) == sorted(one.username for one in many)
    # And a learner of another facility among many is still refused, naming no id
    with pytest.raises(NotFound) as refused:
        card_service.learner_cards(directory["ridge"], FAC_A1, [*(one.learner_id for one in many), lake.learner_id])
    assert lake.learner_id not in str(refused.value)
