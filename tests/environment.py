"""What a test needs from the machine (a browser, OpenSSH's sftp, ../shared), and what happens when it is missing.

Outside CI a missing tool skips the tests that need it, with the reason. With `CI=true` it fails them instead: CI
installs everything the suite needs (.ci/run), so a missing tool there is a broken run, never a quietly smaller one.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> NoReturn:
    """Skip (outside CI) or fail (in CI) the running test because `what` is not on this machine."""
    if in_ci():
        pytest.fail(f"CI=true and {what}: the run must not pass without these tests", pytrace=False)
    pytest.skip(what)
