"""Fixtures of the DAL unit tests: moto with the template's resources, and faults hooked into the DAL's own clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import moto_resources
from tests.integration.fault_injection import Faults, Rule, _Sleeps

# What `faults` hooks by default: every table model's client, S3's and KMS's. A test module that needs fewer sets
# FAULTED to their names (each client costs a second or more to make on a loaded machine).
FAULTED = ("AgencyItem", "LocationItem", "StaffItem", "LearnerItem", "UploadItem", "AuditItem", "s3", "kms")


@pytest.fixture
def faults(aws: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Faults:
    """A Faults hooked into the DAL's clients (the table models', S3's, KMS's), botocore's retry sleeps recorded
    instead of slept. Only the DAL's clients: the DAL tests need none of the handlers' (idempotency) ones."""
    import botocore.endpoint

    from intake.dal import aws as clients
    from intake.dal import tables

    faults = Faults()
    monkeypatch.setattr(botocore.endpoint, "time", _Sleeps(faults.delays))
    tables.bind_tables()
    for name in getattr(request.module, "FAULTED", FAULTED):
        model = getattr(tables, name, None)
        faults.attach(model._get_connection().connection.client if model else clients.client(name))
    return faults


@pytest.fixture
def refuse(faults: Faults) -> Callable[..., Rule]:
    """Arm a fault that refuses every attempt of one call (botocore's retries included), so the DAL sees it fail."""

    def arm(service: str, operation: str, code: str, status: int = 400, table: str | None = None) -> Rule:
        return faults.add(Rule(service, operation, code=code, status=status, table=table, times=100))

    return arm


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with the template's resources and its staff user pool (USER_POOL_ID set)."""
    with moto_resources(monkeypatch, user_pool=True) as resources:
        yield resources
