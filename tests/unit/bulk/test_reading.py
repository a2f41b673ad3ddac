"""read_rows: encodings, delimiters, headers, line numbers, limits and streaming, as staff's files need."""

from __future__ import annotations

import codecs
import io
import tracemalloc
import zipfile
from datetime import date, datetime, time

import openpyxl
import pytest

from intake.bulk import reading
from intake.bulk.reading import CANONICAL_COLUMNS, TOO_LONG, read_rows
from intake.bulk.types import FileRejected

HEADER = ",".join(CANONICAL_COLUMNS)
ROW = "1,100201,Marcus,Hill,03/14/1988,Learner,,fac-oak-u1"


def rows_of(data: bytes, **limits: int) -> list[tuple[int, dict[str, str]]]:
    _, rows = read_rows(
        io.BytesIO(data), max_bytes=limits.get("max_bytes", 10**8), max_rows=limits.get("max_rows", 10**6)
    )
    return list(rows)


def info_of(data: bytes) -> reading.FileInfo:
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**8, max_rows=10**6)
    list(rows)
    return info


def rejection(data: bytes, **limits: int) -> FileRejected:
    with pytest.raises(FileRejected) as raised:
        rows_of(data, **limits)
    return raised.value


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read, like a slow network body."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        piece = self._data[self.position : self.position + size]
        self.position += len(piece)
        return piece


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        ((HEADER + "\n" + ROW + "\n").encode(), "utf-8", ","),
        (codecs.BOM_UTF8 + (HEADER + "\r\n" + ROW + "\r\n").encode(), "utf-8-sig", ","),
        ((HEADER + "\r" + ROW + "\r").encode(), "utf-8", ","),
        ((HEADER + "\n" + ROW.replace("Marcus", "José") + "\n").encode("cp1252"), "cp1252", ","),
        ((HEADER + "\n" + ROW + "\n").replace(",", ";").encode(), "utf-8", ";"),
        (codecs.BOM_UTF16_LE + (HEADER + "\r\n" + ROW + "\r\n").replace(",", "\t").encode("utf-16-le"), "utf-16", "\t"),
        (codecs.BOM_UTF16_BE + (HEADER + "\n" + ROW + "\n").encode("utf-16-be"), "utf-16", ","),
    ],
    ids=["utf8-lf", "bom-crlf", "cr-only", "cp1252", "semicolon", "utf16le-tab", "utf16be"],
)
def test_encoding_and_delimiter_are_detected_and_recorded(data: bytes, encoding: str, delimiter: str) -> None:
    # Given one learner saved in one of the ways Excel saves
    # When the file is read
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**6, max_rows=10)
    got = list(rows)
    # Then the encoding and delimiter are recorded and the row reads the same whatever the way
    assert (info.format, info.encoding, info.delimiter) == ("csv", encoding, delimiter)
    assert len(got) == 1
    line, cells = got[0]
    assert line == 2
    assert cells["requestId"] == "1"
    assert cells["firstName"] in {"Marcus", "José"}
    assert cells["locationId"] == "fac-oak-u1"


def test_a_late_windows1252_byte_switches_the_encoding_instead_of_failing() -> None:
    # Given a Windows-1252 file whose first accented letter comes after 64 KiB of ASCII
    body = "".join(f"{n},{100000 + n},Ann,Lee,01/01/1990,Learner,,u\r\n" for n in range(2000))
    data = (HEADER + "\r\n" + body + "9999,999999,Renée,Lee,01/01/1990,Learner,,u\r\n").encode("cp1252")
    assert data.index("é".encode("cp1252")) > 64 * 1024
    # When it is read
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**7, max_rows=10**4)
    got = list(rows)
    # Then the last name reads right and the recorded encoding says Windows-1252
    assert got[-1][1]["firstName"] == "Renée"
    assert info.encoding == "cp1252"


def test_a_utf8_file_with_a_stray_windows1252_byte_after_accents_is_rejected() -> None:
    # Given UTF-8 text (with an accent early on) and then a Windows-1252 byte
    data = (HEADER + "\n" + ROW.replace("Marcus", "José") + "\n").encode() + ROW.replace("Marcus", "Zoë").encode(
        "cp1252"
    )
    # When it is read, Then it is BAD_ENCODING with a sentence on how to save as CSV UTF-8
    rejected = rejection(data)
    assert rejected.code == "BAD_ENCODING"
    assert "CSV UTF-8" in rejected.message


@pytest.mark.parametrize("step", [1, 2, 3, 7])
@pytest.mark.parametrize(
    ("encoding", "newline"), [("utf-8", "\r\n"), ("utf-8", "\r"), ("utf-16", "\r\n"), ("cp1252", "\n")]
)
def test_reading_in_tiny_pieces_gives_the_same_rows(
    monkeypatch: pytest.MonkeyPatch, step: int, encoding: str, newline: str
) -> None:
    # Given a file with multi-byte letters, quoted line breaks and CRLFs, read a few bytes at a time
    monkeypatch.setattr(reading, "_CHUNK", 5)
    rows = [f'{n},{100 + n},Zoë,"Brontë{newline}Hale",01/01/1990,Learner,,u' for n in range(40)]
    text = newline.join([HEADER, *rows]) + newline
    data = (codecs.BOM_UTF16_LE + text.encode("utf-16-le")) if encoding == "utf-16" else text.encode(encoding)
    # When it is read from a trickling stream
    _, got = read_rows(Trickle(data, step), max_bytes=10**6, max_rows=100)  # type: ignore[arg-type]
    # Then every row is whole: no CRLF split into two breaks, no letter split in two
    result = list(got)
    assert [line for line, _ in result] == list(range(2, 42))
    assert {cells["lastName"] for _, cells in result} == {f"Brontë{newline}Hale"}
    assert {cells["firstName"] for _, cells in result} == {"Zoë"}


def test_lines_count_records_as_a_spreadsheet_shows_them() -> None:
    # Given blank rows, a quoted cell holding two line breaks, and a row of empty cells
    data = "\n".join([HEADER, ROW, "", '2,100202,"Ann\nMarie\nJo",Lee,01/01/1990,Learner,,u', ",,,,,,,", ROW]) + "\n"
    # When it is read
    got = rows_of(data.encode())
    # Then each learner's line is its row in the spreadsheet: blank rows count, a multi-line cell is one row
    assert [line for line, _ in got] == [2, 4, 6]


def test_rows_without_learner_fields_are_skipped() -> None:
    # Given the template's example row (requestId, role, locationId only) and a row of spaces
    data = "\n".join([HEADER, "1,,,,,Learner,,fac-oak", " , ,  , , , , , ", ROW]) + "\n"
    # When it is read, Then only the learner remains, on its own line
    assert [line for line, _ in rows_of(data.encode())] == [4]


def test_header_names_match_whatever_their_case_spacing_or_order() -> None:
    # Given a header retyped with other cases, spaces, words and order
    header = " Location ID ,DOC_ID,first name,LASTNAME,Date-of-Birth,ROLE,requestid"
    data = f"{header}\nfac-oak,100201,Marcus,Hill,03/14/1988,Learner,1\n".encode()
    # When it is read
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**6, max_rows=10)
    (_, cells), *_ = list(rows)
    # Then each cell lands under its canonical name; the absent password reads blank
    assert info.columns == ["requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "locationId"]
    assert cells == {
        "requestId": "1",
        "docID": "100201",
        "firstName": "Marcus",
        "lastName": "Hill",
        "dateOfBirth": "03/14/1988",
        "role": "Learner",
        "password": "",
        "locationId": "fac-oak",
    }


def test_an_absent_optional_column_never_reads_another_columns_cell() -> None:
    # Given no requestId or password column, and an unknown column right after the known ones
    data = b"docID,firstName,lastName,dateOfBirth,role,locationId,notes\n100201,Ann,Lee,01/01/1990,Learner,u,SECRET\n"
    # When it is read
    (_, cells), *_ = rows_of(data)
    # Then requestId and password are blank, not the notes
    assert cells["requestId"] == ""
    assert cells["password"] == ""


def test_unknown_columns_are_warnings_naming_the_column_and_its_letter() -> None:
    # Given two extra columns and trailing empty header cells
    data = f"{HEADER},Housing Block,Notes,,\n{ROW},B,x,,\n".encode()
    # When it is read
    info = info_of(data)
    # Then each extra column is a warning on line 1, empty header cells are ignored
    assert [(w.line, w.field, w.code, w.severity) for w in info.warnings] == [
        (1, "Housing Block", "UNKNOWN_COLUMN", "warning"),
        (1, "Notes", "UNKNOWN_COLUMN", "warning"),
    ]
    assert "Column I" in info.warnings[0].message


def test_a_duplicated_column_is_rejected_naming_both_columns() -> None:
    # Given docID twice
    rejected = rejection(f"{HEADER},DOCID\n{ROW},1\n".encode())
    # Then DUPLICATE_COLUMN says which and where
    assert rejected.code == "DUPLICATE_COLUMN"
    assert "docID" in rejected.message
    assert "columns B and I" in rejected.message


def test_missing_required_columns_are_all_named() -> None:
    # Given a header without dateOfBirth and role
    rejected = rejection(b"requestId,docID,firstName,lastName,locationId\n1,2,Ann,Lee,u\n")
    # Then MISSING_COLUMN names both
    assert rejected.code == "MISSING_COLUMN"
    assert "dateOfBirth" in rejected.message
    assert "role" in rejected.message


def test_excels_sep_line_sets_the_delimiter_and_is_not_a_row() -> None:
    # Given Excel's sep=; hint above a semicolon header
    data = ("sep=;\r\n" + HEADER.replace(",", ";") + "\r\n" + ROW.replace(",", ";") + "\r\n").encode()
    # When it is read
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**6, max_rows=10)
    # Then the delimiter is ; and the learner is on line 2
    assert info.delimiter == ";"
    assert [line for line, _ in rows] == [2]


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "EMPTY_FILE", "empty"),
        (codecs.BOM_UTF8 + b"\r\n\r\n", "EMPTY_FILE", "empty"),
        ((HEADER + "\r\n,,,,,,,\r\n").encode(), "EMPTY_FILE", "has a header but no learners"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NOT_CSV", "CSV UTF-8 (Comma delimited) (*.csv)"),
        (b"%PDF-1.7\n", "NOT_CSV", "File > Save As"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "NOT_CSV", ".xls"),
        (b"GIF89a\x01\x00", "NOT_CSV", "CSV"),
        ((HEADER + "\n" + ROW.replace("Marcus", "Mar\x00cus") + "\n").encode(), "NOT_CSV", "CSV"),
    ],
    ids=["empty", "bom-and-blank-lines", "header-only", "png", "pdf", "xls", "gif", "nul-in-first-kib"],
)
def test_unusable_files_are_rejected_with_one_sentence_on_what_to_do(data: bytes, code: str, words: str) -> None:
    # Given a file no one can take rows from
    rejected = rejection(data)
    # Then it is rejected with its code and a message saying what to do
    assert rejected.code == code
    assert words in rejected.message


def test_a_zip_that_is_not_a_workbook_is_not_csv() -> None:
    # Given a zipped CSV
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("learners.csv", HEADER + "\n" + ROW + "\n")
    # Then it is NOT_CSV
    assert rejection(out.getvalue()).code == "NOT_CSV"


def test_a_long_cell_is_cut_to_the_marker_for_the_checker() -> None:
    # Given a lastName longer than the cell limit
    data = f"{HEADER}\n{ROW.replace('Hill', 'H' * 1001)}\n".encode()
    # When it is read
    (_, cells), *_ = rows_of(data)
    # Then that cell is the TOO_LONG marker and the others are intact
    assert cells["lastName"] == TOO_LONG
    assert cells["firstName"] == "Marcus"


def test_too_many_rows_is_raised_by_the_iterator_after_the_limit() -> None:
    # Given three learners and a limit of two
    data = "\n".join([HEADER, ROW, ROW, ROW]).encode()
    _, rows = read_rows(io.BytesIO(data), max_bytes=10**6, max_rows=2)
    # When the rows are read, Then two come and the third is TOO_MANY_ROWS naming the limit
    assert next(rows)[0] == 2
    assert next(rows)[0] == 3
    with pytest.raises(FileRejected) as raised:
        next(rows)
    assert raised.value.code == "TOO_MANY_ROWS"
    assert "2" in raised.value.message


def test_too_large_is_counted_while_streaming_without_reading_past_the_limit() -> None:
    # Given a 1 MB body behind a stream that does not tell its size, and a 200 KB limit
    data = (HEADER + "\n" + (ROW + "\n") * 20000).encode()
    stream = Trickle(data, 64 * 1024)
    _, rows = read_rows(stream, max_bytes=200 * 1024, max_rows=10**6)  # type: ignore[arg-type]
    # When the rows are read, Then TOO_LARGE comes once 200 KB are passed, long before the end
    with pytest.raises(FileRejected) as raised:
        list(rows)
    assert raised.value.code == "TOO_LARGE"
    assert stream.position <= 200 * 1024 + 64 * 1024


def test_only_the_start_is_read_before_the_rows_are() -> None:
    # Given a 1 MB file
    data = (HEADER + "\n" + (ROW + "\n") * 20000).encode()
    stream = Trickle(data, 10**9)
    # When read_rows returns, Then it has read the first 64 KiB only
    read_rows(stream, max_bytes=10**8, max_rows=10**6)  # type: ignore[arg-type]
    assert stream.position == 64 * 1024


class Generated(io.RawIOBase):
    """A large CSV made on the fly, so that the test itself holds no whole file in memory."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._n = 0
        self._buffer = (HEADER + "\r\n").encode()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size and self._n < self._rows:
            self._buffer += "".join(
                f"{n},{1000000 + n},Ann,Lee,01/01/1990,Learner,,u\r\n" for n in range(self._n, self._n + 1000)
            ).encode()
            self._n += 1000
        piece, self._buffer = self._buffer[:size], self._buffer[size:]
        return piece


def test_memory_stays_flat_as_rows_grow() -> None:
    # Given a generated 40,000-row file (about 2 MB)
    stream = Generated(40_000)
    # When every row is read under tracemalloc
    tracemalloc.start()
    try:
        _, rows = read_rows(stream, max_bytes=10**9, max_rows=10**6)  # type: ignore[arg-type]
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then all rows came through and the peak stayed at a few chunks, not the file
    assert count == 40_000
    assert peak < 1024 * 1024


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_workbook_cells_read_back_as_the_person_saw_them() -> None:
    # Given a workbook with typed cells: numbers, a float id, a real date, a datetime, a bool, a time
    data = workbook(
        [
            list(CANONICAL_COLUMNS),
            [1, 100201, "Marcus", "Hill", date(1988, 3, 14), "Learner", None, "u"],
            [2.0, 123456789012.0, "Dana", "Price", datetime(1979, 11, 2, 0, 0), "Learner", None, "u"],
            [3, 1.5e18, True, 2.5, time(8, 30), "Learner", None, "u"],
        ]
    )
    # When it is read
    info, rows = read_rows(io.BytesIO(data), max_bytes=10**7, max_rows=10)
    got = [cells for _, cells in rows]
    # Then whole numbers have no decimal point, dates are MM/DD/YYYY, an over-long float shows as Excel does
    assert info.format == "xlsx"
    assert (got[0]["requestId"], got[0]["docID"], got[0]["dateOfBirth"]) == ("1", "100201", "03/14/1988")
    assert (got[1]["requestId"], got[1]["docID"], got[1]["dateOfBirth"]) == ("2", "123456789012", "11/02/1979")
    assert (got[2]["docID"], got[2]["firstName"], got[2]["lastName"]) == ("1.50000E+18", "TRUE", "2.5")
    assert got[2]["dateOfBirth"] == "08:30:00"


def test_workbook_lines_are_sheet_rows_and_blank_rows_are_skipped() -> None:
    # Given a workbook with an empty row between two learners
    data = workbook(
        [
            list(CANONICAL_COLUMNS),
            [1, 1, "A", "B", "01/01/1990", "Learner", None, "u"],
            [],
            [2, 2, "C", "D", "01/01/1990", "Learner", None, "u"],
        ]
    )
    # When it is read, Then the learners are on sheet rows 2 and 4
    _, rows = read_rows(io.BytesIO(data), max_bytes=10**7, max_rows=10)
    assert [line for line, _ in rows] == [2, 4]


def test_a_damaged_workbook_is_not_csv() -> None:
    # Given the first half of a workbook
    data = workbook([list(CANONICAL_COLUMNS)])
    # Then it is NOT_CSV with the Save As sentence
    rejected = rejection(data[: len(data) // 2])
    assert rejected.code == "NOT_CSV"
    assert "Save As" in rejected.message


# --- the parts of a file: Lines on the CSV fast path, then Records ----------------------------------------------------


def walk(data: bytes, **options: bool) -> list[tuple[str, int, tuple[str, ...] | None]]:
    """Every part of a file as a consumer sees it, lines numbered on from the header's: each Lines block read line by
    line with record_at, each Records part from where the part before it ended."""
    info, sheet = reading.read_file(io.BytesIO(data), max_bytes=10**6, max_rows=100, cpu_seconds=60, **options)
    seen: list[tuple[str, int, tuple[str, ...] | None]] = []
    line = info.header_line
    for part in sheet.parts():
        if isinstance(part, reading.Lines):
            position = 0
            while position < len(part.text):
                line += 1
                position, values = part.record_at(line, position)
                seen.append(("lines", line, None if values is None else tuple(values)))
        else:
            seen.extend(("records", number, tuple(values)) for number, values in part.after(line))
    return seen


def test_a_template_csv_comes_in_lines_up_to_its_first_double_quote_then_in_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a template-laid-out CSV, read in small chunks past its first KiB, with every line break csv knows and
    # blank rows, then a quoted cell holding a line break, and more rows
    monkeypatch.setattr(reading, "_CHUNK", 16)
    before = "".join(ROW + ("\r\n", "\n", "\r")[n % 3] + ("" if n % 5 else ",,,,,,,\r\n") for n in range(30))
    quoted = '2,100202,"Ann\nMarie",Lee,01/02/1990,Learner,,fac-oak'
    text = HEADER + "\r\n" + before + quoted + "\r\n" + ROW + "\r\n"
    # When its parts are asked for by blocks
    seen = walk(text.encode(), blocks=True)
    # Then the lines before the block holding the quote come as Lines, read one by one as csv reads them (the blank
    # rows as None), the first KiB at least
    row = tuple(ROW.split(","))
    kinds = [kind for kind, _, _ in seen]
    in_lines = kinds.count("lines")
    assert in_lines >= 20 and kinds == ["lines"] * in_lines + ["records"] * (len(seen) - in_lines)
    assert [values for _, _, values in seen[:8]] == [row, None, row, row, row, row, row, None]
    # And from there on Records, numbered on from the last line of the Lines, one line per record
    assert [line for _, line, _ in seen] == list(range(2, 40))
    assert seen[36][2] is not None and seen[36][2][2] == "Ann\nMarie"
    # And read without blocks, the same file gives the same learner rows, all as Records
    assert [(line, values) for _, line, values in walk(text.encode()) if values] == [
        (line, values) for _, line, values in seen if values
    ]


@pytest.mark.parametrize(
    "header",
    [
        HEADER.replace(",", ";"),
        "docID,requestId,firstName,lastName,dateOfBirth,role,password,locationId",
        "notes," + HEADER,
    ],
    ids=["semicolons", "other-order", "a-column-before"],
)
def test_only_a_comma_separated_file_in_the_template_layout_comes_in_lines(header: str) -> None:
    # Given a file of another delimiter or another layout
    delimiter = ";" if ";" in header else ","
    data = (header + "\n" + ("x," if "notes" in header else "") + ROW.replace(",", delimiter) + "\n").encode()
    # When its parts are asked for by blocks, Then they are Records only
    assert {kind for kind, _, _ in walk(data, blocks=True)} == {"records"}


@pytest.mark.parametrize("header", [HEADER, "docID,requestId,firstName,lastName,dateOfBirth,role,password,locationId"])
def test_blank_and_short_records_read_alike_in_the_template_layout_and_in_another(header: str) -> None:
    # Given a file (with a quote, so read as Records) with an empty line, a row of empty cells, a short row, and a
    # row whose only learner field is a password
    rows = ["", ",,,,,,,", '"1",100201,Marcus', "1,,,,,Learner,pw-only-1,fac-oak", "", ROW]
    data = (header + "\r\n" + "\r\n".join(rows) + "\r\n").encode()
    # When it is read, by blocks or not, Then the blank rows are skipped and the others read on their lines
    template = header == HEADER
    for blocks in (True, False):
        got = [(line, values[1], values[6]) for _, line, values in walk(data, blocks=blocks) if values]
        docs = ["100201", "", "100201"] if template else ["1", "1", "1"]
        assert got == [(4, docs[0], ""), (5, docs[1], "pw-only-1"), (7, docs[2], "")]


def test_the_reader_knows_nothing_of_checking() -> None:
    # Given the reader's source, Then it imports nothing of the checker: checking consumes what reading yields
    import ast
    from pathlib import Path

    tree = ast.parse(Path(reading.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "intake.bulk.checking" not in imported
