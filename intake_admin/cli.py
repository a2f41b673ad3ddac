"""`intake-admin`: bootstrap the first SystemAdmin of a new stack, load its locations from a CSV, make an agency's
SCIM client, get a token.

It talks to the stack's AWS resources directly (the AWS CLI's credentials, `--profile`, `--region`, `--endpoint`),
because right after `sam deploy` no one can call the API yet. Locations are loaded through the same `intake` logic
the API runs (checks, conditional writes, audit entries), acting as `cli:<actor>` with SystemAdmin rights: whoever
holds AWS credentials for the stack's tables already has more power than any staff role, so there is no token to
keep in a script, and a re-run changes nothing that is already as the file says.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# Table and pool settings of intake, by the stack output that names each (and the logical id behind it).
_OUTPUTS = {
    "AGENCIES_TABLE": ("AgenciesTableName", "AgenciesTable"),
    "LOCATIONS_TABLE": ("LocationsTableName", "LocationsTable"),
    "STAFF_TABLE": ("StaffTableName", "StaffTable"),
    "LEARNERS_TABLE": ("LearnersTableName", "LearnersTable"),
    "USERNAMES_TABLE": ("UsernamesTableName", "UsernamesTable"),
    "AUDIT_TABLE": ("AuditTableName", "AuditTable"),
}
LOCATION_COLUMNS = ("agencyId", "agencyName", "facilityId", "facilityName", "housingUnitId", "housingUnitName")


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@dataclass(frozen=True)
class Stack:
    """Where the stack's tables and user pool are."""

    tables: dict[str, str]
    user_pool_id: str
    client_id: str


def _session(args: argparse.Namespace) -> boto3.session.Session:
    return boto3.session.Session(profile_name=args.profile, region_name=args.region)


def _client(args: argparse.Namespace, service: str) -> Any:
    return _session(args).client(service, endpoint_url=args.endpoint)


def discover(args: argparse.Namespace) -> Stack:
    """The stack's table names and user pool: from its CloudFormation outputs, else by their names."""
    outputs: dict[str, str] = {}
    if not (args.endpoint or args.find_by_name):  # the local stack (--endpoint) has no CloudFormation
        try:
            described = _client(args, "cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        except (BotoCoreError, ClientError, KeyError, IndexError):
            outputs = {}
    tables: dict[str, str] = {}
    names: list[str] | None = None
    for setting, (output, logical_id) in _OUTPUTS.items():
        if output in outputs:
            tables[setting] = outputs[output]
            continue
        if names is None:
            names = _table_names(args)
        matches = [
            n
            for n in names
            if n == f"{args.stack_name}-{logical_id}" or n.startswith(f"{args.stack_name}-{logical_id}-")
        ]
        if len(matches) != 1:
            raise CliError(f"cannot tell which table is {logical_id} of stack {args.stack_name}: found {matches}")
        tables[setting] = matches[0]
    pool_id = args.user_pool_id or outputs.get("UserPoolId") or _pool_by_name(args)
    client_id = outputs.get("UserPoolClientId") or _first_client(args, pool_id)
    return Stack(tables=tables, user_pool_id=pool_id, client_id=client_id)


def _table_names(args: argparse.Namespace) -> list[str]:
    names: list[str] = []
    for page in _client(args, "dynamodb").get_paginator("list_tables").paginate():
        names += page.get("TableNames", [])
    return names


def _pool_by_name(args: argparse.Namespace) -> str:
    pools = _client(args, "cognito-idp").list_user_pools(MaxResults=60).get("UserPools", [])
    found = [p["Id"] for p in pools if str(p.get("Name", "")).startswith(f"{args.stack_name}-staff")]
    if len(found) != 1:
        raise CliError(f"cannot tell which user pool is the stack's ({len(found)} named {args.stack_name}-staff*)")
    return str(found[0])


STAFF_CLIENT_NAME = "intake"  # template.yaml's UserPoolClient (the TabletClient is a machine client: no sign-ins)


def _first_client(args: argparse.Namespace, pool_id: str) -> str:
    clients = _client(args, "cognito-idp").list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)
    found = clients.get("UserPoolClients", [])
    staff = [client for client in found if client.get("ClientName") == STAFF_CLIENT_NAME]
    found = staff or found  # the staff page's client, not the tablet platform's machine client
    if len(found) != 1:
        raise CliError(f"cannot tell which app client of {pool_id} to sign in with")
    return str(found[0]["ClientId"])


def use_stack(args: argparse.Namespace, stack: Stack) -> None:
    """Point the intake package (settings, boto3, PynamoDB) at the stack, as Lambda's environment would."""
    os.environ.update(stack.tables)
    os.environ["USER_POOL_ID"] = stack.user_pool_id
    region = args.region or _session(args).region_name or "us-east-1"
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "intake-admin")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from intake.settings import get_settings

    get_settings.cache_clear()


# ------------------------------------------------------------------ commands


def bootstrap(args: argparse.Namespace, out: TextIO) -> int:
    """Create the first SystemAdmin: a Cognito login and its staff record (again: nothing changes)."""
    from intake import admin_service, audit
    from intake.dal import staff as staff_store
    from intake.dal import users
    from intake.domain import Role, StaffMember
    from intake.errors import Conflict

    stack = discover(args)
    use_stack(args, stack)
    existing = staff_store.get_staff(args.username)
    if existing is not None:
        if existing.role is not Role.SYSTEM_ADMIN:
            raise CliError(f"{args.username} is already staff with role {existing.role.value}: choose another username")
        print(f"{args.username} is already a SystemAdmin: nothing to do", file=out)
        return 0
    password = admin_service.temporary_password()
    try:
        users.create_login(args.username, password, args.email)
    except Conflict:
        raise CliError(f"a login named {args.username} exists but is not staff: choose another username") from None
    staff_store.insert_staff(StaffMember(username=args.username, role=Role.SYSTEM_ADMIN))
    audit.record(f"cli:{args.actor}", "STAFF_BOOTSTRAPPED", "staff", args.username, scopes=[audit.SYSTEM_SCOPE])
    print(
        f"SystemAdmin {args.username} created. Temporary password (shown once, change it at first sign-in):", file=out
    )
    print(password, file=out)
    return 0


def load_locations(args: argparse.Namespace, out: TextIO) -> int:
    """Create the agencies, facilities and housing units of a CSV that are missing, rename those that differ."""
    stack = discover(args)
    use_stack(args, stack)
    loader = _Loader(args.actor, out)
    with Path(args.csv_file).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c for c in ("agencyId", "agencyName", "facilityId", "facilityName") if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise CliError(
                f"{args.csv_file}: missing column(s) {', '.join(missing)}; expected {','.join(LOCATION_COLUMNS)}"
            )
        for line, row in enumerate(reader, start=2):
            loader.row(line, {k: (v or "").strip() for k, v in row.items() if k})
    print(
        f"{loader.created} created, {loader.renamed} renamed, {loader.unchanged} unchanged, {loader.failed} failed",
        file=out,
    )
    return 1 if loader.failed else 0


class _Loader:
    """Applies location rows through admin_service as a SystemAdmin named cli:<actor>."""

    def __init__(self, actor: str, out: TextIO) -> None:
        from intake.domain import Role, StaffMember

        self.requestor = StaffMember(username=f"cli:{actor}", role=Role.SYSTEM_ADMIN)
        self.out = out
        self.created = self.renamed = self.unchanged = self.failed = 0

    def row(self, line: int, row: dict[str, str]) -> None:
        from intake.errors import IntakeError

        try:
            self._agency(row["agencyId"], row["agencyName"])
            self._location(row["agencyId"], row["facilityId"], row["facilityName"], None)
            if row.get("housingUnitId"):
                self._location(
                    row["agencyId"], row["housingUnitId"], row.get("housingUnitName") or "", row["facilityId"]
                )
        except (IntakeError, ValueError) as exc:
            self.failed += 1
            print(f"line {line}: {getattr(exc, 'message', exc)}", file=self.out)

    def _agency(self, agency_id: str, name: str) -> None:
        from intake import admin_service
        from intake.admin_models import CreateAgencyRequest
        from intake.dal import directory

        existing = directory.get_agency(agency_id)
        if existing is None:
            admin_service.create_agency(self.requestor, CreateAgencyRequest(agencyId=agency_id, name=name))
            self.created += 1
        elif existing.name != name:
            admin_service.rename_agency(self.requestor, agency_id, name)
            self.renamed += 1
        else:
            self.unchanged += 1

    def _location(self, agency_id: str, location_id: str, name: str, facility_id: str | None) -> None:
        from intake import admin_service
        from intake.admin_models import CreateFacilityRequest, CreateHousingUnitRequest
        from intake.dal import directory

        existing = directory.get_location(location_id)
        if existing is None:
            if facility_id is None:
                request = CreateFacilityRequest(agencyId=agency_id, facilityId=location_id, name=name)
                admin_service.create_facility(self.requestor, request)
            else:
                unit = CreateHousingUnitRequest(locationId=location_id, name=name)
                admin_service.create_housing_unit(self.requestor, facility_id, unit)
            self.created += 1
            return
        if existing.agency_id != agency_id or existing.facility_id != (facility_id or location_id):
            raise ValueError(
                f"location {location_id} already exists in agency {existing.agency_id}, "
                f"facility {existing.facility_id}: fix the row"
            )
        if existing.name != name:
            admin_service.rename_location(self.requestor, location_id, name)
            self.renamed += 1
        else:
            self.unchanged += 1


def migrate_learners(args: argparse.Namespace, out: TextIO) -> int:
    """Give learners stored before usernames their username, status and roster keys (once; a re-run finds none)."""
    from intake import audit, learner_migration

    stack = discover(args)
    use_stack(args, stack)
    report = learner_migration.migrate_learners()
    audit.record(
        f"cli:{args.actor}",
        "LEARNERS_MIGRATED",
        "system",
        "learners",
        scopes=[audit.SYSTEM_SCOPE],
        details={"found": report.found, "migrated": report.migrated},
    )
    print(f"{report.found} learners to upgrade: {report.migrated} migrated, {report.unchanged} unchanged", file=out)
    return 0


# A deployed stack's app client allows SRP only (template.yaml); only the local stack's adds USER_PASSWORD_AUTH.
SRP_ONLY = (
    "this app client allows SRP sign-in only, as a deployed stack's does: sign in on the staff page (the ApiUrl "
    'output with its trailing /) and use its token (README, "First deployment")'
)


def token(args: argparse.Namespace, out: TextIO) -> int:
    """Print an ID token for a staff login (setting a new password at the first sign-in)."""
    stack = discover(args)
    cognito = _client(args, "cognito-idp")
    password = args.password or getpass.getpass(f"Password of {args.username}: ")
    try:
        result = cognito.initiate_auth(
            ClientId=stack.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": args.username, "PASSWORD": password},
        )
    except ClientError as exc:
        refused_flow = exc.response.get("Error", {}).get("Code") == "InvalidParameterException"
        if refused_flow and "USER_PASSWORD_AUTH" in str(exc):
            raise CliError(SRP_ONLY) from exc
        raise
    if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        if not args.new_password:
            raise CliError("this is a first sign-in: pass --new-password to set the password to use from now on")
        result = cognito.respond_to_auth_challenge(
            ClientId=stack.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=result["Session"],
            ChallengeResponses={"USERNAME": args.username, "NEW_PASSWORD": args.new_password},
        )
    if "AuthenticationResult" not in result:
        raise CliError(f"sign-in needs {result.get('ChallengeName')}, which intake-admin does not handle")
    print(result["AuthenticationResult"]["IdToken"], file=out)
    return 0


def scim_client(args: argparse.Namespace, out: TextIO) -> int:
    """Make, list or delete an agency's SCIM app client (client credentials, scope intake/scim, bound to the agency).

    Agencies are data, so their clients are not template resources: this makes one in the stack's user pool with
    Cognito's CreateUserPoolClient (the operator's AWS credentials, never the API's role) and binds it to the agency.
    The secret is printed once: put it with the client id into the directory's provisioning settings."""
    from intake import scim_service
    from intake.dal import scim as scim_store

    stack = discover(args)
    use_stack(args, stack)
    actor = f"cli:{args.actor}"
    if args.scim_action == "create":
        made = scim_service.create_client(args.agency, actor)
        print(f"SCIM client for {made.agency_id} created. Keep the secret (shown once):", file=out)
        print(f"clientId     {made.client_id}", file=out)
        print(f"clientSecret {made.client_secret}", file=out)
        print(f"scope        {scim_store.SCIM_SCOPE}", file=out)
        print("tokenUrl     the stack's ScimTokenUrl output; tenant URL: its ApiUrl + /scim/v2", file=out)
    elif args.scim_action == "list":
        for client_id in scim_store.client_ids(args.agency):
            print(client_id, file=out)
    else:
        if not args.client_id:
            raise CliError("delete needs --client-id")
        scim_service.delete_client(args.agency, args.client_id, actor)
        print(f"SCIM client {args.client_id} of {args.agency} deleted", file=out)
    return 0


# ------------------------------------------------------------------ entry point


def parser() -> argparse.ArgumentParser:
    """The command line: global options as the AWS CLI's, then a command."""
    top = argparse.ArgumentParser(prog="intake-admin", description=__doc__.splitlines()[0] if __doc__ else None)
    top.add_argument("--endpoint", "--endpoint-url", dest="endpoint", help="AWS endpoint (the local stack's)")
    top.add_argument("--profile", help="AWS named profile")
    top.add_argument("--region", help="AWS region")
    top.add_argument("--stack-name", default="intake", help="the SAM stack (default: intake)")
    top.add_argument("--user-pool-id", help="the staff user pool, if not the stack's")
    top.add_argument(
        "--find-by-name",
        action="store_true",
        help="find the stack's tables and user pool by their names, not its CloudFormation outputs",
    )
    top.add_argument("--actor", default=getpass.getuser(), help="who runs this, for the audit trail")
    commands = top.add_subparsers(dest="command", required=True)
    boot = commands.add_parser("bootstrap", help="create the first SystemAdmin")
    boot.add_argument("--username", required=True)
    boot.add_argument("--email")
    boot.set_defaults(run=bootstrap)
    load = commands.add_parser("load-locations", help="create/rename agencies, facilities, housing units from a CSV")
    load.add_argument("csv_file", help=f"columns: {','.join(LOCATION_COLUMNS)}")
    load.set_defaults(run=load_locations)
    migrate = commands.add_parser(
        "migrate-learners", help="give learners stored before usernames their username, status and roster keys"
    )
    migrate.set_defaults(run=migrate_learners)
    scim = commands.add_parser("scim-client", help="make, list or delete an agency's SCIM app client")
    scim.add_argument("scim_action", choices=("create", "list", "delete"))
    scim.add_argument("--agency", required=True, help="the agencyId the client provisions")
    scim.add_argument("--client-id", help="(delete) the client to delete")
    scim.set_defaults(run=scim_client)
    sign_in = commands.add_parser("token", help="print an ID token for API calls")
    sign_in.add_argument("--username", required=True)
    sign_in.add_argument("--password", help="(prompted when absent)")
    sign_in.add_argument("--new-password", help="the password to set at a first sign-in")
    sign_in.set_defaults(run=token)
    return top


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; 0 on success, 1 when some rows failed, 2 on an error the operator must fix."""
    args = parser().parse_args(argv)
    from intake.errors import IntakeError

    try:
        return int(args.run(args, out))
    except CliError as exc:
        print(f"intake-admin: {exc}", file=sys.stderr)
        return 2
    except IntakeError as exc:
        print(f"intake-admin: {exc.message}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"intake-admin: AWS refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
