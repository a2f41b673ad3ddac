"""Demo data of the local stack: agencies, facilities, housing units, staff of every role with logins, learners.

The learners are created through learner_service, as POST /learners creates them (usernames, history, audit), and the
inactive ones deactivated through it too: names with accents, apostrophes and several Smiths, so finding a learner
by name, DOC ID prefix or username can be tried at once (README, "Day to day"); the state file does not list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake import learner_service
from intake.dal.directory import put_agency, put_location
from intake.dal.staff import put_staff
from intake.domain import Agency, Grant, LearnerStatus, Location, LocationKind, NewLearner, Role, StaffMember
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
    facility_ids: tuple[str, ...] = ()  # where they hold `role`
    educator_at: tuple[str, ...] = ()  # facilities where they are also an Educator (a grant each)

    def record(self) -> StaffMember:
        """The staff record: one grant per facility of the role, and one Educator grant per `educator_at`."""
        member = StaffMember(
            username=self.username, role=self.role, agency_id=self.agency_id, facility_ids=self.facility_ids
        )
        extra = tuple(Grant(role=Role.EDUCATOR, agency_id=self.agency_id, facility_id=f) for f in self.educator_at)
        return member.model_copy(update={"grants": (*member.grants, *extra)}) if extra else member

    @property
    def password(self) -> str:
        """A demo password that meets the pool's policy (12+ characters, upper, lower, digit, symbol)."""
        return f"Intake-{self.username}-1"


@dataclass(frozen=True)
class DemoLearner:
    doc_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    location_id: str
    active: bool = True

    @property
    def password(self) -> str:
        """A demo password (the learner's own, as staff would type it on "Add a learner")."""
        return f"Learner-{self.doc_id.lower()}"


@dataclass(frozen=True)
class DemoData:
    agencies: tuple[DemoAgency, ...]
    staff: tuple[DemoStaff, ...]
    learners: tuple[DemoLearner, ...] = ()


def _facility(facility_id: str, name: str, *units: tuple[str, str]) -> DemoFacility:
    return DemoFacility(facility_id, name, tuple(DemoUnit(f"{facility_id}-{suffix}", unit) for suffix, unit in units))


_FIRST_NAMES = ("Marcus", "Ana", "Dwayne", "Li", "Keisha", "Tomás", "Grace", "Omar", "Renée", "Dmitri", "Siobhán")
_LAST_NAMES = ("Hill", "García", "Nguyen", "Okafor", "Kowalski", "St. John", "Lee", "Brown", "Johnson", "Ørsted")


def _learners() -> tuple[DemoLearner, ...]:
    """Learners of the demo facilities: named ones to look for, then a few dozen more at Cedar Creek, some inactive."""
    cedar_a, cedar_b = "north-cedar-creek-unit-a", "north-cedar-creek-unit-b"
    named = (
        DemoLearner("CC100101", "José", "Núñez", "03/14/1988", cedar_a),
        DemoLearner("CC100102", "Zoë", "O'Brien", "07/02/1979", cedar_b),
        DemoLearner("CC100103", "John", "Smith", "01/20/1990", cedar_a),
        DemoLearner("CC100104", "Jane", "Smith", "11/05/1985", cedar_b),
        DemoLearner("CC100105", "Adam", "Smith", "05/30/1972", cedar_a),
        DemoLearner("CC100106", "Mary-Jo", "Smith-Jones", "09/09/1993", cedar_b),
        DemoLearner("CC100107", "Lucía", "Smithers", "02/17/2001", cedar_a, active=False),
        DemoLearner("CC100108", "D'Andre", "Mac Smith", "12/24/1968", cedar_b),
    )
    more = tuple(
        DemoLearner(
            f"CC2{n:05d}",
            _FIRST_NAMES[n % len(_FIRST_NAMES)],
            _LAST_NAMES[(n // len(_FIRST_NAMES) + n) % len(_LAST_NAMES)],
            f"{n % 12 + 1:02d}/{n % 28 + 1:02d}/{1960 + n % 40}",
            (cedar_a, cedar_b, "north-cedar-creek")[n % 3],
            active=n % 9 != 4,
        )
        for n in range(32)
    )
    elsewhere = (
        # the same name at another facility of the agency and in another agency: a facility's search finds only its own
        DemoLearner("RB300101", "José", "Núñez", "04/01/1991", "north-riverbend-east"),
        DemoLearner("RB300102", "Ray", "Moss", "06/11/1983", "north-riverbend-west"),
        DemoLearner("RB300103", "Ann", "Smith", "08/19/1975", "north-riverbend-west", active=False),
        DemoLearner("PW400101", "José", "Núñez", "10/10/1980", "south-pine-woods-unit-1"),
        DemoLearner("PW400102", "Keisha", "Brown", "03/03/1995", "south-pine-woods-unit-2"),
    )
    return named + more + elsewhere


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
        # FacilityAdmin at Riverbend, Educator at Cedar Creek (issue 19: a role per facility)
        DemoStaff(
            "riverbend-admin-cedar-educator",
            Role.FACILITY_ADMIN,
            "northern-doc",
            ("north-riverbend",),
            educator_at=("north-cedar-creek",),
        ),
    ),
    learners=_learners(),
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
        put_staff(member.record())
        cognito_client.admin_create_user(UserPoolId=user_pool_id, Username=member.username, MessageAction="SUPPRESS")
        cognito_client.admin_set_user_password(
            UserPoolId=user_pool_id, Username=member.username, Password=member.password, Permanent=True
        )
    _seed_learners(demo)
    if demo.staff:
        # One sign-in proves the pool, the client's auth flows and the password policy agree with the seed.
        first = demo.staff[0]
        cognito_client.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": first.username, "PASSWORD": first.password},
        )
    return state_entries(demo)


def _seed_learners(demo: DemoData) -> None:
    """Each demo learner created (and the inactive ones deactivated) by its facility's admin, through the service."""
    facility_of = {
        unit.location_id: facility.facility_id
        for agency in demo.agencies
        for facility in agency.facilities
        for unit in (DemoUnit(facility.facility_id, facility.name), *facility.housing_units)
    }
    for learner in demo.learners:
        admin = _admin_of(demo, facility_of[learner.location_id])
        requestor = admin.record()
        created = learner_service.create_learner(
            requestor,
            NewLearner(
                location_id=learner.location_id,
                doc_id=learner.doc_id,
                first_name=learner.first_name,
                last_name=learner.last_name,
                date_of_birth=learner.date_of_birth,
                password=learner.password,
            ),
        )
        if not learner.active:
            learner_service.set_learner_status(requestor, created.learner.learner_id, LearnerStatus.INACTIVE)


def _admin_of(demo: DemoData, facility_id: str) -> DemoStaff:
    """The facility's FacilityAdmin in the demo (its agency's admin when it has none)."""
    admins = [m for m in demo.staff if m.role is Role.FACILITY_ADMIN and facility_id in m.facility_ids]
    if admins:
        return admins[0]
    agency_id = next(a.agency_id for a in demo.agencies for f in a.facilities if f.facility_id == facility_id)
    return next(m for m in demo.staff if m.role is Role.AGENCY_ADMIN and m.agency_id == agency_id)


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
                "facilityIds": list(member.facility_ids),  # where they hold `role` (v1)
                "grants": [grant.to_json_dict() for grant in member.record().grants],  # every grant (issue 19)
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
