"""Settings: read from the environment once, defaults as the template's, bad values refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from intake.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test reads the environment anew, and leaves no settings cached for the next."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_environment_values_are_parsed_into_typed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the template's variables in the environment
    monkeypatch.setenv("LEARNERS_TABLE", "stack-learners")
    monkeypatch.setenv("MAX_UPLOAD_ROWS", "5000")
    monkeypatch.setenv("VALIDATION_CPU_SECONDS", "12.5")
    monkeypatch.setenv("STAFF_MFA", "ADMINS_REQUIRED")
    # When the settings are read
    settings = get_settings()
    # Then each is typed and named as in code
    assert settings.learners_table == "stack-learners"
    assert settings.max_upload_rows == 5000
    assert settings.validation_cpu_seconds == 12.5
    assert settings.staff_mfa == "ADMINS_REQUIRED"


def test_unset_variables_take_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given none of the optional variables set
    for name in ("MAX_UPLOAD_BYTES", "CREATION_CHUNK_SIZE", "WEB_AUTH_FLOW", "UPLOAD_EXPIRY_DAYS", "STAFF_MFA"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    # Then the defaults apply
    assert settings.max_upload_bytes == 50 * 1024 * 1024
    assert settings.creation_chunk_size == 200
    assert settings.web_auth_flow == "USER_SRP_AUTH"
    assert settings.upload_expiry_days == 2
    assert settings.staff_mfa == "OPTIONAL"


def test_region_falls_back_to_the_default_region_then_us_east_1(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only AWS_DEFAULT_REGION
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    # Then it is the region
    assert get_settings().region == "eu-west-1"
    # And with neither, us-east-1
    get_settings.cache_clear()
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert get_settings().region == "us-east-1"


def test_aws_region_wins_over_the_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert get_settings().region == "us-west-2"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_UPLOAD_ROWS", "0"),
        ("MAX_UPLOAD_ROWS", "lots"),
        ("MAX_UPLOAD_BYTES", "-1"),
        ("UPLOAD_LINK_TTL_SECONDS", "3601"),
        ("REPORT_LINK_TTL_SECONDS", "0"),
        ("CREATION_CHUNK_SIZE", "1001"),
        ("UPLOAD_EXPIRY_DAYS", "0"),
        ("VALIDATION_CPU_SECONDS", "0"),
        ("STAFF_MFA", "ALWAYS"),
        ("WEB_AUTH_FLOW", "CUSTOM_AUTH"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    # Given a variable out of its range or not of its type
    monkeypatch.setenv(name, value)
    # When the settings are read, Then they are refused rather than used
    with pytest.raises(ValidationError):
        get_settings()


def test_settings_are_read_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the settings read once
    monkeypatch.setenv("UPLOADS_BUCKET", "first-bucket")
    first = get_settings()
    # When the environment changes afterwards
    monkeypatch.setenv("UPLOADS_BUCKET", "second-bucket")
    # Then the process keeps the settings it read (the same object) until the cache is cleared
    assert get_settings() is first
    assert get_settings().uploads_bucket == "first-bucket"
    get_settings.cache_clear()
    assert get_settings().uploads_bucket == "second-bucket"


def test_unrelated_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given variables that are not Intake's
    monkeypatch.setenv("HOME_TABLE", "x")
    monkeypatch.setenv("PATH_EXTRA", "y")
    # Then the settings still validate (Settings itself would not refuse them either)
    assert get_settings().region


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.uploads_bucket = "other"  # type: ignore[misc]
