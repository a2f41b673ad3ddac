"""Duplicate detection keeps compact keys; its answers stay exact however many duplicates a file holds."""

from __future__ import annotations

from intake.bulk.checking import RowChecker
from tests.unit.bulk.support import load_world


def _row(request_id: str, doc_id: str, location_id: str) -> tuple[str, ...]:
    return (request_id, doc_id, "Ann", "Lee", "01/02/1990", "Learner", "", location_id)


def test_every_duplicate_names_the_line_its_key_was_first_on() -> None:
    # Given a file of 400 learners, then the same 400 DOC IDs and requestIds again (past the scan budget, so the
    # checker switches to a full index), with new learners in between and leading-zero twins of the numeric ids
    world = load_world()
    location_id = next(iter(world.locations))
    checker = RowChecker(world.requestor, world.resolve, world.today, facility_id=world.facility_id)
    first = [checker.check_values(line, _row(str(line), f"9{line:05d}", location_id)) for line in range(2, 402)]
    assert all(row.issues == [] or row.issues[0].field == "locationId" for row in first)
    rows = {}
    line = 402
    for n in range(2, 402):
        rows[line] = (n, checker.check_values(line, _row(str(n), f"9{n:05d}", location_id)))
        twin = checker.check_values(line + 1, _row(f"0{n}", f"09{n:05d}", location_id))
        assert not [issue for issue in twin.issues if issue.code == "DUPLICATE_IN_FILE"]
        line += 2

    # Then each repeated row has both duplicates, each naming the line of the first occurrence
    for repeated_line, (first_line, row) in rows.items():
        duplicates = {issue.field: issue.message for issue in row.issues if issue.code == "DUPLICATE_IN_FILE"}
        assert set(duplicates) == {"docID", "requestId"}, repeated_line
        assert f"is already on line {first_line}:" in duplicates["docID"]
        assert f"is already on line {first_line}:" in duplicates["requestId"]

    # And a twin seen after the switch to the index is found there too
    again = checker.check_values(line, _row("0401", "0900401", location_id))
    messages = [issue.message for issue in again.issues if issue.code == "DUPLICATE_IN_FILE"]
    assert len(messages) == 2 and all("is already on line 1201:" in message for message in messages)
