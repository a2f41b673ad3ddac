"""intake.dal.aws: one cached client per service, in the settings' region, made anew after reset_clients."""

from __future__ import annotations

import pytest

from intake.dal import aws
from intake.settings import get_settings


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    get_settings.cache_clear()
    aws.reset_clients()
    yield
    aws.reset_clients()
    get_settings.cache_clear()


def test_a_client_is_made_once_per_service(fresh):
    # Given no client made yet
    # When the same service is asked for twice, and another service once
    first, again, other = aws.client("s3"), aws.client("s3"), aws.client("sqs")
    # Then the same client is handed back for the service, a different one for the other service
    assert first is again
    assert other is not first
    assert other.meta.service_model.service_name == "sqs"


def test_clients_use_the_settings_region_and_the_retry_policy(fresh):
    # Given AWS_REGION eu-west-2
    # When a client is made
    client = aws.client("kms")
    # Then it is in that region, signs SigV4 (presigned links) and retries in standard mode, five retries
    assert client.meta.region_name == "eu-west-2"
    assert client.meta.config.signature_version == "s3v4"
    assert client.meta.config.retries == {"total_max_attempts": 6, "mode": "standard"}


def test_reset_clients_forgets_the_cached_clients(fresh, monkeypatch):
    # Given a cached client, then a changed region
    before = aws.client("s3")
    monkeypatch.setenv("AWS_REGION", "ca-central-1")
    get_settings.cache_clear()
    # When the clients are reset
    aws.reset_clients()
    after = aws.client("s3")
    # Then a new client is made, in the new region
    assert after is not before
    assert after.meta.region_name == "ca-central-1"
