"""Issue 13, finding 2: files built to hold the validator are refused quickly, each with its own code.

Each bomb is built here, small in memory; each read must end in FileRejected having done little work, where the
reader before the fix walked for hours or held gigabytes. The work is counted, not timed (a time bound fails on a
loaded machine): the bytes read from the file, the bytes unpacked from each ZIP part, the spreadsheet lines the
reader stepped over, and the rows it handed on.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import openpyxl
import pytest

from intake.bulk import reading
from intake.bulk.reading import CANONICAL_COLUMNS, MAX_COLUMNS, _cell_text, read_values
from intake.bulk.types import FileRejected

MAX_ROWS = 200_000  # the system's default facility limit
SMALL = 64 * 1024  # a part of the real workbook unpacks to less than this
HEADER = ",".join(CANONICAL_COLUMNS)
LEARNER = "1,100201,Marcus,Hill,03/14/1988,Learner,,u-1"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
    + "]>"
)


@dataclass
class Work:
    """What one read did before it was refused."""

    read: int = 0  # bytes read from the file
    unpacked: Counter[str] = field(default_factory=Counter)  # bytes unpacked, by ZIP part
    furthest_line: int = 0  # the highest spreadsheet line the reader stepped to
    lines_checked: int = 0  # how many times it stepped
    rows: int = 0  # rows handed on


class _CountedFile(io.BytesIO):
    def __init__(self, data: bytes, work: Work) -> None:
        super().__init__(data)
        self._work = work

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._work.read += len(chunk)
        return chunk


def sheet_rows(max_rows: int) -> int:
    """The last spreadsheet line a file of `max_rows` learners may use, blank rows included."""
    return reading._Limits.of(max_rows, 60.0).sheet_rows


def rejection(data: bytes, **limits: int) -> tuple[FileRejected, Work]:
    """The FileRejected of reading every row of `data`, and the work the reader did first."""
    work = Work()
    unpack = zipfile.ZipExtFile.read
    check_line = reading._Limits.check_line

    def counted_unpack(part: zipfile.ZipExtFile, n: int = -1) -> bytes:
        chunk = unpack(part, n)
        work.unpacked[part.name] += len(chunk)
        return chunk

    def counted_check(self: reading._Limits, line: int) -> None:
        work.lines_checked += 1
        work.furthest_line = max(work.furthest_line, line)
        check_line(self, line)

    with (
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(FileRejected) as caught,
    ):
        patch.setattr(zipfile.ZipExtFile, "read", counted_unpack)
        patch.setattr(reading._Limits, "check_line", counted_check)
        _, rows = read_values(_CountedFile(data, work), max_bytes=10**8, max_rows=limits.get("max_rows", MAX_ROWS))
        for _ in rows:
            work.rows += 1
    return caught.value, work


def workbook_parts(**replace: bytes) -> dict[str, bytes]:
    """A real workbook (openpyxl's) of the template's header and one learner, its parts named, some replaced."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(CANONICAL_COLUMNS))
    sheet.append(LEARNER.split(","))
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts.update(replace)
    return parts


def zipped(parts: dict[str, bytes], streamed: dict[str, Callable[[], Iterator[bytes]]] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            if streamed and name in streamed:
                with archive.open(name, "w") as part:  # a streaming writer: the test never holds the whole part
                    for chunk in streamed[name]():
                        part.write(chunk)
            else:
                archive.writestr(name, data)
    return out.getvalue()


def sheet_xml(body: str, dimension: str = "") -> bytes:
    header = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in CANONICAL_COLUMNS)
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<worksheet {NS}>{dim}<sheetData><row r="1">{header}</row>{body}</sheetData></worksheet>'.encode()


SHEET = "xl/worksheets/sheet1.xml"
LEARNER_ROW = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in LEARNER.split(",") if value)


def test_a_row_numbered_999999999999_is_refused_without_walking_the_rows_before_it() -> None:
    # Given a 5 KB workbook whose one learner row is numbered 999999999999 and that has no <dimension>
    data = zipped(workbook_parts(**{SHEET: sheet_xml(f'<row r="999999999999">{LEARNER_ROW}</row>')}))
    assert len(data) < 10_000
    # When it is read, Then it is TOO_MANY_ROWS at once, naming the row and what to do
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_ROWS"
    assert "999,999,999,999" in rejected.message and "delete the empty rows" in rejected.message
    assert work.lines_checked < 20 and work.rows == 0 and work.unpacked[SHEET] < SMALL


def test_a_cell_reference_past_the_limit_is_refused() -> None:
    # Given a row without a number whose cell says it is on row 10^12
    data = zipped(
        workbook_parts(**{SHEET: sheet_xml('<row><c r="A1000000000000" t="inlineStr"><is><t>x</t></is></c></row>')})
    )
    # Then it is TOO_MANY_ROWS
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_ROWS" and work.lines_checked < 20 and work.rows == 0


def test_a_dimension_past_the_limit_is_refused_before_any_row() -> None:
    # Given a sheet that declares 5,000,000 rows
    data = zipped(workbook_parts(**{SHEET: sheet_xml(f"<row>{LEARNER_ROW}</row>", dimension="A1:H5000000")}))
    # Then it is TOO_MANY_ROWS
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_ROWS" and "5,000,000" in rejected.message
    assert work.lines_checked <= 1 and work.rows == 0


def zip_bomb() -> bytes:
    """A workbook under 1 MB whose sheet unpacks to just over 10^9 bytes (a run of one byte)."""

    def run() -> Iterator[bytes]:
        yield b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row><c><v>'
        chunk = b"1" * (1 << 20)
        for _ in range(960):
            yield chunk

    data = zipped(workbook_parts(), streamed={SHEET: run})
    assert len(data) <= 1_000_000
    return data


def test_a_zip_bomb_under_1_mb_that_unpacks_past_1_gb_is_refused_from_its_declared_size() -> None:
    # Given a workbook under 1 MB whose sheet unpacks to just over 10^9 bytes (a run of one byte)
    data = zip_bomb()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo(SHEET).file_size > 10**9
    # When it is read, Then it is TOO_LARGE without unpacking it
    rejected, work = rejection(data)
    assert rejected.code == "TOO_LARGE" and "unpacks to" in rejected.message
    assert not work.unpacked


def test_a_part_is_also_capped_by_counting_while_it_unpacks() -> None:
    # Given styles.xml that honestly declares 20 MB, under the cap of any part but over that of the small parts
    def styles() -> Iterator[bytes]:
        yield f"<styleSheet {NS}><numFmts>".encode()
        for _ in range(20):
            yield b'<numFmt numFmtId="200" formatCode="0"/>' * 30_000

    data = zipped(workbook_parts(), streamed={"xl/styles.xml": styles})
    # Then it is TOO_LARGE from the bytes counted as it was parsed
    rejected, work = rejection(data)
    assert rejected.code == "TOO_LARGE" and "16 MB in one part" in rejected.message
    assert 16 << 20 < work.unpacked["xl/styles.xml"] <= (16 << 20) + reading._CHUNK and SHEET not in work.unpacked


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", SHEET])
def test_a_billion_laughs_part_is_refused_by_defusedxml(part: str) -> None:
    # Given a part declaring nested entities (a billion "lol"s once expanded)
    body = "<t>&lol9;</t>"
    bomb = BILLION_LAUGHS + (
        f'<sst {NS} count="1" uniqueCount="1"><si>{body}</si></sst>'
        if part.endswith("sharedStrings.xml")
        else f'<worksheet {NS}><sheetData><row><c t="inlineStr"><is>{body}</is></c></row></sheetData></worksheet>'
    )
    data = zipped(workbook_parts(**{part: bomb.encode()}))
    # Then it is INVALID_SPREADSHEET naming the part, and nothing was expanded
    rejected, work = rejection(data)
    assert rejected.code == "INVALID_SPREADSHEET" and part in rejected.message
    assert work.rows == 0 and work.unpacked[part] <= len(bomb)


def test_a_csv_row_of_a_million_columns_is_refused() -> None:
    # Given a CSV whose learner row has 10^6 cells
    data = f"{HEADER}\n{LEARNER}{',x' * 1_000_000}\n".encode()
    # Then it is TOO_MANY_COLUMNS naming the row
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_COLUMNS" and "Row 2 " in rejected.message
    assert work.rows == 0 and work.read <= len(data)


def test_a_csv_header_of_a_million_columns_is_refused() -> None:
    rejected, work = rejection(f"{HEADER}{',x' * 1_000_000}\n{LEARNER}\n".encode())
    assert rejected.code == "TOO_MANY_COLUMNS" and work.rows == 0


def test_an_xlsx_row_of_a_million_columns_is_refused() -> None:
    # Given a sheet whose second row has 10^6 cells (no references, so each is the next column)
    def sheet() -> Iterator[bytes]:
        yield sheet_xml("")[: -len(b"</sheetData></worksheet>")] + b"<row>"
        for _ in range(100):
            yield b"<c><v>1</v></c>" * 10_000
        yield b"</row></sheetData></worksheet>"

    data = zipped(workbook_parts(), streamed={SHEET: sheet})
    # Then it is TOO_MANY_COLUMNS as soon as the row passes MAX_COLUMNS cells
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_COLUMNS" and f"{MAX_COLUMNS:,}" in rejected.message
    assert work.unpacked[SHEET] < 1 << 20  # of the 15 MB the row takes


def test_a_cell_far_to_the_right_is_refused() -> None:
    data = zipped(workbook_parts(**{SHEET: sheet_xml('<row><c r="XFD2"><v>1</v></c></row>')}))
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_COLUMNS" and work.rows == 0 and work.lines_checked < 20


def test_millions_of_blank_csv_lines_count_toward_a_limit() -> None:
    # Given a CSV of 3,000,000 blank lines (and commas-only lines) between the header and one learner
    data = (HEADER + "\n" + "\n" * 2_000_000 + ",,,,,,,\n" * 1_000_000 + LEARNER + "\n").encode()
    # Then it is TOO_MANY_ROWS once the lines pass the sheet's limit
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_ROWS" and "blank rows count too" in rejected.message
    assert work.furthest_line <= sheet_rows(MAX_ROWS) + 1 and work.read < len(data) // 10


def test_millions_of_blank_csv_lines_before_the_header_count_too() -> None:
    data = ("\n" * 3_000_000 + HEADER + "\n" + LEARNER + "\n").encode()
    rejected, work = rejection(data)
    assert rejected.code == "TOO_MANY_ROWS" and work.furthest_line <= sheet_rows(MAX_ROWS) + 1
    assert work.read < len(data) // 4


def test_millions_of_blank_xlsx_rows_count_toward_a_limit() -> None:
    # Given a sheet of 3,000,000 empty numbered rows after the header
    def sheet() -> Iterator[bytes]:
        yield sheet_xml("")[: -len(b"</sheetData></worksheet>")]
        for start in range(2, 3_000_002, 100_000):
            yield "".join(f'<row r="{n}"/>' for n in range(start, start + 100_000)).encode()
        yield f"<row>{LEARNER_ROW}</row></sheetData></worksheet>".encode()

    data = zipped(workbook_parts(), streamed={SHEET: sheet})
    # When a facility of 50,000 learners reads it (the sheet-row limit, blank rows included, is then 101,001; at the
    # default 200,000 the walk to the limit is 401,001 rows, seconds of CPU)
    rejected, work = rejection(data, max_rows=50_000)
    # Then it stops at the limit, not at the sheet's end
    assert rejected.code == "TOO_MANY_ROWS" and work.furthest_line <= sheet_rows(50_000) + 1
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert work.unpacked[SHEET] < archive.getinfo(SHEET).file_size // 4


def test_a_zip_of_too_many_members_is_refused_before_its_directory_is_read() -> None:
    data = zipped(workbook_parts(**{f"xl/media/{n}.bin": b"" for n in range(20_000)}))
    rejected, work = rejection(data)
    assert rejected.code == "INVALID_SPREADSHEET" and "20,0" in rejected.message and not work.unpacked


def test_a_file_past_its_cpu_budget_is_too_slow() -> None:
    # Given a clean file of 5,000 learners and a budget of a microsecond of CPU
    data = (HEADER + "\n" + "".join(f"{n},{100000 + n},Ann,Lee,01/02/1990,Learner,,u\n" for n in range(5000))).encode()
    # When it is read
    with pytest.raises(FileRejected) as caught:
        _, rows = read_values(io.BytesIO(data), max_bytes=10**8, max_rows=10**6, cpu_seconds=1e-6)
        for _ in rows:
            pass
    # Then it is TOO_SLOW, saying what to do
    assert caught.value.code == "TOO_SLOW" and "CSV UTF-8" in caught.value.message


def test_the_cpu_budget_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from intake.settings import get_settings

    monkeypatch.setenv("VALIDATION_CPU_SECONDS", "0.000001")
    get_settings.cache_clear()
    try:
        data = HEADER + "\n" + "".join(f"{n},{100000 + n},Ann,Lee,01/02/1990,Learner,,u\n" for n in range(3000))
        rejected, _ = rejection(data.encode())
    finally:
        get_settings.cache_clear()
    assert rejected.code == "TOO_SLOW"


# --- the hand-made XLSX reader reads as openpyxl's read-only mode did -------------------------------------------------


def openpyxl_records(data: bytes) -> list[list[str]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    try:
        return [[_cell_text(value) for value in values] for values in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def our_records(data: bytes) -> list[list[str]]:
    from intake.bulk.reading import _CountedBytes, _Limits, _open_xlsx

    source = _CountedBytes(io.BytesIO(data), 10**8)
    _, records, close = _open_xlsx(source.read(10**8), source, _Limits.of(10**4, 60))
    try:
        return list(records)
    finally:
        close()


def typed_workbook(date1904: bool) -> bytes:
    book = openpyxl.Workbook()
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904 if date1904 else openpyxl.utils.datetime.WINDOWS_EPOCH
    sheet = book.active
    sheet.append([*CANONICAL_COLUMNS, "notes"])
    sheet.append([1, 100201, "Marcus", "Hill", date(1988, 3, 14), "Learner", None, "u", "x"])
    sheet.append([])
    sheet.append([2.0, 1.5e18, True, 2.5, datetime(1979, 11, 2, 8, 30), "Learner", "=1+1", "u"])
    sheet["C6"] = "gap above"
    sheet["E6"].value = 32000
    sheet["E6"].number_format = "mm/dd/yyyy"
    sheet["F6"].value = 1.25
    sheet["F6"].number_format = "[h]:mm:ss"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "template_saved_as_workbook.xlsx",
        "workbook_gaps_and_extra_column.xlsx",
        "workbook_with_mistakes.xlsx",
        "1900",
        "1904",
    ],
)
def test_the_sheet_reads_exactly_as_openpyxl_read_it(name: str) -> None:
    from pathlib import Path

    if name in ("1900", "1904"):
        data = typed_workbook(date1904=name == "1904")
    else:
        data = (Path(__file__).parents[2] / "fixtures" / "files" / name).read_bytes()
    assert our_records(data) == openpyxl_records(data)
