"""`sam build`'s own steps (BuildMethod: makefile) make artefacts for Lambda's runtime, on a machine with neither
Docker nor python3.12: the layer's compiled packages are cp312 (or abi3) wheels for aarch64, nothing in it is built for
this machine, and it fits in Lambda's 250 MB unzipped limit. Installing the wheels needs PyPI, as `sam build` does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from local.template import resources_of_type

ROOT = Path(__file__).resolve().parents[2]
LAYER_LIMIT_BYTES = 250 * 1024 * 1024
COMPILED = {"pydantic_core", "argon2_cffi_bindings", "cffi"}
ELF_MACHINE = {62: "x86_64", 183: "aarch64"}


def _make(code_uri: str, target: str, artifacts: Path) -> None:
    artifacts.mkdir(parents=True)
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    subprocess.run(["make", "-s", "-C", str(ROOT / code_uri), f"build-{target}"], check=True, env=env, timeout=600)


def _elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return ELF_MACHINE.get(int.from_bytes(header[18:20], "little"), "other")


def _wheel_tags(dist_info: Path) -> list[str]:
    lines = (dist_info / "WHEEL").read_text().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]


def _functions() -> dict[str, str]:
    return {name: r["Properties"]["CodeUri"] for name, r in resources_of_type("AWS::Serverless::Function").items()}


def _runs_on_lambda(tag: str) -> bool:
    """A wheel tag CPython 3.12 on arm64 loads: built for cp312 itself, or for the stable ABI of an older CPython."""
    interpreter, abi, platform = tag.split("-")
    for_312 = interpreter == abi == "cp312"
    stable = abi == "abi3" and interpreter.startswith("cp3") and int(interpreter[3:]) <= 12
    return (for_312 or stable) and platform.endswith("_aarch64")


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("build") / "CommonLayer"
    _make("layers/common", "CommonLayer", artifacts)
    return artifacts


def test_the_layer_holds_the_intake_package_and_every_requirement(layer: Path) -> None:
    # Given the layer built as `sam build` builds it, then /opt/python holds intake and each pinned requirement
    site = layer / "python"
    assert (site / "intake" / "__init__.py").is_file()
    assert not list(site.rglob("__pycache__"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    wanted = {
        line.split("==")[0].split("[")[0].strip().lower().replace("-", "_")
        for line in (ROOT / "layers/common/requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert wanted <= installed, wanted - installed


def test_every_compiled_package_is_a_cp312_or_abi3_wheel_for_aarch64(layer: Path) -> None:
    # Given the layer's distributions
    site = layer / "python"
    tags = {p.name.split("-")[0].lower(): _wheel_tags(p) for p in site.glob("*.dist-info")}
    # Then the compiled ones are there, each tagged for Lambda's runtime and architecture
    assert tags.keys() >= COMPILED
    for name, wheel_tags in tags.items():
        if all(tag.endswith("-none-any") for tag in wheel_tags):
            continue
        assert all(_runs_on_lambda(tag) for tag in wheel_tags), (name, wheel_tags)


def test_no_shared_object_is_built_for_another_machine(layer: Path) -> None:
    # Given every shared object in the layer, then each is an aarch64 ELF file: no x86_64 one
    objects = [p for p in layer.rglob("*.so*") if p.is_file()]
    assert objects, "the layer should hold compiled packages"
    machines = {str(p.relative_to(layer)): _elf_machine(p) for p in objects}
    assert set(machines.values()) == {"aarch64"}, {k: v for k, v in machines.items() if v != "aarch64"}


def test_the_layer_unpacks_under_lambdas_limit(layer: Path) -> None:
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    assert size < LAYER_LIMIT_BYTES, size


@pytest.mark.parametrize("function", sorted(_functions()))
def test_each_function_builds_its_own_files(function: str, tmp_path: Path) -> None:
    # Given a function of the template, when its build target runs
    code_uri = _functions()[function]
    _make(code_uri, function, tmp_path / function)
    # Then the artefact is the function's handler and files, without the Makefile or caches
    built = {str(p.relative_to(tmp_path / function)) for p in (tmp_path / function).rglob("*") if p.is_file()}
    source = {
        str(p.relative_to(ROOT / code_uri))
        for p in (ROOT / code_uri).rglob("*")
        if p.is_file() and p.name != "Makefile" and "__pycache__" not in p.parts
    }
    assert built == source
    assert any(name.endswith("_handler.py") for name in built)
