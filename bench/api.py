"""The local API over loopback: requests/s of GET /health and POST /learners against a bare Argon2id hash."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from bench.env import ROOT, child_environment, stop

READY = "Intake local stack ready"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_stack() -> Iterator[dict[str, Any]]:
    """`make run`'s stack on free ports, seeded; its state document while it runs."""
    with tempfile.TemporaryDirectory() as scratch:
        state_file = Path(scratch) / "state.json"
        env = child_environment()
        env.update(  # every service on a port of its own, so the bench runs beside a `make run` stack
            INTAKE_API_PORT=str(_free_port()),
            INTAKE_AWS_PORT=str(_free_port()),
            INTAKE_SFTP_PORT=str(_free_port()),
            INTAKE_STATE_FILE=str(state_file),
        )
        stack = subprocess.Popen(
            [sys.executable, "-m", "local.local_stack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert stack.stdout is not None
            for line in stack.stdout:
                if READY in line:
                    break
            else:
                raise RuntimeError("the local stack stopped before it was ready")
            yield json.loads(state_file.read_text())
        finally:
            stop(stack, grace_seconds=30)


def _token(state: dict[str, Any]) -> tuple[str, str]:
    admin = next(member for member in state["staff"] if member["role"] == "FacilityAdmin")
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=state["awsEndpoint"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    answer = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=state["userPoolClientId"],
        AuthParameters={"USERNAME": admin["username"], "PASSWORD": admin["password"]},
    )
    facility = next(
        f for agency in state["agencies"] for f in agency["facilities"] if f["facilityId"] in admin["facilityIds"]
    )
    return answer["AuthenticationResult"]["IdToken"], facility["housingUnits"][0]["locationId"]


def _timed(url: str, requests: list[tuple[str, str, dict[str, str], bytes | None]], expect: int) -> float:
    """Wall seconds to send these requests one after another, each on a new connection (as the server closes it)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    for method, path, headers, body in requests:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status}")
    return time.perf_counter() - started


def measure(health_requests: int, learner_requests: int) -> dict[str, float]:
    """Requests/s of each route and hashes/s of bare Argon2id, wall clock, on this machine now."""
    from bench.dynamo import bare_hash_seconds

    with local_stack() as state:
        token, location_id = _token(state)
        url = state["apiUrl"]
        _timed(url, [("GET", "/health", {}, None)] * 5, 200)  # the handler's first import is not a request's cost
        health = _timed(url, [("GET", "/health", {}, None)] * health_requests, 200)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bodies = [
            json.dumps(
                {
                    "docId": str(5_000_000 + n),
                    "firstName": "Bench",
                    "lastName": "Learner",
                    "dateOfBirth": "03/14/1988",
                    "locationId": location_id,
                    "password": f"Bench-pass-{n:06d}",
                }
            ).encode()
            for n in range(learner_requests)
        ]
        learners = _timed(url, [("POST", "/learners", headers, body) for body in bodies], 201)
    _, hash_wall = bare_hash_seconds([f"Bench-pass-{n:06d}" for n in range(learner_requests)])
    return {
        "health_per_second": health_requests / health,
        "learners_per_second": learner_requests / learners,
        "hashes_per_second": learner_requests / hash_wall,
    }
