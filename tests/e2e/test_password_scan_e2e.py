"""The end-of-session scan for plaintext passwords (tests/e2e/conftest.py) finds what it is there to find."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Stack, plaintext_password_places, stack_client

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("reports/planted/u1/results.csv", "\ufeffline,docID,password\r\n2,100201,Plain-Pass-77\r\n"),
        ("plans/planted/u1/chunk-000000.json", json.dumps([{"line": 2, "password": "Plain-Pass-77"}])),
        ("plans/planted/u1/results/000000-000000-0001.csv", "2,,100201,A,B,id,loc,CREATED,Plain-Pass-77,\r\n"),
        ("passwords/planted/u1/results.csv", "line,password\r\n2,Plain-Pass-77\r\n"),
    ],
    # (an incoming/ object cannot be planted: the validator deletes what is not an unfinished upload's at once)
    ids=["report", "plan", "result-part", "copy-of-no-upload"],
)
def test_a_planted_password_is_found(local_stack: Stack, key: str, body: str) -> None:
    # Given an object holding a plaintext password where none belongs
    s3 = stack_client(local_stack, "s3")
    s3.put_object(Bucket=local_stack["uploadsBucket"], Key=key, Body=body.encode())
    try:
        # When the bucket is scanned, then it is found, among more than one object looked at
        places, scanned = plaintext_password_places(local_stack)
        assert key in places and scanned >= 1
    finally:
        s3.delete_object(Bucket=local_stack["uploadsBucket"], Key=key)
    # And without it nothing is found
    assert key not in plaintext_password_places(local_stack)[0]
