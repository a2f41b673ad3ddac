"""A tool the suite needs and the machine lacks: skipped outside CI, a failure with CI=true."""

from __future__ import annotations

import pytest

from tests.environment import missing


def test_outside_ci_a_missing_tool_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no CI variable
    monkeypatch.delenv("CI", raising=False)
    # When a test finds its tool missing, then it is skipped with the reason
    with pytest.raises(pytest.skip.Exception, match="no Chromium binary"):
        missing("no Chromium binary")


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_in_ci_a_missing_tool_fails_and_names_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # Given CI=true, as the CI runner sets it
    monkeypatch.setenv("CI", value)
    # When a test finds its tool missing, then it fails, naming the tool
    with pytest.raises(pytest.fail.Exception, match="CI=true and no OpenSSH sftp client"):
        missing("no OpenSSH sftp client")
