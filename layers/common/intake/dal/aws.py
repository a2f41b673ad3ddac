"""Cached boto3 clients, made on first use so tests can set the environment and start moto first."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.config import Config

from intake.settings import get_settings

_CONFIG = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"})


@lru_cache(maxsize=8)
def client(service: str) -> Any:
    """One client per service per process; AWS_ENDPOINT_URL (moto) is honoured by botocore itself."""
    import boto3  # PynamoDB needs only botocore: most API requests never make an S3, SQS or Cognito client

    return boto3.session.Session().client(service, region_name=get_settings().region, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests that restart moto)."""
    client.cache_clear()
