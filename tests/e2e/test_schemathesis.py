"""schemathesis against the running local stack's own OpenAPI document: every route, a FacilityAdmin's token, schema-
valid and schema-invalid requests; no 5xx, and every answer has a documented status, content type and body.

`INTAKE_FUZZ_EXAMPLES` (default 12 per operation and mode) bounds the run; derandomized so CI sees the same requests.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "12"))
# The seeded FacilityAdmin of one facility; learners it creates get DOC IDs no other e2e test uses.
FUZZER = "riverbend-admin"
DOC_ID_PREFIX = "FUZZ-"
# ignored_auth: after a 2xx, the same request without a token and with a forged one must be refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


@pytest.fixture(scope="module")
def fuzz_target(local_stack: dict[str, Any], id_token) -> dict[str, Any]:
    """The stack's URL, a FacilityAdmin token and the real ids of its facility (half the cases use them)."""
    member = next(s for s in local_stack["staff"] if s["username"] == FUZZER)
    assert member["role"] == "FacilityAdmin"
    facility_id = member["facilityIds"][0]
    facility = next(
        f for agency in local_stack["agencies"] for f in agency["facilities"] if f["facilityId"] == facility_id
    )
    return {
        "apiUrl": local_stack["apiUrl"],
        "token": id_token(local_stack, FUZZER),
        "facilityId": facility_id,
        "unitId": facility["housingUnits"][0]["locationId"],
    }


@pytest.fixture(scope="module")
def api_schema(fuzz_target: dict[str, Any]) -> Any:
    """The OpenAPI document the running API serves."""
    return schemathesis.openapi.from_url(f"{fuzz_target['apiUrl']}/openapi.json", timeout=30)


def _coin(value: Any) -> bool:
    """A stable yes/no from a generated value: half the cases aim at real ids, half at random ones."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 2 == 0


def _aim_at_real_ids(case: Any, target: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    if "facilityId" in params and _coin(params["facilityId"]):
        params["facilityId"] = target["facilityId"]
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if isinstance(body.get("facilityId"), str) and _coin(body["facilityId"]):
        body["facilityId"] = target["facilityId"]
    if isinstance(body.get("locationId"), str) and _coin(body["locationId"]):
        body["locationId"] = target["unitId"]
    if isinstance(body.get("docId"), str):
        # Never a DOC ID another e2e test relies on (the stack is shared).
        body["docId"] = DOC_ID_PREFIX + re.sub(r"[^A-Za-z0-9-]", "", body["docId"])[:40]


def _exercise(operation: Any, mode: GenerationMode, target: dict[str, Any], statuses: Counter[int]) -> None:
    """Send up to MAX_EXAMPLES generated requests of one operation and mode, counting the statuses answered."""
    session = requests.Session()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any) -> None:
        # Given a request generated from the served document (valid, or invalid on purpose), with the token
        _aim_at_real_ids(case, target)
        # When it is sent to the running API
        response = case.call(
            base_url=target["apiUrl"], session=session, headers={"Authorization": f"Bearer {target['token']}"}
        )
        statuses[response.status_code] += 1
        # Then no 5xx, a documented status, content type and body, the token enforced; an invalid request gets a 4xx
        checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
        case.validate_response(response, checks=checks)

    run()


def test_api_conforms_to_its_openapi_document(api_schema: Any, fuzz_target: dict[str, Any]) -> None:
    # Given every operation of the document the running API serves
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"GET /health", "POST /learners", "POST /uploads/{uploadId}/confirm"} <= labels
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {label: Counter() for label in labels}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, fuzz_target, statuses[label])
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid (no body, no query, plain strings)
            except (Exception, BaseExceptionGroup) as failure:  # a failed check: report every operation at the end
                failures.append(f"{label} ({mode.value}): {failure}")
    # Then none failed a check
    assert not failures, "\n\n".join(failures)
    # And every operation was exercised past the authorizer (the token works), with successes where ids were real
    assert all(set(counts) - {401} for counts in statuses.values()), statuses
    for label in ("GET /facilities", "GET /facilities/{facilityId}/template", "POST /uploads", "GET /learners"):
        assert any(200 <= status < 300 for status in statuses[label]), (label, statuses[label])
