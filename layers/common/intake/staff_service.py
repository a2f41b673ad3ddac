"""Who is asking: the staff record behind an authenticated username."""

from __future__ import annotations

from intake.dal import staff as staff_store
from intake.domain import Role, StaffMember
from intake.errors import MfaRequired, Unauthenticated
from intake.settings import get_settings

# The roles whose sign-ins need an authenticator app when StaffMfa is ADMINS_REQUIRED.
MFA_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.AGENCY_ADMIN})


def resolve_requestor(username: str | None) -> StaffMember:
    """The active staff member for a token's username; Unauthenticated when there is none."""
    if not username:
        raise Unauthenticated("Sign in: send a Cognito ID token in the Authorization header")
    staff = staff_store.get_staff(username)
    if staff is None or not staff.active:
        raise Unauthenticated("This account is not set up as Intake staff, or it was disabled")
    if staff.role in MFA_ROLES and get_settings().staff_mfa == "ADMINS_REQUIRED":
        from intake.dal import users  # boto3's Cognito client: only for administrators' requests

        if not users.has_totp(username):
            raise MfaRequired(
                f"A {staff.role.value} must sign in with an authenticator app: open the staff page, set one up "
                "when it asks, and sign in again"
            )
    return staff
