"""The quick path (runs of plain lines, plain records) gives every row the outcome the full rules give it."""

from __future__ import annotations

import io
import re
from datetime import date
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.bulk import reading
from intake.bulk.checking import _year_pattern, check_file
from intake.bulk.reading import CANONICAL_COLUMNS
from intake.bulk.types import CheckedRow, CleanRow, FileRejected, as_checked
from intake.domain import CharacterClass, PasswordRule
from tests.unit.bulk.support import World, load_world

WORLD = load_world()
TODAY = WORLD.today
# fac-pine's rule refuses some passwords the general rule accepts; fac-oak has none
RULED = World(
    WORLD.requestor.model_copy(update={"facility_ids": ("fac-oak", "fac-pine")}),
    {
        **WORLD.locations,
        "fac-pine": WORLD.locations["fac-pine"].model_copy(
            update={"password_rule": PasswordRule(min_length=10, required_classes=(CharacterClass.DIGIT,))}
        ),
    },
    TODAY,
)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _date(year_offset: int, month: int, day: int, style: str) -> str:
    year = TODAY.year - year_offset
    if style == "iso":
        return f"{year}-{month:02d}-{day:02d}"
    if style == "short":
        return f"{month}/{day}/{year}"
    return f"{month:02d}/{day:02d}/{year}"


def _mostly(plain: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Nine cells in ten plain (so that runs of plain rows are common), the rest just off plain."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda is_plain: plain if is_plain else odd)


# plain cells, edges included, and cells just off plain: every rule's edge the quick path must not cross. A plain id
# is UNIQUE, made unique per row by the test (hypothesis draws repeats often), so that runs without duplicates are
# common; odd ones repeat ("7", "1001")
UNIQUE = "unique"
REQUEST_IDS = _mostly(
    st.just(UNIQUE),
    st.sampled_from(["", "7", "0", "007", "R-1", "abc", " 12", "12 ", "1" * 19, "a\x01b", "x" * 70]),
)
DOC_IDS = _mostly(
    st.just(UNIQUE),
    st.sampled_from(
        ["1", "1001", "0123", "A123", "a123", "1E5", "12-34", "", " 99", "9" * 19, "9" * 20, "9" * 21, "A" * 21]
    ),
)
NAMES = _mostly(
    st.sampled_from(
        ["Ann", "Bo", "O'Brien", "Mary-Jo", "St. John", "de la Cruz", "D'Andre", "A" * 50, "Ab " + "c" * 47]
    ),
    st.sampled_from(["José", "Ann  Lee", " Ann", "Ann ", "J0hn", "-", "'", "A" * 51, "Ab " + "c" * 48, "Ann\u00a0Lee"]),
)
DATES = _mostly(
    # plain: every day of the years 11 to 110 years back is within the age bounds
    st.builds(_date, st.sampled_from([11, 30, 109, 110]), st.integers(1, 12), st.integers(1, 28), st.just("plain")),
    st.builds(
        _date,
        st.sampled_from([5, 9, 10, 11, 30, 109, 110, 111, -1]),
        st.integers(1, 13),
        st.sampled_from([0, 1, 9, 28, 29, 30, 31, 32]),
        st.sampled_from(["plain", "iso", "short"]),
    ),
)
ROLES = _mostly(st.just("Learner"), st.sampled_from(["learner", " Learner", "Learner ", "Educator", ""]))
PASSWORDS = _mostly(
    st.sampled_from(["", "", "", "Pass-word1", "passwords1", "abc def gh1"]),
    st.sampled_from(["password", "short", " padded pw1 ", "abcdefghij", "x" * 129, "tab\there1", "a\x0bbcdefgh1"]),
)
LOCATIONS = _mostly(
    st.sampled_from(["fac-oak", "fac-oak-u1", "fac-oak-u2", "fac-pine"]),
    st.sampled_from(["fac-oak-u9", "fac-elm", "nowhere", "", " fac-oak", "x" * 129, "fac\x00oak"]),
)
ROWS = st.lists(
    st.tuples(REQUEST_IDS, DOC_IDS, NAMES, NAMES, DATES, ROLES, PASSWORDS, LOCATIONS), min_size=10, max_size=60
)
# between rows: the usual CRLF, LF, a lone CR, a blank line, or a line with a quoted cell (csv from there on)
BREAKS = st.sampled_from(["\r\n"] * 12 + ["\n"] * 4 + ["\r", "\r\n\r\n", "\r\n,,,,,,,\r\n"])


def _outcome(
    data: bytes, quick: bool, max_rows: int, facility_id: str = "fac-oak"
) -> tuple[list[CheckedRow], str, list[object]]:
    """Every row as a CheckedRow, the rejection code if any, and what the reader learned."""
    rows: list[CheckedRow] = []
    try:
        info, checked = check_file(
            io.BytesIO(data),
            requestor=RULED.requestor,
            resolve_location=RULED.resolve,
            today=TODAY,
            facility_id=facility_id,
            max_bytes=10**6,
            max_rows=max_rows,
            quick=quick,
        )
        for row in checked:
            rows.append(as_checked(row))
    except FileRejected as rejected:
        return rows, rejected.code, []
    return rows, "", [info.encoding, info.delimiter, info.columns, info.header_line, info.warnings]


@PROPERTY
@given(
    rows=ROWS,
    breaks=st.lists(BREAKS, min_size=60, max_size=60),
    quoted=st.booleans(),
    chunk=st.sampled_from([7, 64, 64 * 1024]),
    max_rows=st.sampled_from([5, 1000]),
    facility_id=st.sampled_from(["fac-oak", "fac-pine"]),
)
def test_quick_and_full_path_give_identical_rows(
    rows: list[tuple[str, ...]], breaks: list[str], quoted: bool, chunk: int, max_rows: int, facility_id: str
) -> None:
    # Given a file of plain and nearly plain rows with assorted line breaks, read in small or large chunks
    # (the longest plain ids for the first row)
    unique = [[str(10**17 + n) if cell == UNIQUE else cell for cell in row] for n, row in enumerate(rows)]
    lines = [",".join(CANONICAL_COLUMNS)] + [",".join(row) for row in unique]
    if quoted:
        lines.insert(len(lines) // 2, '"9,1",5555,"Quoted, Name",Lee,01/02/1990,Learner,,fac-oak')
    text = "\r\n".join(lines[:2]) + "".join(b + line for b, line in zip(breaks, lines[2:], strict=False)) + "\r\n"
    # When it is checked with the quick path and with the full rules only
    with patch.object(reading, "_CHUNK", chunk):
        quick = _outcome(text.encode("utf-8"), quick=True, max_rows=max_rows, facility_id=facility_id)
        full = _outcome(text.encode("utf-8"), quick=False, max_rows=max_rows, facility_id=facility_id)
    # Then every row, issue, message and file outcome is the same
    assert quick == full


def test_plain_rows_come_out_clean_and_duplicates_still_point_at_the_first_line() -> None:
    # Given plain rows, then one repeating an earlier DOC ID and one an earlier requestId with a new DOC ID
    plain = [f"{n},{5000 + n},Ann,Lee,01/02/1990,Learner,,fac-oak-u1" for n in range(1, 301)]
    twins = ["301,5007,Bo,Lee,01/02/1990,Learner,,fac-oak", "8,9999,Bo,Lee,01/02/1990,Learner,,fac-oak"]
    # (each on its own run of plain lines: blank lines between)
    data = "\r\n".join([",".join(CANONICAL_COLUMNS), *plain, "", twins[0], "", twins[1], ""]).encode()
    # When it is checked
    _, rows = check_file(
        io.BytesIO(data),
        requestor=WORLD.requestor,
        resolve_location=WORLD.resolve,
        today=TODAY,
        facility_id="fac-oak",
        max_bytes=10**6,
        max_rows=1000,
    )
    got: list[CheckedRow | CleanRow] = list(rows)
    # Then the plain rows are CleanRows with their cleaned fields and place
    assert sum(isinstance(row, tuple) for row in got) == 300
    assert got[0] == (2, "1", "5001", "Ann", "Lee", "01/02/1990", None, "fac-oak-u1", "fac-oak", "agency-north")
    # And the repeats are reported against the lines the quick path recorded, the new DOC ID not as a repeat
    twin_doc, twin_request = as_checked(got[300]), as_checked(got[301])
    assert [(i.code, i.message) for i in twin_doc.issues] == [
        ("DUPLICATE_IN_FILE", "docID 5007 is already on line 8: a learner may appear once; delete one row")
    ]
    assert [(i.code, i.message) for i in twin_request.issues] == [
        ("DUPLICATE_IN_FILE", "requestId '8' is already on line 9: give every row its own requestId")
    ]


def test_the_quick_path_only_accepts_birth_years_every_day_of_which_is_in_the_age_bounds() -> None:
    # Given today and the years at both age bounds
    years = re.compile(_year_pattern(date(2025, 6, 1)))
    # Then the youngest and oldest plain years match, the ones past them do not
    assert years.fullmatch("2014") and years.fullmatch("1915")
    assert not years.fullmatch("2015") and not years.fullmatch("1914")
