"""The clock: now in UTC, and today's date derived from it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from intake import clock


def test_utc_now_is_aware_utc_and_current() -> None:
    # When the clock is read
    before = datetime.now(UTC)
    now = clock.utc_now()
    after = datetime.now(UTC)
    # Then it is timezone-aware UTC and between two readings of the system clock
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_today_follows_utc_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the clock pinned just before midnight UTC
    monkeypatch.setattr(clock, "utc_now", lambda: datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    # When today is asked, Then it is that UTC date (dates of birth are checked against it)
    assert clock.today() == date(2026, 12, 31)
