"""Issue 13, finding 2 over the running local stack: each spreadsheet bomb, dropped with `aws s3 cp`, ends REJECTED with
its code within seconds, and the API stays answering while it validates.

The validator's work for each bomb is counted by the unit tests (tests/unit/bulk/test_spreadsheet_bombs.py: bytes read,
bytes unpacked, rows handed on); here the bound is the wall time from the drop to REJECTED (which includes the poller's
wait and the report written), and GET /health sampled meanwhile answers within 1 s.

"Answers within 1 s" is judged on the samples as a whole: at least 90 % of them under 1 s, and none over 3 s. On a
2-core CI machine the other xdist worker's stack can stall one request past a second for reasons that have nothing to do
with the bomb (one sample of 30 took 1.18 s once). A validator that held the API up (what finding 2 was) stalls the
requests made while it runs, for as long as it runs: a bomb that took the validator's 5 s budget to reject would stall
the API that long, so it shows up as samples past 3 s or as many past 1 s.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import aws_cli, token
from tests.unit.bulk.test_spreadsheet_bombs import (
    HEADER,
    LEARNER,
    LEARNER_ROW,
    SHEET,
    sheet_xml,
    workbook_parts,
    zip_bomb,
    zipped,
)

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
FACILITY = "north-cedar-creek"
STAFF = "cedar-creek-admin"
WALL_BOUND_SECONDS = 15.0  # drop to REJECTED, poll interval and report included
HEALTH_BOUND_SECONDS = 1.0  # at least HEALTH_SHARE_WITHIN of the samples answer within it
HEALTH_SHARE_WITHIN = 0.9
HEALTH_HARD_BOUND_SECONDS = 3.0  # no sample at all takes longer
WAIT_SECONDS = 120


def row_number_bomb() -> bytes:
    return zipped(workbook_parts(**{SHEET: sheet_xml(f'<row r="999999999999">{LEARNER_ROW}</row>')}))


def billion_laughs() -> bytes:
    from tests.unit.bulk.test_spreadsheet_bombs import BILLION_LAUGHS, NS

    bomb = BILLION_LAUGHS + f'<sst {NS} count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    return zipped(workbook_parts(**{"xl/sharedStrings.xml": bomb.encode()}))


def million_columns_csv() -> bytes:
    return f"{HEADER}\n{LEARNER}{',x' * 1_000_000}\n".encode()


BOMBS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "row-number": (row_number_bomb, "xlsx", "TOO_MANY_ROWS"),
    "zip-bomb": (zip_bomb, "xlsx", "TOO_LARGE"),
    "billion-laughs": (billion_laughs, "xlsx", "INVALID_SPREADSHEET"),
    "million-columns": (million_columns_csv, "csv", "TOO_MANY_COLUMNS"),
}


def uploads(stack: Stack, bearer: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack['apiUrl']}/facilities/{FACILITY}/uploads", headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return list(response.json()["uploads"])


def health_seconds(stack: Stack) -> float:
    started = time.monotonic()
    response = requests.get(f"{stack['apiUrl']}/health", timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    return elapsed


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_dropped_bomb_ends_rejected_quickly_while_the_api_answers(
    local_stack: Stack, tmp_path: Path, bomb: str
) -> None:
    # Given a bomb file, and a staff member of the facility
    build, extension, code = BOMBS[bomb]
    name = f"bomb-{bomb}-{uuid.uuid4().hex[:8]}.{extension}"
    local = tmp_path / name
    local.write_bytes(build())
    bearer = token(local_stack, STAFF)

    # When it is dropped into the facility's incoming/ folder with the AWS CLI, GET /health sampled all along
    health: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            health.append(health_seconds(local_stack))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    dropped = time.monotonic()
    try:
        aws_cli(local_stack, "s3", "cp", str(local), f"s3://{local_stack['uploadsBucket']}/incoming/{FACILITY}/{name}")
        seen: list[dict[str, Any]] = []
        while time.monotonic() - dropped < WAIT_SECONDS:
            seen = [upload for upload in uploads(local_stack, bearer) if upload["fileName"] == name]
            if seen and seen[0]["status"] not in {"AWAITING_FILE", "VALIDATING"}:
                break
            time.sleep(0.2)
        took = time.monotonic() - dropped
        time.sleep(0.3)  # a few samples more after it ended
    finally:
        done.set()
        sampler.join(timeout=15)

    # Then its upload ended REJECTED with the bomb's code, within seconds of the drop (the CLI's own start included)
    assert seen and seen[0]["status"] == "REJECTED", seen
    assert [error["code"] for error in seen[0]["errors"]] == [code], seen[0]["errors"]
    print(
        f"{bomb}: REJECTED {code} {took:.2f} s after the drop began; /health max {max(health):.3f} s of {len(health)}"
    )
    assert took < WALL_BOUND_SECONDS
    # and the API answered within a second all along: nine samples in ten, and none took over three seconds
    assert len(health) >= 5, health
    within = [seconds for seconds in health if seconds < HEALTH_BOUND_SECONDS]
    assert len(within) >= HEALTH_SHARE_WITHIN * len(health), health
    assert max(health) < HEALTH_HARD_BOUND_SECONDS, health
