"""SCIM 2.0 for staff (issue 19): users and groups of one agency's client over the staff records, the grant rules,
Entra's and Okta's PATCH shapes, filters and paging, and the mass-deactivation guard; end states read from storage."""

from __future__ import annotations

from typing import Any

import pytest

from intake import scim_service
from intake.dal import scim as scim_store
from intake.dal import staff as staff_store
from intake.settings import get_settings
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1, reset_intake_caches

BASE = "https://api.example/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


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


def _login(username: str) -> dict[str, Any]:
    import boto3

    return boto3.client("cognito-idp", region_name="us-east-1").admin_get_user(
        UserPoolId=get_settings().user_pool_id, Username=username
    )


def _new_user(client: scim_service.ScimClient, username: str = "jones", **extra: Any) -> Any:
    payload = {
        "schemas": [USER_SCHEMA],
        "userName": username,
        "name": {"givenName": "Pat", "familyName": "Jones"},
        "displayName": "Professor Jones",
        "title": "Teacher",
        "emails": [{"value": f"{username}@doc.example", "primary": True, "type": "work"}],
        "externalId": f"ext-{username}",
        **extra,
    }
    return scim_service.create_user(client, payload, BASE)


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def test_smoke(north: scim_service.ScimClient) -> None:
    user = _new_user(north)
    print(scim_service.dump_user(user))
    print(scim_service.list_users(north, {"filter": 'userName eq "JONES"'}, BASE))
    g = scim_service.patch_group(
        north, f"{FAC_A1}.Educator", _patch({"op": "Add", "path": "members", "value": [{"value": "jones"}]}), BASE
    )
    print(scim_service.dump_group(g))
    u = scim_service.patch_user(north, "jones", _patch({"op": "Replace", "path": "active", "value": "False"}), BASE)
    print(scim_service.dump_user(u))
    print(staff_store.get_staff("jones"))
    print(
        scim_service.list_groups(
            north, {"filter": 'displayName eq "fac-ridge - Educator"', "excludedAttributes": "members"}, BASE
        )
    )
    assert 0
