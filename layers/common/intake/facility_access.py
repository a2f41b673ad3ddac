"""Whether a facility's learners may sign in (its learnerAccess switch), cached per sandbox for a short while.

A sign-in reads the switch only after a correct password; caching it for settings.learner_access_cache_seconds
(monotonic clock) keeps a success within its request budget. A change made through this sandbox (admin_service)
calls `forget`, so it applies here at once; other sandboxes follow within the cache's lifetime."""

from __future__ import annotations

import threading
import time

from intake.dal import directory
from intake.settings import get_settings

_cache: dict[str, tuple[bool, float]] = {}  # facility id -> (learner access on, monotonic time read)
_lock = threading.Lock()


def learner_access_on(facility_id: str) -> bool:
    """Whether the facility's learnerAccess is ON; a facility that does not exist is OFF."""
    ttl = get_settings().learner_access_cache_seconds
    now = time.monotonic()
    with _lock:
        cached = _cache.get(facility_id)
    if cached is not None and now - cached[1] < ttl:
        return cached[0]
    facility = directory.get_location(facility_id)
    on = facility is not None and facility.learner_access
    with _lock:
        _cache[facility_id] = (on, now)
    return on


def forget(facility_id: str) -> None:
    """Drop the cached switch of a facility (its learnerAccess has just changed through this sandbox)."""
    with _lock:
        _cache.pop(facility_id, None)


def forget_all() -> None:
    """Drop every cached switch (tests that reset their storage)."""
    with _lock:
        _cache.clear()
