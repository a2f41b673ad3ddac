"""schemathesis against the running local stack's own OpenAPI document, with every check on, for a token of each role.

The schemathesis CLI runs (as CI or a person would run it) with `--checks all` (not_a_server_error, status code,
content type, response schema and header conformance, negative data rejection, positive data acceptance,
unsupported methods, missing required headers, ignored auth...) plus the contract's own check
(`schemathesis_hooks.contract_error_body`: every error body is `{code, message}`), over the examples, coverage
(undeclared methods, malformed and unsupported content types, boundary values) and fuzzing phases.

`INTAKE_FUZZ_EXAMPLES` (default 3 per operation) bounds the run; deterministic, so CI sees the same requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PYTHONPATH, running_local_stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "3"))
RUN_TIMEOUT_SECONDS = 300
# API Gateway's own integration limit (29 s), not schemathesis' default of 10 s: on a loaded 2-core CI machine the
# local stack's slowest requests (500 learner cards with new passwords: 500 Argon2id hashes) can pass 10 s, which
# schemathesis reports as a network error, though the deployed API would answer them.
REQUEST_TIMEOUT_SECONDS = 29
# Lowest role first: a run may change staff below its own role (POST /staff/{username}/scope with a seeded
# username), so a higher role's run must not come before a lower role's token is used.
ROLES = ("Educator", "FacilityAdmin", "AgencyAdmin", "SystemAdmin")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

# Failures accepted, each with its reason: (failure code, operation) → why the document cannot say it.
# Anything else schemathesis reports fails this test.
ACCEPTED: dict[tuple[str, str], str] = {
    ("ST202", "POST /learners"): (
        "the document has intake.rules' DOC ID, name, date and password patterns; still refused: a name's non-ASCII "
        "characters that are not letters (Unicode's categories: beyond a portable pattern), a date that is not real "
        "(02/30) or not an age of 10 to 110 today (state), a password the facility's rule refuses (state)"
    ),
    ("ST202", "POST /staff"): (
        "the document has the grant's rules per role (oneOf on role); still refused: an agencyId that is no agency, "
        "facilityIds that are not facilities of that agency (state)"
    ),
    ("ST202", "POST /staff/{username}/scope"): "as POST /staff: the agency and its facilities must exist (state)",
    ("ST202", "POST /staff/{username}/grants"): (
        "the document has each role's grant (oneOf on role); still refused: a facilityId that is no facility of the "
        "staff member's agency, or a staff member with no agency, a SystemAdmin (state)"
    ),
    ("ST202", "POST /staff/{username}/grants/remove"): (
        "as POST /staff/{username}/grants; and the grant must be one the staff member holds, not their last (state)"
    ),
    ("ST202", "GET /facilities/{facilityId}/learners"): (
        "`cursor` is opaque (only a nextCursor this facility's list gave, for the same status, is accepted: state); "
        "`locationId` must be a housing unit of this facility (state); `q` must keep a letter or digit once accents, "
        "case and punctuation are dropped (intake.rules.search_key, Unicode-aware: beyond a portable JSON Schema regex)"
    ),
    ("ST202", "PATCH /learners/{learnerId}"): (
        "as POST /learners: a name's non-ASCII characters that are not letters, a date not real or not an age of 10 to "
        "110 today (state); and a locationId of the learner's own facility (state)"
    ),
    ("ST202", "POST /learners/{learnerId}/move"): (
        "the destination must exist in the learner's agency, be active, in the requestor's scope and not where the "
        "learner already is (state)"
    ),
    ("ST202", "POST /facilities/{facilityId}/settings"): (
        "maxUploadBytes and maxUploadRows are capped by the deployment's own system limits (settings of the stack, "
        "shown in the GET answer), and a password rule's blankFormat must meet the rule it is part of"
    ),
    ("ST202", "GET /facilities/{facilityId}/uploads"): (
        "`cursor` is opaque: only a nextCursor this facility's list gave is accepted (state); any other is a 400"
    ),
}


def _staff_of(stack: dict[str, Any], role: str) -> str:
    return next(s["username"] for s in stack["staff"] if s["role"] == role)


def _run(stack: dict[str, Any], token: str, report: Path) -> dict[str, Any]:
    """One schemathesis CLI run against the stack with every check; its JSON report."""
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{stack['apiUrl']}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--no-shrink",
        "--continue-on-failure",
        "--request-timeout",
        str(REQUEST_TIMEOUT_SECONDS),
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # Run outside the repository: schemathesis keeps a cache of past failures (replayed next time) in its cwd.
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"}
    result = subprocess.run(
        command, cwd=report.parent, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )
    assert report.exists(), f"schemathesis wrote no report ({result.returncode}):\n{result.stdout[-4000:]}"
    parsed: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    parsed["_output"] = result.stdout[-8000:]
    if os.environ.get("ST_DEBUG"):
        Path("/tmp/st_full.txt").write_text(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded stack of this module's own: generated requests change staff, settings and locations at random, which
    must not reach the other e2e tests that share the session's stack."""
    with running_local_stack(tmp_path_factory.mktemp("schemathesis-stack"), seed=True) as stack:
        yield stack


@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_openapi_document_for_every_role(
    local_stack: dict[str, Any], id_token, role: str, tmp_path: Path
) -> None:
    # Given a token of a seeded staff member of this role
    token = id_token(local_stack, _staff_of(local_stack, role))
    # When schemathesis runs every check over every operation of the served document
    report = _run(local_stack, token, tmp_path / "report.json")
    # Then it tested every operation, through the coverage phase (undeclared methods and content types) too
    assert report["complete"] and not report["errors"], report["_output"]
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0
    assert report["phases"]["coverage"]["status"] != "skip", report["phases"]
    # And no failure but the accepted ones: 0 server errors, 0 error bodies outside {code, message}
    found = {(failure["code"], operation) for failure in report["failures"] for operation in failure["operations"]}
    unexpected = sorted(found - set(ACCEPTED))
    assert not unexpected, f"{unexpected}\n{report['_output']}"
    server_errors = [failure for failure in report["failures"] if failure["type"] == "ServerError"]
    assert not server_errors
