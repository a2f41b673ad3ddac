"""The files in ../shared/samples give exactly the outcomes their README states, checked as the facility's admin."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from intake.bulk.reports import write_error_report
from intake.errors import CREATE_DENIED_MESSAGE
from tests.environment import missing
from tests.unit.bulk.support import Outcome, World, outcome

# A copy of ../shared/samples travels with the repo so CI checks it from any checkout; beside ../shared, the copy
# must still be byte-identical to the originals (test_the_copy_matches_the_shared_samples).
SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "shared_samples"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "samples"

PLACEHOLDERS = {"UNIT_A": "fac-oak-u1", "UNIT_B": "fac-oak-u2", "FACILITY": "fac-oak"}
_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF8, "utf-8"))


def _replace(text: str) -> str:
    for placeholder, location_id in PLACEHOLDERS.items():
        text = text.replace(placeholder, location_id)
    return text


def substituted(data: bytes) -> bytes:
    """The sample with real location ids: decoded and re-encoded in its own encoding, BOM kept; binaries as they are."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return bom + _replace(data[len(bom) :].decode(codec)).encode(codec)
    for codec in ("utf-8", "cp1252"):
        try:
            return _replace(data.decode(codec)).encode(codec)
        except UnicodeError:
            continue
    return data


def sample(name: str, world: World) -> Outcome:
    return outcome(substituted((SAMPLES / name).read_bytes()), world)


def test_01_clean_template(world: World) -> None:
    # Given the template filled in, When checked, Then 5 valid rows: 1 with a given password, 4 to generate
    result = sample("01_clean.csv", world)
    assert result.status == "VALIDATED"
    assert len(result.rows) == 5
    assert sum(row.password is not None for row in result.rows) == 1


def test_02_excel_utf8_bom_crlf(world: World) -> None:
    # Given Excel's CSV UTF-8 (BOM, CRLF), Then 5 valid rows and the BOM is not part of the first requestId
    result = sample("02_excel_utf8_bom_crlf.csv", world)
    assert result.status == "VALIDATED"
    assert len(result.rows) == 5
    assert [row.request_id for row in result.rows] == ["1", "2", "3", "4", "5"]


def test_03_excel_windows1252(world: World) -> None:
    # Given Windows-1252 with M/D/YYYY dates and trailing empty rows, Then 3 valid rows with names kept exactly
    result = sample("03_excel_windows1252.csv", world)
    assert result.status == "VALIDATED"
    assert [f"{row.first_name} {row.last_name}" for row in result.rows] == [
        "José Muñoz",
        "Zoë Brontë-Hale",
        "François D'Aubigné",
    ]
    assert result.info is not None
    assert result.info.encoding == "cp1252"


def test_04_semicolon_locale(world: World) -> None:
    result = sample("04_semicolon_locale.csv", world)
    assert result.status == "VALIDATED"
    assert len(result.rows) == 2


def test_05_mixed_errors(world: World) -> None:
    # Given one mistake per line
    result = sample("05_mixed_errors.csv", world)
    # Then 9 rows, only line 6 valid, and exactly these errors
    assert result.status == "VALIDATED_WITH_ERRORS"
    assert len(result.rows) == 9
    assert [row.line for row in result.rows if row.is_valid] == [6]
    assert result.errors() == [
        [2, "dateOfBirth", "INVALID_DATE"],
        [3, "docID", "REQUIRED"],
        [4, "role", "INVALID_ROLE"],
        [5, "locationId", "PERMISSION_DENIED"],
        [7, "docID", "DUPLICATE_IN_FILE"],
        [8, "dateOfBirth", "INVALID_DATE"],
        [9, "docID", "INVALID_VALUE"],
        [10, "dateOfBirth", "INVALID_DATE"],
    ]
    messages = {issue.line: issue.message for issue in result.issues}
    assert "Learner" in messages[4]
    assert messages[5].startswith(CREATE_DENIED_MESSAGE)
    assert "line 6" in messages[7]
    assert "03/07/1985" in messages[8]
    assert "Text" in messages[9]
    assert "future" in messages[10]


def test_06_header_variants(world: World) -> None:
    result = sample("06_header_variants.csv", world)
    assert result.status == "VALIDATED"
    assert len(result.rows) == 1


def test_07_missing_docid_column(world: World) -> None:
    result = sample("07_missing_docid_column.csv", world)
    assert (result.status, result.code) == ("REJECTED", "MISSING_COLUMN")
    assert "docID" in result.message


def test_08_png_named_csv(world: World) -> None:
    result = sample("08_png_named_csv.csv", world)
    assert (result.status, result.code) == ("REJECTED", "NOT_CSV")
    assert "CSV UTF-8" in result.message


def test_09_formula_injection(world: World) -> None:
    # Given formula-looking names and a month 13
    result = sample("09_formula_injection.csv", world)
    # Then line 3's date is INVALID_DATE, any other error is a rejected name
    errors = result.errors()
    assert [3, "dateOfBirth", "INVALID_DATE"] in errors
    others = [error for error in errors if error != [3, "dateOfBirth", "INVALID_DATE"]]
    assert all(field in {"firstName", "lastName"} and code == "INVALID_VALUE" for _, field, code in others)
    # And no cell of the errors report starts with = + - @
    out = io.BytesIO()
    write_error_report(result.issues, out)
    cells = [cell for row in csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")) for cell in row]
    assert len(cells) > 7
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@"}]


def test_10_utf16_tabs(world: World) -> None:
    result = sample("10_utf16_tabs.txt", world)
    assert result.status == "VALIDATED"
    (row,) = result.rows
    assert f"{row.first_name} {row.last_name}" == "Nguyễn Văn An"


def test_the_copy_matches_the_shared_samples() -> None:
    if not SHARED.is_dir():
        missing(f"no ../shared/samples beside this checkout ({SHARED})")
    # Given the shared samples and the repo's copy, then they hold the same files, byte for byte
    assert {p.name: p.read_bytes() for p in SHARED.iterdir()} == {p.name: p.read_bytes() for p in SAMPLES.iterdir()}
