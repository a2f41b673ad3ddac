"""intake-admin in-process over moto: bootstrap and location loading, re-runs and bad rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from intake_admin.cli import main
from tests.conftest import AGENCY_A, FAC_A1


@pytest.fixture
def stack(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The template's tables and user pool in moto, as a deployed stack named `intake` has them."""
    from local.resources import provision_user_pool

    provision_user_pool("us-east-1")
    for name in ("USER_POOL_ID", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return aws


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--region", "us-east-1", "--find-by-name", "--actor", "ops", *args], out=out)
    return code, out.getvalue()


def test_bootstrap_once_then_nothing_to_do(stack, capsys):
    from intake.dal.staff import get_staff
    from intake.domain import Role

    # Given an empty stack
    # When the first SystemAdmin is bootstrapped twice
    first, printed = run("bootstrap", "--username", "root")
    second, again = run("bootstrap", "--username", "root")
    # Then it exists once, its temporary password printed once
    assert (first, second) == (0, 0)
    staff = get_staff("root")
    assert staff is not None and staff.role is Role.SYSTEM_ADMIN
    assert "nothing to do" in again and printed.splitlines()[-1] not in again


def test_bootstrap_refuses_a_username_of_other_staff(stack, directory, capsys):
    # Given a FacilityAdmin named ridge
    # When bootstrapping ridge
    code, _ = run("bootstrap", "--username", "ridge")
    # Then it refuses, saying why, and ridge stays a FacilityAdmin
    assert code == 2 and "FacilityAdmin" in capsys.readouterr().err


def test_load_locations_is_idempotent_and_reports_bad_rows(stack, directory, tmp_path: Path, capsys):
    from intake.dal.directory import get_location

    # Given a CSV with a new facility and unit, a renamed existing facility, and a unit id already used elsewhere
    header = "agencyId,agencyName,facilityId,facilityName,housingUnitId,housingUnitName\n"
    rows = (
        f"{AGENCY_A},Ag-North,fac-new,New Facility,fac-new-a,New Unit A\n"
        f"{AGENCY_A},Ag-North,{FAC_A1},Ridge Renamed,,\n"
        f"{AGENCY_A},Ag-North,fac-new,New Facility,unit-bay-a,Stolen\n"
    )
    path = tmp_path / "locations.csv"
    path.write_text(header + rows, encoding="utf-8")
    # When it is loaded twice
    first, report = run("load-locations", str(path))
    second, again = run("load-locations", str(path))
    # Then the new ones are created, the facility renamed, the bad line reported, and the re-run changes nothing
    assert first == second == 1
    assert report.startswith("line 4: location unit-bay-a already exists")
    assert report.splitlines()[-1] == "2 created, 1 renamed, 4 unchanged, 1 failed"
    assert again.splitlines()[-1] == "0 created, 0 renamed, 7 unchanged, 1 failed"
    unit = get_location("fac-new-a")
    assert unit is not None and unit.facility_id == "fac-new"
    renamed = get_location(FAC_A1)
    assert renamed is not None and renamed.name == "Ridge Renamed"
    # And a file without the needed columns is refused as a whole
    path.write_text("facilityId,name\nx,y\n", encoding="utf-8")
    assert run("load-locations", str(path))[0] == 2
    assert "missing column(s) agencyId, agencyName, facilityName" in capsys.readouterr().err


def test_migrate_learners_upgrades_old_items_once(stack, capsys):
    import boto3

    from intake.dal.learners import get_by_doc_id
    from intake.settings import get_settings

    # Given a learner item as the code before usernames wrote it
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=get_settings().learners_table,
        Item={
            "agencyId": {"S": AGENCY_A},
            "docId": {"S": "D42"},
            "learnerId": {"S": "L-42"},
            "firstName": {"S": "Ann"},
            "lastName": {"S": "Lee"},
            "dateOfBirth": {"S": "01/02/1990"},
            "locationId": {"S": FAC_A1},
            "facilityId": {"S": FAC_A1},
            "role": {"S": "Learner"},
            "passwordHash": {"S": "h"},
            "createdAt": {"S": "2025-06-01T10:00:00.000000+0000"},
            "createdBy": {"S": "ridge"},
            "history": {"L": []},
            "version": {"N": "1"},
        },
    )
    # When the migration runs twice
    first, printed = run("migrate-learners")
    second, again = run("migrate-learners")
    # Then the first migrates it, the second finds nothing, and it has its username
    assert (first, second) == (0, 0)
    assert "1 migrated" in printed and again.startswith("0 learners")
    learner = get_by_doc_id(AGENCY_A, "D42")
    assert learner is not None and learner.username == "leea42"


def test_token_on_an_srp_only_client_says_to_sign_in_on_the_staff_page(stack, monkeypatch, capsys):
    from botocore.exceptions import ClientError

    import intake_admin.cli as cli

    # Given a stack whose app client refuses USER_PASSWORD_AUTH, as the deployed one does (moto does not check it)
    refusal = ClientError(
        {
            "Error": {
                "Code": "InvalidParameterException",
                "Message": "USER_PASSWORD_AUTH flow not enabled for this client",
            }
        },
        "InitiateAuth",
    )
    real_client = cli._client

    def client(args: Any, service: str) -> Any:
        made = real_client(args, service)
        if service == "cognito-idp":
            monkeypatch.setattr(made, "initiate_auth", refuse)
        return made

    def refuse(**_: Any) -> None:
        raise refusal

    monkeypatch.setattr(cli, "_client", client)
    # When an operator asks for a token
    code, printed = run("token", "--username", "root", "--password", "Whatever-1234")
    # Then it stops with exit 2 and points to the staff page, without a traceback or a token
    assert code == 2 and printed == ""
    assert "sign in on the staff page" in capsys.readouterr().err


def test_scim_client_create_list_and_delete(stack, directory, capsys):
    import boto3

    from intake.dal import scim as scim_store
    from intake.scim_service import scim_client
    from intake.settings import get_settings

    # Given agency A
    # When an operator makes its SCIM client
    code, printed = run("scim-client", "create", "--agency", AGENCY_A)
    # Then it is an app client of the pool for client credentials with the SCIM scope only, bound to agency A, and its
    # secret is printed once
    assert code == 0
    fields = dict(line.split(None, 1) for line in printed.splitlines()[1:] if line and not line.startswith("token"))
    client_id = fields["clientId"]
    described = boto3.client("cognito-idp", region_name="us-east-1").describe_user_pool_client(
        UserPoolId=get_settings().user_pool_id, ClientId=client_id
    )["UserPoolClient"]
    assert described["AllowedOAuthFlows"] == ["client_credentials"]
    assert described["AllowedOAuthScopes"] == ["intake/scim"]
    assert described["ClientSecret"] == fields["clientSecret"]
    assert scim_client(client_id).agency_id == AGENCY_A
    assert run("scim-client", "list", "--agency", AGENCY_A) == (0, client_id + "\n")

    # When it is deleted
    code, _ = run("scim-client", "delete", "--agency", AGENCY_A, "--client-id", client_id)
    # Then the pool has it no more and no agency is bound to it
    assert code == 0
    assert scim_store.agency_of_client(client_id) is None and scim_store.client_ids(AGENCY_A) == []
    # And an agency that does not exist gets no client
    assert run("scim-client", "create", "--agency", "no-such-agency")[0] == 2
