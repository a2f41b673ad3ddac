"""Reports open cleanly in Excel: UTF-8 with BOM, CRLF, no cell Excel would run as a formula."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from intake.bulk.reports import ERROR_REPORT_COLUMNS, ReportWriter, neutralise, write_error_report
from intake.bulk.types import RowIssue


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Marcus", "Marcus"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_prefixes_only_formula_starts(cell: str, expected: str) -> None:
    # Given a cell, When it is neutralised, Then only a formula start gets the apostrophe
    assert neutralise(cell) == expected


def issue(line: int, **changes: str) -> RowIssue:
    fields = {
        "request_id": "1",
        "doc_id": "100201",
        "field": "firstName",
        "code": "INVALID_VALUE",
        "message": "firstName may hold only letters: remove '='",
        "severity": "error",
    }
    fields.update(changes)
    return RowIssue(line=line, **fields)


def test_error_report_is_bom_crlf_with_the_contract_header() -> None:
    # Given two issues
    out = io.BytesIO()
    # When the report is written
    written = write_error_report([issue(2), issue(3, severity="warning", code="UNKNOWN_COLUMN")], out)
    data = out.getvalue()
    # Then it starts with a BOM and the header, ends every line with CRLF, and counts its rows
    assert written == 2
    assert data.startswith(codecs.BOM_UTF8 + b"line,requestId,docID,field,code,message,severity\r\n")
    assert data.count(b"\r\n") == 3
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_no_cell_of_the_error_report_starts_a_formula() -> None:
    # Given issues whose every text carries something Excel would run
    hostile = issue(2, request_id="=1+1", doc_id="+5", field="@x", code="-y", message='=HYPERLINK("x")')
    out = io.BytesIO()
    write_error_report([hostile], out)
    # When the report is read back as Excel would
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    # Then no cell starts with = + - @, and the line stays a number
    assert rows[0] == list(ERROR_REPORT_COLUMNS)
    assert rows[1][0] == "2"
    assert not [cell for row in rows for cell in row if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]


def test_cells_with_commas_quotes_and_line_breaks_round_trip() -> None:
    # Given a message with a comma, quotes and a line break
    message = "locationId 'x' is not known, \"check it\"\nthen retry"
    out = io.BytesIO()
    write_error_report([issue(2, message=message)], out)
    # When read back, Then the message is intact
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert rows[1][5] == message


def test_report_writer_writes_numbers_blanks_and_neutralised_text() -> None:
    # Given a results-style report
    out = io.BytesIO()
    writer = ReportWriter(out, ["line", "outcome", "password", "note"])
    # When rows with ints, None and formula-looking text are written
    writer.write([2, "CREATED", "-Secret1", None])
    writer.write([3, "FAILED", None, "@x"])
    # Then ints stay numbers, None is blank, text is neutralised, and the rows are counted
    assert writer.rows == 2
    assert out.getvalue().decode("utf-8-sig").split("\r\n") == [
        "line,outcome,password,note",
        "2,CREATED,'-Secret1,",
        "3,FAILED,,'@x",
        "",
    ]


def test_an_empty_report_is_just_the_header() -> None:
    out = io.BytesIO()
    assert write_error_report([], out) == 0
    assert out.getvalue() == codecs.BOM_UTF8 + b"line,requestId,docID,field,code,message,severity\r\n"


def test_header_cells_are_neutralised_and_numbers_are_left_as_numbers() -> None:
    # Given a report whose column names and cells start like formulas, and a negative number
    out = io.BytesIO()
    writer = ReportWriter(out, ["=cmd", "line"])
    # When a row is written
    writer.write(["\r=1+1", -5])
    # Then every text cell, the header's too, gets the apostrophe, and the int is written as a number
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert rows == [["'=cmd", "line"], ["'\r=1+1", "-5"]]
