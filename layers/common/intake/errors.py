"""Domain errors. The API maps them to the contract's statuses in one exception handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREATE_DENIED_MESSAGE = "Requestor does not have permission to create this user"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field that failed a rule: which field, a code from the contract, and what to fix."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class IntakeError(Exception):
    """Base of every error Intake reports to a client."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra fields of the error body beyond code and message."""
        return {}


class ValidationFailed(IntakeError):
    code = "VALIDATION_FAILED"

    def __init__(self, errors: list[FieldError], message: str | None = None) -> None:
        fields = ", ".join(sorted({error.field for error in errors}))
        super().__init__(message or f"Some fields need fixing: {fields}")
        self.errors = errors

    def details(self) -> dict[str, Any]:
        return {"errors": [error.as_dict() for error in self.errors]}


class Unauthenticated(IntakeError):
    code = "UNAUTHENTICATED"


class PermissionDenied(IntakeError):
    code = "PERMISSION_DENIED"


class MfaRequired(PermissionDenied):
    """An administrator's login has no authenticator app (StaffMfa=ADMINS_REQUIRED)."""

    code = "MFA_REQUIRED"


class NotFound(IntakeError):
    code = "NOT_FOUND"


class Conflict(IntakeError):
    code = "CONFLICT"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # a machine-readable why (e.g. MASS_DEACTIVATION), sent as the body's `reason`

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}


class TooLarge(IntakeError):
    code = "TOO_LARGE"


class LearnerExists(IntakeError):
    code = "LEARNER_EXISTS"

    def __init__(self, learner_id: str, facility_id: str, location_id: str) -> None:
        super().__init__("A learner with this DOC ID already exists in the agency; move them instead of creating")
        self.existing = {"learnerId": learner_id, "facilityId": facility_id, "locationId": location_id}

    def details(self) -> dict[str, Any]:
        return {"existing": self.existing}


class StorageUnavailable(IntakeError):
    """The data store refused or failed a call that may succeed when retried (throttling, a 5xx)."""

    code = "UNAVAILABLE"


class UsernameTaken(IntakeError):
    """The username is claimed by another learner of the agency (claims are never released: never reused)."""

    code = "USERNAME_TAKEN"

    def __init__(self, username: str) -> None:
        super().__init__("This username is already taken in the agency")
        self.username = username


class InvalidCredentials(IntakeError):
    """A learner sign-in with an unknown username or a wrong password: one answer for both (never says which)."""

    code = "INVALID_CREDENTIALS"

    def __init__(self) -> None:
        super().__init__("The username or password is not right")


class AccountDisabled(IntakeError):
    """A correct password for an inactive learner, or for a facility whose learnerAccess is OFF."""

    code = "ACCOUNT_DISABLED"

    def __init__(self) -> None:
        super().__init__("This account cannot sign in now: ask a staff member")


class LockedOut(IntakeError):
    """Too many failed sign-ins in a row for one (agency, username): refused, unchecked, until `retry_after` seconds."""

    code = "LOCKED_OUT"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed sign-ins: wait and try again")
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        return {"retryAfter": self.retry_after}
