"""placeholder: learner sign-in (the signin-core helper replaces this file)."""

from __future__ import annotations

from intake.domain import Learner


def sign_in(agency_id: str, login: str, password: str, client_id: str) -> Learner:
    """The learner behind (agency, username or DOC ID, password); InvalidCredentials, AccountDisabled or LockedOut."""
    raise NotImplementedError
