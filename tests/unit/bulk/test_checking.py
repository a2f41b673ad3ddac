"""RowChecker: the single-learner rules per row, the requestor's scope per location, duplicates within the file."""

from __future__ import annotations

import io

import pytest

from intake.bulk.checking import RowChecker, check_file
from intake.bulk.reading import TOO_LONG
from intake.bulk.types import as_checked
from intake.domain import Grant, Role
from intake.errors import CREATE_DENIED_MESSAGE
from tests.unit.bulk.support import World


def cells(**changes: str) -> dict[str, str]:
    row = {
        "requestId": "1",
        "docID": "100201",
        "firstName": "Marcus",
        "lastName": "Hill",
        "dateOfBirth": "3/14/1988",
        "role": "Learner",
        "password": "",
        "locationId": "fac-oak-u1",
    }
    row.update(changes)
    return row


def checker(world: World) -> RowChecker:
    return RowChecker(world.requestor, world.resolve, world.today, facility_id=world.facility_id)


def codes(world: World, **changes: str) -> list[tuple[str, str]]:
    row = checker(world).check(2, cells(**changes))
    return [(issue.field, issue.code) for issue in row.issues]


def test_a_valid_row_comes_back_cleaned_with_its_location(world: World) -> None:
    # Given a row as Excel writes it: lower-case DOC ID, M/D/YYYY, spaces and a non-breaking space in a name
    row = checker(world).check(
        7, cells(docID=" ab-100 ", firstName="Mary\u00a0 Ann ", dateOfBirth="3/4/1988", password="Sunrise42")
    )
    # Then it is valid and cleaned, with the location's facility and agency
    assert row.is_valid
    assert row.issues == []
    assert (row.line, row.request_id, row.doc_id) == (7, "1", "AB-100")
    assert (row.first_name, row.last_name, row.date_of_birth) == ("Mary Ann", "Hill", "03/04/1988")
    assert row.password == "Sunrise42"
    assert (row.location_id, row.facility_id, row.agency_id) == ("fac-oak-u1", "fac-oak", "agency-north")


def test_a_blank_password_means_one_is_generated(world: World) -> None:
    # Given no password, Then the row is valid and its password None
    assert checker(world).check(2, cells()).password is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"docID": ""}, [("docID", "REQUIRED")]),
        ({"docID": "1.23457E+11"}, [("docID", "INVALID_VALUE")]),
        ({"firstName": "=cmd|' /C calc'!A0"}, [("firstName", "INVALID_VALUE")]),
        ({"lastName": "Lee\x00"}, [("lastName", "INVALID_VALUE")]),
        ({"dateOfBirth": "31113"}, [("dateOfBirth", "INVALID_DATE")]),
        ({"dateOfBirth": "3/7/85"}, [("dateOfBirth", "INVALID_DATE")]),
        ({"role": "LEARNER"}, [("role", "INVALID_ROLE")]),
        ({"role": ""}, [("role", "REQUIRED")]),
        ({"password": "short"}, [("password", "INVALID_VALUE")]),
        ({"locationId": "nowhere"}, [("locationId", "LOCATION_NOT_FOUND")]),
        ({"locationId": "fac-oak-u9"}, [("locationId", "LOCATION_INACTIVE")]),
        ({"locationId": "fac-pine"}, [("locationId", "PERMISSION_DENIED")]),
        ({"requestId": "r\x07"}, [("requestId", "INVALID_VALUE")]),
        (
            {"docID": "", "firstName": "", "dateOfBirth": "13/13/2000", "locationId": ""},
            [
                ("docID", "REQUIRED"),
                ("firstName", "REQUIRED"),
                ("dateOfBirth", "INVALID_DATE"),
                ("locationId", "PERMISSION_DENIED"),
            ],
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_each_broken_field_is_one_issue_on_that_field(
    world: World, changes: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    # Given a row with some fields broken, When it is checked, Then each broken field is one issue of its code
    assert codes(world, **changes) == expected


def test_serial_date_message_names_the_date_it_probably_is(world: World) -> None:
    # Given a date of birth saved by Excel as serial number 31113
    (issue,) = checker(world).check(2, cells(dateOfBirth="31113")).issues
    # Then the message names 03/07/1985 and says how to fix it
    assert "03/07/1985" in issue.message
    assert "Text" in issue.message


def test_issues_carry_the_line_request_id_and_doc_id(world: World) -> None:
    # Given a row with a bad date and a DOC ID in lower case
    (issue,) = checker(world).check(9, cells(requestId=" r-9 ", docID="ab1", dateOfBirth="x")).issues
    # Then the issue says where: line, requestId, cleaned DOC ID; severity error
    assert (issue.line, issue.request_id, issue.doc_id, issue.severity) == (9, "r-9", "AB1", "error")


def test_a_bad_doc_id_is_reported_as_typed(world: World) -> None:
    # Given a DOC ID in scientific notation, Then the issue's docId is the text as typed
    (issue,) = checker(world).check(2, cells(docID=" 1.23457E+11")).issues
    assert issue.doc_id == "1.23457E+11"


def test_a_blank_location_is_denied_with_the_portals_words_and_what_to_enter(world: World) -> None:
    # Given a row without a locationId
    (issue,) = checker(world).check(2, cells(locationId="  ")).issues
    # Then PERMISSION_DENIED opens with the portal's words and says what to enter
    assert issue.code == "PERMISSION_DENIED"
    assert issue.message.startswith(CREATE_DENIED_MESSAGE)
    assert "blank" in issue.message
    assert "fac-oak" in issue.message


def test_a_location_outside_the_scope_is_denied_naming_the_scope(world: World) -> None:
    # Given another agency's facility
    (issue,) = checker(world).check(2, cells(locationId="fac-elm")).issues
    # Then PERMISSION_DENIED opens with the portal's words and names what the requestor may use
    assert issue.message.startswith(CREATE_DENIED_MESSAGE)
    assert "outside your scope" in issue.message
    assert "fac-oak" in issue.message


def test_the_hint_names_only_the_facilities_where_the_requestor_is_facility_admin(world: World) -> None:
    # Given a FacilityAdmin of fac-oak who is an Educator at fac-pine
    mixed = world.requestor.model_copy(
        update={
            "grants": (
                Grant(role=Role.FACILITY_ADMIN, agency_id="agency-north", facility_id="fac-oak"),
                Grant(role=Role.EDUCATOR, agency_id="agency-north", facility_id="fac-pine"),
            )
        }
    )
    # When a row for fac-pine (read-only to them) is checked
    (issue,) = (
        RowChecker(mixed, world.resolve, world.today, facility_id="fac-oak")
        .check(2, cells(locationId="fac-pine"))
        .issues
    )
    # Then it is denied, and the hint names fac-oak alone, where they may create learners
    assert issue.code == "PERMISSION_DENIED" and "outside your scope" in issue.message
    assert "enter your facility's id (fac-oak)" in issue.message and issue.message.count("fac-pine") == 1


@pytest.mark.parametrize(
    ("role", "location", "code"),
    [
        (Role.SYSTEM_ADMIN, "fac-elm", None),
        (Role.AGENCY_ADMIN, "fac-pine", None),
        (Role.AGENCY_ADMIN, "fac-elm", "PERMISSION_DENIED"),
        (Role.EDUCATOR, "fac-oak-u1", "PERMISSION_DENIED"),
    ],
)
def test_scope_follows_the_requestors_role(world: World, role: Role, location: str, code: str | None) -> None:
    # Given a requestor of another role
    other = world.as_role(role)
    # When a row for a location is checked, in an upload for that location's facility
    facility_id = other.locations[location].facility_id
    row = RowChecker(other.requestor, other.resolve, other.today, facility_id=facility_id).check(
        2, cells(locationId=location)
    )
    # Then it passes or is denied as authz decides
    assert [issue.code for issue in row.issues] == ([code] if code else [])


def test_an_inactive_requestor_may_create_nothing(world: World) -> None:
    other = world.as_role(Role.FACILITY_ADMIN, active=False)
    (issue,) = RowChecker(other.requestor, other.resolve, other.today, facility_id="fac-oak").check(2, cells()).issues
    assert issue.code == "PERMISSION_DENIED"
    assert issue.message.startswith(CREATE_DENIED_MESSAGE)


def test_each_location_is_looked_up_once_and_absurd_ids_never(world: World) -> None:
    # Given many rows over three locations, some repeated, and a 500-character id
    check = checker(world)
    for n, location in enumerate(["fac-oak-u1", "fac-oak-u2", "fac-oak-u1", " fac-oak-u1", "nowhere", "nowhere"]):
        check.check(n + 2, cells(requestId=str(n), docID=f"D{n}", locationId=location))
    check.check(99, cells(requestId="x", docID="X", locationId="x" * 500))
    # Then each distinct id was resolved once (trimmed), and the absurd one not at all
    assert sorted(world.calls) == ["fac-oak-u1", "fac-oak-u2", "nowhere"]


def test_repeated_doc_ids_and_request_ids_name_the_first_line(world: World) -> None:
    # Given a DOC ID and a requestId each used again further down (the DOC ID in another case)
    check = checker(world)
    first = check.check(2, cells(requestId="A", docID="ab1"))
    other = check.check(3, cells(requestId="B", docID="CD2"))
    again = check.check(5, cells(requestId="A", docID=" AB1"))
    # Then the first occurrence stays valid and the repeat is DUPLICATE_IN_FILE on each field, naming line 2
    assert first.is_valid
    assert other.is_valid
    assert [(issue.field, issue.code) for issue in again.issues] == [
        ("docID", "DUPLICATE_IN_FILE"),
        ("requestId", "DUPLICATE_IN_FILE"),
    ]
    assert all("line 2" in issue.message for issue in again.issues)


def test_a_doc_id_on_an_invalid_row_still_counts_for_duplicates(world: World) -> None:
    # Given a first row with a bad date and a second row with the same DOC ID
    check = checker(world)
    check.check(2, cells(requestId="1", dateOfBirth="nope"))
    # Then the second is a duplicate: fixing the first would otherwise create a clash
    assert [issue.code for issue in check.check(3, cells(requestId="2")).issues] == ["DUPLICATE_IN_FILE"]


def test_blank_request_ids_are_never_duplicates(world: World) -> None:
    check = checker(world)
    check.check(2, cells(requestId="", docID="A1"))
    assert check.check(3, cells(requestId="", docID="A2")).is_valid


def test_a_cut_cell_is_too_long_on_its_field_only(world: World) -> None:
    # Given the reader's TOO_LONG marker in lastName and in password
    row = checker(world).check(4, cells(lastName=TOO_LONG, password=TOO_LONG))
    # Then there is one TOO_LONG issue per such field and no REQUIRED for them
    assert [(issue.field, issue.code) for issue in row.issues] == [("lastName", "TOO_LONG"), ("password", "TOO_LONG")]
    assert "1000 characters" in row.issues[0].message


def test_check_file_checks_every_row_lazily(world: World) -> None:
    # Given a small file
    data = (
        b"requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId\r\n"
        b"1,100,Ann,Lee,01/01/1990,Learner,,fac-oak\r\n"
        b"2,100,Bo,Lee,01/01/1990,learner,,fac-oak\r\n"
    )
    # When it is checked
    info, rows = check_file(
        io.BytesIO(data),
        requestor=world.requestor,
        resolve_location=world.resolve,
        today=world.today,
        facility_id=world.facility_id,
        max_bytes=10_000,
        max_rows=10,
    )
    first, second = map(as_checked, rows)
    # Then the first row is valid, the second has its two issues
    assert info.columns[0] == "requestId"
    assert first.is_valid
    assert [(i.line, i.field, i.code) for i in second.issues] == [
        (3, "role", "INVALID_ROLE"),
        (3, "docID", "DUPLICATE_IN_FILE"),
    ]


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.AGENCY_ADMIN])
@pytest.mark.parametrize("location", ["fac-pine", "fac-pine-u1"])
def test_a_row_of_another_facility_is_wrong_facility_whoever_uploads(world: World, role: Role, location: str) -> None:
    # Given an upload for fac-oak by staff who may also write in fac-pine, and a row for fac-pine (or its unit)
    locations = {
        **world.locations,
        "fac-pine-u1": world.locations["fac-oak-u1"].model_copy(
            update={"location_id": "fac-pine-u1", "facility_id": "fac-pine", "name": "Pine unit 1"}
        ),
    }
    other = World(world.as_role(role).requestor, locations, world.today, facility_id="fac-oak")
    # When the row is checked, on the full path and on the quick path
    checker = RowChecker(other.requestor, other.resolve, other.today, facility_id="fac-oak")
    row = checker.check(2, cells(locationId=location))
    plain = cells(requestId="2", docID="100202", dateOfBirth="03/14/1988", locationId=location)
    quick = checker.check_record(3, tuple(plain.values()))
    # Then it is a WRONG_FACILITY error naming the facility whose upload the row belongs in, and never clean
    (issue,) = row.issues
    assert (issue.field, issue.code) == ("locationId", "WRONG_FACILITY")
    assert "fac-pine name" in issue.message and "put this row in an upload for that facility" in issue.message
    assert row.facility_id == "" and not isinstance(quick, tuple)  # a CheckedRow: the quick check did not take it
    assert [issue.code for issue in quick.issues] == ["WRONG_FACILITY"]
    # And a row of the upload's own facility stays valid
    assert checker.check(4, cells(requestId="3", docID="100203", locationId="fac-oak-u1")).is_valid


def test_a_drop_row_of_another_facility_is_denied_without_naming_it(world: World) -> None:
    # Given a drop of fac-oak (validated with fac-oak's own scope) with a row for fac-pine, outside that scope
    (issue,) = checker(world).check(2, cells(locationId="fac-pine")).issues
    # Then it stays PERMISSION_DENIED (the portal's words), and the other facility's name is not given away
    assert issue.code == "PERMISSION_DENIED" and "fac-pine name" not in issue.message


def test_a_file_for_one_facility_plans_nothing_at_another(world: World) -> None:
    # Given an AgencyAdmin's file for fac-oak: plain rows of fac-oak and one plain row of fac-pine, in one run
    admin = World(world.as_role(Role.AGENCY_ADMIN).requestor, world.locations, world.today)
    lines = [f"{n},{7000 + n},Ann,Lee,01/02/1990,Learner,,fac-oak-u1" for n in range(1, 30)]
    lines.insert(10, "99,7999,Bo,Lee,01/02/1990,Learner,,fac-pine")
    data = "\r\n".join(["requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId", *lines, ""])
    # When the file is checked
    _, rows = check_file(
        io.BytesIO(data.encode()),
        requestor=admin.requestor,
        resolve_location=admin.resolve,
        today=admin.today,
        facility_id="fac-oak",
        max_bytes=10_000,
        max_rows=100,
    )
    checked = [as_checked(row) for row in rows]
    # Then every valid row is in fac-oak, and the fac-pine row is the one error
    assert {row.facility_id for row in checked if row.is_valid} == {"fac-oak"}
    assert [(row.line, row.issues[0].code) for row in checked if not row.is_valid] == [(12, "WRONG_FACILITY")]


def test_a_block_of_lines_gives_the_rows_its_records_give_one_by_one(world: World) -> None:
    # Given a block of plain lines, a blank row, a line off the plain shape (a lone CR ends it) and a repeat
    from intake.bulk.checking import Row
    from intake.bulk.reading import Lines, read_file

    header = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"
    plain = [f"{n},{7000 + n},Ann,Lee,01/02/1990,Learner,,fac-oak-u1" for n in range(1, 6)]
    odd = "6,7006,José,Lee,1/2/1990,Learner,,fac-oak\r"
    text = "\r\n".join(
        [header, *plain[:3], ",,,,,,,", odd + plain[3], plain[4], "7,7001,Bo,Lee,01/02/1990,Learner,,x", ""]
    )
    info, sheet = read_file(io.BytesIO(text.encode()), max_bytes=10**6, max_rows=100, cpu_seconds=60, blocks=True)
    (block,) = list(sheet.parts())
    assert isinstance(block, Lines)
    # When the block is checked, and its lines are read and checked one record at a time by another checker
    blocks, records = checker(world), checker(world)
    batches = blocks.check_block(info.header_line, block)
    by_block: list[Row] = []
    while True:
        try:
            by_block.extend(next(batches))
        except StopIteration as done:
            last = done.value
            break
    one_by_one: list[Row] = []
    position, line = 0, info.header_line
    while position < len(block.text):
        line += 1
        position, values = block.record_at(line, position)
        if values is not None:
            one_by_one.append(records.check_record(line, values))
    # Then both give the same rows, numbered alike, and the block's last line is the file's
    assert [as_checked(row) for row in by_block] == [as_checked(row) for row in one_by_one]
    assert [as_checked(row).line for row in by_block] == [2, 3, 4, 6, 7, 8, 9]
    assert last == 9
    # And the plain lines come out as CleanRows, the others as CheckedRows (the repeat of 7001 with its issue)
    assert [isinstance(row, tuple) for row in by_block] == [True, True, True, False, True, True, False]
    assert "DUPLICATE_IN_FILE" in [issue.code for issue in as_checked(by_block[-1]).issues]
