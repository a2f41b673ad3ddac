"""Properties of the validator: any bytes end in a status; every row of a well-formed file is accepted or reported."""

from __future__ import annotations

import codecs
import csv
import io
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.bulk import reading
from intake.bulk.reading import CANONICAL_COLUMNS, LEARNER_COLUMNS
from tests.unit.bulk.support import load_world, outcome

WORLD = load_world()
STATUSES = {"REJECTED", "VALIDATED", "VALIDATED_WITH_ERRORS"}
FILE_CODES = {
    "NOT_CSV",
    "EMPTY_FILE",
    "MISSING_COLUMN",
    "DUPLICATE_COLUMN",
    "TOO_LARGE",
    "TOO_MANY_ROWS",
    "BAD_ENCODING",
}
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER = ",".join(CANONICAL_COLUMNS).encode()
PREFIXES = [
    b"",
    HEADER + b"\n",
    codecs.BOM_UTF8 + HEADER + b"\r\n",
    codecs.BOM_UTF16_LE + ",".join(CANONICAL_COLUMNS).encode("utf-16-le"),
    b"PK\x03\x04",
    b"%PDF",
]


def assert_well_ended(data: bytes, chunk: int, max_rows: int = 50) -> None:
    with patch.object(reading, "_CHUNK", chunk):
        result = outcome(data, WORLD, max_rows=max_rows, max_bytes=64 * 1024)
    assert result.status in STATUSES
    if result.status == "REJECTED":
        assert result.code in FILE_CODES
        assert result.message
        return
    lines = [row.line for row in result.rows]
    assert lines == sorted(set(lines))
    assert all(line > 1 for line in lines)
    for row in result.rows:
        assert row.is_valid == (not [issue for issue in row.issues if issue.severity == "error"])


@FAST
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=3000),
    chunk=st.sampled_from([3, 64, 1024, 64 * 1024]),
)
def test_arbitrary_bytes_end_in_a_status_and_nothing_but_file_rejected_is_raised(
    prefix: bytes, body: bytes, chunk: int
) -> None:
    # Given any bytes, sometimes after a real header or a magic number, read in chunks of any size
    # When they are checked, Then the outcome is a status (FileRejected is the only exception) with sound rows
    assert_well_ended(prefix + body, chunk)


PLAUSIBLE = {
    "requestId": ["1", "2", "", "r-1", "=1+1"],
    "docID": ["100201", "ab-12", "", "1.23457E+11", "00123", "12 34"],
    "firstName": ["Marcus", "José", "", "Mary\u00a0Ann", "=HYPERLINK()", "A" * 60],
    "lastName": ["Hill", "O'Brien", "", "Nguyễn", "@SUM(A1)"],
    "dateOfBirth": ["03/14/1988", "3/7/1985", "31113", "3/7/85", "1985-03-07", "02/30/1990", "", "08/08/2099"],
    "role": ["Learner", "learner", "LEARNER", "", "Student"],
    "password": ["", "Sunrise42", "short", " spaced "],
    "locationId": ["fac-oak", "fac-oak-u1", "fac-oak-u9", "fac-pine", "fac-elm", "", "nowhere"],
}
CP1252_SAFE = st.text(st.sampled_from(list(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCZabcz[]\\^_`{|}~\t\r\néüñØ")))


def cell(column: str, text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(PLAUSIBLE[column]), text.map(lambda value: value[:1200]))


@st.composite
def wrong_csv(draw: st.DrawFn) -> tuple[bytes, int]:
    """A well-formed CSV (any delimiter, encoding, column order) with random, mostly wrong cells; its learner count."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    text = CP1252_SAFE if encoding == "cp1252" else st.text(max_size=40)
    columns = draw(st.permutations(CANONICAL_COLUMNS))
    extra = draw(st.booleans())
    rows = draw(st.lists(st.fixed_dictionaries({name: cell(name, text) for name in CANONICAL_COLUMNS}), max_size=12))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([*columns, "notes"] if extra else columns)
    for row in rows:
        writer.writerow([row[name] for name in columns] + (["x"] if extra else []))
    payload = out.getvalue()
    data = (
        codecs.BOM_UTF16_LE + payload.encode("utf-16-le")
        if encoding == "utf-16"
        else payload.encode(encoding, "replace")
    )
    learners = sum(1 for row in rows if "".join(row[name] for name in LEARNER_COLUMNS).strip())
    return data, learners


@FAST
@given(generated=wrong_csv(), chunk=st.sampled_from([5, 64 * 1024]))
def test_every_row_of_a_well_formed_file_is_accepted_or_reported(generated: tuple[bytes, int], chunk: int) -> None:
    # Given a well-formed CSV whose cells are random and mostly wrong
    data, learners = generated
    # When it is checked
    with patch.object(reading, "_CHUNK", chunk):
        result = outcome(data, WORLD, max_rows=100, max_bytes=10**6)
    # Then it is rejected only when nothing can be read from it (no learner, or a NUL near the top, as binaries have)
    if result.status == "REJECTED":
        assert (result.code == "EMPTY_FILE" and learners == 0) or (
            result.code == "NOT_CSV" and b"\x00" in data[:1024] and not data.startswith(codecs.BOM_UTF16_LE)
        ), result.message
        return
    # And otherwise every learner row comes out, each valid or with at least one error saying what to fix
    assert len(result.rows) == learners
    for row in result.rows:
        errors = [issue for issue in row.issues if issue.severity == "error"]
        assert row.is_valid or errors
        assert all(issue.message and issue.line == row.line for issue in errors)
