"""`make mutation`, second half: the four bugs issue 21 names, each planted in a scratch copy, must fail its tests.

Each bug is an exact text replacement in one source file. For each, the tree is copied (tracked files only), the bug is
planted, and the bug's named tests run there: the check passes only if every named test fails. A replacement whose
anchor is not found exactly once fails the run, so a refactor that moves the code makes this tool fail loudly rather
than pass without planting anything; re-anchor the bug then. The same tests pass on the unchanged tree (`make test`).
`docs/reliability.md` ("Four named bugs") says what each test does to catch its bug.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree

from tools.mutation import copy_tree

PYTHONPATH = ("layers/common", "functions/api", "functions/validator", "functions/worker", "functions/deadletter")


@dataclass(frozen=True)
class Bug:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug(
        "the worker without idempotency",
        "layers/common/intake/bulk/worker.py",
        "    create_chunk_once(message=message, remaining_ms=remaining_ms)\n",
        "    process_chunk(message.uploadId, message.chunk, message.start, remaining_ms)\n",
        (
            "tests/integration/test_delivery_faults.py::"
            "test_a_chunk_redelivered_after_it_finished_is_answered_from_its_idempotency_record",
        ),
    ),
    Bug(
        "the learner insert without its condition",
        "layers/common/intake/dal/learners.py",
        "item.save(condition=LearnerItem.docId.does_not_exist())",
        "item.save()",
        ("tests/integration/test_learners_api.py::test_concurrent_creations_of_one_doc_id_create_exactly_one",),
    ),
    Bug(
        "a part applied but not recorded",
        "layers/common/intake/bulk/creation.py",
        "recorded = upload_store.record_part("
        'upload.upload_id, f"{chunk}:{part_start}", counts, finishes_chunk, entries)',
        "recorded = None",
        (
            "tests/integration/test_bulk_flow.py::test_file_with_errors_is_reported_then_confirmed_with_skip",
            "tests/integration/test_bulk_faults.py::"
            "test_crash_is_retried_without_loss_or_duplicate[worker-after-a-part-counted]",
        ),
    ),
    Bug(
        "a refused upload update counted as done",
        "layers/common/intake/dal/uploads.py",
        "            ):\n                return None\n            return _upload(current)\n",
        "            ):\n                return _upload(current)\n            return _upload(current)\n",
        (
            "tests/integration/test_delivery_faults.py::test_object_event_delivered_twice_validates_once",
            "tests/integration/test_expiry_faults.py::test_concurrent_sweeps_expire_each_upload_once",
        ),
    ),
)


def plant(tree: Path, bug: Bug) -> None:
    """Write the bug into the copy; SystemExit if its anchor is not there exactly once."""
    target = tree / bug.path
    text = target.read_text()
    found = text.count(bug.old)
    if found != 1:
        raise SystemExit(f"{bug.name}: its anchor occurs {found} times in {bug.path}, not once: re-anchor the bug")
    target.write_text(text.replace(bug.old, bug.new))


def failed_tests(tree: Path, tests: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(the ids that ran, the ids that failed or errored) of one pytest run in the tree."""
    report = tree / "named-bugs.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / p) for p in (*PYTHONPATH, "."))}
    command = [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "--no-cov", "-q"]
    subprocess.run([*command, f"--junitxml={report}"], cwd=tree, env=env, capture_output=True, text=True)
    ran: set[str] = set()
    failed: set[str] = set()
    for case in ElementTree.parse(report).iter("testcase"):
        test_id = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        ran.add(test_id)
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(test_id)
    return ran, failed


def check(bug: Bug) -> bool:
    if not bug.tests:
        raise SystemExit(f"{bug.name}: no test named for it")
    with tempfile.TemporaryDirectory(prefix="intake-named-bug-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        plant(tree, bug)
        ran, failed = failed_tests(tree, bug.tests)
    missing = [test for test in bug.tests if test not in ran]
    caught = [test for test in bug.tests if test in failed]
    verdict = not missing and len(caught) == len(bug.tests)
    print(f"{bug.name}: {len(caught)}/{len(bug.tests)} named tests fail {'PASS' if verdict else 'FAIL'}")
    for test in bug.tests:
        state = "did not run" if test in missing else ("fails (caught)" if test in failed else "PASSES (missed)")
        print(f"  {test}: {state}")
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one bug, by a word of its name")
    parser.add_argument("--discover", nargs="+", metavar="TEST", help="with --only: list which of these tests fail")
    options = parser.parse_args()
    if options.discover:
        bug = next(bug for bug in BUGS if options.only and options.only in bug.name)
        with tempfile.TemporaryDirectory(prefix="intake-named-bug-") as scratch:
            copy_tree(Path(scratch))
            plant(Path(scratch), bug)
            ran, failed = failed_tests(Path(scratch), tuple(options.discover))
        print(f"{bug.name}: {len(failed)} of {len(ran)} fail", *sorted(failed), sep="\n  ")
        return 0
    results = [check(bug) for bug in BUGS if not options.only or options.only in bug.name]
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
