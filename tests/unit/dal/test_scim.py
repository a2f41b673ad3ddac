"""intake.dal.scim: SCIM clients bound to agencies, and the guard's hourly deactivation count (conditional updates)."""

from __future__ import annotations

from typing import Any

from intake.dal import scim as scim_store
from intake.dal.tables import AgencyItem
from tests.conftest import AGENCY_A, AGENCY_B


def _agency_item(agency_id: str) -> dict[str, Any]:
    return dict(AgencyItem._get_connection().get_item(agency_id, consistent_read=True).get("Item") or {})


def test_a_client_is_bound_to_its_agency_and_unbound_again(directory: dict) -> None:
    # When two clients are bound to agency A and one to B
    scim_store.bind_client(AGENCY_A, "c-1")
    scim_store.bind_client(AGENCY_A, "c-2")
    scim_store.bind_client(AGENCY_B, "c-3")
    # Then each names its agency, and the agency lists its clients
    assert [scim_store.agency_of_client(c) for c in ("c-1", "c-2", "c-3", "c-9", "")] == [
        AGENCY_A,
        AGENCY_A,
        AGENCY_B,
        None,
        None,
    ]
    assert scim_store.client_ids(AGENCY_A) == ["c-1", "c-2"]
    # When one is unbound, it names no agency and the other stays
    scim_store.unbind_client(AGENCY_A, "c-1")
    assert scim_store.agency_of_client("c-1") is None and scim_store.client_ids(AGENCY_A) == ["c-2"]
    # And the agency item keeps its name (binding updates, never replaces it)
    assert _agency_item(AGENCY_A)["name"] == {"S": AGENCY_A.title()}


def test_no_client_is_bound_to_an_agency_that_does_not_exist(directory: dict) -> None:
    import pytest

    from intake.errors import NotFound

    with pytest.raises(NotFound):
        scim_store.bind_client("no-such-agency", "c-1")
    assert _agency_item("no-such-agency") == {}


def test_the_hourly_count_is_atomic_per_agency_and_hour(directory: dict) -> None:
    # Given a limit of 2 in hour 100
    results = [scim_store.count_deactivation(AGENCY_A, 100, 2) for _ in range(3)]
    # Then the first two count and the third does not; another agency and the next hour count apart
    assert results == [True, True, False]
    assert scim_store.count_deactivation(AGENCY_B, 100, 2) is True
    assert [scim_store.count_deactivation(AGENCY_A, 101, 2) for _ in range(3)] == [True, True, False]
    # And a limit of 0 never counts, an agency that does not exist neither
    assert scim_store.count_deactivation(AGENCY_A, 102, 0) is False
    assert scim_store.count_deactivation("no-such-agency", 100, 5) is False
    # And the count is stored on the agency item with its hour
    item = _agency_item(AGENCY_A)
    assert (item["scimWindow"], item["scimDeactivations"]) == ({"N": "101"}, {"N": "2"})
    assert scim_store.deactivations_in(AGENCY_A, 101) == 2 and scim_store.deactivations_in(AGENCY_A, 100) == 0
