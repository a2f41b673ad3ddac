"""Shared fixtures: an embedded AWS (moto) with the template's resources, a seeded directory, a Lambda context."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before anything imports boto3: never reach a real AWS account from a test.
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "intake",
    "POWERTOOLS_METRICS_NAMESPACE": "Intake",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


def _share_botocore_loader() -> None:
    """Every botocore session the tests make (Intake's clients, PynamoDB's connections, Powertools', moto set-up)
    reads the service models through one loader. Each new session would otherwise parse the same JSON again: about
    150 ms a client, and most of a moto test's time, since each test makes its clients anew. The models are
    read-only data, shared as they are by every client of one session."""
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        return shared if search_path_string is None else botocore.loaders.create_loader(search_path_string)

    botocore.session.create_loader = create_loader


_share_botocore_loader()

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A Lambda event from tests/events."""
    return json.loads((EVENTS / name).read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "intake-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:intake-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 120_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def reset_intake_caches() -> None:
    """Forget settings, clients and table bindings cached by an earlier test."""
    from intake import confirming, facility_access
    from intake.bulk import worker
    from intake.dal import aws, tables, users
    from intake.settings import get_settings

    get_settings.cache_clear()
    aws.reset_clients()
    users.forget_totp_checks()
    facility_access.forget_all()
    tables.bind_tables.cache_clear()
    confirming.persistence.unbind()
    worker.persistence.unbind()


@contextmanager
def moto_resources(patch: pytest.MonkeyPatch, *, user_pool: bool = False) -> Iterator[Any]:
    """moto with every table, queue and the bucket of template.yaml (and the staff user pool, if asked), the
    handlers' environment set from it; Intake's cached clients and settings made anew on entry and on exit."""
    from moto import mock_aws

    from local.moto_atomic import make_dynamodb_atomic
    from local.resources import provision, provision_user_pool

    make_dynamodb_atomic()
    with mock_aws():
        resources = provision("us-east-1")
        for name, value in resources.environment().items():
            patch.setenv(name, value)
        if user_pool:
            pool = provision_user_pool("us-east-1")
            resources.user_pool_id, resources.user_pool_client_id = pool.pool_id, pool.client_id
            resources.tablet_client_id = pool.tablet_client_id
            patch.setenv("USER_POOL_ID", pool.pool_id)
            patch.setenv("TABLET_CLIENT_ID", pool.tablet_client_id)
        reset_intake_caches()
        yield resources
    reset_intake_caches()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with every table, queue and the bucket of template.yaml; the handlers' environment set from it."""
    with moto_resources(monkeypatch) as resources:
        yield resources


AGENCY_A, AGENCY_B = "ag-north", "ag-south"
FAC_A1, FAC_A2, FAC_B1 = "fac-ridge", "fac-lake", "fac-bay"
UNIT_A1, UNIT_A1B, UNIT_A2, UNIT_B1 = "unit-ridge-a", "unit-ridge-b", "unit-lake-a", "unit-bay-a"


@pytest.fixture
def directory(aws: Any) -> dict[str, Any]:
    """Two agencies, three facilities with housing units, and staff of every role (written through the DAL)."""
    from intake.dal import directory as locations
    from intake.dal import staff
    from intake.domain import Agency, Location, LocationKind, Role, StaffMember

    for agency_id in (AGENCY_A, AGENCY_B):
        locations.put_agency(Agency(agency_id=agency_id, name=agency_id.title()))
    for facility_id, agency_id, units in (
        (FAC_A1, AGENCY_A, (UNIT_A1, UNIT_A1B)),
        (FAC_A2, AGENCY_A, (UNIT_A2,)),
        (FAC_B1, AGENCY_B, (UNIT_B1,)),
    ):
        locations.put_location(
            Location(
                location_id=facility_id,
                name=facility_id,
                agency_id=agency_id,
                facility_id=facility_id,
                kind=LocationKind.FACILITY,
            )
        )
        for unit in units:
            locations.put_location(
                Location(
                    location_id=unit,
                    name=unit,
                    agency_id=agency_id,
                    facility_id=facility_id,
                    kind=LocationKind.HOUSING_UNIT,
                )
            )
    people = {
        "sys": StaffMember(username="sys", role=Role.SYSTEM_ADMIN),
        "north": StaffMember(username="north", role=Role.AGENCY_ADMIN, agency_id=AGENCY_A),
        "ridge": StaffMember(username="ridge", role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_ids=(FAC_A1,)),
        "lake": StaffMember(username="lake", role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_ids=(FAC_A2,)),
        "teacher": StaffMember(username="teacher", role=Role.EDUCATOR, agency_id=AGENCY_A, facility_ids=(FAC_A1,)),
        "bay": StaffMember(username="bay", role=Role.FACILITY_ADMIN, agency_id=AGENCY_B, facility_ids=(FAC_B1,)),
    }
    for person in people.values():
        staff.put_staff(person)
    return people


@pytest.fixture
def call_api(aws: Any, lambda_context: FakeLambdaContext):
    """Call the API handler as API Gateway would, with the claims of a user (or none)."""
    import api_handler

    def call(
        method: str,
        path: str,
        user: str | None = None,
        body: Any = None,
        query: dict | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, Any, dict]:
        event = copy.deepcopy(load_event("api_request.json"))
        event["httpMethod"] = method
        event["path"] = path
        event["requestContext"]["httpMethod"] = method
        event["requestContext"]["authorizer"] = (
            {"claims": {"cognito:username": user, "token_use": "id"}} if user else {}
        )
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        response = api_handler.lambda_handler(event, lambda_context)
        headers = dict(response.get("headers") or {})
        headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
        content_type = headers.get("Content-Type", "")
        payload = json.loads(response["body"]) if content_type.startswith("application/json") else response["body"]
        return response["statusCode"], payload, headers

    return call
