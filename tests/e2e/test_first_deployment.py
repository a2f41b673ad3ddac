"""README's "First deployment", step by step, against the local stack started empty, with only intake-admin and HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import running_local_stack

pytestmark = pytest.mark.e2e

TIMEOUT = 30
INTAKE_ADMIN = Path(sys.executable).with_name("intake-admin")
LOCATIONS_CSV = (
    "agencyId,agencyName,facilityId,facilityName,housingUnitId,housingUnitName\n"
    "state-doc,State Department of Corrections,cedar,Cedar Creek Correctional Center,cedar-a,Cedar Creek Unit A\n"
    "state-doc,State Department of Corrections,cedar,Cedar Creek Correctional Center,cedar-b,Cedar Creek Unit B\n"
)


@pytest.fixture(scope="module")
def empty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`INTAKE_SEED=0 make run`: the local stack with no agencies, locations or staff."""
    workdir = tmp_path_factory.mktemp("empty-stack")
    with running_local_stack(workdir, seed=False) as stack:
        yield {**stack, "workdir": workdir}


def intake_admin(stack: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, run as an operator would: no PYTHONPATH, the AWS CLI's kind of options."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    command = [str(INTAKE_ADMIN), "--endpoint", stack["awsEndpoint"], "--region", stack["region"], *args]
    return subprocess.run(command, env=env, cwd=stack["workdir"], capture_output=True, text=True, timeout=120)


def post(stack: dict[str, Any], path: str, token: str, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(stack["apiUrl"] + path, json=body, headers=headers, timeout=TIMEOUT)


def test_first_deployment_steps_from_an_empty_stack(empty_stack: dict[str, Any]) -> None:
    stack = empty_stack
    assert INTAKE_ADMIN.exists(), "make install installs the intake-admin command"
    # Given the local stack started empty
    assert stack["agencies"] == [] and stack["staff"] == []

    # When (1) the first SystemAdmin is bootstrapped, twice
    first = intake_admin(stack, "bootstrap", "--username", "root")
    again = intake_admin(stack, "bootstrap", "--username", "root")
    # Then a temporary password is printed once, and the second run changes nothing
    assert first.returncode == 0, first.stderr
    temporary = first.stdout.strip().splitlines()[-1]
    assert again.returncode == 0 and "nothing to do" in again.stdout and temporary not in again.stdout

    # When (2) root signs in for the first time, setting a password
    signed_in = intake_admin(
        stack, "token", "--username", "root", "--password", temporary, "--new-password", "Root-Passw0rd!x"
    )
    assert signed_in.returncode == 0, signed_in.stderr
    token = signed_in.stdout.strip()

    # When (3) an agency and a facility with a unit are created by API, and the rest loaded from a CSV (twice)
    agency = post(stack, "/agencies", token, {"agencyId": "state-doc", "name": "State Department of Corrections"})
    facility = post(
        stack,
        "/facilities",
        token,
        {"agencyId": "state-doc", "facilityId": "cedar", "name": "Cedar Creek Correctional Center"},
    )
    unit = post(
        stack, "/facilities/cedar/housing-units", token, {"locationId": "cedar-a", "name": "Cedar Creek Unit A"}
    )
    assert (agency.status_code, facility.status_code, unit.status_code) == (201, 201, 201)
    (stack["workdir"] / "locations.csv").write_text(LOCATIONS_CSV, encoding="utf-8")
    loaded = intake_admin(stack, "load-locations", "locations.csv")
    reloaded = intake_admin(stack, "load-locations", "locations.csv")
    # Then the CSV adds only the missing unit, and loading it again changes nothing
    assert loaded.returncode == 0 and loaded.stdout.startswith("1 created, 0 renamed"), loaded.stdout + loaded.stderr
    assert reloaded.returncode == 0 and reloaded.stdout.startswith("0 created, 0 renamed"), reloaded.stdout
    listed = requests.get(
        stack["apiUrl"] + "/facilities", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    ).json()
    assert [(f["facilityId"], [u["locationId"] for u in f["housingUnits"]]) for f in listed["facilities"]] == [
        ("cedar", ["cedar-a", "cedar-b"])
    ]

    # When (4) root invites the facility's administrator
    invited = post(
        stack,
        "/staff",
        token,
        {"username": "cedar-admin", "role": "FacilityAdmin", "agencyId": "state-doc", "facilityIds": ["cedar"]},
    )
    assert invited.status_code == 201, invited.text
    # And (5) that administrator signs in, setting a password, and creates a learner
    admin_token = intake_admin(
        stack,
        "token",
        "--username",
        "cedar-admin",
        "--password",
        invited.json()["temporaryPassword"],
        "--new-password",
        "Cedar-Passw0rd!x",
    )
    assert admin_token.returncode == 0, admin_token.stderr
    learner = {
        "docId": "100201",
        "firstName": "Marcus",
        "lastName": "Hill",
        "dateOfBirth": "03/14/1988",
        "locationId": "cedar-a",
    }
    created = post(stack, "/learners", admin_token.stdout.strip(), learner)
    # Then the learner exists at the facility, and the facility's audit trail tells the whole story
    assert created.status_code == 201, created.text
    assert created.json()["learner"]["facilityId"] == "cedar" and created.json()["generatedPassword"]
    audit = requests.get(
        stack["apiUrl"] + "/facilities/cedar/audit", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    ).json()
    assert [(e["action"], e["actor"].split(":")[0]) for e in audit["entries"]] == [
        ("LEARNER_CREATED", "cedar-admin"),
        ("STAFF_INVITED", "root"),
        ("HOUSING_UNIT_CREATED", "cli"),
        ("HOUSING_UNIT_CREATED", "root"),
        ("FACILITY_CREATED", "root"),
    ]
