"""The current time and date, in one place so tests can pin them."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date (UTC), against which dates of birth are checked."""
    return utc_now().date()
