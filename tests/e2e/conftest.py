"""The local stack as a subprocess (`python -m local.local_stack`, as `make run` starts it) on free ports."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Intake local stack ready"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
# The session stack's template parameters: a learner's first lockout lasts 1 s (60 deployed) so tests can wait it out
SESSION_PARAMETER_OVERRIDES = "LearnerLockoutSeconds=1"
PYTHONPATH = os.pathsep.join(
    str(REPO_ROOT / part)
    for part in (
        "layers/common",
        "functions/api",
        "functions/validator",
        "functions/worker",
        "functions/deadletter",
        "functions/sweeper",
        ".",
    )
)

Stack = dict[str, Any]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cognito(stack: Stack) -> Any:
    """A cognito-idp client of the stack's embedded AWS."""
    return stack_client(stack, "cognito-idp")


def token(stack: Stack, username: str, client_id: str | None = None) -> str:
    """An ID token of a seeded staff member, from InitiateAuth (USER_PASSWORD_AUTH) as any client gets one."""
    password = next(s["password"] for s in stack["staff"] if s["username"] == username)
    result = cognito(stack).initiate_auth(
        ClientId=client_id or stack["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def _log_tail(log_file: Path, lines: int = 40) -> str:
    text = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if READY_LINE in log_file.read_text(encoding="utf-8", errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{_log_tail(log_file)}")
        time.sleep(0.2)
    pytest.fail(f"the local stack was not ready after {START_TIMEOUT_SECONDS} s:\n{_log_tail(log_file)}")


@contextmanager
def running_local_stack(workdir: Path, *, seed: bool, parameter_overrides: str = "") -> Iterator[Stack]:
    """`make run` in a subprocess on free ports, writing its state and log under workdir; stopped with SIGINT.

    `parameter_overrides` are the template's parameters as `sam deploy --parameter-overrides` takes them
    ("Name=value Name=value"), for the stack's INTAKE_PARAMETER_OVERRIDES."""
    state_file = workdir / "local-stack.json"
    log_file = workdir / "local-stack.log"
    env = {
        **os.environ,
        "INTAKE_API_PORT": str(free_port()),
        "INTAKE_AWS_PORT": str(free_port()),
        "INTAKE_SFTP_PORT": str(free_port()),
        "INTAKE_STATE_FILE": str(state_file),
        "INTAKE_SEED": "1" if seed else "0",
        "PYTHONPATH": PYTHONPATH,
        "PYTHONUNBUFFERED": "1",
        "INTAKE_PARAMETER_OVERRIDES": parameter_overrides,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.local_stack"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(process, log_file)
        yield json.loads(state_file.read_text(encoding="utf-8"))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"the local stack did not stop on SIGINT:\n{_log_tail(log_file)}")
    assert code == 0, f"the local stack exited with {code}:\n{_log_tail(log_file)}"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The running local stack's state file (apiUrl, awsEndpoint, seeded agencies and staff); stopped with SIGINT.

    When the session's e2e tests are done, every object of the bucket is checked for plaintext passwords before the
    stack stops (issue 13): see `plaintext_password_places` (test_password_scan_e2e.py shows it finds a planted one).
    Its first learner lockout lasts 1 s (SESSION_PARAMETER_OVERRIDES), for tests/e2e/test_sign_in_e2e.py."""
    stack_dir = tmp_path_factory.mktemp("local-stack")
    with running_local_stack(stack_dir, seed=True, parameter_overrides=SESSION_PARAMETER_OVERRIDES) as stack:
        yield stack
        places, scanned = plaintext_password_places(stack)
        assert not places, f"plaintext passwords left after the e2e tests ({scanned} objects scanned): {places}"


UNFINISHED_STATUSES = {"AWAITING_FILE", "VALIDATING", "VALIDATED", "VALIDATED_WITH_ERRORS", "CREATING"}


def plaintext_password_places(stack: Stack) -> tuple[list[str], int]:
    """Objects that may hold a plaintext password where none belongs, and how many objects were looked at.

    Allowed: incoming/ objects of unfinished uploads (the raw file until validation has sealed it) and the
    confirmer's passwords/ copy within its 24 hours. Everywhere else a password cell of a CSV is empty, and a plan
    entry holds no `password`, only a `sealedPassword` (AES-GCM, never the text)."""
    s3, dynamodb = stack_client(stack, "s3"), stack_client(stack, "dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "upload" in name.lower())
    uploads = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]
    now = datetime.now(UTC).isoformat()
    raw_allowed = {u["objectKey"]["S"] for u in uploads if u["status"]["S"] in UNFINISHED_STATUSES and "objectKey" in u}
    copies_allowed = {
        u["resultPasswordsKey"]["S"] for u in uploads if "resultPasswordsKey" in u and u["passwordsUntil"]["S"] > now
    }
    places, scanned = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack["uploadsBucket"]):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            scanned += 1
            if key in raw_allowed or key in copies_allowed:
                continue
            if key.startswith(("incoming/", "passwords/")):
                places.append(key)
                continue
            body = s3.get_object(Bucket=stack["uploadsBucket"], Key=key)["Body"].read().decode("utf-8", "replace")
            part = "/results/" in key  # a result part under plans/: headerless, its password cells sealed
            plan_leaks = key.endswith(".json") and '"password"' in body
            if plan_leaks or (key.endswith(".csv") and _password_cells(body, header=not part)):
                places.append(key)
    return places, scanned


def _password_cells(text: str, header: bool) -> bool:
    """Whether a report (or a headerless result part) has a non-empty password cell."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if header:
        if not rows or "password" not in rows[0]:
            return False
        column, rows = rows[0].index("password"), rows[1:]
    else:
        from intake.bulk.creation import PASSWORD_COLUMN as column  # sealed cells: only a plaintext one leaks

        return any(len(row) > column and row[column] and not _sealed(row[column]) for row in rows)
    return any(len(row) > column and row[column] for row in rows)


def _sealed(cell: str) -> bool:
    try:
        return len(base64.b64decode(cell, validate=True)) >= 28  # nonce (12) + tag (16) at least
    except ValueError:
        return False


@pytest.fixture(scope="session")
def id_token() -> Callable[..., str]:
    """`id_token(stack, username)`: an ID token of a seeded staff member."""
    return token


def tablet_token(stack: Stack) -> str:
    """An access token of the tablet platform's app client, from the token endpoint as the tablet gets one: POST
    {tokenUrl} with grant_type=client_credentials, the client id and secret in HTTP Basic (the state file's
    tabletClient)."""
    client = stack["tabletClient"]
    response = requests.post(
        client["tokenUrl"],
        data={"grant_type": "client_credentials", "scope": client["scope"]},
        auth=(client["clientId"], client["clientSecret"]),
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and int(body["expires_in"]) > 0, body
    return str(body["access_token"])


@pytest.fixture(scope="session")
def tablet_access_token(local_stack: Stack) -> str:
    """One access token of the tablet client for the session (Cognito's last 60 minutes)."""
    return tablet_token(local_stack)


@pytest.fixture(scope="session")
def cognito_client(local_stack: Stack) -> Any:
    """A cognito-idp client of the running stack's embedded AWS."""
    return cognito(local_stack)


AWS_CLI = Path(sys.executable).with_name("aws")
CLI_TIMEOUT_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 60


def aws_cli(stack: Stack, *args: str) -> str:
    """Run the venv's AWS CLI against the stack's embedded AWS with dummy credentials; its stdout."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=stack["region"])
    result = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", stack["awsEndpoint"], "--region", stack["region"], *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"aws {args[:2]} exited with {result.returncode}: {result.stderr[-2000:]}"
    return result.stdout


def cli_token(stack: Stack, username: str) -> str:
    """An ID token of a seeded staff member from `aws cognito-idp initiate-auth`, as the README gets one."""
    password = next(s["password"] for s in stack["staff"] if s["username"] == username)
    out = aws_cli(
        stack,
        "cognito-idp",
        "initiate-auth",
        "--auth-flow",
        "USER_PASSWORD_AUTH",
        "--client-id",
        stack["userPoolClientId"],
        "--auth-parameters",
        f"USERNAME={username},PASSWORD={password}",
        "--query",
        "AuthenticationResult.IdToken",
        "--output",
        "text",
    )
    return out.strip()


def staff_named(stack: Stack, role: str, facility_id: str | None = None) -> str:
    """The username of a seeded staff member with this role (and this facility in scope, when given)."""
    return next(
        s["username"]
        for s in stack["staff"]
        if s["role"] == role and (facility_id is None or facility_id in s["facilityIds"])
    )


def stack_client(stack: Stack, service: str) -> Any:
    """A boto3 client of the stack's embedded AWS (to read what the handlers stored, as an operator could)."""
    return boto3.session.Session().client(
        service,
        region_name=stack["region"],
        endpoint_url=stack["awsEndpoint"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class Api:
    """HTTP calls to the stack's API with Cognito ID tokens obtained through the AWS CLI (one per user, cached)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        """The user's ID token (fetched once per session)."""
        if username not in self._tokens:
            self._tokens[username] = cli_token(self.stack, username)
        return self._tokens[username]

    def call(self, method: str, path: str, username: str | None, body: Any = None, **kwargs: Any) -> requests.Response:
        """One request as `username` (None: no Authorization header)."""
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return requests.request(
            method, self.stack["apiUrl"] + path, json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS, **kwargs
        )


@pytest.fixture(scope="session")
def api(local_stack: Stack) -> Api:
    """HTTP access to the running stack's API as any seeded staff member."""
    return Api(local_stack)
