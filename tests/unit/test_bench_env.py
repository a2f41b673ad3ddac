"""`make bench` stops the servers it starts even when one ignores SIGTERM, instead of crashing after its figures."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.env import stop

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    # Given a child that ignores SIGTERM
    child = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    # When it is stopped with a short grace period
    started = time.monotonic()
    stop(child, grace_seconds=0.5)
    # Then it is gone (killed, not waited for its minute), and no TimeoutExpired escaped
    assert child.returncode is not None and child.returncode < 0
    assert time.monotonic() - started < 15


def test_a_process_that_exits_on_sigterm_is_just_waited_for() -> None:
    # Given a child that exits on SIGTERM, when it is stopped, then it ended by SIGTERM, not SIGKILL
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stop(child, grace_seconds=10)
    assert child.returncode == -15
