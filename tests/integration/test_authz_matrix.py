"""Authorization matrix: every API route × every role × a resource at home, in a sibling facility, in another agency.

The expected statuses are written out from the contract's role table, not computed by Intake's own authz code. The
route list comes from the API's OpenAPI document and the template's API events: a route without a row here fails
`test_every_route_has_a_matrix_row`. To add a route, add one `Route` (how to call it against a target) and one row
of `EXPECTED` (what each role gets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import (
    AGENCY_A,
    AGENCY_B,
    FAC_A1,
    FAC_A2,
    FAC_B1,
    UNIT_A1,
    UNIT_A1B,
    UNIT_A2,
    UNIT_B1,
    moto_resources,
)
from tests.integration.bulk_helpers import csv_file, drain, put_object

# Who asks: one seeded staff member per role (scopes as in tests/conftest.py), and nobody.
USERS = {
    "SystemAdmin": "sys",  # everything
    "AgencyAdmin": "north",  # agency A: FAC_A1, FAC_A2
    "FacilityAdmin": "ridge",  # FAC_A1
    "Educator": "teacher",  # FAC_A1, read only
    "none": None,
}
# Where the resource is, seen from the FacilityAdmin and the Educator: their own facility, another facility of their
# agency, a facility of another agency. (For the AgencyAdmin the first two are in scope; for the SystemAdmin all.)
TARGETS = {"home": (FAC_A1, UNIT_A1), "sibling": (FAC_A2, UNIT_A2), "other_agency": (FAC_B1, UNIT_B1)}
AGENCY_OF = {FAC_A1: AGENCY_A, FAC_A2: AGENCY_A, FAC_B1: AGENCY_B}

# "200+" / "200-": 200, and the target is / is not in the answer (lists filtered by scope).
ALL_401 = ("401", "401", "401")
EXPECTED: dict[str, dict[str, tuple[str, str, str]]] = {
    #                                       home    sibling  other_agency
    "GET /health": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "200"),
        "FacilityAdmin": ("200", "200", "200"),
        "Educator": ("200", "200", "200"),
        "none": ("200", "200", "200"),
    },
    "GET /facilities": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "200-"),
        "FacilityAdmin": ("200+", "200-", "200-"),
        "Educator": ("200+", "200-", "200-"),
        "none": ALL_401,
    },
    "GET /facilities/{facilityId}/template": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("200", "404", "404"),
        "none": ALL_401,
    },
    "GET /facilities/{facilityId}/uploads": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("200", "404", "404"),
        "none": ALL_401,
    },
    "POST /learners": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("201", "201", "403"),
        "FacilityAdmin": ("201", "403", "403"),
        "Educator": ("403", "403", "403"),
        "none": ALL_401,
    },
    # Admins find learners anywhere in their agency (to move arrivals); educators only in their scope.
    "GET /learners": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "200-"),
        "FacilityAdmin": ("200+", "200+", "200-"),
        "Educator": ("200+", "200-", "200-"),
        "none": ALL_401,
    },
    "GET /learners/{learnerId}": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "200", "404"),
        "Educator": ("200", "404", "404"),
        "none": ALL_401,
    },
    # The learner is at the target's housing unit and moves to the target facility itself.
    "POST /learners/{learnerId}/move": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "403", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # ---- a learner's account life (issue #15). Reads of a facility's roster: its staff (educators too). Writes on a
    # learner (a fresh one per cell): the staff who may write in its facility; an Educator 403 at home; another
    # facility's learner 404, as if it did not exist (its GET stays as it was: admins read their agency's learners).
    "GET /facilities/{facilityId}/learners": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "404"),
        "FacilityAdmin": ("200+", "404", "404"),
        "Educator": ("200+", "404", "404"),
        "none": ALL_401,
    },
    "PATCH /learners/{learnerId}": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /learners/{learnerId}/deactivate": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /learners/{learnerId}/reactivate": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /learners/{learnerId}/password": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /facilities/{facilityId}/learners/status": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # With resetPasswords (a write: new passwords); without it an Educator prints cards (see the test below).
    "POST /facilities/{facilityId}/learner-cards": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # Learner sign-in (issue 16) is the tablet platform's, a machine client: a staff ID token is refused wherever the
    # learner is (tests/unit/api/test_sign_in_route.py covers the machine client's own token).
    "POST /learner-sign-ins": {
        "SystemAdmin": ("403", "403", "403"),
        "AgencyAdmin": ("403", "403", "403"),
        "FacilityAdmin": ("403", "403", "403"),
        "Educator": ("403", "403", "403"),
        "none": ALL_401,
    },
    "POST /uploads": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("201", "201", "404"),
        "FacilityAdmin": ("201", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "GET /uploads/{uploadId}": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("200", "404", "404"),
        "none": ALL_401,
    },
    "POST /uploads/{uploadId}/confirm": {
        "SystemAdmin": ("202", "202", "202"),
        "AgencyAdmin": ("202", "202", "404"),
        "FacilityAdmin": ("202", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # issue 17: undo a sync's deactivations. The matrix's uploads are creates, so a writer in scope gets 409 (not a
    # sync) after the same 404/403 checks as confirm; tests/integration/test_sync_undo.py covers the 200s.
    "POST /uploads/{uploadId}/undo-deactivations": {
        "SystemAdmin": ("409", "409", "409"),
        "AgencyAdmin": ("409", "409", "404"),
        "FacilityAdmin": ("409", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # ---- administration (issue #9). Agencies: SystemAdmin; an agency other than one's own answers 404 wherever
    # it is named. Each agency's own is listed to everyone in it.
    "GET /agencies": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "200-"),
        "FacilityAdmin": ("200+", "200+", "200-"),
        "Educator": ("200+", "200+", "200-"),
        "none": ALL_401,
    },
    # A new agency (id generated); the target does not matter.
    "POST /agencies": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("403", "403", "403"),
        "FacilityAdmin": ("403", "403", "403"),
        "Educator": ("403", "403", "403"),
        "none": ALL_401,
    },
    # The target facility's agency.
    "POST /agencies/{agencyId}/rename": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("403", "403", "404"),
        "FacilityAdmin": ("403", "403", "404"),
        "Educator": ("403", "403", "404"),
        "none": ALL_401,
    },
    # The target facility's agency; the target facility is listed when it is in scope (read: educators too).
    "GET /agencies/{agencyId}/locations": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "404"),
        "FacilityAdmin": ("200+", "200-", "404"),
        "Educator": ("200+", "200-", "404"),
        "none": ALL_401,
    },
    # A new facility of the target facility's agency: AgencyAdmin of the agency or SystemAdmin.
    "POST /facilities": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("201", "201", "404"),
        "FacilityAdmin": ("403", "403", "404"),
        "Educator": ("403", "403", "404"),
        "none": ALL_401,
    },
    # Housing units, their rename, (de|re)activation, deletion and the facility's settings: the facility's admins
    # (its FacilityAdmin too), its agency's, a SystemAdmin.
    "POST /facilities/{facilityId}/housing-units": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("201", "201", "404"),
        "FacilityAdmin": ("201", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # The target facility itself (renamed to the name it has): only its agency's admins rename a facility.
    "POST /locations/{locationId}/rename": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("403", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # A new housing unit of the target facility (a deactivated one to reactivate, an empty one to delete).
    "POST /locations/{locationId}/deactivate": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /locations/{locationId}/reactivate": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /locations/{locationId}/delete": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "GET /facilities/{facilityId}/settings": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("200", "404", "404"),
        "none": ALL_401,
    },
    "POST /facilities/{facilityId}/settings": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # Staff: within the requestor's own role and scope. The target is an Educator of the target facility (a new
    # one for each change); an Educator manages no one, and lists no one.
    "GET /staff": {
        "SystemAdmin": ("200+", "200+", "200+"),
        "AgencyAdmin": ("200+", "200+", "200-"),
        "FacilityAdmin": ("200+", "200-", "200-"),
        "Educator": ("403", "403", "403"),
        "none": ALL_401,
    },
    # Inviting an Educator of the target facility: a grant beyond one's own is refused (403), wherever it points.
    "POST /staff": {
        "SystemAdmin": ("201", "201", "201"),
        "AgencyAdmin": ("201", "201", "403"),
        "FacilityAdmin": ("201", "403", "403"),
        "Educator": ("403", "403", "403"),
        "none": ALL_401,
    },
    # Making the target Educator the FacilityAdmin of its facility.
    "POST /staff/{username}/scope": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # Adding a grant (issue 19): the target Educator also made FacilityAdmin of its facility.
    "POST /staff/{username}/grants": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # Removing the target Educator's one grant: whoever may change them is told to disable them instead (409).
    "POST /staff/{username}/grants/remove": {
        "SystemAdmin": ("409", "409", "409"),
        "AgencyAdmin": ("409", "409", "404"),
        "FacilityAdmin": ("409", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /staff/{username}/disable": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    "POST /staff/{username}/enable": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
    # The audit trail: the facility's administrators (not its educators).
    "GET /facilities/{facilityId}/audit": {
        "SystemAdmin": ("200", "200", "200"),
        "AgencyAdmin": ("200", "200", "404"),
        "FacilityAdmin": ("200", "404", "404"),
        "Educator": ("403", "404", "404"),
        "none": ALL_401,
    },
}
# Served but not documented in the OpenAPI document: the document itself, and
# the staff page's public files (tests/integration/test_web_routes.py and tests/browser cover those).
UNDOCUMENTED = {"GET /openapi.json", "GET /", "GET /docs", "GET /static/{file}", "GET /client-config"}


@dataclass
class World:
    """What the routes act on: one learner, one validated upload and one Educator per target facility."""

    resources: Any
    learners: dict[str, dict[str, Any]]
    uploads: dict[str, str]
    doc_ids: Iterator[int]
    educators: dict[str, str]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] | None = None
    # What "listed" means for "200+"/"200-": is this id in the answer?
    listed_id: str | None = None


# How each route is called against a target (facility, housing unit).
Route = Callable[[World, str, str], Request]


def _new_learner(world: World, facility_id: str, unit_id: str, status: str = "ACTIVE") -> dict[str, Any]:
    from intake.dal import learners as learner_store
    from intake.domain import Learner, LearnerStatus

    number = next(world.doc_ids)
    learner = Learner(
        learner_id=f"lrn-{number}",
        agency_id=AGENCY_OF[facility_id],
        doc_id=str(number),
        username=f"learnerm{number}",
        status=LearnerStatus(status),
        first_name="Matrix",
        last_name="Learner",
        date_of_birth="01/02/1990",
        location_id=unit_id,
        facility_id=facility_id,
        created_at=datetime.now(UTC),
        created_by="sys",
    )
    learner = learner_store.insert_learner(learner, "$argon2id$not-a-real-hash")
    return learner.to_json_dict()


def _new_unit(world: World, facility_id: str, *, active: bool = True) -> str:
    """A housing unit of its own (no learners) in the facility, for one cell to change."""
    from intake.dal import directory
    from intake.domain import Location, LocationKind

    unit_id = f"unit-matrix-{next(world.doc_ids)}"
    directory.put_location(
        Location(
            location_id=unit_id,
            name=unit_id,
            agency_id=AGENCY_OF[facility_id],
            facility_id=facility_id,
            kind=LocationKind.HOUSING_UNIT,
            active=active,
        )
    )
    return unit_id


def _new_educator(world: World, facility_id: str, *, active: bool = True) -> str:
    """An Educator of the facility of its own, for one cell to change."""
    from intake.dal import staff
    from intake.domain import Role, StaffMember

    username = f"edu-matrix-{next(world.doc_ids)}"
    staff.put_staff(
        StaffMember(
            username=username,
            role=Role.EDUCATOR,
            agency_id=AGENCY_OF[facility_id],
            facility_ids=(facility_id,),
            active=active,
        )
    )
    return username


def _new_validated_upload(world: World, facility_id: str, unit_id: str) -> str:
    """A VALIDATED upload of its own (one row, through the real path) in the facility, for one cell to confirm."""
    from tests.conftest import FakeLambdaContext

    status, link, _ = _call("POST", "/uploads", "sys", {"facilityId": facility_id}, context=FakeLambdaContext())
    assert status == 201, link
    row = f"1,{next(world.doc_ids)},Ivy,Moss,02/03/1985,Learner,,{unit_id}"
    put_object(world.resources, link["upload"]["fields"]["key"], csv_file([row]))
    drain(world.resources)
    status, view, _ = _call("GET", f"/uploads/{link['uploadId']}", "sys", context=FakeLambdaContext())
    assert view["status"] == "VALIDATED", view
    return str(link["uploadId"])


def _promote(fac: str) -> dict[str, Any]:
    return {"role": "FacilityAdmin", "agencyId": AGENCY_OF[fac], "facilityIds": [fac]}


ROUTES: dict[str, Route] = {
    "GET /health": lambda w, fac, unit: Request("GET", "/health"),
    "GET /facilities": lambda w, fac, unit: Request("GET", "/facilities", listed_id=fac),
    "GET /facilities/{facilityId}/template": lambda w, fac, unit: Request("GET", f"/facilities/{fac}/template"),
    "GET /facilities/{facilityId}/uploads": lambda w, fac, unit: Request("GET", f"/facilities/{fac}/uploads"),
    "POST /learners": lambda w, fac, unit: Request(
        "POST",
        "/learners",
        {
            "docId": str(next(w.doc_ids)),
            "firstName": "Ada",
            "lastName": "Stone",
            "dateOfBirth": "05/06/1991",
            "locationId": unit,
        },
    ),
    "GET /learners": lambda w, fac, unit: Request(
        "GET", "/learners", query={"docId": w.learners[fac]["docId"]}, listed_id=w.learners[fac]["learnerId"]
    ),
    "GET /learners/{learnerId}": lambda w, fac, unit: Request("GET", f"/learners/{w.learners[fac]['learnerId']}"),
    "POST /learners/{learnerId}/move": lambda w, fac, unit: Request(
        "POST", f"/learners/{_new_learner(w, fac, unit)['learnerId']}/move", {"locationId": fac}
    ),
    "GET /facilities/{facilityId}/learners": lambda w, fac, unit: Request(
        "GET", f"/facilities/{fac}/learners", query={"status": "ALL"}, listed_id=w.learners[fac]["learnerId"]
    ),
    "PATCH /learners/{learnerId}": lambda w, fac, unit: Request(
        "PATCH", f"/learners/{_new_learner(w, fac, unit)['learnerId']}", {"lastName": "Edited"}
    ),
    "POST /learners/{learnerId}/deactivate": lambda w, fac, unit: Request(
        "POST", f"/learners/{_new_learner(w, fac, unit)['learnerId']}/deactivate"
    ),
    "POST /learners/{learnerId}/reactivate": lambda w, fac, unit: Request(
        "POST", f"/learners/{_new_learner(w, fac, unit, status='INACTIVE')['learnerId']}/reactivate"
    ),
    "POST /learners/{learnerId}/password": lambda w, fac, unit: Request(
        "POST", f"/learners/{_new_learner(w, fac, unit)['learnerId']}/password", {}
    ),
    "POST /facilities/{facilityId}/learners/status": lambda w, fac, unit: Request(
        "POST",
        f"/facilities/{fac}/learners/status",
        {"learnerIds": [_new_learner(w, fac, unit)["learnerId"]], "status": "INACTIVE"},
    ),
    "POST /facilities/{facilityId}/learner-cards": lambda w, fac, unit: Request(
        "POST",
        f"/facilities/{fac}/learner-cards",
        {"learnerIds": [_new_learner(w, fac, unit)["learnerId"]], "resetPasswords": True},
    ),
    "POST /learner-sign-ins": lambda w, fac, unit: Request(
        "POST",
        "/learner-sign-ins",
        {"agencyId": AGENCY_OF[fac], "username": w.learners[fac]["username"], "password": "not-the-password-1"},
    ),
    "POST /uploads": lambda w, fac, unit: Request("POST", "/uploads", {"facilityId": fac}),
    "GET /uploads/{uploadId}": lambda w, fac, unit: Request("GET", f"/uploads/{w.uploads[fac]}"),
    "POST /uploads/{uploadId}/confirm": lambda w, fac, unit: Request(
        "POST", f"/uploads/{_new_validated_upload(w, fac, unit)}/confirm", {}
    ),
    "POST /uploads/{uploadId}/undo-deactivations": lambda w, fac, unit: Request(
        "POST", f"/uploads/{w.uploads[fac]}/undo-deactivations"
    ),
    "GET /agencies": lambda w, fac, unit: Request("GET", "/agencies", listed_id=AGENCY_OF[fac]),
    "POST /agencies": lambda w, fac, unit: Request("POST", "/agencies", {"name": "Matrix Agency"}),
    "POST /agencies/{agencyId}/rename": lambda w, fac, unit: Request(
        "POST", f"/agencies/{AGENCY_OF[fac]}/rename", {"name": AGENCY_OF[fac]}
    ),
    "GET /agencies/{agencyId}/locations": lambda w, fac, unit: Request(
        "GET", f"/agencies/{AGENCY_OF[fac]}/locations", listed_id=fac
    ),
    "POST /facilities": lambda w, fac, unit: Request(
        "POST", "/facilities", {"agencyId": AGENCY_OF[fac], "name": "Matrix Facility"}
    ),
    "POST /facilities/{facilityId}/housing-units": lambda w, fac, unit: Request(
        "POST", f"/facilities/{fac}/housing-units", {"name": "Matrix Unit"}
    ),
    "POST /locations/{locationId}/rename": lambda w, fac, unit: Request(
        "POST", f"/locations/{fac}/rename", {"name": fac}
    ),
    "POST /locations/{locationId}/deactivate": lambda w, fac, unit: Request(
        "POST", f"/locations/{_new_unit(w, fac)}/deactivate"
    ),
    "POST /locations/{locationId}/reactivate": lambda w, fac, unit: Request(
        "POST", f"/locations/{_new_unit(w, fac, active=False)}/reactivate"
    ),
    "POST /locations/{locationId}/delete": lambda w, fac, unit: Request(
        "POST", f"/locations/{_new_unit(w, fac)}/delete"
    ),
    "GET /facilities/{facilityId}/settings": lambda w, fac, unit: Request("GET", f"/facilities/{fac}/settings"),
    "POST /facilities/{facilityId}/settings": lambda w, fac, unit: Request(
        "POST", f"/facilities/{fac}/settings", {"autoConfirmDrops": False}
    ),
    "GET /staff": lambda w, fac, unit: Request("GET", "/staff", listed_id=w.educators[fac]),
    "POST /staff": lambda w, fac, unit: Request(
        "POST",
        "/staff",
        {
            "username": f"invited-{next(w.doc_ids)}",
            "role": "Educator",
            "agencyId": AGENCY_OF[fac],
            "facilityIds": [fac],
        },
    ),
    "POST /staff/{username}/scope": lambda w, fac, unit: Request(
        "POST", f"/staff/{_new_educator(w, fac)}/scope", _promote(fac)
    ),
    "POST /staff/{username}/grants": lambda w, fac, unit: Request(
        "POST", f"/staff/{_new_educator(w, fac)}/grants", {"role": "FacilityAdmin", "facilityId": fac}
    ),
    "POST /staff/{username}/grants/remove": lambda w, fac, unit: Request(
        "POST", f"/staff/{_new_educator(w, fac)}/grants/remove", {"role": "Educator", "facilityId": fac}
    ),
    "POST /staff/{username}/disable": lambda w, fac, unit: Request("POST", f"/staff/{_new_educator(w, fac)}/disable"),
    "POST /staff/{username}/enable": lambda w, fac, unit: Request(
        "POST", f"/staff/{_new_educator(w, fac, active=False)}/enable"
    ),
    "GET /facilities/{facilityId}/audit": lambda w, fac, unit: Request("GET", f"/facilities/{fac}/audit"),
}


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    """One moto for the whole matrix (overrides the per-test fixture: ~150 cells share one world)."""
    with pytest.MonkeyPatch.context() as patch, moto_resources(patch, user_pool=True) as resources:
        yield resources


@pytest.fixture(scope="module")
def world(aws: Any) -> World:
    """The directory of tests/conftest.py, a learner and a VALIDATED upload (through the real path) per facility."""
    from intake.dal import directory as locations
    from intake.dal import staff
    from intake.domain import Agency, Location, LocationKind, Role, StaffMember
    from tests.conftest import FakeLambdaContext

    for agency_id in (AGENCY_A, AGENCY_B):
        locations.put_agency(Agency(agency_id=agency_id, name=agency_id))
    for facility_id, units in ((FAC_A1, (UNIT_A1, UNIT_A1B)), (FAC_A2, (UNIT_A2,)), (FAC_B1, (UNIT_B1,))):
        for location_id in (facility_id, *units):
            kind = LocationKind.FACILITY if location_id == facility_id else LocationKind.HOUSING_UNIT
            locations.put_location(
                Location(
                    location_id=location_id,
                    name=location_id,
                    agency_id=AGENCY_OF[facility_id],
                    facility_id=facility_id,
                    kind=kind,
                )
            )
    for member in (
        StaffMember(username="sys", role=Role.SYSTEM_ADMIN),
        StaffMember(username="north", role=Role.AGENCY_ADMIN, agency_id=AGENCY_A),
        StaffMember(username="ridge", role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_ids=(FAC_A1,)),
        StaffMember(username="teacher", role=Role.EDUCATOR, agency_id=AGENCY_A, facility_ids=(FAC_A1,)),
    ):
        staff.put_staff(member)

    state = World(resources=aws, learners={}, uploads={}, doc_ids=itertools.count(7_000_001), educators={})
    for facility_id, unit_id in TARGETS.values():
        state.learners[facility_id] = _new_learner(state, facility_id, unit_id)
        state.educators[facility_id] = _new_educator(state, facility_id)
        status, link, _ = _call("POST", "/uploads", "sys", {"facilityId": facility_id}, context=FakeLambdaContext())
        assert status == 201, link
        row = f"1,{next(state.doc_ids)},Ivy,Moss,02/03/1985,Learner,,{unit_id}"
        put_object(aws, link["upload"]["fields"]["key"], csv_file([row]))
        state.uploads[facility_id] = link["uploadId"]
    drain(aws)
    for upload_id in state.uploads.values():
        status, view, _ = _call("GET", f"/uploads/{upload_id}", "sys", context=FakeLambdaContext())
        assert view["status"] == "VALIDATED", view
    return state


def _call(method: str, path: str, user: str | None, body: Any = None, query: Any = None, *, context: Any) -> Any:
    """The API handler called as API Gateway would (the call_api fixture, usable from a module fixture)."""
    import copy

    import api_handler
    from tests.conftest import load_event

    event = copy.deepcopy(load_event("api_request.json"))
    event.update(httpMethod=method, path=path, queryStringParameters=query)
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["authorizer"] = {"claims": {"cognito:username": user, "token_use": "id"}} if user else {}
    event["body"] = json.dumps(body) if body is not None else None
    response = api_handler.lambda_handler(event, context)
    headers = dict(response.get("headers") or {})
    headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
    is_json = headers.get("Content-Type", "").startswith("application/json")
    return response["statusCode"], json.loads(response["body"]) if is_json else response["body"], headers


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The API's OpenAPI document, as GET /openapi.json serves it."""
    import api_handler

    return json.loads(api_handler.openapi_json())


def documented_operations(document: dict[str, Any]) -> set[str]:
    """'METHOD /path' of every operation of an OpenAPI document."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }


def check_documented(document: dict[str, Any], route: str, status: int, body: Any) -> None:
    """The status is one the operation documents, and a JSON body matches the documented schema."""
    method, path = route.split(" ", 1)
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{route} answered {status}, which its OpenAPI operation does not document"
    content = responses[str(status)].get("content", {})
    if "application/json" in content:
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{route} {status}: {errors[0].message}"


_LIST_IDS = {"facilities": "facilityId", "learners": "learnerId", "agencies": "agencyId", "staff": "username"}


def _listed(body: Any, wanted: str) -> bool:
    (key,) = set(_LIST_IDS) & set(body)
    return any(item[_LIST_IDS[key]] == wanted for item in body[key])


CELLS = [
    pytest.param(route, role, target, id=f"{route}|{role}|{target}")
    for route in EXPECTED
    for role in USERS
    for target in TARGETS
]


@pytest.mark.parametrize(("route", "role", "target"), CELLS)
def test_matrix(route: str, role: str, target: str, world: World, call_api, openapi) -> None:
    # Given a staff member of this role (or no token) and a resource at the target facility
    facility_id, unit_id = TARGETS[target]
    request = ROUTES[route](world, facility_id, unit_id)
    expected = EXPECTED[route][role][list(TARGETS).index(target)]
    before = _staff_target(request)
    stored_before = _stored_target(world, route, request, facility_id)
    if stored_before is not None and route.startswith(("POST /learners/{", "PATCH", "POST /uploads/{")):
        # (the one learner or upload the call would change is stored, so the comparison below sees it)
        assert len(stored_before["learners" if "learners" in route else "uploads"]) == 1
    # When they call the route
    status, body, _ = call_api(request.method, request.path, USERS[role], request.body, request.query)
    # Then the contract's status, documented in the OpenAPI document with the body it has
    assert status == int(expected[:3]), (status, body)
    if before is not None and status >= 400:
        # And a refused change of a staff member left their record as it was
        assert _staff_target(request) == before
    if stored_before is not None and status >= 400:
        # And a refused write on a learner or an upload left the stored items (and the upload's objects) as they were
        assert _stored_target(world, route, request, facility_id) == stored_before, route
    check_documented(openapi, route, status, body)
    if expected.endswith(("+", "-")):
        assert request.listed_id is not None
        assert _listed(body, request.listed_id) is expected.endswith("+"), body
    if status == 401:
        assert body["code"] == "UNAUTHENTICATED"
    if status == 403:
        assert body["code"] == "PERMISSION_DENIED"
        if route == "POST /learners":
            assert body["message"] == "Requestor does not have permission to create this user"
    if status == 404:
        assert body["code"] == "NOT_FOUND"


def _staff_target(request: Request) -> Any:
    """The staff record a `POST /staff/{username}/...` request changes (None for any other request)."""
    from intake.dal import staff

    parts = request.path.split("/")
    if request.method != "POST" or len(parts) not in (4, 5) or parts[1] != "staff":
        return None
    return staff.get_staff(parts[2])


def _table_items(world: World, logical_id: str, attribute: str, value: str) -> list[dict[str, Any]]:
    """Every item of a table whose attribute has this value, read raw (consistent scan), in key order."""
    import boto3
    from boto3.dynamodb.conditions import Attr

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(world.resources.tables[logical_id])
    scan: dict[str, Any] = {"FilterExpression": Attr(attribute).eq(value), "ConsistentRead": True}
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**scan)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: json.dumps(item, default=str, sort_keys=True))
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _objects_under(world: World, *prefixes: str) -> dict[str, tuple[str, int]]:
    """(ETag, size) of every object under these prefixes."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    found: dict[str, tuple[str, int]] = {}
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=world.resources.bucket, Prefix=prefix):
            found.update({entry["Key"]: (entry["ETag"], entry["Size"]) for entry in page.get("Contents", [])})
    return found


def _stored_target(world: World, route: str, request: Request, facility_id: str) -> dict[str, Any] | None:
    """What a learner or upload write would change, read from storage (None for any other route).

    POST /learners: every learner item with the asked DOC ID (in any agency). A move: the learner's items. POST
    /uploads: the facility's upload items and its incoming/ objects. A confirm: the upload item and every object
    under the upload's keys (file, reports, result passwords, plan).
    """
    if route == "POST /learners":
        return {"learners": _table_items(world, "LearnersTable", "docId", request.body["docId"])}
    if route == "POST /learners/{learnerId}/move" or route.startswith(("PATCH /learners/", "POST /learners/{")):
        return {"learners": _table_items(world, "LearnersTable", "learnerId", request.path.split("/")[2])}
    if route.endswith(("/learners/status", "/learner-cards")):
        (learner_id,) = request.body["learnerIds"]
        return {
            "learners": _table_items(world, "LearnersTable", "learnerId", learner_id),
            "audit": _table_items(world, "AuditTable", "targetId", learner_id),
        }
    if route == "POST /uploads":
        return {
            "uploads": _table_items(world, "UploadsTable", "facilityId", facility_id),
            "objects": _objects_under(world, f"incoming/{facility_id}/"),
        }
    if route == "POST /uploads/{uploadId}/confirm":
        from intake.bulk import keys

        upload_id = request.path.split("/")[2]
        return {
            "uploads": _table_items(world, "UploadsTable", "uploadId", upload_id),
            "objects": _objects_under(
                world,
                keys.incoming_key(facility_id, upload_id),
                f"reports/{facility_id}/{upload_id}/",
                keys.result_passwords_key(facility_id, upload_id),
                keys.plan_prefix(facility_id, upload_id),
            ),
        }
    return None


# Changing a staff member (disable, enable, demote or re-scope): only a role above theirs may, within its own grant
# and scope; the SystemAdmin, the top role, also changes other SystemAdmins; no one changes themselves. Peers
# (a FacilityAdmin of the same facility, an AgencyAdmin of the same agency) get 403; a target outside one's scope
# (for a FacilityAdmin any AgencyAdmin, for anyone but a SystemAdmin any SystemAdmin) 404. Every target is at home.
STAFF_CHANGES = ("disable", "enable", "demote", "rescope")
RANKED_EXPECTED: dict[str, tuple[str, str, str, str]] = {
    #   requestor ↓ / target →  SystemAdmin  AgencyAdmin  FacilityAdmin  Educator
    "SystemAdmin": ("200", "200", "200", "200"),
    "AgencyAdmin": ("404", "403", "200", "200"),
    "FacilityAdmin": ("404", "404", "403", "200"),
    "Educator": ("404", "404", "403", "403"),
}
TARGET_ROLES = ("SystemAdmin", "AgencyAdmin", "FacilityAdmin", "Educator")


def _ranked_target(world: World, role: str, *, active: bool) -> Any:
    """A fresh staff member of this role at home (agency A, FAC_A1)."""
    from intake.dal import staff
    from intake.domain import Role, StaffMember

    scope: dict[str, Any] = {}
    if role != "SystemAdmin":
        scope["agency_id"] = AGENCY_A
    if role in ("FacilityAdmin", "Educator"):
        scope["facility_ids"] = (FAC_A1,)
    member = StaffMember(username=f"ranked-{next(world.doc_ids)}", role=Role(role), active=active, **scope)
    return staff.put_staff(member)


def _ranked_change(change: str, member: Any) -> Request:
    """One change of a staff member; demote and re-scope stay within an AgencyAdmin's grant (FAC_A1 of agency A)."""
    name = member.username
    if change in ("disable", "enable"):
        return Request("POST", f"/staff/{name}/{change}")
    lower = {"SystemAdmin": "AgencyAdmin", "AgencyAdmin": "FacilityAdmin"}.get(member.role.value, "Educator")
    role = lower if change == "demote" else member.role.value
    grant: dict[str, Any] = {"role": role}
    if role != "SystemAdmin":
        grant["agencyId"] = AGENCY_A
    if role in ("FacilityAdmin", "Educator"):
        grant["facilityIds"] = [FAC_A1]
    return Request("POST", f"/staff/{name}/scope", grant)


RANKED_CELLS = [
    pytest.param(change, role, target, id=f"{change}|{role}->{target}")
    for change in STAFF_CHANGES
    for role in RANKED_EXPECTED
    for target in TARGET_ROLES
]


@pytest.mark.parametrize(("change", "role", "target_role"), RANKED_CELLS)
def test_only_a_higher_role_changes_a_staff_member(
    change: str, role: str, target_role: str, world: World, call_api, openapi
) -> None:
    from intake.dal import staff

    # Given a staff member of the target role in the requestor's home scope (disabled, for an enable)
    member = _ranked_target(world, target_role, active=change != "enable")
    request = _ranked_change(change, member)
    expected = int(RANKED_EXPECTED[role][TARGET_ROLES.index(target_role)])
    # When a requestor of this role changes them
    status, body, _ = call_api(request.method, request.path, USERS[role], request.body)
    # Then only a higher role (or a SystemAdmin) succeeds, with a documented answer
    assert status == expected, (status, body)
    check_documented(openapi, f"POST /staff/{{username}}/{'scope' if request.body else change}", status, body)
    after = staff.get_staff(member.username)
    if status == 200:
        # And the record is what was asked for
        wanted = {"disable": False, "enable": True}.get(change, member.active)
        assert after.active is wanted and body["staff"] == after.to_json_dict()
        assert after.role.value == (request.body or {}).get("role", member.role.value)
    else:
        # And a refused change leaves the record exactly as it was
        assert body["code"] == ("PERMISSION_DENIED" if status == 403 else "NOT_FOUND")
        assert after == member


def test_every_route_has_a_matrix_row(openapi) -> None:
    # Given the routes the API documents and the routes the template deploys
    from local.local_api import api_routes

    documented = documented_operations(openapi)
    deployed = {f"{route.method} {route.path}" for route in api_routes()}
    # Then each has a row of expected statuses and a way to call it, and nothing else does
    assert documented == set(EXPECTED), "add a row to EXPECTED (and ROUTES) for each new route"
    assert set(ROUTES) == set(EXPECTED)
    assert deployed == set(EXPECTED) | UNDOCUMENTED, "the template and the resolver disagree on the routes"
    for rows in EXPECTED.values():
        assert set(rows) == set(USERS)


def test_the_openapi_document_is_public_and_the_one_tested_here(call_api, openapi) -> None:
    # Given no token
    # When GET /openapi.json
    status, body, _ = call_api("GET", "/openapi.json")
    # Then 200 with the very document the matrix checks answers against
    assert status == 200
    assert body == openapi


def test_another_facilitys_upload_answers_like_no_upload(world: World, call_api) -> None:
    # Given an upload of the sibling facility and an id that exists nowhere
    foreign = world.uploads[FAC_A2]
    for path in ("/uploads/{}", "/uploads/{}/confirm"):
        method = "POST" if path.endswith("confirm") else "GET"
        # When the FacilityAdmin of the home facility asks for each
        foreign_answer = call_api(method, path.format(foreign), "ridge", {} if method == "POST" else None)
        unknown_answer = call_api(method, path.format("0" * 32), "ridge", {} if method == "POST" else None)
        # Then both are the same 404: nothing tells that the foreign upload exists
        assert foreign_answer[0] == unknown_answer[0] == 404
        assert foreign_answer[1] == unknown_answer[1]
    # And the upload was not confirmed by the foreign call
    status, view, _ = call_api("GET", f"/uploads/{foreign}", "north")
    assert status == 200 and view["status"] in {"VALIDATED", "CREATING"}


def test_another_agencys_learner_answers_like_no_learner(world: World, call_api) -> None:
    # Given a learner of another agency
    foreign = world.learners[FAC_B1]["learnerId"]
    # When the AgencyAdmin of agency A reads or moves it, and reads a learner that does not exist
    read = call_api("GET", f"/learners/{foreign}", "north")
    move = call_api("POST", f"/learners/{foreign}/move", "north", {"locationId": UNIT_A2})
    missing = call_api("GET", "/learners/no-such-learner", "north")
    # Then each is the same 404
    assert read[0] == move[0] == missing[0] == 404
    assert read[1] == move[1] == missing[1]


def test_out_of_scope_administration_targets_answer_like_missing_ones(world: World, call_api) -> None:
    # Given, for the AgencyAdmin of agency A and the FacilityAdmin of FAC_A1, an agency, a location, a facility and a
    # staff member outside their scope, each beside the same call on an id that exists nowhere
    foreign_educator = world.educators[FAC_B1]
    pairs = [
        ("north", "POST", "/agencies/{}/rename", (AGENCY_B, "no-such-agency"), {"name": "X"}),
        ("north", "GET", "/agencies/{}/locations", (AGENCY_B, "no-such-agency"), None),
        ("ridge", "POST", "/locations/{}/rename", (UNIT_A2, "no-such-location"), {"name": "X"}),
        ("ridge", "POST", "/locations/{}/delete", (UNIT_B1, "no-such-location"), None),
        ("ridge", "GET", "/facilities/{}/audit", (FAC_A2, "no-such-facility"), None),
        ("north", "POST", "/facilities/{}/settings", (FAC_B1, "no-such-facility"), {"autoConfirmDrops": True}),
        ("north", "POST", "/staff/{}/disable", (foreign_educator, "no-such-staff"), None),
    ]
    for user, method, path, (foreign, missing), body in pairs:
        # When they call the route on each
        foreign_answer = call_api(method, path.format(foreign), user, body)
        missing_answer = call_api(method, path.format(missing), user, body)
        # Then both are the same 404: nothing tells that the foreign one exists
        assert foreign_answer[0] == missing_answer[0] == 404, (path, foreign_answer, missing_answer)
        assert foreign_answer[1] == missing_answer[1], path
    # And a new facility in another agency answers like one in an agency that does not exist
    for agency_id in (AGENCY_B, "no-such-agency"):
        status, body, _ = call_api("POST", "/facilities", "north", {"agencyId": agency_id, "name": "Not mine"})
        assert (status, body["code"]) == (404, "NOT_FOUND")
    assert call_api("GET", "/agencies/no-such-agency/locations", "sys")[0] == 404
    # And nothing outside their scope changed
    from intake.dal import directory, staff

    assert directory.get_location(UNIT_B1) is not None and directory.get_location(UNIT_A2).name == UNIT_A2
    assert staff.get_staff(foreign_educator).active is True
    assert not directory.get_location(FAC_B1).auto_confirm_drops


def _sigv4_signature(secret: str, date: str, region: str, string_to_sign: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def test_presigned_post_is_bound_to_its_key_size_and_expiry(world: World, call_api) -> None:
    # Given a FacilityAdmin asking for an upload link
    before = datetime.now(UTC)
    status, created, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1, "fileName": "roster.csv"})
    assert status == 201
    link = created["upload"]
    fields = link["fields"]
    # When its signed policy is decoded
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    # Then it allows exactly one key (the upload's, in its facility's incoming/ prefix), no prefix match at all
    key = f"incoming/{FAC_A1}/{created['uploadId']}.csv"
    assert fields["key"] == key
    assert {"key": key} in conditions
    assert {"bucket": world.resources.bucket} in conditions
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions), conditions
    # And a size range from 1 byte to maxBytes (the settings' limit)
    from intake.settings import get_settings

    assert ["content-length-range", 1, link["maxBytes"]] in conditions
    assert link["maxBytes"] == get_settings().max_upload_bytes
    # And it expires after the link TTL (15 minutes), as the answer says
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    ttl = timedelta(seconds=get_settings().upload_link_ttl_seconds)
    assert before + ttl - timedelta(seconds=5) <= expiration <= datetime.now(UTC) + ttl + timedelta(seconds=5)
    assert abs(datetime.fromisoformat(link["expiresAt"]) - expiration) < timedelta(seconds=2)
    # And the signature covers exactly this policy (SigV4 with the caller's secret), so none of it can be changed
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    access_key, date, region, service, terminator = fields["x-amz-credential"].split("/")
    assert access_key == os.environ["AWS_ACCESS_KEY_ID"]
    assert (region, service, terminator) == ("us-east-1", "s3", "aws4_request")
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    assert fields["x-amz-signature"] == _sigv4_signature(secret, date, region, fields["policy"])
    tampered = base64.b64encode(json.dumps({**policy, "conditions": conditions[1:]}).encode()).decode()
    assert fields["x-amz-signature"] != _sigv4_signature(secret, date, region, tampered)
    assert {"x-amz-credential": fields["x-amz-credential"]} in conditions


def test_an_object_over_the_size_limit_is_rejected_too_large(
    world: World, call_api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a size limit of 200 bytes, and a link signed with it
    from intake.settings import get_settings

    monkeypatch.setenv("MAX_UPLOAD_BYTES", "200")
    get_settings.cache_clear()
    try:
        status, created, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
        assert status == 201 and created["upload"]["maxBytes"] == 200
        policy = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))
        assert ["content-length-range", 1, 200] in policy["conditions"]
        # When a larger object lands at its key anyway (moto, unlike S3, does not enforce the policy)
        rows = [f"{i},{8_000_000 + i},Ann,Lee,01/02/1980,Learner,,{UNIT_A1}" for i in range(1, 10)]
        data = csv_file(rows)
        assert len(data) > 200
        put_object(world.resources, created["upload"]["fields"]["key"], data)
        drain(world.resources)
        # Then the validator rejects the file as TOO_LARGE and deletes it
        status, view, _ = call_api("GET", f"/uploads/{created['uploadId']}", "ridge")
    finally:
        monkeypatch.delenv("MAX_UPLOAD_BYTES")
        get_settings.cache_clear()
    assert view["status"] == "REJECTED"
    assert [(e["line"], e["code"]) for e in view["errors"]] == [(0, "TOO_LARGE")]
    from tests.integration.bulk_helpers import keys_under

    assert keys_under(world.resources, created["upload"]["fields"]["key"]) == []


def test_report_links_expire_and_results_are_for_writers_only(world: World, call_api) -> None:
    # Given the home facility's upload, confirmed and created (the matrix confirms uploads of its own, but an
    # earlier test may have confirmed this one as another staff member: the confirmer is whoever confirmed first)
    from intake.dal.uploads import get_upload

    upload_id = world.uploads[FAC_A1]
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(world.resources)
    confirmer = get_upload(upload_id).confirmed_by
    other_writer = "north" if confirmer == "ridge" else "ridge"
    # When the confirmer, another writer of the facility and its Educator read it
    _, confirmer_view, _ = call_api("GET", f"/uploads/{upload_id}", confirmer)
    _, writer_view, _ = call_api("GET", f"/uploads/{upload_id}", other_writer)
    _, educator_view, _ = call_api("GET", f"/uploads/{upload_id}", "teacher")
    # Then results links are for writers only and live 5 minutes; the generated passwords are the confirmer's only
    from urllib.parse import parse_qs, urlsplit

    assert confirmer_view["status"] == "COMPLETED"
    assert "resultReportUrl" not in educator_view
    for view in (confirmer_view, writer_view):
        assert parse_qs(urlsplit(view["resultReportUrl"]).query)["X-Amz-Expires"] == ["300"]
    assert urlsplit(confirmer_view["resultReportUrl"]).path.endswith(f"/passwords/{FAC_A1}/{upload_id}/results.csv")
    assert urlsplit(writer_view["resultReportUrl"]).path.endswith(f"/reports/{FAC_A1}/{upload_id}/results.csv")


LEARNER_WRITES = [
    ("PATCH", "/learners/{}", {"lastName": "Edited"}),
    ("POST", "/learners/{}/deactivate", None),
    ("POST", "/learners/{}/reactivate", None),
    ("POST", "/learners/{}/password", {}),
]


def test_another_facilitys_learner_answers_like_no_learner_to_every_change(world: World, call_api) -> None:
    # Given a learner of a sibling facility (its FacilityAdmin's agency: readable, not writable) and of another agency
    for user, foreign in (("ridge", world.learners[FAC_A2]), ("north", world.learners[FAC_B1])):
        before = _table_items(world, "LearnersTable", "learnerId", foreign["learnerId"])
        for method, path, body in LEARNER_WRITES:
            # When the staff member changes it, and a learner that exists nowhere
            foreign_answer = call_api(method, path.format(foreign["learnerId"]), user, body)
            missing_answer = call_api(method, path.format("no-such-learner"), user, body)
            # Then both are the same 404
            assert foreign_answer[0] == missing_answer[0] == 404, (user, path, foreign_answer)
            assert foreign_answer[1] == missing_answer[1], (user, path)
        # And the selection routes name it as not found in their own facility, and refuse the foreign facility
        home = FAC_A1
        status, body, _ = call_api(
            "POST",
            f"/facilities/{home}/learners/status",
            "sys",
            {"learnerIds": [foreign["learnerId"]], "status": "INACTIVE"},
        )
        assert (status, body) == (200, {"results": [{"learnerId": foreign["learnerId"], "outcome": "NOT_FOUND"}]})
        # And the learner is as it was
        assert _table_items(world, "LearnersTable", "learnerId", foreign["learnerId"]) == before


def test_an_educator_prints_cards_without_new_passwords_in_scope_only(world: World, call_api) -> None:
    # Given the Educator of the home facility and a learner there
    learner = _new_learner(world, FAC_A1, UNIT_A1)
    before = _table_items(world, "LearnersTable", "learnerId", learner["learnerId"])
    body = {"learnerIds": [learner["learnerId"]]}
    # When they ask for its card without resetPasswords, at home and in another facility
    status, pdf, headers = call_api("POST", f"/facilities/{FAC_A1}/learner-cards", "teacher", body)
    foreign = call_api("POST", f"/facilities/{FAC_A2}/learner-cards", "teacher", body)
    # Then home answers the PDF and the other facility 404, and no password changed
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert base64.b64decode(pdf).startswith(b"%PDF")
    assert foreign[0] == 404 and foreign[1]["code"] == "NOT_FOUND"
    assert _table_items(world, "LearnersTable", "learnerId", learner["learnerId"]) == before
