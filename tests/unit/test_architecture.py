"""The layering is a checked rule (issue 14): `lint-imports` keeps pyproject's contracts on the real tree and fails on
an upward import planted in a scratch copy of it. The *_handler modules, which import-linter cannot take as root
packages, are checked here: thin, over the layer only."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# What the copy needs: the packages import-linter reads (pyproject root_packages) and the config.
COPIED = ("layers/common/intake", "functions", "local", "intake_admin", "tools", "bench", "tests")
NOT_DEPLOYED = {"local", "intake_admin", "tools", "bench", "tests"}
STORAGE_CLIENTS = {"boto3", "botocore", "pynamodb"}


def _python_path(root: Path) -> str:
    """The code roots pytest and `make` put on the path (pyproject's pytest `pythonpath`), under root."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return os.pathsep.join(str(root / entry) for entry in config["tool"]["pytest"]["ini_options"]["pythonpath"])


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), "make install installs import-linter (requirements-dev.txt)"
    env = {**os.environ, "PYTHONPATH": _python_path(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def _sources_only(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if not (Path(directory, n).is_dir() or n.endswith(".py")) or n == "__pycache__"}


def _scratch_copy(into: Path) -> Path:
    for part in COPIED:
        shutil.copytree(ROOT / part, into / part, ignore=_sources_only)
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


def _plant(root: Path, module: str, line: str) -> None:
    """Append an import to a module of the copy, found under its code roots."""
    relative = Path(*module.split("."))
    for code_root in _python_path(root).split(os.pathsep):
        for candidate in (Path(code_root) / relative.with_suffix(".py"), Path(code_root) / relative / "__init__.py"):
            if candidate.is_file():
                candidate.write_text(candidate.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
                return
    raise AssertionError(f"{module} is not in the copy")


def test_the_tree_keeps_every_contract() -> None:
    ran = _lint_imports(ROOT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "0 broken" in ran.stdout


def test_the_scratch_copy_keeps_them_too(tmp_path: Path) -> None:
    ran = _lint_imports(_scratch_copy(tmp_path / "tree"))
    assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.parametrize(
    ("module", "planted", "chain"),
    [
        # the domain reaching up into data access
        ("intake.domain", "from intake.dal import learners", "intake.domain -> intake.dal.learners"),
        # data access reaching up into a service
        ("intake.dal.uploads", "from intake import upload_service", "intake.dal.uploads -> intake.upload_service"),
        # a rule reaching up into the bulk pipeline
        ("intake.rules", "import intake.bulk.validation", "intake.rules -> intake.bulk.validation"),
        # a bulk stage calling back into the one after it
        ("intake.bulk.reading", "from intake.bulk import checking", "intake.bulk.reading -> intake.bulk.checking"),
        # the layer importing a handler, or the local stack
        ("intake.settings", "import worker_handler", "intake.settings -> worker_handler"),
        ("intake.bulk.creation", "from local import resources", "intake.bulk.creation -> local.resources"),
        # a service touching storage itself instead of through intake.dal
        ("intake.upload_service", "import boto3", "intake.upload_service -> boto3"),
        # a route skipping its service for the data layer
        ("api_routes.web_content", "from intake.dal import objects", "api_routes.web_content -> intake.dal.objects"),
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path: Path, module: str, planted: str, chain: str) -> None:
    copy = _scratch_copy(tmp_path / "tree")
    _plant(copy, module, planted)
    ran = _lint_imports(copy)
    assert ran.returncode != 0, ran.stdout
    assert "BROKEN" in ran.stdout
    assert f"- {chain} (l." in " ".join(ran.stdout.split()), ran.stdout


# The HTTP modules h/http moves out of the layer into api_routes, which is a source of the contract itself.


def test_every_module_above_the_data_layer_is_held_to_it() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = (c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "only-dal-touches-storage")
    package = ROOT / "layers/common/intake"
    children = {f"intake.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    children |= {f"intake.{path.parent.name}" for path in package.glob("*/__init__.py")}
    uncovered = children - set(contract["source_modules"]) - {"intake.dal"}
    assert not uncovered, f"add {sorted(uncovered)} to the contract's source_modules in pyproject.toml"


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


HANDLERS = sorted((ROOT / "functions").glob("*/*_handler.py"))


def test_every_function_has_its_handler_checked() -> None:
    assert {path.parent.name for path in HANDLERS} == {"api", "validator", "worker", "deadletter", "sweeper"}


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.stem)
def test_a_handler_imports_only_deployed_code_and_no_storage_client(handler: Path) -> None:
    roots = _imported_roots(handler)
    assert not roots & NOT_DEPLOYED, f"{handler.name} imports {sorted(roots & NOT_DEPLOYED)}"
    assert not roots & STORAGE_CLIENTS, f"{handler.name} imports {sorted(roots & STORAGE_CLIENTS)}: use intake.dal"
