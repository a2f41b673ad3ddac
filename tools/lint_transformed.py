"""Transforms template.yaml offline with aws-sam-translator and lints the resulting CloudFormation with cfn-lint.

cfn-lint checks SAM resources against their schemas only, so a broken reference inside one (a policy template naming a
table that does not exist, say) passes; in the transformed template it is an ordinary resource property and is caught.

Usage: python -m tools.lint_transformed [template.yaml] [--region us-east-1] [--output transformed.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint
from cfnlint.decode import cfn_yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

DEFAULT_REGION = "us-east-1"

# Local paths that `sam build` packages; the translator only accepts S3 locations, so they become placeholders.
LOCAL_ARTIFACT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::Application": ("Location",),
}

# The AWS managed policies a template may name; the translator asks for this map instead of calling IAM.
MANAGED_POLICIES: dict[str, str] = {
    name: f"arn:aws:iam::aws:policy/{path}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/AWSLambdaBasicExecutionRole",
        "AWSLambdaSQSQueueExecutionRole": "service-role/AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaVPCAccessExecutionRole": "service-role/AWSLambdaVPCAccessExecutionRole",
        "AWSXrayWriteOnlyAccess": "AWSXrayWriteOnlyAccess",
        "AWSXRayDaemonWriteAccess": "AWSXRayDaemonWriteAccess",
        "AmazonAPIGatewayPushToCloudWatchLogs": "service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        "CloudWatchLambdaInsightsExecutionRolePolicy": "CloudWatchLambdaInsightsExecutionRolePolicy",
    }.items()
}


def load_sam_template(path: Path) -> dict[str, Any]:
    """The SAM template as plain JSON-compatible data (short-form tags decoded)."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def _placeholder(value: Any) -> Any:
    """An S3 placeholder for a local artifact path; S3 URIs, S3 objects and intrinsics are kept."""
    if isinstance(value, str) and not value.startswith("s3://"):
        return "s3://placeholder/" + (value.strip("./") or "root")
    return value


def with_placeholder_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template with local CodeUri/ContentUri/DefinitionUri paths rewritten to s3:// placeholders."""
    result = copy.deepcopy(template)
    function_globals = result.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = _placeholder(function_globals["CodeUri"])
    for resource in result.get("Resources", {}).values():
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            continue
        for name in LOCAL_ARTIFACT_PROPERTIES.get(resource.get("Type", ""), ()):
            if name in properties:
                properties[name] = _placeholder(properties[name])
    return result


def transform(template: dict[str, Any], region: str = DEFAULT_REGION) -> dict[str, Any]:
    """The CloudFormation the SAM transform makes of the template, computed offline (no AWS calls)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter, not findings
    translator = Translator(managed_policy_map=MANAGED_POLICIES, sam_parser=Parser())
    transformed: dict[str, Any] = translator.translate(
        with_placeholder_artifacts(template),
        parameter_values={},
        get_managed_policy_map=lambda: MANAGED_POLICIES,
    )
    return json.loads(json.dumps(transformed))


def transform_file(path: Path, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """The transformed CloudFormation of a SAM template file."""
    return transform(load_sam_template(path), region)


def _describe(match: Any) -> str:
    """One line for a cfn-lint match: rule id, where in the transformed template, message."""
    path = getattr(match, "path", None)
    where = "/".join(str(part) for part in path) if path else f"line {match.linenumber}"
    message = match.message if len(match.message) <= 300 else match.message[:297] + "..."
    return f"{match.rule.id} {where}: {message}"


def lint_transformed(template: dict[str, Any], region: str = DEFAULT_REGION) -> tuple[list[str], list[str]]:
    """cfn-lint on the transformed template: (errors, warnings and informational findings)."""
    matches = lint(json.dumps(template, indent=1), config=ManualArgs(regions=[region]))
    errors = [_describe(m) for m in matches if m.rule.id.startswith("E")]
    others = [_describe(m) for m in matches if not m.rule.id.startswith("E")]
    return errors, others


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when the transform succeeds and cfn-lint finds no error, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m tools.lint_transformed", description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION))
    parser.add_argument("--output", type=Path, help="also write the transformed template (JSON) here")
    args = parser.parse_args(argv)

    try:
        transformed = transform_file(args.template, args.region)
    except InvalidDocumentException as exc:
        print(f"{args.template}: SAM transform failed: {exc.message}", file=sys.stderr)
        for cause in exc.causes:
            print(f"  {cause.message}", file=sys.stderr)
        return 1

    if args.output:
        args.output.write_text(json.dumps(transformed, indent=2) + "\n", encoding="utf-8")

    errors, others = lint_transformed(transformed, args.region)
    for line in others:
        print(f"warning: {line}", file=sys.stderr)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if errors:
        print(f"{args.template}: {len(errors)} error(s) in the transformed template", file=sys.stderr)
        return 1
    resources = len(transformed.get("Resources", {}))
    print(f"{args.template}: transformed to {resources} resources; cfn-lint found no errors ({len(others)} warnings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
