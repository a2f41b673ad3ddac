"""tools/named_bugs.py stays anchored: every bug it plants has its anchor exactly once and at least one named test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import named_bugs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bug", named_bugs.BUGS, ids=lambda bug: bug.name)
def test_each_named_bug_is_anchored_once_and_names_existing_tests(bug, tmp_path):
    # Given a copy of the bug's source file
    (tmp_path / bug.path).parent.mkdir(parents=True)
    (tmp_path / bug.path).write_text((ROOT / bug.path).read_text())
    # When the bug is planted
    named_bugs.plant(tmp_path, bug)
    # Then the file changed exactly there, and each named test exists in its module
    assert (tmp_path / bug.path).read_text() != (ROOT / bug.path).read_text()
    assert bug.tests
    for test in bug.tests:
        module, name = test.split("::")
        assert f"def {name.split('[')[0]}(" in (ROOT / module).read_text(), test


def test_an_anchor_that_moved_fails_loudly(tmp_path):
    # Given a file in which the bug's anchor is not found
    bug = named_bugs.BUGS[0]
    (tmp_path / bug.path).parent.mkdir(parents=True)
    (tmp_path / bug.path).write_text("# refactored\n")
    # Then planting it stops the run
    with pytest.raises(SystemExit, match="re-anchor"):
        named_bugs.plant(tmp_path, bug)
