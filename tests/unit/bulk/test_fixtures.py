"""Every fixture in tests/fixtures/files gives the outcome expected.json states: status, code, each bad row."""

from __future__ import annotations

import io
import time

import pytest

from tests.unit.bulk.support import EXPECTED, FIXTURES, MB, World, outcome

FILES = EXPECTED["files"]


def test_there_are_at_least_forty_fixtures_and_each_is_described() -> None:
    # Given the fixture folder and expected.json
    on_disk = {path.name for path in (FIXTURES / "files").iterdir()}
    # Then both list the same files, at least 40, each with the habit it comes from
    assert on_disk == set(FILES)
    assert len(FILES) >= 40
    assert all(spec["habit"] for spec in FILES.values())


def test_fixture_files_are_what_the_script_makes() -> None:
    # Given the generator script
    from tests.fixtures import make_fixtures

    # When it builds the fixtures in memory
    built = {name: content for name, _, content, _ in make_fixtures.build()}
    # Then the committed files are byte for byte those (regenerate with python tests/fixtures/make_fixtures.py)
    stale = [name for name, content in built.items() if (FIXTURES / "files" / name).read_bytes() != content]
    assert stale == []


@pytest.mark.parametrize("name", sorted(FILES))
def test_fixture_outcome(name: str, world: World) -> None:
    # Given a file made from a real spreadsheet habit and its expected outcome
    spec = FILES[name]
    data = (FIXTURES / "files" / name).read_bytes()
    # When it is checked as fac-oak's FacilityAdmin
    result = outcome(data, world, max_rows=spec.get("maxRows", 5000), max_bytes=spec.get("maxBytes", 50 * MB))
    # Then the status, and the file-level code or every bad row's line, field and code, are as expected
    assert result.status == spec["status"], result.message or result.errors()
    if spec["status"] == "REJECTED":
        assert result.code == spec["code"]
        assert result.message
        if "messageNames" in spec:
            assert spec["messageNames"] in result.message
        return
    assert result.errors() == sorted(spec.get("errors", []))
    assert result.warnings() == sorted(spec.get("warnings", []))
    assert len(result.rows) == spec["rows"]
    assert result.info is not None
    assert result.info.encoding == spec.get("encoding", result.info.encoding)
    assert result.info.delimiter == spec.get("delimiter", result.info.delimiter)


def _ten_megabyte_cell(quoted: bool) -> bytes:
    header = b"requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId\n"
    cell = (b"x" * 1023 + b"\n") * (10 * 1024) if quoted else b"x" * (10 * MB)
    if quoted:
        cell = b'"' + cell + b'"'
    return (
        header
        + b"1,100201,"
        + cell
        + b",Hill,03/14/1988,Learner,,fac-oak-u1\n2,100202,Dana,Price,11/02/1979,Learner,,fac-oak\n"
    )


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted-with-line-breaks"])
def test_a_ten_megabyte_cell_is_a_row_error_not_a_crash(world: World, quoted: bool) -> None:
    # Given a file whose first learner's firstName is a 10 MB cell (generated here, not kept on disk)
    data = _ten_megabyte_cell(quoted)
    started = time.perf_counter()
    # When it is checked
    result = outcome(data, world, stream=io.BytesIO)
    # Then that row has one TOO_LONG error on firstName, the next row is fine, and it took seconds at most
    assert time.perf_counter() - started < 5
    assert result.status == "VALIDATED_WITH_ERRORS"
    assert result.errors() == [[2, "firstName", "TOO_LONG"]]
    assert [row.is_valid for row in result.rows] == [False, True]
