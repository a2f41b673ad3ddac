"""Validation rules for one learner, shared by the single-learner API and the bulk validator.

The bulk validator runs these once per row, so they are plain functions that return either the cleaned value or a
FieldError (no exceptions, no models on the hot path). Each message names the field and says what to fix.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from intake.errors import FieldError

DOC_ID_MAX = 20
NAME_MAX = 50
PASSWORD_MIN = 8
PASSWORD_MAX = 128
MIN_AGE_YEARS = 10
MAX_AGE_YEARS = 110
LEARNER_ROLE = "Learner"
USERNAME_PATTERN_LEARNER = r"^[a-z][a-z0-9]{2,31}$"
USERNAME_MAX = 32
_USERNAME_NAME_MAX = 20
_USERNAME_FALLBACK = "learner"

_DOC_ID = re.compile(r"[A-Z0-9][A-Z0-9\-]*")
_SCIENTIFIC = re.compile(r"\d+(?:[.,]\d+)?E\+?\d+", re.IGNORECASE)  # "," as European Excel writes it
_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")  # ASCII digits, as DATE_OF_BIRTH_PATTERN says
_TWO_DIGIT_YEAR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DATE_AND_TIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?", re.IGNORECASE)
_SERIAL = re.compile(r"\d{4,5}(?:\.0+)?")
# The spaces trimmed off an id a client sends (ASCII only, as the OpenAPI pattern of an id says: every regex dialect
# agrees on these, not on Unicode's).
ID_SPACE = " \t\n\r\f\v"
_SPACES = re.compile(r"\s+")
_NAME_PUNCTUATION = frozenset(" '-.’")
_EXCEL_EPOCH = date(1899, 12, 30)
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_NOT_LETTER = re.compile(r"[^a-z]+")

# Learner sign-in lockout: after LOCKOUT_AFTER failures in a row the login waits the base wait, doubled with each
# further failure (attempts while locked count too), never more than LOCKOUT_MAX_SECONDS.
LOCKOUT_AFTER = 5
LOCKOUT_MAX_SECONDS = 900
_LOCKOUT_MAX_DOUBLINGS = 64  # past this the cap has long been reached (keeps 2 ** n small)

# What the OpenAPI document says of these fields, as JSON Schema patterns every regex dialect reads alike (ECMA-262,
# Python, Rust): explicit classes only, no \s, \d or \p. tests/unit/test_rules.py checks them against the functions.
# The characters str.strip() trims (those of str.isspace), which every clean_* trims before it looks.
STRIP_CLASS = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
DOC_ID_PATTERN = rf"^{STRIP_CLASS}*[A-Za-z0-9][A-Za-z0-9-]{{0,{DOC_ID_MAX - 1}}}{STRIP_CLASS}*$"
# ...and not digits, E, digits: a number Excel turned into scientific notation (refused with its own message).
DOC_ID_SCIENTIFIC_PATTERN = rf"^{STRIP_CLASS}*[0-9]+[Ee][0-9]+{STRIP_CLASS}*$"
DATE_OF_BIRTH_PATTERN = rf"^{STRIP_CLASS}*(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])/[0-9]{{4}}{STRIP_CLASS}*$"
# A name: no ASCII character but letters, ' - . and spaces (the ASCII spaces and controls \s folds), no C1 control
# but NEL, and at least one character that may be a letter. Which non-ASCII characters are letters (Unicode's L*
# categories) no portable pattern can say: clean_name still refuses the others.
NAME_PATTERN = (
    r"^[^\x00-\x08\x0e-\x1b\x21-\x26\x28-\x2c\x2f-\x40\x5b-\x60\x7b-\x84\x86-\x9f]*"
    r"[^\x00-\x40\x5b-\x60\x7b-\xa0\u1680\u2000-\u200a\u2019\u2028\u2029\u202f\u205f\u3000]"
    r"[^\x00-\x08\x0e-\x1b\x21-\x26\x28-\x2c\x2f-\x40\x5b-\x60\x7b-\x84\x86-\x9f]*$"
)
# A given password: no ASCII or C1 control character and no space at either end (the other Unicode format, private
# and unassigned characters check_password refuses are beyond a portable pattern).
_NOT_CONTROL = r"[^\x00-\x1f\x7f-\x9f]"
_NOT_CONTROL_OR_SPACE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
PASSWORD_PATTERN = rf"^{_NOT_CONTROL_OR_SPACE}(?:{_NOT_CONTROL}*{_NOT_CONTROL_OR_SPACE})?$"


def clean_doc_id(raw: str | None, field: str = "docId") -> str | FieldError:
    """A DOC ID trimmed and upper-cased, or what is wrong with it."""
    value = (raw or "").strip()
    if not value:
        return FieldError(field, "REQUIRED", f"{field} is required: enter the learner's DOC ID")
    if _SCIENTIFIC.fullmatch(value):
        return FieldError(
            field,
            "INVALID_VALUE",
            f"{field} '{value}' is in scientific notation, as Excel shows long numbers: format the {field} column "
            "as Text and re-type the IDs",
        )
    # ASCII before upper-casing: "ı".upper() is "I", "ﬁ".upper() is "FI"; a DOC ID is never spelled so.
    if not value.isascii():
        return _doc_id_invalid(field)
    value = value.upper()
    if len(value) > DOC_ID_MAX or not _DOC_ID.fullmatch(value):
        return _doc_id_invalid(field)
    return value


def _doc_id_invalid(field: str) -> FieldError:
    return FieldError(
        field,
        "INVALID_VALUE",
        f"{field} must be 1 to {DOC_ID_MAX} letters, digits or hyphens, starting with a letter or digit",
    )


def clean_name(raw: str | None, field: str) -> str | FieldError:
    """A name with spaces folded and trimmed, Unicode letters kept, or what is wrong with it."""
    value = unicodedata.normalize("NFC", _SPACES.sub(" ", (raw or "").replace("\u00a0", " ")).strip())
    if not value:
        return FieldError(field, "REQUIRED", f"{field} is required")
    if len(value) > NAME_MAX:
        return FieldError(field, "INVALID_VALUE", f"{field} is longer than {NAME_MAX} characters: shorten it")
    has_letter = False
    for char in value:
        if char.isalpha():
            has_letter = True
        elif char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] != "M":
            return FieldError(
                field,
                "INVALID_VALUE",
                f"{field} may hold only letters, spaces, apostrophes, hyphens and periods: remove {_describe(char)}",
            )
    if not has_letter:
        return FieldError(field, "INVALID_VALUE", f"{field} must contain at least one letter")
    return value


def _describe(char: str) -> str:
    if unicodedata.category(char).startswith("C"):
        return f"the control character U+{ord(char):04X}"
    return f"'{char}'"


def clean_date_of_birth(raw: str | None, today: date, field: str = "dateOfBirth") -> str | FieldError:
    """A date of birth as MM/DD/YYYY (M/D/YYYY accepted), real, past and plausible, or what is wrong with it."""
    value = (raw or "").strip()
    if not value:
        return FieldError(field, "REQUIRED", f"{field} is required: enter it as MM/DD/YYYY")
    match = _DATE.fullmatch(value)
    if match is None:
        return FieldError(field, "INVALID_DATE", _unreadable_date_message(value, field))
    month, day, year = (int(part) for part in match.groups())
    try:
        born = date(year, month, day)
    except ValueError:
        if month > 12 and 1 <= day <= 12:
            return FieldError(
                field,
                "INVALID_DATE",
                f"{field} {value} is not a real date: it looks like day/month order; write the month first, "
                f"e.g. {day:02d}/{month:02d}/{year:04d}",
            )
        return FieldError(field, "INVALID_DATE", f"{field} {value} is not a real date: check the month and day")
    if born > today:
        return FieldError(field, "INVALID_DATE", f"{field} {value} is in the future: check the year")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_AGE_YEARS or age > MAX_AGE_YEARS:
        return FieldError(
            field,
            "INVALID_DATE",
            f"{field} {value} gives an age of {age}: check the year (ages {MIN_AGE_YEARS} to {MAX_AGE_YEARS} accepted)",
        )
    return f"{month:02d}/{day:02d}/{year:04d}"


def _unreadable_date_message(value: str, field: str) -> str:
    if _SERIAL.fullmatch(value):
        probable = _EXCEL_EPOCH + timedelta(days=int(float(value)))
        return (
            f"{field} {value} is a spreadsheet serial number, probably {probable:%m/%d/%Y}: format the column as Text "
            "and type the date as MM/DD/YYYY"
        )
    two_digit = _TWO_DIGIT_YEAR.fullmatch(value)
    if two_digit:
        month, day, short_year = two_digit.groups()
        example = f"{int(month):02d}/{int(day):02d}/19{short_year}"
        return f"{field} {value} has a two-digit year: write all four digits, e.g. {example}"
    with_time = _DATE_AND_TIME.fullmatch(value)
    if with_time:
        month, day, year = with_time.groups()
        example = f"{int(month):02d}/{int(day):02d}/{year}"
        return f"{field} {value} has a time after the date: write only the date, e.g. {example}"
    iso = _ISO_DATE.fullmatch(value)
    if iso:
        year, month, day = iso.groups()
        return f"{field} {value} must be written MM/DD/YYYY, e.g. {int(month):02d}/{int(day):02d}/{year}"
    return f"{field} '{value}' is not a date: write it as MM/DD/YYYY"


def check_password(raw: str | None, field: str = "password") -> str | FieldError | None:
    """A given password within bounds, None when blank (one is generated), or what is wrong with it."""
    if raw is None or raw == "":
        return None
    if len(raw) < PASSWORD_MIN or len(raw) > PASSWORD_MAX:
        return FieldError(
            field,
            "INVALID_VALUE",
            f"{field} must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, or left blank to generate one",
        )
    has_control = not raw.isprintable() and any(unicodedata.category(char).startswith("C") for char in raw)
    if has_control or raw != raw.strip():
        return FieldError(
            field,
            "INVALID_VALUE",
            f"{field} may not start or end with spaces or hold control characters: retype it, or leave it blank",
        )
    return raw


def check_role(raw: str | None, field: str = "role") -> str | FieldError:
    """The role of a bulk row: only Learner, spelled exactly."""
    value = (raw or "").strip()
    if value == LEARNER_ROLE:
        return value
    if not value:
        return FieldError(field, "REQUIRED", f"{field} is required: write {LEARNER_ROLE}")
    if value.lower() == LEARNER_ROLE.lower():
        return FieldError(field, "INVALID_ROLE", f"{field} '{value}' is case-sensitive: write {LEARNER_ROLE}")
    return FieldError(field, "INVALID_ROLE", f"{field} '{value}' cannot be created here: write {LEARNER_ROLE}")


def search_key(text: str) -> str:
    """What a name or DOC ID is searched and sorted by: accents dropped, case folded, only a-z and 0-9 kept.

    "José Núñez-O'Neil" -> "josenunezoneil". Letters with no ASCII decomposition (ß, ø, ł) fold or drop the same way
    on the stored side and the searched side, so a search still finds what it typed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_KEY.sub("", unicodedata.normalize("NFKD", bare.casefold()))


def matches_every_term(texts: Iterable[str | None], query: str) -> bool:
    """Whether each word of a search is found inside one of the texts, as search_key compares them (case, accents
    and punctuation ignored): "jones prof" finds Professor Jones, "gov" finds p.jones@agency.gov. A search with no
    letters or digits finds everything."""
    keys = [search_key(text) for text in texts if text]
    terms = [key for key in (search_key(word) for word in query.split()) if key]
    return all(any(term in key for key in keys) for term in terms)


def username_candidates(first_name: str, last_name: str, doc_id: str) -> Iterator[str]:
    """Usernames for a new learner, best first: last name + first initial + the DOC ID's last 4 digits, then base2...

    Smith, John, A1234821 -> smithj4821, smithj48212, ... Each is 3-32 lowercase letters and digits starting with a
    letter (USERNAME_PATTERN_LEARNER); the letters at its start are a prefix of the learner's name key."""
    letters = (_NOT_LETTER.sub("", search_key(last_name)) + _NOT_LETTER.sub("", search_key(first_name))[:1])[
        :_USERNAME_NAME_MAX
    ]
    digits = re.sub(r"[^0-9]+", "", search_key(doc_id))[-4:]  # digits only: the letters stay the name's
    base = (letters or _USERNAME_FALLBACK) + digits
    base = base.ljust(3, "0")  # "0", not a letter: the letters at the start stay a prefix of the name key
    yield base
    for n in itertools.count(2):
        suffix = str(n)
        yield base[: USERNAME_MAX - len(suffix)] + suffix


def selection_ids(ids: Iterable[str]) -> list[str]:
    """A selection of ids as a client sent it: each trimmed of ID_SPACE, repeats dropped, in the order sent."""
    return list(dict.fromkeys(one.strip(ID_SPACE) for one in ids))


def locked_until(failures: int, last_failure_at: float | None, base_seconds: float) -> float | None:
    """When a login with `failures` in a row, the last at `last_failure_at` (epoch seconds), may try again; None
    when it is not locked (fewer than LOCKOUT_AFTER failures)."""
    if failures < LOCKOUT_AFTER or last_failure_at is None:
        return None
    doublings = min(failures - LOCKOUT_AFTER, _LOCKOUT_MAX_DOUBLINGS)
    return last_failure_at + min(base_seconds * 2**doublings, LOCKOUT_MAX_SECONDS)
