"""Issue 20: Lambda SnapStart for the API, validator and worker, a template parameter that is off by default."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from local.template import TEMPLATE_PATH, load_template
from tools.lint_transformed import MANAGED_POLICIES, lint_transformed, load_sam_template, with_placeholder_artifacts

SNAPSTART_FUNCTIONS = ("ApiFunction", "ValidatorFunction", "WorkerFunction")
MAPPINGS = {"ValidatorFunction": "ValidatorFunctionIncomingFiles", "WorkerFunction": "WorkerFunctionCreationChunks"}


def _transformed(snap_start: str) -> dict[str, Any]:
    """The CloudFormation SAM makes of template.yaml with the SnapStart parameter set to `snap_start`."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translated = Translator(managed_policy_map=MANAGED_POLICIES, sam_parser=Parser()).translate(
        with_placeholder_artifacts(load_sam_template(TEMPLATE_PATH)),
        parameter_values={"SnapStart": snap_start},
        get_managed_policy_map=lambda: MANAGED_POLICIES,
    )
    return json.loads(json.dumps(translated))


def _resolve(value: Any, conditions: dict[str, bool]) -> Any:
    """`value` with each Fn::If on one of `conditions` taken, and AWS::NoValue dropped, as CloudFormation would."""
    if isinstance(value, dict):
        if "Fn::If" in value and value["Fn::If"][0] in conditions:
            name, when_true, when_false = value["Fn::If"]
            return _resolve(when_true if conditions[name] else when_false, conditions)
        resolved = {key: _resolve(item, conditions) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item != {"Ref": "AWS::NoValue"}}
    if isinstance(value, list):
        return [_resolve(item, conditions) for item in value]
    return value


@pytest.fixture(scope="module", params=["Off", "PublishedVersions"])
def deployed(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(the parameter's value, the transformed template's resources with SnapStartOn resolved for it)."""
    snap_start = str(request.param)
    resources = _transformed(snap_start)["Resources"]
    return snap_start, _resolve(resources, {"SnapStartOn": snap_start == "PublishedVersions"})


def test_the_parameter_is_off_by_default_with_one_other_value() -> None:
    # Given the template's parameters and conditions
    template = load_template()
    parameter = template["Parameters"]["SnapStart"]
    # Then SnapStart is off unless asked for, and its one condition compares against the value that turns it on
    assert parameter["Default"] == "Off"
    assert parameter["AllowedValues"] == ["Off", "PublishedVersions"]
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "PublishedVersions"]}


def test_snapstart_applies_to_the_three_functions_only_when_on(deployed: tuple[str, dict[str, Any]]) -> None:
    # Given the deployed functions for each value of the parameter
    snap_start, resources = deployed
    functions = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    # Then the API, validator and worker restore from snapshots of published versions when it is on, and nothing
    # has SnapStart when it is off (the dead-letter handlers and the sweeper run too rarely to pay for a cache)
    with_snap_start = {name for name, props in functions.items() if "SnapStart" in props}
    if snap_start == "Off":
        assert with_snap_start == set()
    else:
        assert with_snap_start == set(SNAPSTART_FUNCTIONS)
        assert all(functions[name]["SnapStart"] == {"ApplyOn": "PublishedVersions"} for name in SNAPSTART_FUNCTIONS)


def test_each_snapstart_function_publishes_a_version_behind_an_alias(deployed: tuple[str, dict[str, Any]]) -> None:
    # Given the transformed template
    _, resources = deployed
    for name in SNAPSTART_FUNCTIONS:
        # Then the function has one published version and the alias `live` on it (SnapStart never serves $LATEST)
        versions = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Version" and r["Properties"]["FunctionName"] == {"Ref": name}
        ]
        assert len(versions) == 1, name
        # And a replaced version is deleted, not retained with its snapshot still cached (and charged)
        assert versions[0]["DeletionPolicy"] == "Delete", name
        alias = resources[f"{name}Aliaslive"]
        assert alias["Type"] == "AWS::Lambda::Alias"
        assert alias["Properties"]["FunctionName"] == {"Ref": name}


def test_what_invokes_the_functions_invokes_the_alias_when_snapstart_is_on(
    deployed: tuple[str, dict[str, Any]],
) -> None:
    # Given the transformed template
    snap_start, resources = deployed
    # Then API Gateway may invoke the API's alias only (SAM wires every Api event to the alias)...
    api_permissions = [
        r["Properties"]["FunctionName"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert api_permissions and all(name == {"Ref": "ApiFunctionAliaslive"} for name in api_permissions)
    integrations = json.dumps(resources["IntakeApi"]["Properties"]["Body"])
    assert "ApiFunctionAliaslive" in integrations
    # ... and each queue's event source mapping names the alias when SnapStart is on, the function as before if off
    for function, mapping in MAPPINGS.items():
        target = resources[mapping]["Properties"]["FunctionName"]
        assert target == {"Ref": f"{function}Aliaslive" if snap_start == "PublishedVersions" else function}


def test_the_snapstart_functions_meet_its_constraints() -> None:
    # Given the SAM template's functions and globals
    template = load_template()
    globals_ = template["Globals"]["Function"]
    for name in SNAPSTART_FUNCTIONS:
        props = {**globals_, **template["Resources"][name]["Properties"]}
        # Then the runtime is one SnapStart supports for Python (3.12 and later)
        major, minor = map(int, re.fullmatch(r"python(\d+)\.(\d+)", props["Runtime"]).groups())  # type: ignore[union-attr]
        assert (major, minor) >= (3, 12), name
        # And none of what SnapStart refuses: provisioned concurrency, EFS, ephemeral storage over 512 MB
        assert "ProvisionedConcurrencyConfig" not in props, name
        assert "FileSystemConfigs" not in props, name
        assert props.get("EphemeralStorage", {}).get("Size", 512) <= 512, name
        # And SnapStart is the parameter's choice, not fixed
        assert props["SnapStart"] == {
            "Fn::If": ["SnapStartOn", {"ApplyOn": "PublishedVersions"}, {"Ref": "AWS::NoValue"}]
        }
        assert props["AutoPublishAlias"] == "live"


def test_cfn_lint_finds_no_error_with_snapstart_on() -> None:
    # Given the template transformed with SnapStart on (the default is linted in test_template.py)
    transformed = _transformed("PublishedVersions")
    # When linting it with cfn-lint
    errors, _ = lint_transformed(transformed)
    # Then the alias references and the conditional SnapStart are valid CloudFormation
    assert errors == []
