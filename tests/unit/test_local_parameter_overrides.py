"""The local stack deploys the template with INTAKE_PARAMETER_OVERRIDES, as `sam deploy --parameter-overrides`."""

from __future__ import annotations

from typing import Any

import pytest

from local.resources import parameter_overrides


def test_given_overrides_then_the_functions_environment_takes_them(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the default and then an override of LearnerLockoutSeconds
    assert aws.environment()["LEARNER_LOCKOUT_SECONDS"] == "60"
    monkeypatch.setenv("INTAKE_PARAMETER_OVERRIDES", "LearnerLockoutSeconds=1 WafRequestsPerIp=100")
    # When the handlers' environment is made
    env = aws.environment()
    # Then ApiFunction's own variables are there, with the overridden value
    assert env["LEARNER_LOCKOUT_SECONDS"] == "1"
    assert env["SIGN_IN_ATTEMPTS_TABLE"] == aws.tables["SignInAttemptsTable"]
    assert env["LEARNER_ACCESS_CACHE_SECONDS"] == "30"


def test_overrides_are_name_value_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_PARAMETER_OVERRIDES", "A=1 'B=two words' C=")
    assert parameter_overrides() == {"A": "1", "B": "two words", "C": ""}
    monkeypatch.setenv("INTAKE_PARAMETER_OVERRIDES", "LearnerLockoutSeconds")
    with pytest.raises(ValueError, match="not Name=Value"):
        parameter_overrides()
    monkeypatch.delenv("INTAKE_PARAMETER_OVERRIDES")
    assert parameter_overrides() == {}
