"""Checking bulk rows: the single-learner rules per field, the requestor's scope per location, duplicates in the file.

Hot path: one RowChecker per file, plain functions per row, rule results memoised per distinct raw value (names and
dates repeat a lot in a file; the rules are pure).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from itertools import starmap
from typing import BinaryIO

from intake import rules
from intake.authz import can_write_location
from intake.bulk.reading import TOO_LONG, FileInfo, read_rows
from intake.bulk.types import CheckedRow, RowIssue
from intake.domain import Location, Role, StaffMember
from intake.errors import CREATE_DENIED_MESSAGE, FieldError

_MEMO_LIMIT = 65_536
_LOCATION_ID_MAX = 128  # longer is no id of ours; DynamoDB keys have their own limits besides
_SHOWN_MAX = 40

_LocationVerdict = tuple[Location | None, FieldError | None]


class RowChecker:
    """Checks the rows of one file, in order, for one requestor (the uploader, or the facility for a drop)."""

    def __init__(
        self,
        requestor: StaffMember,
        resolve_location: Callable[[str], Location | None],
        today: date,
        *,
        max_cell_chars: int = 1000,
    ) -> None:
        self._requestor = requestor
        self._resolve = resolve_location
        self._today = today
        self._max_cell_chars = max_cell_chars
        self._scope_hint = _scope_hint(requestor)
        self._locations: dict[str, _LocationVerdict] = {}
        self._doc_lines: dict[str, int] = {}
        self._request_lines: dict[str, int] = {}
        self._first_names: dict[str, str | FieldError] = {}
        self._last_names: dict[str, str | FieldError] = {}
        self._dates: dict[str, str | FieldError] = {}

    def check(self, line: int, cells: dict[str, str]) -> CheckedRow:
        """One row checked: cleaned fields when valid, else every issue found (a field at a time)."""
        get = cells.get
        errors: list[FieldError] = []
        too_long = _too_long_fields(cells) if TOO_LONG in cells.values() else ()
        for name in too_long:
            errors.append(
                FieldError(
                    name,
                    "TOO_LONG",
                    f"{name} is longer than {self._max_cell_chars} characters: shorten it (if the row runs on into "
                    'the next ones, a cell there holds a stray double quote (") to remove)',
                )
            )

        request_id = "" if "requestId" in too_long else get("requestId", "").strip()
        if request_id and not request_id.isprintable():
            bad = _control_character(request_id)
            if bad:
                errors.append(FieldError("requestId", "INVALID_VALUE", f"requestId may not hold {bad}: remove it"))

        raw_doc = get("docID", "")
        doc = "" if "docID" in too_long else rules.clean_doc_id(raw_doc, "docID")
        first = "" if "firstName" in too_long else _memo(self._first_names, get("firstName", ""), _first_name)
        last = "" if "lastName" in too_long else _memo(self._last_names, get("lastName", ""), _last_name)
        born = "" if "dateOfBirth" in too_long else _memo(self._dates, get("dateOfBirth", ""), self._date)
        role = "" if "role" in too_long else rules.check_role(get("role", ""), "role")
        password = None if "password" in too_long else rules.check_password(get("password", ""), "password")
        location, location_error = (
            (None, None) if "locationId" in too_long else self._location(get("locationId", ""))
        )
        for value in (doc, first, last, born, role, password, location_error):
            if isinstance(value, FieldError):
                errors.append(value)

        if isinstance(doc, str) and doc:
            seen = self._doc_lines.setdefault(doc, line)
            if seen != line:
                errors.append(
                    FieldError(
                        "docID",
                        "DUPLICATE_IN_FILE",
                        f"docID {doc} is already on line {seen}: a learner may appear once; delete one of the rows",
                    )
                )
        if request_id:
            seen = self._request_lines.setdefault(request_id, line)
            if seen != line:
                errors.append(
                    FieldError(
                        "requestId",
                        "DUPLICATE_IN_FILE",
                        f"requestId {_shown(request_id)} is already on line {seen}: give every row its own requestId",
                    )
                )

        doc_text = doc if isinstance(doc, str) and doc else ("" if "docID" in too_long else raw_doc.strip())
        row = CheckedRow(line=line, request_id=request_id, doc_id=doc_text)
        if errors:
            row.issues = [
                RowIssue(line, request_id, doc_text, error.field, error.code, error.message) for error in errors
            ]
        row.first_name = first if isinstance(first, str) else ""
        row.last_name = last if isinstance(last, str) else ""
        row.date_of_birth = born if isinstance(born, str) else ""
        row.password = password if isinstance(password, str) else None
        if location is not None:
            row.location_id = location.location_id
            row.facility_id = location.facility_id
            row.agency_id = location.agency_id
        return row

    def _date(self, raw: str) -> str | FieldError:
        return rules.clean_date_of_birth(raw, self._today, "dateOfBirth")

    def _location(self, raw: str) -> _LocationVerdict:
        key = raw.strip()
        verdict = self._locations.get(key)
        if verdict is None:
            verdict = self._judge_location(key)
            if len(self._locations) < _MEMO_LIMIT:
                self._locations[key] = verdict
        return verdict

    def _judge_location(self, location_id: str) -> _LocationVerdict:
        if not location_id:
            return None, _denied(f"the locationId is blank; {self._scope_hint}")
        shown = _shown(location_id)
        location = None
        if len(location_id) <= _LOCATION_ID_MAX and location_id.isprintable():
            location = self._resolve(location_id)
        if location is None:
            return None, FieldError(
                "locationId",
                "LOCATION_NOT_FOUND",
                f"locationId {shown} is not a facility or housing unit Intake knows: check it; "
                f"{self._scope_hint}",
            )
        if not can_write_location(self._requestor, location):
            return None, _denied(f"locationId {shown} is outside your scope; {self._scope_hint}")
        if not location.active:
            return None, FieldError(
                "locationId",
                "LOCATION_INACTIVE",
                f"locationId {shown} ({location.name}) is no longer in use: enter an active housing unit's id "
                "or the facility's id",
            )
        return location, None


def check_file(
    stream: BinaryIO,
    *,
    requestor: StaffMember,
    resolve_location: Callable[[str], Location | None],
    today: date,
    max_bytes: int,
    max_rows: int,
    max_cell_chars: int = 1000,
) -> tuple[FileInfo, Iterator[CheckedRow]]:
    """read_rows then RowChecker.check, lazily: FileRejected comes from this call or from the iterator."""
    info, rows = read_rows(stream, max_bytes=max_bytes, max_rows=max_rows, max_cell_chars=max_cell_chars)
    checker = RowChecker(requestor, resolve_location, today, max_cell_chars=max_cell_chars)
    return info, starmap(checker.check, rows)


def _first_name(raw: str) -> str | FieldError:
    return rules.clean_name(raw, "firstName")


def _last_name(raw: str) -> str | FieldError:
    return rules.clean_name(raw, "lastName")


def _memo(
    memo: dict[str, str | FieldError], raw: str, rule: Callable[[str], str | FieldError]
) -> str | FieldError:
    result = memo.get(raw)
    if result is None:
        result = rule(raw)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[raw] = result
    return result


def _too_long_fields(cells: dict[str, str]) -> tuple[str, ...]:
    return tuple(name for name, value in cells.items() if value == TOO_LONG)


def _control_character(value: str) -> str:
    for char in value:
        if unicodedata.category(char).startswith("C"):
            return f"the control character U+{ord(char):04X}"
    return ""


def _shown(value: str) -> str:
    """A raw cell quoted for a message, cut short: messages must stay readable whatever the cell held."""
    if len(value) > _SHOWN_MAX:
        value = value[:_SHOWN_MAX] + "…"
    return f"'{value}'"


def _denied(what_to_do: str) -> FieldError:
    return FieldError("locationId", "PERMISSION_DENIED", f"{CREATE_DENIED_MESSAGE}: {what_to_do}")


def _scope_hint(requestor: StaffMember) -> str:
    """What a requestor may enter as locationId, in words."""
    if not requestor.active or requestor.role is Role.EDUCATOR:
        return "your account cannot create learners; ask an administrator of the facility to upload the file"
    if requestor.role is Role.SYSTEM_ADMIN:
        return "enter the id of a facility or of one of its housing units"
    if requestor.role is Role.AGENCY_ADMIN:
        return f"enter the id of a facility of your agency ({requestor.agency_id}) or of one of its housing units"
    facilities = requestor.facility_ids
    if len(facilities) == 1:
        return f"enter your facility's id ({facilities[0]}) or the id of one of its housing units"
    return f"enter the id of one of your facilities ({', '.join(facilities)}) or of one of their housing units"
