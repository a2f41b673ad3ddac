"""The account-life request models and the cards attachment name, without storage."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api_routes.learners import cards_filename
from api_routes.models import EditLearnerRequest, LearnerCardsRequest, SetStatusesRequest


def test_given_a_facility_id_then_the_cards_file_is_named_after_it_with_nothing_unsafe() -> None:
    assert cards_filename("fac-ridge") == "learner-cards-fac-ridge.pdf"
    assert cards_filename('a"b\r\nc/d') == "learner-cards-a_b__c_d.pdf"


@pytest.mark.parametrize("body", [{}, {"firstName": None}, {"lastName": "X", "role": "Admin"}, {"docId": "1"}])
def test_an_edit_without_a_change_or_with_a_field_it_cannot_change_is_refused(body) -> None:
    with pytest.raises(ValidationError):
        EditLearnerRequest.model_validate(body)


def test_an_edit_keeps_absent_fields_absent() -> None:
    edit = EditLearnerRequest.model_validate({"dateOfBirth": "1/2/1990"})
    assert (edit.firstName, edit.lastName, edit.locationId, edit.dateOfBirth) == (None, None, None, "1/2/1990")


@pytest.mark.parametrize("model", [SetStatusesRequest, LearnerCardsRequest])
def test_selections_hold_1_to_500_unique_ids(model) -> None:
    extra = {"status": "INACTIVE"} if model is SetStatusesRequest else {}
    assert len(model.model_validate({"learnerIds": [f"l{n}" for n in range(500)], **extra}).learnerIds) == 500
    for ids in ([], [f"l{n}" for n in range(501)], ["l1", "l1"], [""]):
        with pytest.raises(ValidationError):
            model.model_validate({"learnerIds": ids, **extra})


def test_cards_do_not_reset_passwords_unless_asked() -> None:
    assert LearnerCardsRequest.model_validate({"learnerIds": ["l1"]}).resetPasswords is False
