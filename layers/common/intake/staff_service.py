"""Who is asking: the staff record behind an authenticated username."""

from __future__ import annotations

from intake.dal import staff as staff_store
from intake.domain import StaffMember
from intake.errors import Unauthenticated


def resolve_requestor(username: str | None) -> StaffMember:
    """The active staff member for a token's username; Unauthenticated when there is none."""
    if not username:
        raise Unauthenticated("Sign in: send a Cognito ID token in the Authorization header")
    staff = staff_store.get_staff(username)
    if staff is None or not staff.active:
        raise Unauthenticated("This account is not set up as Intake staff, or it was disabled")
    return staff
