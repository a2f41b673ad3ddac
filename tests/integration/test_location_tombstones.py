"""Deleted locations leave a tombstone: a facility or housing unit id is never used again (issue #13, finding 12).

A new facility created with the id of a deleted one would see the old facility's uploads, report links and audit
trail (they are keyed by the facility id), whichever agency it is created in.
"""

from __future__ import annotations

from typing import Any

import boto3

from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1

OLD_ID = "fac-old"


def _locations_table_items(location_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The raw item of an id and every raw item of the byAgency index (what storage holds, not what the DAL says)."""
    import os

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = os.environ["LOCATIONS_TABLE"]
    item = client.get_item(TableName=table, Key={"locationId": {"S": location_id}}, ConsistentRead=True).get("Item")
    indexed: list[dict[str, Any]] = []
    for agency in (AGENCY_A, AGENCY_B):
        indexed += client.query(
            TableName=table,
            IndexName="byAgency",
            KeyConditionExpression="agencyId = :a",
            ExpressionAttributeValues={":a": {"S": agency}},
        )["Items"]
    return item, indexed


def _ids(call_api, path: str, user: str = "sys") -> set[str]:
    status, body, _ = call_api("GET", path, user)
    assert status == 200, body
    found = set()
    for facility in body.get("facilities", []):
        found.add(facility["facilityId"])
        found |= {unit["locationId"] for unit in facility.get("housingUnits", [])}
    return found


def test_a_deleted_facility_id_is_never_created_again_in_any_agency(call_api, directory):
    from intake.dal import directory as store

    # Given an empty facility of agency A, created and then deleted by its AgencyAdmin
    created = call_api("POST", "/facilities", "north", {"agencyId": AGENCY_A, "facilityId": OLD_ID, "name": "Old"})
    assert created[0] == 201, created
    assert call_api("POST", f"/locations/{OLD_ID}/delete", "north")[0] == 200
    # When the id is created again, in the same agency and (by a SystemAdmin) in another agency
    again = [
        call_api("POST", "/facilities", "north", {"agencyId": AGENCY_A, "facilityId": OLD_ID, "name": "New"}),
        call_api("POST", "/facilities", "sys", {"agencyId": AGENCY_B, "facilityId": OLD_ID, "name": "New"}),
    ]
    # Then each is a 409 CONFLICT whose message says the id was used before and to choose another
    for status, body, _ in again:
        assert (status, body["code"]) == (409, "CONFLICT"), body
        assert "used before" in body["message"] and "choose another id" in body["message"]
    # And storage holds a tombstone in the id's place: no name, no agency, so in no agency's index
    item, indexed = _locations_table_items(OLD_ID)
    assert item is not None and item["kind"]["S"] == "DELETED"
    assert "agencyId" not in item and "name" not in item
    assert item["formerAgencyId"]["S"] == AGENCY_A and item["formerKind"]["S"] == "FACILITY"
    assert OLD_ID not in {entry["locationId"]["S"] for entry in indexed}
    # And no reading or listing shows it: not the DAL, not GET /facilities, not the agency's locations
    assert store.get_location(OLD_ID) is None and OLD_ID not in store.get_locations([OLD_ID, FAC_A1])
    assert OLD_ID not in {loc.location_id for loc in store.list_locations()}
    assert OLD_ID not in _ids(call_api, "/facilities")
    assert OLD_ID not in _ids(call_api, f"/agencies/{AGENCY_A}/locations")
    # And it cannot be changed or brought back: it answers as a location that does not exist
    for action, body in (("rename", {"name": "Back"}), ("reactivate", None), ("delete", None)):
        status, answer, _ = call_api("POST", f"/locations/{OLD_ID}/{action}", "sys", body)
        assert (status, answer["code"]) == (404, "NOT_FOUND"), (action, answer)
    assert call_api("GET", f"/facilities/{OLD_ID}/uploads", "sys")[0] == 404
    assert _locations_table_items(OLD_ID)[0] == item


def test_a_deleted_housing_unit_id_is_never_created_again(call_api, directory):
    # Given an empty housing unit of ridge, created and then deleted by ridge's FacilityAdmin
    new_unit = {"locationId": "unit-old", "name": "Old unit"}
    assert call_api("POST", f"/facilities/{FAC_A1}/housing-units", "ridge", new_unit)[0] == 201
    assert call_api("POST", "/locations/unit-old/delete", "ridge")[0] == 200
    # When the id is used again, for a housing unit of the same facility or for a facility
    as_unit = call_api("POST", f"/facilities/{FAC_A1}/housing-units", "ridge", new_unit)
    as_facility = call_api("POST", "/facilities", "sys", {"agencyId": AGENCY_B, "facilityId": "unit-old", "name": "X"})
    # Then both are refused, and the facility's listing does not show the tombstone
    assert as_unit[0] == as_facility[0] == 409
    assert "used before" in as_unit[1]["message"]
    assert "unit-old" not in _ids(call_api, "/facilities", "ridge")
    # And a learner cannot be created there (the id names no location)
    learner = {"docId": "400100", "firstName": "Ada", "lastName": "Hill", "dateOfBirth": "03/14/1988"}
    status, body, _ = call_api("POST", "/learners", "ridge", {**learner, "locationId": "unit-old"})
    assert (status, body["code"]) == (403, "PERMISSION_DENIED")


def test_an_id_in_use_still_says_it_is_in_use(call_api, directory):
    # Given a facility that exists
    # When its id is created again
    status, body, _ = call_api("POST", "/facilities", "sys", {"agencyId": AGENCY_B, "facilityId": FAC_A1, "name": "X"})
    # Then the conflict says the id is in use (not that it was deleted)
    assert status == 409 and "already in use" in body["message"]
