"""Every module of the layer has a unit test module at the mirrored path (issue #14).

`layers/common/intake/audit.py` is tested by `tests/unit/test_audit.py`, `intake/bulk/keys.py` by
`tests/unit/bulk/test_keys.py`, and so on for every module but the packages' `__init__.py`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "intake"
UNIT = ROOT / "tests" / "unit"

# Modules whose mirrored test module is being written in parallel by other parts of #14 (their modules are being
# rewritten, or, for dal/*, covered by the mirror-dal part). The lead removes each entry as it merges the part
# that brings its test; test_pending_modules_are_still_pending fails for an entry whose test exists (or whose
# module is gone), so this set can only shrink to empty.
PENDING: frozenset[str] = frozenset()


def modules() -> list[str]:
    """Every module of the layer, by its path under intake/ (packages' __init__.py aside)."""
    return sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def mirrored_test(module: str) -> Path:
    """Where a module's unit tests live: tests/unit/<same folders>/test_<name>.py."""
    path = Path(module)
    return UNIT / path.parent / f"test_{path.name}"


def test_mirrored_test_paths() -> None:
    # Given modules at the top and in a sub-package, Then their tests are at the same folders under tests/unit
    assert mirrored_test("audit.py") == UNIT / "test_audit.py"
    assert mirrored_test("bulk/keys.py") == UNIT / "bulk" / "test_keys.py"


def test_the_layer_is_found() -> None:
    # Given the layer's known modules, Then the walk finds them in both the package and its sub-packages
    found = modules()
    assert {"audit.py", "passwords.py", "bulk/keys.py", "dal/tables.py"} <= set(found)
    assert not [module for module in found if module.endswith("__init__.py")]


def test_every_module_has_a_mirrored_unit_test_module() -> None:
    # Given every module of the layer not yet pending elsewhere
    # When its mirrored test module is looked for
    missing = [module for module in modules() if module not in PENDING and not mirrored_test(module).is_file()]
    # Then each has one
    assert missing == [], f"add unit tests at {[str(mirrored_test(m).relative_to(ROOT)) for m in missing]}"


def test_pending_modules_are_still_pending() -> None:
    # Given the modules listed as pending
    # Then each still exists and still lacks its test: once it has one (or is moved away), drop it from PENDING
    gone = sorted(module for module in PENDING if not (PACKAGE / module).is_file())
    tested = sorted(module for module in PENDING if mirrored_test(module).is_file())
    assert gone == [], f"no longer in the layer, remove from PENDING: {gone}"
    assert tested == [], f"now tested, remove from PENDING: {tested}"
