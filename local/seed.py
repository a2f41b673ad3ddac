"""Demo data of the local stack: agencies, facilities, housing units and staff of every role, with Cognito logins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake.dal.directory import put_agency, put_location
from intake.dal.staff import put_staff
from intake.domain import Agency, Location, LocationKind, Role, StaffMember
from intake.settings import get_settings
from local.resources import LocalResources


@dataclass(frozen=True)
class DemoUnit:
    location_id: str
    name: str


@dataclass(frozen=True)
class DemoFacility:
    facility_id: str
    name: str
    housing_units: tuple[DemoUnit, ...]


@dataclass(frozen=True)
class DemoAgency:
    agency_id: str
    name: str
    facilities: tuple[DemoFacility, ...]


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: Role
    agency_id: str | None = None
    facility_ids: tuple[str, ...] = ()

    @property
    def password(self) -> str:
        """A demo password that meets the pool's policy (12+ characters, upper, lower, digit, symbol)."""
        return f"Intake-{self.username}-1"


@dataclass(frozen=True)
class DemoData:
    agencies: tuple[DemoAgency, ...]
    staff: tuple[DemoStaff, ...]


def _facility(facility_id: str, name: str, *units: tuple[str, str]) -> DemoFacility:
    return DemoFacility(facility_id, name, tuple(DemoUnit(f"{facility_id}-{suffix}", unit) for suffix, unit in units))


DEMO = DemoData(
    agencies=(
        DemoAgency(
            "northern-doc",
            "Northern State Department of Corrections",
            (
                _facility(
                    "north-cedar-creek",
                    "Cedar Creek Correctional Center",
                    ("unit-a", "Cedar Creek Unit A"),
                    ("unit-b", "Cedar Creek Unit B"),
                ),
                _facility(
                    "north-riverbend",
                    "Riverbend Reentry Facility",
                    ("east", "Riverbend East"),
                    ("west", "Riverbend West"),
                ),
            ),
        ),
        DemoAgency(
            "southern-doc",
            "Southern State Department of Corrections",
            (
                _facility(
                    "south-pine-woods",
                    "Pine Woods Correctional Institution",
                    ("unit-1", "Pine Woods Unit 1"),
                    ("unit-2", "Pine Woods Unit 2"),
                ),
            ),
        ),
    ),
    staff=(
        DemoStaff("sysadmin", Role.SYSTEM_ADMIN),
        DemoStaff("north-agency-admin", Role.AGENCY_ADMIN, "northern-doc"),
        DemoStaff("south-agency-admin", Role.AGENCY_ADMIN, "southern-doc"),
        DemoStaff("cedar-creek-admin", Role.FACILITY_ADMIN, "northern-doc", ("north-cedar-creek",)),
        DemoStaff("riverbend-admin", Role.FACILITY_ADMIN, "northern-doc", ("north-riverbend",)),
        DemoStaff("pine-woods-admin", Role.FACILITY_ADMIN, "southern-doc", ("south-pine-woods",)),
        DemoStaff("cedar-creek-educator", Role.EDUCATOR, "northern-doc", ("north-cedar-creek",)),
    ),
)


def seed(
    resources: LocalResources,
    cognito_client: Any,
    user_pool_id: str,
    client_id: str,
    demo: DemoData = DEMO,
) -> dict[str, list[dict[str, Any]]]:
    """Write the demo directory and staff through the DAL, create their Cognito logins; the state file's entries."""
    _require_configured(resources)
    for agency in demo.agencies:
        put_agency(Agency(agency_id=agency.agency_id, name=agency.name))
        for facility in agency.facilities:
            put_location(_location(agency, facility.facility_id, facility.name, facility.facility_id))
            for unit in facility.housing_units:
                put_location(_location(agency, unit.location_id, unit.name, facility.facility_id))

    for member in demo.staff:
        put_staff(
            StaffMember(
                username=member.username,
                role=member.role,
                agency_id=member.agency_id,
                facility_ids=member.facility_ids,
            )
        )
        cognito_client.admin_create_user(UserPoolId=user_pool_id, Username=member.username, MessageAction="SUPPRESS")
        cognito_client.admin_set_user_password(
            UserPoolId=user_pool_id, Username=member.username, Password=member.password, Permanent=True
        )
    if demo.staff:
        # One sign-in proves the pool, the client's auth flows and the password policy agree with the seed.
        first = demo.staff[0]
        cognito_client.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": first.username, "PASSWORD": first.password},
        )
    return state_entries(demo)


def state_entries(demo: DemoData = DEMO) -> dict[str, list[dict[str, Any]]]:
    """The `agencies` and `staff` entries of `.intake/local-stack.json` (the contract's shape)."""
    return {
        "agencies": [
            {
                "agencyId": agency.agency_id,
                "name": agency.name,
                "facilities": [
                    {
                        "facilityId": facility.facility_id,
                        "name": facility.name,
                        "housingUnits": [{"locationId": u.location_id, "name": u.name} for u in facility.housing_units],
                    }
                    for facility in agency.facilities
                ],
            }
            for agency in demo.agencies
        ],
        "staff": [
            {
                "username": member.username,
                "password": member.password,
                "role": member.role.value,
                "agencyId": member.agency_id,
                "facilityIds": list(member.facility_ids),
            }
            for member in demo.staff
        ],
    }


def _location(agency: DemoAgency, location_id: str, name: str, facility_id: str) -> Location:
    kind = LocationKind.FACILITY if location_id == facility_id else LocationKind.HOUSING_UNIT
    return Location(location_id=location_id, name=name, agency_id=agency.agency_id, facility_id=facility_id, kind=kind)


def _require_configured(resources: LocalResources) -> None:
    settings = get_settings()
    expected = (resources.tables.get("AgenciesTable"), resources.tables.get("StaffTable"))
    if (settings.agencies_table, settings.staff_table) != expected:
        raise RuntimeError("intake settings do not name the local tables: os.environ.update(resources.environment())")
