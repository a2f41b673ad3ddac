"""`make mutation`: mutmut over the core modules, each against its own unit tests, with a score floor per group.

mutmut (3.x) mutates code under `./`, `src/` or `source/` and imports it by that path, while the layer keeps its package
at `layers/common/intake`. So each run works in a scratch copy of the tracked tree, with the package at `src/intake`
and pytest's `pythonpath` pointed there; the checkout itself is never touched. Slow (minutes per module), so it is
not part of `make test`. Prints each module's score and its surviving mutants (`mutmut show NAME` in the scratch copy,
kept with `--keep`, shows one), and exits non-zero when a group is under its floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MULTIPLIER = 4.0
CAUGHT = frozenset({"killed", "timeout"})  # mutmut's statuses of a mutant the tests catch
KEPT_EXIT_CODES = frozenset({1, 3, 24, -24, 36, 152, 255})  # mutmut's exit codes of those (stats.py)
LAYER = "layers/common"


@dataclass(frozen=True)
class Target:
    module: str  # under layers/common
    tests: tuple[str, ...]
    floor: float


TARGETS = (
    Target("intake/rules.py", ("tests/unit/test_rules.py",), 0.85),
    Target("intake/authz.py", ("tests/unit/test_authz.py",), 0.85),
    Target("intake/password_rules.py", ("tests/unit/test_password_rules.py",), 0.85),
    # The planner, creation and the data layer's conditional writes: 75 % each (issue 21). The *_mutants.py files
    # hold the tests their surviving mutants asked for; the survivors left are listed in docs/reliability.md.
    Target(
        "intake/bulk/planning.py",
        (
            "tests/unit/bulk/test_planning.py",
            "tests/unit/bulk/test_planning_mutants.py",
            "tests/unit/bulk/test_planning_sync.py",
            "tests/unit/bulk/test_planning_in_flight.py",
        ),
        0.75,
    ),
    Target(
        "intake/bulk/creation.py",
        (
            "tests/unit/bulk/test_creation.py",
            "tests/unit/bulk/test_creation_mutants.py",
            "tests/unit/bulk/test_creation_sync.py",
            "tests/unit/bulk/test_creation_sync_mutants.py",
            "tests/unit/bulk/test_creation_hashing.py",
        ),
        0.75,
    ),
    Target(
        "intake/dal/uploads.py",
        (
            "tests/unit/dal/test_uploads.py",
            "tests/unit/dal/test_uploads_mutants.py",
            "tests/unit/dal/test_part_trail.py",
        ),
        0.75,
    ),
    Target("intake/dal/objects.py", ("tests/unit/dal/test_objects.py", "tests/unit/dal/test_objects_mutants.py"), 0.75),
    Target(
        "intake/dal/learners.py",
        (
            "tests/unit/dal/test_learners.py",
            "tests/unit/dal/test_learners_at_version.py",
            "tests/unit/dal/test_learners_writes.py",
            "tests/unit/dal/test_learners_mutants.py",
            "tests/unit/dal/test_username_claims.py",
            "tests/unit/test_learner_migration.py",
        ),
        0.75,
    ),
    Target("intake/dal/staff.py", ("tests/unit/dal/test_staff.py",), 0.75),
    Target("intake/dal/directory.py", ("tests/unit/dal/test_directory.py",), 0.75),
)


def copy_tree(into: Path, place: Callable[[str], str] = str) -> None:
    """Copy the tree's files (tracked, and untracked but not ignored) into `into`, each at `place(its path)`."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listing, cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / place(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / place(name))


def _scratch(into: Path, target: Target) -> None:
    copy_tree(into, lambda name: "src/" + name.removeprefix(LAYER + "/") if name.startswith(LAYER + "/") else name)
    pyproject = (into / "pyproject.toml").read_text()
    pyproject = pyproject.replace(f'pythonpath = ["{LAYER}",', 'pythonpath = ["src",')
    pyproject = pyproject.replace(f'"intake" = "{LAYER}/intake"', '"intake" = "src/intake"')
    # mutmut runs the tests in `mutants/`, holding only src, tests and pyproject.toml unless told: the rest of the
    # tree (local's moto resources, template.yaml, the functions) is copied there too, as pytest's `.` path needs.
    rest = ", ".join(
        f'"{entry.name}"'
        for entry in sorted(into.iterdir())
        if entry.name not in {"src", "tests", "pyproject.toml", "mutants"}
    )
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/{target.module}"]\n'
        f"{_selection_line(target)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "--no-cov"]\n'
        # A mutant that makes the tests hang (the planner's look-ups in flight wait on a future forever) is stopped
        # at this many times their usual time plus 2 s: mutmut's 15x would spend minutes on each.
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
        "timeout_constant = 2.0\n"
        f"also_copy = [{rest}]\n"
    )
    (into / "pyproject.toml").write_text(pyproject)


def run(
    target: Target, keep: bool, max_children: int | None = None, reuse: Path | None = None
) -> tuple[int, list[str]]:
    """(killed, survivors) of one module.

    With `reuse` (a scratch copy an earlier run kept), the tree is copied over it and one mutmut run re-tests the
    mutants of functions whose code changed (its function hashes) or that are new, and every mutant not killed
    before, against today's tests; a mutant killed before stays killed (its function and the tests that killed it
    are unchanged, or it is re-tested). A changed test list makes mutmut re-test everything (its config
    fingerprint), which is said first."""
    scratch = reuse or Path(tempfile.mkdtemp(prefix="intake-mutation-"))
    try:
        before = _test_selection(scratch) if reuse else None
        _scratch(scratch, target)
        if reuse:
            (scratch / "src" / target.module).touch()  # compared by function hash, whatever the copied mtime
            _forget_verdicts_but_kills(scratch, target)
            if before is not None and before != list(target.tests):
                if set(before) <= set(target.tests):
                    _keep_kills_under_more_tests(scratch, target)
                    print(f"  {target.module}: tests added since {scratch}; its kills are kept")
                else:
                    print(f"  {target.module}: its test list changed since {scratch}: mutmut re-tests every mutant")
        mutmut = [sys.executable, "-m", "mutmut"]
        children = ["--max-children", str(max_children)] if max_children else []
        _mutmut(scratch, target, [*mutmut, "run", *children])
        return _outcomes(scratch, mutmut)
    finally:
        if keep or reuse:
            print(f"  scratch copy kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _selection_line(target: Target) -> str:
    args = ", ".join(f'"{t}"' for t in target.tests)
    return f"pytest_add_cli_args_test_selection = [{args}]"


def _test_selection(scratch: Path) -> list[str] | None:
    """The tests a kept scratch copy was run with (None if it has no mutmut configuration yet)."""
    pyproject = scratch / "pyproject.toml"
    if not pyproject.exists():  # an empty directory: a first run, kept there
        return None
    mutmut = tomllib.loads(pyproject.read_text()).get("tool", {}).get("mutmut", {})
    selection = mutmut.get("pytest_add_cli_args_test_selection")
    return None if selection is None else list(selection)


def _keep_kills_under_more_tests(scratch: Path, target: Target) -> None:
    """Tests were only added: a mutant the old tests killed is still killed (they are all still run), so mutmut is
    told its test selection is unchanged instead of resetting every verdict. It collects the new tests' coverage
    itself ("new tests"), and every mutant not killed is re-tested (`_forget_verdicts_but_kills`). mutmut keeps the
    hash of the selection in `mutants/mutmut-stats.json` (`config_fingerprint`, as `Config.config_fingerprint`
    makes it)."""
    stats = scratch / "mutants" / "mutmut-stats.json"
    if not stats.exists():
        return
    data = json.loads(stats.read_text())
    data["config_fingerprint"]["test_selection"] = hashlib.sha256(repr(target.tests).encode()).hexdigest()[:12]
    stats.write_text(json.dumps(data))


def _forget_verdicts_but_kills(scratch: Path, target: Target) -> None:
    """In a kept copy, mark every mutant not caught (survived, no tests, suspicious...) as not yet checked, so that one
    mutmut run re-tests them against today's tests along with the changed functions' mutants. mutmut keeps its
    verdicts in `mutants/<file>.meta` (JSON, `exit_code_by_key`; KEPT_EXIT_CODES are kills and timeouts)."""
    meta = scratch / "mutants" / "src" / (target.module + ".meta")
    if not meta.exists():
        return
    data = json.loads(meta.read_text())
    verdicts = data["exit_code_by_key"]
    data["exit_code_by_key"] = {name: code if code in KEPT_EXIT_CODES else None for name, code in verdicts.items()}
    meta.write_text(json.dumps(data, indent=4))


def _mutmut(scratch: Path, target: Target, command: list[str]) -> None:
    ran = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
    if ran.returncode != 0:
        raise SystemExit(f"mutmut run failed for {target.module}:\n{ran.stdout[-2000:]}\n{ran.stderr[-2000:]}")


def _outcomes(scratch: Path, mutmut: list[str]) -> tuple[int, list[str]]:
    """(caught, the others' names): caught is killed, or timed out (the tests never end: CI fails too)."""
    listing = subprocess.run([*mutmut, "results", "--all", "true"], cwd=scratch, check=True, capture_output=True)
    outcomes = dict(re.findall(r"^\s*(\S+): (\w+)", listing.stdout.decode(), re.MULTILINE))
    survivors = sorted(name for name, status in outcomes.items() if status not in CAUGHT)
    timeouts = sum(status == "timeout" for status in outcomes.values())
    if timeouts:
        print(f"  {timeouts} of the caught timed out (the tests hung: stopped at {TIMEOUT_MULTIPLIER:g}x their time)")
    return len(outcomes) - len(survivors), survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="only these (e.g. intake/rules.py)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies, to `mutmut show` a survivor")
    parser.add_argument(
        "--max-children", type=int, metavar="N", help="mutmut's worker processes (default: one per core)"
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        metavar="DIR",
        help="re-run in a scratch copy kept by --keep (one module): only what changed since, and the survivors",
    )
    options = parser.parse_args()
    if options.reuse and len(options.modules) != 1:
        parser.error("--reuse takes exactly one module")
    failed = False
    for target in TARGETS:
        if options.modules and target.module not in options.modules:
            continue
        killed, survivors = run(target, options.keep, options.max_children, options.reuse)
        total = killed + len(survivors)
        score = killed / total if total else 0.0
        verdict = "PASS" if score >= target.floor else "FAIL"
        failed |= verdict == "FAIL"
        print(f"{target.module}: {killed}/{total} caught = {score:.1%} (floor {target.floor:.0%}) {verdict}")
        for name in survivors:
            print(f"  survived: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
