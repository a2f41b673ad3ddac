"""The rules of one learner's fields (intake.rules): each boundary, each code, and each message's advice."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import rules
from intake.errors import FieldError

TODAY = date(2026, 6, 15)


def _error(value: object) -> FieldError:
    assert isinstance(value, FieldError), value
    return value


# ---------------------------------------------------------------- DOC ID
@pytest.mark.parametrize(
    ("raw", "clean"),
    [("100201", "100201"), ("  ab-12 ", "AB-12"), ("a", "A"), ("9-9-9", "9-9-9"), ("X" * 20, "X" * 20)],
)
def test_a_doc_id_is_trimmed_and_upper_cased(raw: str, clean: str) -> None:
    assert rules.clean_doc_id(raw) == clean


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_blank_doc_id_is_required(raw: str | None) -> None:
    error = _error(rules.clean_doc_id(raw, "docID"))
    assert (error.field, error.code) == ("docID", "REQUIRED")
    assert error.message == "docID is required: enter the learner's DOC ID"


@pytest.mark.parametrize("raw", ["1.23E+11", "1,5E+10", "4E10", "2.5e+9"])
def test_a_doc_id_in_scientific_notation_says_how_excel_damaged_it(raw: str) -> None:
    error = _error(rules.clean_doc_id(raw))
    assert (error.field, error.code) == ("docId", "INVALID_VALUE")
    assert error.message.startswith(f"docId '{raw}' is in scientific notation")
    assert "format the docId column as Text" in error.message


@pytest.mark.parametrize("raw", ["X" * 21, "-12", "12 34", "12_34", "É12", "12.5"])
def test_a_doc_id_outside_the_pattern_or_too_long_is_invalid(raw: str) -> None:
    error = _error(rules.clean_doc_id(raw))
    assert (error.field, error.code) == ("docId", "INVALID_VALUE")
    assert error.message == "docId must be 1 to 20 letters, digits or hyphens, starting with a letter or digit"


# ---------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Marcus  ", "Marcus"),
        ("Mary\u00a0 Ann", "Mary Ann"),
        ("O’Brien-Smith", "O’Brien-Smith"),
        ("J. R.", "J. R."),
        ("Jose\u0301", "José"),  # combining accent, composed
        ("Nguyễn", "Nguyễn"),
        ("a" * 50, "a" * 50),
    ],
)
def test_a_name_is_folded_trimmed_and_composed(raw: str, clean: str) -> None:
    assert rules.clean_name(raw, "firstName") == clean


@pytest.mark.parametrize("raw", [None, "", " \u00a0 "])
def test_a_blank_name_is_required(raw: str | None) -> None:
    error = _error(rules.clean_name(raw, "lastName"))
    assert (error.field, error.code, error.message) == ("lastName", "REQUIRED", "lastName is required")


def test_a_name_over_the_limit_says_to_shorten_it() -> None:
    error = _error(rules.clean_name("a" * 51, "lastName"))
    assert (error.field, error.code) == ("lastName", "INVALID_VALUE")
    assert error.message == "lastName is longer than 50 characters: shorten it"


def test_a_combining_mark_with_no_composed_form_is_kept() -> None:
    # U+0332 (combining low line) has no precomposed letter, so it stays a separate mark after NFC
    assert rules.clean_name("Ma\u0332ria", "firstName") == "Ma\u0332ria"


@pytest.mark.parametrize(
    ("raw", "shown"), [("Ann3", "'3'"), ("Ann_Lee", "'_'"), ("Ann\x07", "the control character U+0007")]
)
def test_a_name_with_other_characters_names_the_one_to_remove(raw: str, shown: str) -> None:
    error = _error(rules.clean_name(raw, "firstName"))
    assert (error.field, error.code) == ("firstName", "INVALID_VALUE")
    assert error.message == (
        f"firstName may hold only letters, spaces, apostrophes, hyphens and periods: remove {shown}"
    )


@pytest.mark.parametrize("raw", ["-", "'.", "- -"])
def test_a_name_without_a_letter_is_invalid(raw: str) -> None:
    error = _error(rules.clean_name(raw, "firstName"))
    assert (error.code, error.message) == ("INVALID_VALUE", "firstName must contain at least one letter")


# ---------------------------------------------------------------- dates of birth
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("3/4/1988", "03/04/1988"),
        (" 12/31/1990 ", "12/31/1990"),
        ("06/15/2016", "06/15/2016"),
        ("6/16/1916", "06/16/1916"),
        ("06/15/1916", "06/15/1916"),
    ],
)
def test_a_date_of_birth_is_written_mm_dd_yyyy(raw: str, clean: str) -> None:
    # (06/15/2016 is exactly 10 today, 06/15/1916 exactly 110)
    assert rules.clean_date_of_birth(raw, TODAY) == clean


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_a_blank_date_of_birth_is_required(raw: str | None) -> None:
    error = _error(rules.clean_date_of_birth(raw, TODAY))
    assert (error.field, error.code) == ("dateOfBirth", "REQUIRED")
    assert error.message == "dateOfBirth is required: enter it as MM/DD/YYYY"


def test_a_day_first_date_says_to_write_the_month_first() -> None:
    error = _error(rules.clean_date_of_birth("25/12/1990", TODAY, "dob"))
    assert (error.field, error.code) == ("dob", "INVALID_DATE")
    assert error.message == (
        "dob 25/12/1990 is not a real date: it looks like day/month order; write the month first, e.g. 12/25/1990"
    )


@pytest.mark.parametrize("raw", ["02/30/1990", "13/13/1990", "00/10/1990", "04/31/1990"])
def test_an_impossible_date_says_to_check_month_and_day(raw: str) -> None:
    error = _error(rules.clean_date_of_birth(raw, TODAY))
    assert (error.field, error.code) == ("dateOfBirth", "INVALID_DATE")
    assert error.message == f"dateOfBirth {raw} is not a real date: check the month and day"


def test_a_future_date_says_to_check_the_year() -> None:
    error = _error(rules.clean_date_of_birth("06/16/2026", TODAY))
    assert (error.code, error.message) == ("INVALID_DATE", "dateOfBirth 06/16/2026 is in the future: check the year")


@pytest.mark.parametrize(("raw", "age"), [("06/16/2016", 9), ("06/14/1915", 111), ("01/01/1900", 126)])
def test_an_implausible_age_gives_the_age_and_the_range(raw: str, age: int) -> None:
    error = _error(rules.clean_date_of_birth(raw, TODAY))
    assert (error.field, error.code) == ("dateOfBirth", "INVALID_DATE")
    assert error.message == f"dateOfBirth {raw} gives an age of {age}: check the year (ages 10 to 110 accepted)"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("32874", "dateOfBirth 32874 is a spreadsheet serial number, probably 01/01/1990: format the column as Text"),
        ("32874.0", "dateOfBirth 32874.0 is a spreadsheet serial number, probably 01/01/1990"),
        ("3/4/88", "dateOfBirth 3/4/88 has a two-digit year: write all four digits, e.g. 03/04/1988"),
        (
            "3/4/1988 10:30",
            "dateOfBirth 3/4/1988 10:30 has a time after the date: write only the date, e.g. 03/04/1988",
        ),
        ("3/4/1988 1:30:15 PM", "has a time after the date: write only the date, e.g. 03/04/1988"),
        ("1988-3-4", "dateOfBirth 1988-3-4 must be written MM/DD/YYYY, e.g. 03/04/1988"),
        ("March 4", "dateOfBirth 'March 4' is not a date: write it as MM/DD/YYYY"),
        ("123", "dateOfBirth '123' is not a date: write it as MM/DD/YYYY"),
    ],
)
def test_an_unreadable_date_says_what_it_looks_like_and_how_to_write_it(raw: str, message: str) -> None:
    error = _error(rules.clean_date_of_birth(raw, TODAY))
    assert (error.field, error.code) == ("dateOfBirth", "INVALID_DATE")
    assert message in error.message


def test_the_serial_message_ends_with_how_to_type_the_date() -> None:
    error = _error(rules.clean_date_of_birth("32874", TODAY))
    assert error.message.endswith("and type the date as MM/DD/YYYY")


# ---------------------------------------------------------------- passwords
@pytest.mark.parametrize("raw", [None, ""])
def test_a_blank_password_means_one_is_generated(raw: str | None) -> None:
    assert rules.check_password(raw) is None


@pytest.mark.parametrize("raw", ["a" * 8, "a" * 128, "Gardenia Road 77", "pässwörd!"])
def test_a_password_within_bounds_is_kept_as_given(raw: str) -> None:
    assert rules.check_password(raw) == raw


@pytest.mark.parametrize("raw", ["a" * 7, "a" * 129, " "])
def test_a_password_out_of_bounds_says_the_bounds(raw: str) -> None:
    error = _error(rules.check_password(raw, "pw"))
    assert (error.field, error.code) == ("pw", "INVALID_VALUE")
    assert error.message == "pw must be 8 to 128 characters, or left blank to generate one"


@pytest.mark.parametrize(
    "raw", [" leading-space", "trailing-space ", "tab\there-ok?", "null\x00char1", "bell\x07char1"]
)
def test_a_password_with_edge_spaces_or_control_characters_is_refused(raw: str) -> None:
    error = _error(rules.check_password(raw))
    assert (error.field, error.code) == ("password", "INVALID_VALUE")
    assert error.message == (
        "password may not start or end with spaces or hold control characters: retype it, or leave it blank"
    )


def test_a_password_with_a_non_printable_but_not_control_character_is_kept() -> None:
    # U+2028 (line separator) is not printable, but not a control character (category Zl)
    assert rules.check_password("line\u2028separator") == "line\u2028separator"


# ---------------------------------------------------------------- role
@pytest.mark.parametrize("raw", ["Learner", " Learner "])
def test_the_role_is_learner_exactly(raw: str) -> None:
    assert rules.check_role(raw) == "Learner"


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (None, "REQUIRED", "role is required: write Learner"),
        ("  ", "REQUIRED", "role is required: write Learner"),
        ("learner", "INVALID_ROLE", "role 'learner' is case-sensitive: write Learner"),
        ("LEARNER", "INVALID_ROLE", "role 'LEARNER' is case-sensitive: write Learner"),
        ("Educator", "INVALID_ROLE", "role 'Educator' cannot be created here: write Learner"),
    ],
)
def test_any_other_role_says_to_write_learner(raw: str | None, code: str, message: str) -> None:
    error = _error(rules.check_role(raw))
    assert (error.field, error.code, error.message) == ("role", code, message)


@pytest.mark.parametrize(("raw", "fixed"), [("13/01/1990", "01/13/1990"), ("13/12/1990", "12/13/1990")])
def test_the_day_month_advice_holds_at_its_bounds(raw: str, fixed: str) -> None:
    # (month 13 is the first that cannot be a month; days 1 and 12 the first and last that can)
    error = _error(rules.clean_date_of_birth(raw, TODAY))
    assert error.message.endswith(f"write the month first, e.g. {fixed}")


def test_a_birth_today_is_not_in_the_future_but_an_age_of_zero() -> None:
    error = _error(rules.clean_date_of_birth("06/15/2026", TODAY))
    assert (error.field, error.code) == ("dateOfBirth", "INVALID_DATE")
    assert "gives an age of 0" in error.message


def test_every_date_and_name_error_names_its_field() -> None:
    future = _error(rules.clean_date_of_birth("01/01/2030", TODAY, "dob"))
    no_letter = _error(rules.clean_name("--", "lastName"))
    assert (future.field, no_letter.field) == ("dob", "lastName")


# Search keys and usernames

_USERNAME = re.compile(rules.USERNAME_PATTERN_LEARNER)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("José Núñez-O'Neil", "josenunezoneil"),
        ("ZOË", "zoe"),
        ("  a1-b2 ", "a1b2"),
        ("Ærøskøbing", "ærskbing".replace("æ", "")),  # no ASCII decomposition: dropped on both sides alike
        ("", ""),
    ],
)
def test_a_search_key_ignores_accents_case_and_punctuation(text: str, key: str) -> None:
    assert rules.search_key(text) == key


def test_the_first_username_is_last_name_first_initial_and_the_doc_ids_last_four() -> None:
    candidates = rules.username_candidates("John", "Smith", "A1234821")
    assert [next(candidates) for _ in range(3)] == ["smithj4821", "smithj48212", "smithj48213"]


@pytest.mark.parametrize(
    ("first", "last", "doc_id", "username"),
    [
        ("José", "Núñez-O'Neil", "77", "nunezoneilj77"),
        ("王", "李", "A1", "learner1"),  # no ASCII letters: a fixed base
        ("Ann", "Lee", "ABCD", "leea"),  # no digits in the DOC ID: the name alone
        ("A", "B", "1", "ba1"),
        ("", "B", "X", "b00"),  # padded to three with digits, so the letters stay the name's
        ("Ann", "Wolfeschlegelsteinhausen-Bergerdorff", "12345", "wolfeschlegelsteinha2345"),
        ("3Jo", "Smith2", "A1234821", "smithj4821"),  # digits typed into a name never reach its letters
    ],
)
def test_a_username_is_typeable_whatever_the_name(first: str, last: str, doc_id: str, username: str) -> None:
    assert next(rules.username_candidates(first, last, doc_id)) == username
    assert _USERNAME.fullmatch(username)


_NAMES = st.text(st.one_of(st.characters(categories=["L", "M"]), st.sampled_from(" '-.")), max_size=60)


@given(_NAMES, _NAMES, st.text(min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_every_username_candidate_matches_the_pattern_and_none_repeats(first: str, last: str, doc_id: str) -> None:
    candidates = list(itertools.islice(rules.username_candidates(first, last, doc_id), 1000))
    assert all(_USERNAME.fullmatch(c) for c in candidates)
    assert len(set(candidates)) == len(candidates)
    # and the letters a username starts with begin the learner's name key (a username search is a name-key query)
    letters = re.match(r"[a-z]*", candidates[0])
    assert letters is not None
    name_key = rules.search_key(last) + rules.search_key(first)
    assert name_key.startswith(letters.group()) or candidates[0].startswith("learner")


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_a_search_key_is_lowercase_ascii_letters_and_digits_and_stable(text: str) -> None:
    key = rules.search_key(text)
    assert re.fullmatch(r"[a-z0-9]*", key)
    assert rules.search_key(key) == key
    assert rules.search_key(text.upper()) == rules.search_key(text.lower()) or not text.isascii()


def test_a_selection_of_ids_is_trimmed_of_ascii_spaces_only_and_keeps_its_first_order_without_repeats() -> None:
    # Given ids as a client sends them: padded, repeated, one with a Unicode space inside its value
    sent = [" b ", "a", "b", "\u00a0c", "\tc\n"]
    # When they are read as a selection
    # Then ASCII whitespace is trimmed, repeats dropped in the order first sent, and Unicode spaces kept
    assert rules.selection_ids(sent) == ["b", "a", "\u00a0c", "c"]


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, None), (4, None), (5, 60), (6, 120), (7, 240), (8, 480), (9, 900), (10, 900), (10_000, 900)],
)
def test_a_login_is_locked_from_the_fifth_failure_and_the_wait_doubles_to_fifteen_minutes(
    failures: int, wait: int | None
) -> None:
    # Given a base wait of 60 s and the last failure at t=1000.5
    until = rules.locked_until(failures, 1000.5, 60)
    # Then fewer than 5 failures do not lock; from 5 the wait is 60 s, doubled per failure, never past 900 s
    assert until == (None if wait is None else 1000.5 + wait)
    assert rules.LOCKOUT_AFTER == 5 and rules.LOCKOUT_MAX_SECONDS == 900


def test_a_lock_needs_the_time_of_the_last_failure() -> None:
    assert rules.locked_until(7, None, 60) is None
    assert rules.locked_until(6, 10.0, 1) == 12.0


# ---------------------------------------------------------------- the OpenAPI document's patterns of these rules
def _matches(pattern: str, value: str) -> bool:
    return re.search(pattern, value) is not None  # as JSON Schema applies a pattern: a search, anchored by ^ and $


def test_the_strip_class_is_what_str_strip_trims() -> None:
    # Given every code point
    # Then STRIP_CLASS matches exactly those str.strip() trims
    assert [c for c in map(chr, range(0x110000)) if re.fullmatch(rules.STRIP_CLASS, c)] == [
        c for c in map(chr, range(0x110000)) if c.isspace()
    ]


# Beside ASCII, the characters a DOC ID, a date or a name could trip on: Unicode spaces, letters that upper-case to
# ASCII, non-ASCII digits, C1 controls, a combining mark, the apostrophe ’.
_TRICKY = "\u00a0\u2003\u3000\u0085\u001c\u0131\u017f\ufb01\u00df\u0663\uff11\u0080\u009f\u0301\u2019\u00e9\u00c9"
_TEXT = st.text(alphabet=st.characters(codec="ascii") | st.sampled_from(_TRICKY), max_size=30)


def _doc_id_documented(value: str) -> bool:
    return _matches(rules.DOC_ID_PATTERN, value) and not _matches(rules.DOC_ID_SCIENTIFIC_PATTERN, value)


@settings(max_examples=3000, derandomize=True)
@given(_TEXT | st.from_regex(rules.DOC_ID_PATTERN))
def test_the_doc_id_patterns_say_exactly_what_clean_doc_id_accepts(raw: str) -> None:
    assert _doc_id_documented(raw) == isinstance(rules.clean_doc_id(raw), str), repr(raw)


@pytest.mark.parametrize(("raw", "documented"), [(" a-1\u00a0", True), ("1E5", False), ("\u0131d", False)])
def test_the_doc_id_patterns_at_their_edges(raw: str, documented: bool) -> None:
    assert _doc_id_documented(raw) is documented
    assert isinstance(rules.clean_doc_id(raw), str) is documented


@settings(max_examples=3000, derandomize=True)
@given(_TEXT | st.from_regex(rules.DATE_OF_BIRTH_PATTERN))
def test_every_date_of_birth_accepted_matches_its_pattern(raw: str) -> None:
    # A date the pattern allows may still be refused: not real (02/30) or an implausible age (today is state)
    if isinstance(rules.clean_date_of_birth(raw, TODAY), str):
        assert _matches(rules.DATE_OF_BIRTH_PATTERN, raw), repr(raw)


@pytest.mark.parametrize("raw", ["\u0663/15/1990", "13/01/1990", "00/10/1990", "1/1/90"])
def test_a_date_outside_the_pattern_is_refused(raw: str) -> None:
    assert not _matches(rules.DATE_OF_BIRTH_PATTERN, raw)
    assert isinstance(rules.clean_date_of_birth(raw, TODAY), FieldError)


@settings(max_examples=3000, derandomize=True)
@given(_TEXT | st.from_regex(rules.NAME_PATTERN))
def test_every_name_accepted_matches_its_pattern_and_an_ascii_one_exactly(raw: str) -> None:
    accepted = isinstance(rules.clean_name(raw, "firstName"), str)
    if accepted:
        assert _matches(rules.NAME_PATTERN, raw), repr(raw)
    if raw.isascii() and len(raw) <= rules.NAME_MAX:
        assert _matches(rules.NAME_PATTERN, raw) == accepted, repr(raw)


@settings(max_examples=3000, derandomize=True)
@given(st.text(alphabet=st.characters(codec="ascii") | st.sampled_from(_TRICKY), min_size=6, max_size=12))
def test_every_password_accepted_matches_its_pattern_and_an_ascii_one_exactly(raw: str) -> None:
    accepted = isinstance(rules.check_password(raw), str)
    if accepted:
        assert _matches(rules.PASSWORD_PATTERN, raw), repr(raw)
    if raw.isascii() and len(raw) >= rules.PASSWORD_MIN:
        assert _matches(rules.PASSWORD_PATTERN, raw) == accepted, repr(raw)
