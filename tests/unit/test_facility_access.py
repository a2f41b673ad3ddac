"""intake.facility_access: a facility's learnerAccess switch, read once per cache lifetime, forgotten on a change."""

from __future__ import annotations

from typing import Any

import pytest

from bench.dynamo import CountingClient
from intake import facility_access
from intake.dal import directory as locations
from intake.settings import get_settings
from tests.conftest import FAC_A1, FAC_A2


def _reads(call: Any) -> tuple[Any, int]:
    counting = CountingClient()
    with counting.installed():
        value = call()
    return value, sum(counting.calls.values())


def test_the_switch_is_cached_until_forgotten(directory: dict[str, Any]) -> None:
    # Given a facility with learner access ON, read once
    assert _reads(lambda: facility_access.learner_access_on(FAC_A1)) == (True, 1)
    # When it is turned OFF in storage (by another sandbox)
    locations.update_location(FAC_A1, learner_access=False)
    # Then this sandbox keeps its cached answer without a read, until it forgets it
    assert _reads(lambda: facility_access.learner_access_on(FAC_A1)) == (True, 0)
    facility_access.forget(FAC_A1)
    assert _reads(lambda: facility_access.learner_access_on(FAC_A1)) == (False, 1)
    # And other facilities are their own
    assert facility_access.learner_access_on(FAC_A2) is True


def test_a_cache_of_zero_seconds_reads_every_time(directory: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no caching
    monkeypatch.setenv("LEARNER_ACCESS_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    facility_access.learner_access_on(FAC_A1)
    locations.update_location(FAC_A1, learner_access=False)
    # Then a change made elsewhere is seen at once
    assert _reads(lambda: facility_access.learner_access_on(FAC_A1)) == (False, 1)
    get_settings.cache_clear()


def test_a_facility_that_does_not_exist_is_off(directory: dict[str, Any]) -> None:
    assert facility_access.learner_access_on("fac-nowhere") is False
