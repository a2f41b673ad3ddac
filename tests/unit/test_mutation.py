"""tools/mutation.py (`make mutation`): every target names a real module and real tests, with the floors of issue 21,
and the scratch copy it makes holds what those tests import (local's moto resources, template.yaml)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tools import mutation

ROOT = Path(__file__).resolve().parents[2]


def test_every_target_is_a_module_of_the_layer_with_its_own_existing_tests() -> None:
    for target in mutation.TARGETS:
        assert (ROOT / mutation.LAYER / target.module).is_file(), target.module
        assert target.tests and all((ROOT / test).is_file() for test in target.tests), target.module


def test_the_core_is_covered_at_the_floors_of_issue_21() -> None:
    floors = {target.module: target.floor for target in mutation.TARGETS}
    for module in ("intake/rules.py", "intake/authz.py", "intake/password_rules.py"):
        assert floors[module] >= 0.85
    for module in ("intake/bulk/planning.py", "intake/bulk/creation.py", "intake/dal/uploads.py"):
        assert floors[module] >= 0.75


def test_the_scratch_copy_mutates_only_its_module_and_carries_the_rest_of_the_tree(tmp_path: Path) -> None:
    target = mutation.Target("intake/dal/uploads.py", ("tests/unit/dal/test_uploads.py",), 0.75)
    mutation._scratch(tmp_path, target)
    config = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert config["tool"]["pytest"]["ini_options"]["pythonpath"][0] == "src"
    mutmut = config["tool"]["mutmut"]
    assert mutmut["only_mutate"] == ["src/intake/dal/uploads.py"]
    assert mutmut["pytest_add_cli_args_test_selection"] == ["tests/unit/dal/test_uploads.py"]
    assert {"local", "template.yaml", "functions"} <= set(mutmut["also_copy"])
    assert not {"src", "tests", "pyproject.toml"} & set(mutmut["also_copy"])
    assert (tmp_path / "src/intake/dal/uploads.py").is_file() and (tmp_path / "local").is_dir()


def test_a_reused_copy_keeps_only_its_kills_and_says_when_its_test_list_changed(tmp_path: Path) -> None:
    # Given a kept copy of an uploads run: one mutant killed twice over (exit codes 1 and 3), one survived, one with
    # no tests, one timed out (caught: its tests hung), one suspicious
    target = mutation.Target("intake/dal/uploads.py", ("tests/unit/dal/test_uploads.py",), 0.75)
    mutation._scratch(tmp_path, target)
    meta = tmp_path / "mutants/src/intake/dal/uploads.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"m_1": 1, "m_2": 3, "m_3": 0, "m_4": 33, "m_5": 36, "m_6": 35}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": {"f": "h"}}))
    # When its verdicts are reused
    mutation._forget_verdicts_but_kills(tmp_path, target)
    # Then only the kills and the timeout are kept, the rest is to be tested again, and the rest of mutmut's state is
    # left as it was
    data = json.loads(meta.read_text())
    assert data == {
        "exit_code_by_key": {"m_1": 1, "m_2": 3, "m_3": None, "m_4": None, "m_5": 36, "m_6": None},
        "hash_by_function_name": {"f": "h"},
    }
    # And the copy's test list is read back
    assert mutation._test_selection(tmp_path) == list(target.tests)


def test_tests_added_to_a_reused_copy_keep_its_kills_by_mutmuts_own_fingerprint(tmp_path: Path) -> None:
    # Given a kept copy whose mutmut state holds the fingerprint of its test list, as mutmut computes it
    target = mutation.Target("intake/dal/uploads.py", ("tests/unit/dal/test_uploads.py",), 0.75)
    mutation._scratch(tmp_path, target)
    from mutmut.configuration import Config

    def fingerprint(tests: tuple[str, ...]) -> str:
        config = Config.__new__(Config)
        config.pytest_add_cli_args, config.pytest_add_cli_args_test_selection = [], list(tests)
        config.timeout_multiplier, config.timeout_constant, config.type_check_command = 1.0, 1.0, []
        return config.config_fingerprint()["test_selection"]

    stats = tmp_path / "mutants/mutmut-stats.json"
    stats.parent.mkdir(parents=True)
    stats.write_text(json.dumps({"config_fingerprint": {"test_selection": fingerprint(target.tests), "timeout": "t"}}))
    # When a test file is added to the target and the kills are kept
    grown = mutation.Target(target.module, (*target.tests, "tests/unit/dal/test_uploads_mutants.py"), 0.75)
    mutation._keep_kills_under_more_tests(tmp_path, grown)
    # Then the state holds the new list's fingerprint, so mutmut resets nothing, and the rest is as it was
    assert json.loads(stats.read_text())["config_fingerprint"] == {
        "test_selection": fingerprint(grown.tests),
        "timeout": "t",
    }


def test_the_scratch_copy_stops_a_hanging_mutant_early_and_counts_a_timeout_as_caught(tmp_path: Path) -> None:
    # Given the scratch copy's mutmut configuration
    target = mutation.Target("intake/dal/uploads.py", ("tests/unit/dal/test_uploads.py",), 0.75)
    mutation._scratch(tmp_path, target)
    mutmut = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["mutmut"]
    # Then a hanging mutant is stopped at 4x its tests' time plus 2 s, and the statuses caught are kills and timeouts
    assert (mutmut["timeout_multiplier"], mutmut["timeout_constant"]) == (4.0, 2.0)
    from mutmut.stats import status_by_exit_code

    assert {status_by_exit_code[code] for code in mutation.KEPT_EXIT_CODES} == mutation.CAUGHT
