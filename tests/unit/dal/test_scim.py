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


def test_the_count_is_per_agency_over_the_hour_before_each_deactivation(directory: dict) -> None:
    # Given a limit of 2 an hour, and an instant T that ends a clock hour (a clock-hour count would start again at
    # T + 1)
    t = 3600.0 * 500 - 1
    # When deactivations are counted at T, T + 1 and T + 3,000, Then the third is refused: two in the hour before it
    assert [scim_store.count_deactivation(AGENCY_A, at, 2) for at in (t, t + 1, t + 3000)] == [True, True, False]
    # And another agency counts apart
    assert scim_store.count_deactivation(AGENCY_B, t, 2) is True
    # When an hour has passed since T, one more counts (T left the window), and the next does not (T + 1 and it)
    assert scim_store.count_deactivation(AGENCY_A, t + 3600, 2) is True
    assert scim_store.count_deactivation(AGENCY_A, t + 3600.5, 2) is False
    # And a limit of 0 never counts, an agency that does not exist neither (and is not made)
    assert scim_store.count_deactivation(AGENCY_A, t + 9999, 0) is False
    assert scim_store.count_deactivation("no-such-agency", t, 5) is False
    assert _agency_item("no-such-agency") == {}
    # And the agency item holds only the instants of the window
    item = _agency_item(AGENCY_A)
    assert item["scimDeactivatedAt"] == {"L": [{"N": str(t + 1)}, {"N": str(t + 3600)}]}
    assert item["name"] == {"S": AGENCY_A.title()}


def test_a_limit_worked_out_from_the_hours_count_sees_the_list_the_write_checks(directory: dict) -> None:
    # Given two deactivations counted in the hour, and one more than an hour before
    for at in (1000.0, 5000.0, 5001.0):
        assert scim_store.count_deactivation(AGENCY_A, at, 10) is True
    seen: list[int] = []

    def limit(counted: int) -> int:
        seen.append(counted)
        return 3

    # When one more is counted with a limit that is a function of the hour's count
    # Then the function is given the two in the hour before it (not the old one), and the third one counts
    assert scim_store.count_deactivation(AGENCY_A, 6000.0, limit) is True
    assert seen == [2]
    # And with the limit reached (three in the hour), the next is refused and nothing is written
    assert scim_store.count_deactivation(AGENCY_A, 6001.0, limit) is False
    assert seen == [2, 3]
    assert [float(n["N"]) for n in _agency_item(AGENCY_A)["scimDeactivatedAt"]["L"]] == [5000.0, 5001.0, 6000.0]


def test_concurrent_counts_never_pass_the_limit(directory: dict) -> None:
    # Given a limit of 5, When 12 deactivations are counted at once from 12 threads
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda n: scim_store.count_deactivation(AGENCY_A, 1000.0 + n, 5), range(12)))
    # Then at most 5 counted, and the window holds exactly those that did
    counted = sum(results)
    assert 1 <= counted <= 5
    assert len(_agency_item(AGENCY_A)["scimDeactivatedAt"]["L"]) == counted
