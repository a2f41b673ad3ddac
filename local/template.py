"""Reads template.yaml, so the local stack and the tests take resources from the template that deploys."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts, with CloudFormation short-form tags (!Ref, !Sub, ...) decoded."""
    return cfn_yaml.load(str(path))


def resources_of_type(resource_type: str, path: Path = TEMPLATE_PATH) -> dict[str, dict[str, Any]]:
    """Logical id → resource, for every resource of one type."""
    resources = load_template(path)["Resources"]
    return {name: res for name, res in resources.items() if res.get("Type") == resource_type}
