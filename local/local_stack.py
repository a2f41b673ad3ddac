"""`make run`: moto server, the template's resources, a Cognito pool, demo data, the HTTP API and SQS pollers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import socket
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import boto3

from local.local_api import API_FUNCTION_ID, LocalApi, TokenVerifier, api_routes, cors_headers, serve
from local.pollers import join_pollers, start_pollers
from local.resources import LocalResources, LocalUserPool, provision, provision_user_pool
from local.schedules import start_schedules
from local.sftp import LocalSftpServer, start_sftp
from local.token_endpoint import TOKEN_PATH, TokenEndpoint

log = logging.getLogger("local.local_stack")

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
READY_LINE = "Intake local stack ready"
DEFAULT_API_PORT = 3000
DEFAULT_AWS_PORT = 5000


def main() -> int:
    """Run the local stack until SIGINT or SIGTERM; 0 on a clean stop."""
    _configure_logging()
    stop = threading.Event()
    _install_signal_handlers(stop)
    api_port = int(os.environ.get("INTAKE_API_PORT") or DEFAULT_API_PORT)
    aws_port = int(os.environ.get("INTAKE_AWS_PORT") or DEFAULT_AWS_PORT)
    state_file = Path(os.environ.get("INTAKE_STATE_FILE") or REPO_ROOT / ".intake" / "local-stack.json")
    for name, port in (("INTAKE_AWS_PORT", aws_port), ("INTAKE_API_PORT", api_port)):
        if not _port_free(port):
            print(f"127.0.0.1:{port} is in use: stop what holds it or set {name}", file=sys.stderr, flush=True)
            return 2

    from local.dynamodb_requests import DynamoDbRequests, counting_moto_server
    from local.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()
    from local.moto_cognito import describe_new_password_challenge, find_users_by_srp_id

    find_users_by_srp_id()
    describe_new_password_challenge()  # an invited staff member's first sign-in on the page
    # DynamoDB requests counted by operation and table, read at {awsEndpoint}/__intake/dynamodb-requests
    moto_server = counting_moto_server("127.0.0.1", aws_port, DynamoDbRequests())
    moto_server.start()
    http_server = None
    pollers: list[threading.Thread] = []
    sftp: LocalSftpServer | None = None
    try:
        aws_endpoint = f"http://127.0.0.1:{aws_port}"
        _configure_aws_environment(aws_endpoint)
        resources = provision(REGION)
        pool = provision_user_pool(REGION)
        resources.user_pool_id, resources.user_pool_client_id = pool.pool_id, pool.client_id
        resources.tablet_client_id = pool.tablet_client_id
        os.environ.update(resources.environment())
        # EMF metrics would print a JSON document per invocation to the console; opt back in with =false.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

        entries: dict[str, list[dict[str, Any]]] = {"agencies": [], "staff": []}
        if os.environ.get("INTAKE_SEED", "1") != "0":
            from local.seed import seed

            cognito = boto3.session.Session().client("cognito-idp", region_name=REGION)
            entries = seed(resources, cognito, pool.pool_id, pool.client_id)

        api = _local_api(resources, aws_endpoint)
        api.token_endpoint = TokenEndpoint(
            cognito=boto3.session.Session().client("cognito-idp", region_name=REGION),
            region=REGION,
            user_pool_id=pool.pool_id,
            account_id=resources.account_id,
        )
        api_url = f"http://127.0.0.1:{api_port}"
        scim_clients = [scim_client_state(agency["agencyId"], api_url) for agency in entries["agencies"]]
        http_server, _ = serve(api, api_port)
        pollers = start_pollers(resources, stop)
        if entries["agencies"]:
            sftp = start_sftp(resources.bucket, entries["agencies"], state_file.parent, REGION)
        pollers += start_schedules(resources, stop)

        state = {
            "apiUrl": f"http://127.0.0.1:{api_port}",
            "awsEndpoint": aws_endpoint,
            "region": REGION,
            "uploadsBucket": resources.bucket,
            "userPoolId": pool.pool_id,
            "userPoolClientId": pool.client_id,
            "tabletClient": tablet_client_state(pool, f"http://127.0.0.1:{api_port}"),
            "scimClients": scim_clients,
            **entries,
            **(sftp.state() if sftp else {}),
        }
        _write_state(state_file, state)
        _print_instructions(state, state_file)
        print(READY_LINE, flush=True)
        while not stop.wait(0.5):
            pass
        log.info("stopping")
    finally:
        stop.set()
        if sftp is not None:
            sftp.stop()
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        join_pollers(pollers, timeout_seconds=10)
        moto_server.stop()
    return 0


def scim_client_state(agency_id: str, api_url: str) -> dict[str, str]:
    """The contract's `scimClients` entry of a seeded agency: a new SCIM app client bound to it (as `intake-admin
    scim-client create` makes one), the same token endpoint as the tablet client's, and the scope."""
    from intake.dal.scim import SCIM_SCOPE
    from intake.scim_service import create_client

    made = create_client(agency_id, "local-stack")
    return {
        "agencyId": agency_id,
        "clientId": made.client_id,
        "clientSecret": made.client_secret,
        "tokenUrl": api_url + TOKEN_PATH,
        "scope": SCIM_SCOPE,
    }


def tablet_client_state(pool: LocalUserPool, api_url: str) -> dict[str, str]:
    """The contract's `tabletClient`: the machine client's id and secret, its token endpoint and its scope."""
    return {
        "clientId": pool.tablet_client_id,
        "clientSecret": pool.tablet_client_secret,
        "tokenUrl": api_url + TOKEN_PATH,
        "scope": " ".join(pool.tablet_scopes),
    }


def _local_api(resources: LocalResources, aws_endpoint: str) -> LocalApi:
    function = resources.functions[API_FUNCTION_ID]
    api = LocalApi(
        routes=api_routes(API_FUNCTION_ID, resources.template_path),
        verifier=TokenVerifier(aws_endpoint, resources.region, resources.user_pool_id, resources.user_pool_client_id),
        function=function,
        region=resources.region,
        account_id=resources.account_id,
        cors_headers=cors_headers(resources.template_path),
    )
    try:
        api.load_handler()
    except Exception:
        log.exception("cannot load %s yet: requests answer 502 until it imports", function.handler)
    return api


def _configure_aws_environment(aws_endpoint: str) -> None:
    os.environ["AWS_ENDPOINT_URL"] = aws_endpoint
    os.environ["AWS_REGION"] = REGION
    os.environ["AWS_DEFAULT_REGION"] = REGION
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        os.environ.pop("AWS_SESSION_TOKEN", None)
    # A named profile that exists only on the developer's machine would make boto3 fail before reaching moto.
    os.environ.pop("AWS_PROFILE", None)


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Powertools warns on every invocation that records no metric besides the cold start.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _print_instructions(state: dict[str, Any], state_file: Path) -> None:
    lines = [
        f"API          {state['apiUrl']}",
        f"AWS (moto)   {state['awsEndpoint']}  region {state['region']}",
        f"User pool    {state['userPoolId']}  client {state['userPoolClientId']}",
        f"Bucket       {state['uploadsBucket']}",
        f"State file   {state_file}",
    ]
    if state["staff"]:
        lines.append("Staff (username / password / role):")
        lines += [f"  {s['username']:<22} {s['password']:<30} {s['role']}" for s in state["staff"]]
        first = state["staff"][0]
        auth = shlex.quote(f"USERNAME={first['username']},PASSWORD={first['password']}")
        lines += [
            "Get an ID token:",
            f"  TOKEN=$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url "
            f"{state['awsEndpoint']} --region {state['region']} cognito-idp initiate-auth "
            f"--auth-flow USER_PASSWORD_AUTH --client-id {state['userPoolClientId']} --auth-parameters {auth} "
            "--query AuthenticationResult.IdToken --output text)",
            "Call the API:",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {state["apiUrl"]}/facilities',
        ]
    tablet = state.get("tabletClient") or {}
    if tablet.get("clientId"):
        lines += [
            "Tablet platform (client credentials; secret in the state file's tabletClient):",
            f"  TABLET=$(curl -s -u {tablet['clientId']}:{tablet['clientSecret']} -d grant_type=client_credentials "
            f"-d scope={tablet['scope']} {tablet['tokenUrl']} | python3 -c 'import json,sys; "
            'print(json.load(sys.stdin)["access_token"])\')',
            f'  curl -s -H "Authorization: Bearer $TABLET" -H "Content-Type: application/json" -d '
            f'\'{{"agencyId": "...", "username": "...", "password": "..."}}\' '
            f"{state['apiUrl']}/learner-sign-ins",
        ]
    for scim in state.get("scimClients") or []:
        lines += [
            f"SCIM 2.0 for {scim['agencyId']}: tenant URL {state['apiUrl']}/scim/v2, token (secret in scimClients):",
            f"  curl -s -u {scim['clientId']}:{scim['clientSecret']} -d grant_type=client_credentials "
            f"-d scope={scim['scope']} {scim['tokenUrl']}",
        ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
