"""Fixtures of the integration tests that more than one file needs (the rest are in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def user_pool(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's staff user pool in moto, named in the handlers' settings."""
    from local.resources import provision_user_pool
    from tests.conftest import reset_intake_caches

    pool = provision_user_pool("us-east-1")
    monkeypatch.setenv("USER_POOL_ID", pool.pool_id)
    reset_intake_caches()
    return pool.pool_id
