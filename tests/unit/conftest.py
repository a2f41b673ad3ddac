"""Fixtures of the SCIM unit tests (tests/unit/test_scim_service.py and test_scim_holds.py): the staff user pool in
moto, a SCIM client of each agency, and enough staff with grants for the mass-deactivation guard."""

from __future__ import annotations

import pytest

from intake import scim_service
from intake.dal import scim as scim_store
from intake.dal import staff as staff_store
from intake.domain import Role, StaffMember
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A2, reset_intake_caches


@pytest.fixture
def user_pool(directory: dict, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's staff user pool in moto, named in the settings."""
    from local.resources import provision_user_pool

    pool = provision_user_pool("us-east-1").pool_id
    monkeypatch.setenv("USER_POOL_ID", pool)
    reset_intake_caches()
    return pool


@pytest.fixture
def north(user_pool: str) -> scim_service.ScimClient:
    """A SCIM client bound to agency A."""
    scim_store.bind_client(AGENCY_A, "client-north")
    return scim_service.scim_client("client-north")


@pytest.fixture
def south(user_pool: str) -> scim_service.ScimClient:
    scim_store.bind_client(AGENCY_B, "client-south")
    return scim_service.scim_client("client-south")


@pytest.fixture
def many(north: scim_service.ScimClient) -> list[str]:
    """16 more Educators of agency A: 20 staff with grants, so 2 deactivations an hour pass the guard."""
    names = [f"edu{i:02d}" for i in range(16)]
    for name in names:
        staff_store.put_staff(
            StaffMember(username=name, role=Role.EDUCATOR, agency_id=AGENCY_A, facility_ids=(FAC_A2,))
        )
    return names
