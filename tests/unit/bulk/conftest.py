"""Fixtures of the bulk unit tests."""

from __future__ import annotations

import pytest

from tests.unit.bulk.support import World, load_world


@pytest.fixture
def world() -> World:
    """fac-oak's FacilityAdmin, the locations of expected.json, today fixed."""
    return load_world()
