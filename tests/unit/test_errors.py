"""Domain errors: the code each maps to and the extra fields of its error body."""

from __future__ import annotations

import pytest

from intake.errors import (
    CREATE_DENIED_MESSAGE,
    Conflict,
    FieldError,
    IntakeError,
    LearnerExists,
    MfaRequired,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    TooLarge,
    Unauthenticated,
    ValidationFailed,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (IntakeError("x"), "INTERNAL"),
        (Unauthenticated("x"), "UNAUTHENTICATED"),
        (PermissionDenied("x"), "PERMISSION_DENIED"),
        (MfaRequired("x"), "MFA_REQUIRED"),
        (NotFound("x"), "NOT_FOUND"),
        (Conflict("x"), "CONFLICT"),
        (TooLarge("x"), "TOO_LARGE"),
        (StorageUnavailable("x"), "UNAVAILABLE"),
        (LearnerExists("l-1", "fac", "unit"), "LEARNER_EXISTS"),
        (ValidationFailed([FieldError("docId", "REQUIRED", "send it")]), "VALIDATION_FAILED"),
    ],
)
def test_each_error_carries_its_contract_code(error: IntakeError, code: str) -> None:
    # Given an error, Then its code is the contract's and it is an IntakeError
    assert error.code == code
    assert isinstance(error, IntakeError)


def test_mfa_required_is_a_permission_refusal() -> None:
    # Given MfaRequired, Then handlers that catch PermissionDenied also catch it
    assert issubclass(MfaRequired, PermissionDenied)


def test_intake_error_keeps_its_message_and_has_no_extra_fields() -> None:
    # Given a plain error
    error = NotFound("No such facility")
    # Then its message is kept as given and its body has nothing beyond code and message
    assert error.message == "No such facility"
    assert str(error) == "No such facility"
    assert error.details() == {}


def test_field_error_as_dict_has_field_code_message() -> None:
    # Given a field error, When it is put in a body, Then it has exactly the contract's three keys
    assert FieldError("dateOfBirth", "INVALID_DATE", "not a date").as_dict() == {
        "field": "dateOfBirth",
        "code": "INVALID_DATE",
        "message": "not a date",
    }


def test_validation_failed_names_each_field_once_sorted_and_lists_every_error() -> None:
    # Given errors on two fields, one of them twice
    errors = [
        FieldError("lastName", "REQUIRED", "send it"),
        FieldError("docId", "INVALID_VALUE", "digits only"),
        FieldError("lastName", "TOO_LONG", "shorter"),
    ]
    # When they are raised together
    failed = ValidationFailed(errors)
    # Then the message names each field once, sorted, and the details list every error in order
    assert failed.message == "Some fields need fixing: docId, lastName"
    assert failed.details() == {"errors": [error.as_dict() for error in errors]}


def test_validation_failed_takes_a_given_message() -> None:
    failed = ValidationFailed([FieldError("body", "INVALID_JSON", "not JSON")], "The body is not JSON")
    assert failed.message == "The body is not JSON"


def test_learner_exists_names_the_existing_learner() -> None:
    # Given a DOC ID already taken in the agency, Then the error tells where the existing learner is
    error = LearnerExists("lrn-1", "fac-ridge", "unit-ridge-a")
    assert error.details() == {
        "existing": {"learnerId": "lrn-1", "facilityId": "fac-ridge", "locationId": "unit-ridge-a"}
    }
    assert "move them" in error.message


def test_the_create_refusal_is_the_portals_exact_text() -> None:
    assert CREATE_DENIED_MESSAGE == "Requestor does not have permission to create this user"
