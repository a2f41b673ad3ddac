"""Facilities in scope, one facility's bulk template, and the upload limits of a facility."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from intake import facility_service
from intake.dal import directory as locations
from intake.domain import Location, LocationKind
from intake.errors import NotFound
from intake.settings import get_settings
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, FAC_B1, UNIT_A1, UNIT_A1B, UNIT_A2, UNIT_B1


def _ids(facilities: list) -> dict[str, list[str]]:
    return {f.location_id: [u.location_id for u in units] for f, units in facilities}


def test_system_admin_sees_every_facility_with_its_units(directory: dict) -> None:
    assert _ids(facility_service.list_facilities(directory["sys"])) == {
        FAC_B1: [UNIT_B1],
        FAC_A2: [UNIT_A2],
        FAC_A1: [UNIT_A1, UNIT_A1B],
    }


def test_agency_admin_sees_only_its_agency(directory: dict) -> None:
    assert _ids(facility_service.list_facilities(directory["north"])) == {
        FAC_A2: [UNIT_A2],
        FAC_A1: [UNIT_A1, UNIT_A1B],
    }


@pytest.mark.parametrize("user", ["ridge", "teacher"])
def test_facility_staff_see_only_their_facility(directory: dict, user: str) -> None:
    assert _ids(facility_service.list_facilities(directory[user])) == {FAC_A1: [UNIT_A1, UNIT_A1B]}


def test_deactivated_locations_are_not_listed(directory: dict) -> None:
    # Given a deactivated unit and a deactivated facility
    locations.update_location(UNIT_A1B, active=False)
    locations.update_location(FAC_A2, active=False)
    # Then neither is listed
    assert _ids(facility_service.list_facilities(directory["north"])) == {FAC_A1: [UNIT_A1]}


def test_list_is_by_name_and_carries_the_agency(directory: dict) -> None:
    # Given facility names that sort otherwise than their ids
    locations.update_location(FAC_A1, name="Zephyr")
    locations.update_location(FAC_A2, name="Aspen")
    facilities = facility_service.list_facilities(directory["north"])
    assert [(f.name, f.agency_id) for f, _ in facilities] == [("Aspen", AGENCY_A), ("Zephyr", AGENCY_A)]


def test_facilities_with_units_groups_units_under_their_facility_by_name() -> None:
    def loc(location_id: str, name: str, facility_id: str, kind: LocationKind) -> Location:
        return Location(location_id=location_id, name=name, agency_id="a", facility_id=facility_id, kind=kind)

    grouped = facility_service.facilities_with_units(
        [
            loc("u2", "B unit", "f1", LocationKind.HOUSING_UNIT),
            loc("f2", "Alpha", "f2", LocationKind.FACILITY),
            loc("u1", "A unit", "f1", LocationKind.HOUSING_UNIT),
            loc("f1", "Beta", "f1", LocationKind.FACILITY),
            loc("orphan", "O", "gone", LocationKind.HOUSING_UNIT),
        ]
    )
    assert [(f.location_id, [u.location_id for u in units]) for f, units in grouped] == [
        ("f2", []),
        ("f1", ["u1", "u2"]),
    ]


def test_get_facility_returns_a_visible_facility(directory: dict) -> None:
    assert facility_service.get_facility(directory["teacher"], FAC_A1).location_id == FAC_A1


@pytest.mark.parametrize(
    ("user", "location_id"),
    [("ridge", FAC_A2), ("bay", FAC_A1), ("north", FAC_B1), ("sys", UNIT_A1), ("sys", "nowhere")],
)
def test_get_facility_answers_not_found_out_of_scope_for_units_and_unknown_ids(
    directory: dict, user: str, location_id: str
) -> None:
    with pytest.raises(NotFound, match="No such facility"):
        facility_service.get_facility(directory[user], location_id)


def test_template_has_the_contract_header_and_a_prefilled_row(directory: dict) -> None:
    # When the ridge facility's template is made
    text = facility_service.template_csv(directory["ridge"], FAC_A1)
    # Then it is CRLF CSV: the header, then a row with requestId 1, role Learner and the facility's id
    assert text.endswith("\r\n") and text.count("\r\n") == 2
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        ["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId"],
        ["1", "", "", "", "", "Learner", "", FAC_A1],
    ]


def test_template_of_another_facility_is_not_found(directory: dict) -> None:
    with pytest.raises(NotFound):
        facility_service.template_csv(directory["lake"], FAC_A1)


def _facility(**settings: Any) -> Location:
    return Location(location_id="f", name="F", agency_id="a", facility_id="f", kind=LocationKind.FACILITY, **settings)


def test_upload_limits_are_the_systems_without_facility_settings(aws: Any) -> None:
    system = get_settings()
    assert facility_service.upload_limits(None) == (system.max_upload_bytes, system.max_upload_rows)
    assert facility_service.upload_limits(_facility()) == (system.max_upload_bytes, system.max_upload_rows)


def test_upload_limits_take_the_facilitys_lower_limits(aws: Any) -> None:
    assert facility_service.upload_limits(_facility(max_upload_bytes=1000, max_upload_rows=50)) == (1000, 50)


def test_upload_limits_never_exceed_the_systems(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the system lowered below a facility's stored limits
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "500")
    monkeypatch.setenv("MAX_UPLOAD_ROWS", "20")
    get_settings.cache_clear()
    # Then the system's limits win
    assert facility_service.upload_limits(_facility(max_upload_bytes=1000, max_upload_rows=50)) == (500, 20)
