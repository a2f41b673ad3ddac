"""The local stack's seed (local/seed.py) over moto: staff of every role, one with a role per facility (issue 19)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import moto_resources


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Any:
    from local.seed import seed

    with moto_resources(monkeypatch, user_pool=True) as resources:
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        yield seed(resources, cognito, resources.user_pool_id, resources.user_pool_client_id)


def test_the_seed_stores_a_facility_admin_who_is_an_educator_elsewhere_and_lists_every_grant(seeded):
    from intake import authz
    from intake.dal.staff import get_staff
    from intake.domain import Role

    # Given the seeded local stack
    entries = {entry["username"]: entry for entry in seeded["staff"]}
    # Then the mixed member is stored with both grants: FacilityAdmin at Riverbend, Educator at Cedar Creek
    mixed = get_staff("riverbend-admin-cedar-educator")
    assert {(g.role, g.facility_id) for g in mixed.grants} == {
        (Role.FACILITY_ADMIN, "north-riverbend"),
        (Role.EDUCATOR, "north-cedar-creek"),
    }
    assert authz.covering_rank(mixed, "northern-doc", "north-riverbend") == 2
    assert authz.covering_rank(mixed, "northern-doc", "north-cedar-creek") == 1
    # And the state file's entry keeps the v1 keys (facilityIds: where they hold their role) and adds the grants
    entry = entries["riverbend-admin-cedar-educator"]
    assert (entry["role"], entry["facilityIds"]) == ("FacilityAdmin", ["north-riverbend"])
    assert entry["grants"] == [g.to_json_dict() for g in mixed.grants]
    # And every other entry's grants are its stored record's, one per facility of its role
    for username, other in entries.items():
        assert other["grants"] == [g.to_json_dict() for g in get_staff(username).grants], username
    # And each facility's first FacilityAdmin in the state file (what the e2e tests pick) may write there
    for facility in ("north-cedar-creek", "north-riverbend"):
        first = next(e for e in seeded["staff"] if e["role"] == "FacilityAdmin" and facility in e["facilityIds"])
        assert authz.covering_rank(get_staff(first["username"]), "northern-doc", facility) == 2
