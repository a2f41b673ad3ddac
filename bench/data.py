"""Generated bulk files shaped like real rosters: unique DOC IDs and requestIds, repeating names and locations."""

from __future__ import annotations

import random
from datetime import date

from intake.domain import Location, LocationKind, Role, StaffMember

HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId\r\n"
AGENCY = "ag-bench"
FACILITY = "fac-bench"
UNITS = tuple(f"unit-bench-{n:02d}" for n in range(12))
TODAY = date(2026, 11, 29)
_FIRST = ("Marcus", "Ana", "José", "Li", "Dmitri", "Keisha", "Tom", "Renée", "Omar", "Grace", "Mary-Jo", "D'Andre")
_LAST = ("Hill", "García", "O'Brien", "Nguyen", "Smith", "Johnson", "Kowalski", "St. John", "Lee", "Brown")
_SYLLABLES = ("ka", "ro", "mi", "ten", "sa", "lo", "vin", "dra", "el", "us", "an", "berg", "son", "ez")


def _names(rng: random.Random, base: tuple[str, ...], count: int) -> list[str]:
    made = list(base)
    while len(made) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        made.append(word.capitalize())
    return made


def roster_csv(rows: int, seed: int = 5, error_every: int = 200, first_doc: int = 1_000_000) -> bytes:
    """A UTF-8 CSV of `rows` learners as Excel writes it (CRLF), one row in `error_every` broken in some field."""
    rng = random.Random(seed)
    firsts = _names(rng, _FIRST, 3000)
    lasts = _names(rng, _LAST, 8000)
    locations = (FACILITY, *UNITS)
    lines = [HEADER]
    append = lines.append
    for n in range(rows):
        born = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1950, 2005)}"
        password = f"Pass-word{n:07d}" if n % 10 == 0 else ""
        doc = str(first_doc + n * 7)
        first, last = rng.choice(firsts), rng.choice(lasts)
        if error_every and n % error_every == error_every - 1:
            kind = (n // error_every) % 3
            if kind == 0:
                born = "13/45/1990"
            elif kind == 1:
                first = "J0hn"
            else:
                born = "1990-01-05"
        if error_every and n % 10_000 == 5_000:
            doc = str(first_doc + (n - 1) * 7)  # the previous row's DOC ID: duplicates are rare
        append(f"{n + 1},{doc},{first},{last},{born},Learner,{password},{locations[n % len(locations)]}\r\n")
    return "".join(lines).encode("utf-8")


def locations() -> dict[str, Location]:
    """The facility and its housing units, by id."""
    found = {
        FACILITY: Location(
            location_id=FACILITY, name="Bench", agency_id=AGENCY, facility_id=FACILITY, kind=LocationKind.FACILITY
        )
    }
    for unit in UNITS:
        found[unit] = Location(
            location_id=unit, name=unit, agency_id=AGENCY, facility_id=FACILITY, kind=LocationKind.HOUSING_UNIT
        )
    return found


def requestor() -> StaffMember:
    """The facility's admin, who uploads the file."""
    return StaffMember(username="bench", role=Role.FACILITY_ADMIN, agency_id=AGENCY, facility_ids=(FACILITY,))
