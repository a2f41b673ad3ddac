"""Checking bulk rows: the single-learner rules per field, the requestor's scope per location, duplicates in the file.

Hot path: one RowChecker per file, fed the reader's parts (intake.bulk.reading.Sheet): blocks of text (Lines) on the
CSV fast path, records otherwise. Most rows of a real file are plain (ASCII names, digit DOC IDs, MM/DD/YYYY dates,
role Learner): in a block, one regular expression finds each run of plain lines, whose rows are checked column by
column; a quick check accepts a plain record with one regular expression over the whole record, values the rules
would return unchanged only. Both yield them as CleanRow tuples. Every other row takes the full rules
(check_values), whose results are memoised per distinct raw value (names and dates repeat a lot in a file; the rules
are pure). The fast path only ever says "clean" or "don't know", so a row's outcome is the same on either path.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import date
from itertools import chain, starmap
from operator import indexOf
from typing import BinaryIO, cast

from intake import password_rules, rules
from intake.authz import can_write_location
from intake.bulk.reading import CANONICAL_COLUMNS, TOO_LONG, FileInfo, Lines, Records, read_file
from intake.bulk.types import CheckedRow, CleanRow, RowIssue
from intake.domain import Location, PasswordRule, Role, StaffMember
from intake.errors import CREATE_DENIED_MESSAGE, FieldError

_MEMO_LIMIT = 65_536
_SCANS_BEFORE_INDEX = 256  # at 1M keys a scan takes ~10 ms
_DIGITS_MAX = 18  # < 2**63: a one- or two-digit int object, 32 bytes
_LOCATION_ID_MAX = 128  # longer is no id of ours; DynamoDB keys have their own limits besides
_SHOWN_MAX = 40
_QUICK_CELL_MAX = 128  # the longest cell the quick shape accepts (a password); longer ones may need the TOO_LONG cut

# (location_id, facility_id, agency_id) of a usable location, or what is wrong with the cell
_LocationVerdict = tuple[tuple[str, str, str] | None, FieldError | None]
_NO_LOCATION = ("", "", "")
# What the checker makes of a row: a CleanRow on the fast path, else a CheckedRow.
Row = CheckedRow | CleanRow


class RowChecker:
    """Checks the rows of one file, in order, for one requestor (the uploader, or the facility for a drop).

    Every row must be in the upload's facility (`facility_id`): a location of another facility, even one the
    requestor may write in, is a WRONG_FACILITY row error, so an upload only ever creates in its own facility.
    """

    def __init__(
        self,
        requestor: StaffMember,
        resolve_location: Callable[[str], Location | None],
        today: date,
        *,
        facility_id: str,
        max_cell_chars: int = 1000,
    ) -> None:
        self._requestor = requestor
        self._facility_id = facility_id
        self._resolve = resolve_location
        self._today = today
        self._max_cell_chars = max_cell_chars
        self._scope_hint = _scope_hint(requestor)
        self._locations: dict[str, _LocationVerdict] = {}
        self._doc_lines = FirstLines()
        self._doc_keys = self._doc_lines.keys
        self._request_lines = FirstLines()
        self._request_keys = self._request_lines.keys
        self._first_names: dict[str, str | FieldError] = {}
        self._last_names: dict[str, str | FieldError] = {}
        self._dates: dict[str, str | FieldError] = {}
        self._roles: dict[str, str | FieldError] = {}
        self._rules: dict[str, PasswordRule | None] = {}
        self._usable: dict[str, tuple[str, str, str]] = {}  # raw locationId -> its place, for usable ones only
        self._clean_shape = _clean_shape(today).fullmatch
        self._plain_run = _plain_run(today)

    def rows(self, parts: Iterable[Lines | Records], *, after: int, quick: bool) -> Iterator[Sequence[Row]]:
        """The rows of a file's parts, which follow its header on line `after`, in order and in batches.

        Lines (which come only when the fast path was asked for) by check_block; records by check_record, or with
        quick=False (the reference the fast path is tested against) by the full rules only.
        """
        line = after
        check = self.check_record if quick else self.check_values
        for part in parts:
            if isinstance(part, Lines):
                line = yield from self.check_block(line, part)
            else:
                yield from zip(starmap(check, part.after(line)))  # a batch of one row per record

    def check_block(self, line: int, block: Lines) -> Generator[Sequence[Row], None, int]:
        """The rows of a block of lines after `line`: runs of plain lines at once, the others one at a time.

        One regular expression call finds each run of plain lines (a Python call per line costs more than checking
        the line); only the lines between runs are read by the block, one at a time, and checked by check_record.
        Returns the block's last line.
        """
        text = block.text
        position, end = 0, len(text)
        plain_run, record_at = self._plain_run.match, block.record_at
        while position < end:
            run_end = plain_run(text, position).end()  # type: ignore[union-attr]  # the run may be empty
            if run_end > position:
                rows = self._plain_rows(line + 1, text[position:run_end])
                yield rows
                line += len(rows)
                position = run_end
                if position == end:
                    break
            line += 1
            position, values = record_at(line, position)
            if values is not None:
                yield (self.check_record(line, values),)
        return line

    def _plain_rows(self, first_line: int, run: str) -> list[Row]:
        """The rows of a run of plain lines: CleanRows made at once if the run passes the checks the shape leaves.

        Those are name lengths, where each location is and whether it may be used, passwords, and duplicates; checked
        column by column in C-level loops. If any fails, each line of the run takes the per-row path.
        """
        # the shape leaves exactly 7 commas per line and no line break but CRLF or LF: a comma for each break
        cells = (run.replace("\r\n", ",") if "\r" in run else run).replace("\n", ",").split(",")
        del cells[-1]  # after the last line's break
        requests, docs, firsts, lasts, borns = cells[0::8], cells[1::8], cells[2::8], cells[3::8], cells[4::8]
        passwords, raw_locations = cells[6::8], cells[7::8]
        places = list(map(self._usable.get, raw_locations))
        if None in places:  # locations not judged yet (the file's first rows), or not usable
            for raw in set(raw_locations).difference(self._locations):
                self._location(raw)
            places = list(map(self._usable.get, raw_locations))
        numbers = range(first_line, first_line + len(requests))
        # the shape: digits without a leading zero, as _compact_key makes ints of; dicts, to test and insert at once
        doc_keys = dict.fromkeys(map(int, docs))
        request_keys = dict.fromkeys(map(int, requests)) if "" not in requests else {}
        if (
            None in places
            or (" " in run and max(map(len, chain(firsts, lasts))) > rules.NAME_MAX)
            or (not request_keys and any(requests))
            or not self._passwords_pass(passwords, places)  # type: ignore[arg-type]
            or not self._doc_lines.extend(doc_keys, numbers)
            or (request_keys and not self._request_lines.extend(request_keys, numbers, undo=self._doc_lines))
        ):
            return [self.check_record(number, cells[8 * at : 8 * at + 8]) for at, number in enumerate(numbers)]
        location_ids, facility_ids, agency_ids = zip(*places, strict=True)
        given = [password or None for password in passwords] if any(passwords) else [None] * len(numbers)
        columns = (requests, docs, firsts, lasts, borns, given, location_ids, facility_ids, agency_ids)
        return list(zip(numbers, *columns, strict=True))

    def _passwords_pass(self, passwords: list[str], places: list[tuple[str, str, str]]) -> bool:
        """Whether every given password passes the rule, and its facility's rule where the facility has one."""
        if not any(passwords):
            return True
        facilities = {place[1] for place in set(places)}
        if all(self._facility_rule(facility) is None for facility in facilities):
            return all(map(_password_passes, filter(None, passwords)))
        return all(
            _password_passes(password) and self._facility_rule_check(place[1], password) is None
            for password, place in zip(passwords, places, strict=True)
            if password
        )

    def check_record(self, line: int, record: Sequence[str]) -> Row:
        """One record's row (cells in CANONICAL_COLUMNS order): a CleanRow when the quick check finds every rule would
        accept it unchanged, else check_values's CheckedRow.

        The quick check records nothing unless it accepts the row, so a row it refuses is checked from scratch.
        """
        # "," cannot occur in any cell the shape accepts, so joining cannot make a different record match
        if len(record) != 8 or self._clean_shape(",".join(record)) is None:
            return self.check_values(line, record)
        request_id, doc, first, last, born, _role, password, raw_location = record
        location, _ = self._locations.get(raw_location) or self._location(raw_location)
        if location is None:
            return self.check_values(line, record)
        if password and (
            rules.check_password(password, "password").__class__ is not str
            or self._facility_rule_check(location[1], password) is not None
        ):
            return self.check_values(line, record)
        # the shape allows digits only without a leading zero and at most _DIGITS_MAX of them: _compact_key's int
        doc_key: int | str = int(doc) if doc[0] <= "9" else doc
        if doc_key in self._doc_keys:
            return self.check_values(line, record)
        if request_id:
            request_key: int | str = int(request_id) if request_id[0] <= "9" else request_id
            if request_key in self._request_keys:
                return self.check_values(line, record)
            self._request_keys[request_key] = None
            self._request_lines.record(line)
        self._doc_keys[doc_key] = None
        self._doc_lines.record(line)
        return (line, request_id, doc, first, last, born, password or None, *location)

    def check(self, line: int, cells: dict[str, str]) -> CheckedRow:
        """One row checked: cleaned fields when valid, else every issue found (one per field, plus duplicates)."""
        return self.check_values(line, tuple(cells.get(name, "") for name in CANONICAL_COLUMNS))

    def check_values(self, line: int, values: Sequence[str]) -> CheckedRow:
        """check for a row given as cells in CANONICAL_COLUMNS order (as read_values yields them)."""
        if TOO_LONG in values:
            return self._check_too_long(line, values)
        raw_request, raw_doc, raw_first, raw_last, raw_born, raw_role, raw_password, raw_location = values
        request_id = raw_request.strip()
        # plain ASCII digits, the usual DOC ID, pass the rule as they are: no regular expression needed
        if raw_doc.isdigit() and raw_doc.isascii() and len(raw_doc) <= rules.DOC_ID_MAX:
            doc: str | FieldError = raw_doc
            doc_key: int | str = int(raw_doc) if raw_doc[0] != "0" and len(raw_doc) <= _DIGITS_MAX else raw_doc
        else:
            doc = rules.clean_doc_id(raw_doc, "docID")
            doc_key = _compact_key(doc) if isinstance(doc, str) else ""
        # each memo holds the rule's answer per raw cell: a str (cleaned) or a FieldError, both truthy
        first = self._first_names.get(raw_first) or self._remember(self._first_names, raw_first, _first_name)
        last = self._last_names.get(raw_last) or self._remember(self._last_names, raw_last, _last_name)
        born = self._dates.get(raw_born) or self._remember(self._dates, raw_born, self._date)
        role = self._roles.get(raw_role) or self._remember(self._roles, raw_role, _role)
        password = rules.check_password(raw_password, "password") if raw_password else None
        location, location_error = self._locations.get(raw_location) or self._location(raw_location)
        if password.__class__ is str and location is not None:
            password = self._facility_rule_check(location[1], password) or password

        if (
            doc.__class__ is str
            and first.__class__ is str
            and last.__class__ is str
            and born.__class__ is str
            and role.__class__ is str
            and password.__class__ is not FieldError
            and location_error is None
        ):
            errors: list[FieldError] = []
        else:
            errors = [
                value
                for value in (doc, first, last, born, role, password, location_error)
                if value.__class__ is FieldError
            ]
        if request_id and not request_id.isprintable():
            bad = _control_character(request_id)
            if bad:
                errors.append(FieldError("requestId", "INVALID_VALUE", f"requestId may not hold {bad}: remove it"))
        if isinstance(doc, str):
            doc_text = doc
            # the common case inline (a new key): see FirstLines
            if doc_key in self._doc_keys:
                errors.append(
                    _duplicate(
                        "docID",
                        f"docID {doc}",
                        self._doc_lines.first_line(doc_key),
                        "a learner may appear once; delete one row",
                    )
                )
            else:
                self._doc_keys[doc_key] = None
                self._doc_lines.record(line)
        else:
            doc_text = raw_doc.strip()
        if request_id:
            key = _compact_key(request_id)
            if key in self._request_keys:
                errors.append(
                    _duplicate(
                        "requestId",
                        f"requestId {_shown(request_id)}",
                        self._request_lines.first_line(key),
                        "give every row its own requestId",
                    )
                )
            else:
                self._request_keys[key] = None
                self._request_lines.record(line)
        return CheckedRow(
            line,
            request_id,
            doc_text,
            first if first.__class__ is str else "",
            last if last.__class__ is str else "",
            born if born.__class__ is str else "",
            password if password.__class__ is str else None,
            *(location or _NO_LOCATION),
            [RowIssue(line, request_id, doc_text, error.field, error.code, error.message) for error in errors]
            if errors
            else [],
        )

    def _check_too_long(self, line: int, values: Sequence[str]) -> CheckedRow:
        """A row with cut cells: checked with those cells blank, whose REQUIRED errors become TOO_LONG ones."""
        too_long = {name for name, value in zip(CANONICAL_COLUMNS, values, strict=True) if value == TOO_LONG}
        row = self.check_values(line, tuple("" if value == TOO_LONG else value for value in values))
        kept = [issue for issue in row.issues if issue.field not in too_long]
        row.issues = [
            RowIssue(
                line,
                row.request_id,
                row.doc_id,
                name,
                "TOO_LONG",
                f"{name} is longer than {self._max_cell_chars} characters: shorten it (if the rows after it are "
                'missing, a stray double quote (") in it swallowed them: remove it)',
            )
            for name in CANONICAL_COLUMNS
            if name in too_long
        ] + kept
        return row

    def _facility_rule_check(self, facility_id: str, password: str) -> FieldError | None:
        return password_rules.check_given(self._facility_rule(facility_id), password)

    def _facility_rule(self, facility_id: str) -> PasswordRule | None:
        if facility_id not in self._rules:
            facility = self._resolve(facility_id)
            self._rules[facility_id] = facility.password_rule if facility is not None else None
        return self._rules[facility_id]

    @staticmethod
    def _remember(
        memo: dict[str, str | FieldError], raw: str, rule: Callable[[str], str | FieldError]
    ) -> str | FieldError:
        result = rule(raw)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[raw] = result
        return result

    def _date(self, raw: str) -> str | FieldError:
        # MM/DD/YYYY as the template asks, plausible: the rule's own answer, without its regular expressions
        if len(raw) == 10 and raw[2] == "/" and raw[5] == "/" and raw.isascii():
            month, day, year = raw[:2], raw[3:5], raw[6:]
            if month.isdigit() and day.isdigit() and year.isdigit():
                try:
                    born = date(int(year), int(month), int(day))
                except ValueError:
                    born = None
                today = self._today
                if born is not None and born <= today:
                    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
                    if rules.MIN_AGE_YEARS <= age <= rules.MAX_AGE_YEARS:
                        return raw
        return rules.clean_date_of_birth(raw, self._today, "dateOfBirth")

    def _location(self, raw: str) -> _LocationVerdict:
        location_id = raw.strip()
        verdict = self._locations.get(location_id) or self._judge_location(location_id)
        if len(self._locations) < _MEMO_LIMIT:
            self._locations[raw] = self._locations[location_id] = verdict
            if verdict[0] is not None:
                self._usable[raw] = verdict[0]
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
                f"locationId {shown} is not a facility or housing unit Intake knows: check it; {self._scope_hint}",
            )
        if not can_write_location(self._requestor, location):
            return None, _denied(f"locationId {shown} is outside your scope; {self._scope_hint}")
        if location.facility_id != self._facility_id:
            return None, self._wrong_facility(shown, location)
        if not location.active:
            return None, FieldError(
                "locationId",
                "LOCATION_INACTIVE",
                f"locationId {shown} ({location.name}) is no longer in use: enter an active housing unit's id "
                "or the facility's id",
            )
        return (location.location_id, location.facility_id, location.agency_id), None

    def _wrong_facility(self, shown: str, location: Location) -> FieldError:
        """A location the requestor may use, but of another facility than the upload's: which upload it belongs in."""
        facility = location if location.location_id == location.facility_id else self._resolve(location.facility_id)
        name = facility.name if facility is not None else location.facility_id
        return FieldError(
            "locationId",
            "WRONG_FACILITY",
            f"locationId {shown} is in facility {name} ({location.facility_id}), not in this upload's "
            f"facility ({self._facility_id}): put this row in an upload for that facility",
        )


class FirstLines:
    """Keys seen in a file and the line each first appeared on, in about 45 bytes per key (1M keys: ~45 MB).

    Duplicates are rare, so the caller's common path is a dict membership test and an insert (`keys`, in first-seen
    order, values None) plus record(line): lines live in a parallel array, so no int object per line is kept.
    A duplicate's first line is found from the key's position in the dict (a C-level scan) and remembered; after
    _SCANS_BEFORE_INDEX scans, a file full of duplicates gets a full key → line index instead.
    """

    __slots__ = ("_found", "_index", "_lines", "_scans", "keys", "record")

    def __init__(self) -> None:
        self.keys: dict[int | str, None] = {}
        self._lines = array("I")
        self.record = self._lines.append  # record(line) right after a new key is inserted in `keys`
        self._found: dict[int | str, int] = {}
        self._index: dict[int | str, int] | None = None
        self._scans = 0

    def first_line(self, key: int | str) -> int:
        """The line a key in `keys` was first seen on."""
        if self._index is not None:
            return self._index[key]
        found = self._found.get(key)
        if found is not None:
            return found
        self._scans += 1
        if self._scans > _SCANS_BEFORE_INDEX:
            self._index = dict(zip(self.keys, self._lines, strict=True))
            self.record = self._record_indexed
            return self._index[key]
        # from the end: a row entered twice is most often entered twice in a row, or close (and never worse)
        found = self._found[key] = self._lines[len(self.keys) - 1 - indexOf(reversed(self.keys), key)]
        return found

    def extend(self, keys: dict[int, None], lines: range, undo: FirstLines | None = None) -> bool:
        """Record keys first seen on these lines if all are new (values None); else record nothing, undo undo's last
        extend, and return False.

        Inserting and then counting touches each key of a big dict once (a test first would touch it twice): at a
        million keys that is a cache miss saved per key. A refused extend is rare (a duplicate) and cheap to undo.
        """
        before = len(self.keys)
        if len(keys) == len(lines):  # else dict.fromkeys folded a duplicate within the run
            self.keys.update(cast("dict[int | str, None]", keys))
            if len(self.keys) - before == len(lines):
                self._lines.extend(lines)
                if self._index is not None:
                    self._index.update(zip(keys, lines, strict=True))
                return True
        self._forget(len(self.keys) - before)
        if undo is not None:
            undo._forget(len(lines), lines=True)
        return False

    def _forget(self, count: int, lines: bool = False) -> None:
        """Drop the count keys inserted last (an update appends new keys at the end), and their lines if recorded."""
        for _ in range(count):
            key, _ = self.keys.popitem()
            if lines:
                self._lines.pop()
                if self._index is not None:
                    del self._index[key]

    def _record_indexed(self, line: int) -> None:
        self._lines.append(line)
        assert self._index is not None
        self._index[next(reversed(self.keys))] = line


def _compact_key(value: str) -> int | str:
    """A DOC ID or requestId as an int when it is ASCII digits without a leading zero (half the memory of a str).

    Ints and strs never compare equal, so "007" (kept as str) and "7" (int) stay distinct, as they must.
    """
    if value.isdigit() and value.isascii() and value[0] != "0" and len(value) <= _DIGITS_MAX:
        return int(value)
    return value


def check_file(
    stream: BinaryIO,
    *,
    requestor: StaffMember,
    resolve_location: Callable[[str], Location | None],
    today: date,
    facility_id: str,
    max_bytes: int,
    max_rows: int,
    max_cell_chars: int = 1000,
    quick: bool = True,
) -> tuple[FileInfo, Iterator[CheckedRow | CleanRow]]:
    """Each learner row read and checked, lazily: a CleanRow when it passed every check, else a CheckedRow.

    FileRejected comes from this call or from the iterator. quick=False sends every row through the full rules
    (the reference the quick check is tested against); a row's outcome is the same either way.
    """
    checker = RowChecker(requestor, resolve_location, today, facility_id=facility_id, max_cell_chars=max_cell_chars)
    # the fast path's shapes take cells of up to _QUICK_CELL_MAX characters, which must not need the TOO_LONG cut
    fast = quick and max_cell_chars >= _QUICK_CELL_MAX
    info, sheet = read_file(stream, max_bytes=max_bytes, max_rows=max_rows, max_cell_chars=max_cell_chars, blocks=fast)
    # the quick check reads cells in the template's order: records of any other layout take the full rules
    return info, sheet.bound(checker.rows(sheet.parts(), after=info.header_line, quick=fast and sheet.template))


def _clean_shape(today: date) -> re.Pattern[str]:
    """A template-ordered record joined by commas whose cells every rule returns unchanged (a subset of them).

    requestId: blank, or digits without a leading zero (at most _DIGITS_MAX), or a letter then letters, digits, _ -.
    docID: the same digits, or an upper-case letter then upper-case letters, digits and hyphens (never scientific
    notation, never changed by upper-casing). Names: ASCII letters, apostrophes, periods, hyphens and single inner
    spaces, starting with a letter. dateOfBirth: MM/DD/YYYY with days 01-28 (real in every month) in years where every
    such day gives an age within the bounds whatever today's month and day. role: exactly Learner. password and
    locationId: any cell without a comma or NUL (their rules run on them after the match).
    """
    name = rf"(?=[^,]{{1,{rules.NAME_MAX}}},)[A-Za-z][A-Za-z'.\-]*(?: [A-Za-z'.\-]+)*"
    digits = rf"[1-9][0-9]{{0,{_DIGITS_MAX - 1}}}"
    doc = rf"(?:{digits}|[A-Z][A-Z0-9\-]{{0,{rules.DOC_ID_MAX - 1}}})"
    request = rf"(?:{digits}|[A-Za-z][A-Za-z0-9_\-]{{0,63}})?"
    born = rf"(?:0[1-9]|1[0-2])/(?:0[1-9]|1[0-9]|2[0-8])/{_year_pattern(today)}"
    # no NUL, which no rule accepts in either: a TOO_LONG marker never matches
    password = rf"[^,\x00]{{0,{rules.PASSWORD_MAX}}}"
    location = rf"[^,\x00]{{1,{_LOCATION_ID_MAX}}}"
    role = re.escape(rules.LEARNER_ROLE)
    return re.compile(",".join((request, doc, name, name, born, role, password, location)))


def _plain_run(today: date) -> re.Pattern[str]:
    """Consecutive lines of the plainest rows, each ended by CRLF or LF: _clean_shape with digit-only requestId (or
    blank) and docID, names of more than one word of any length (checked after), no other line break character.

    Possessive quantifiers: no cell's characters include the comma or line break that ends it, so giving characters
    back never helps a match, and not trying makes the scan about a third faster.
    """
    digits = rf"[1-9][0-9]{{0,{_DIGITS_MAX - 1}}}+"
    # a one-word name is held to NAME_MAX here; with spaces, _plain_rows measures it
    name = rf"[A-Za-z][A-Za-z'.\-]{{0,{rules.NAME_MAX - 1}}}+(?: [A-Za-z'.\-]++)*+"
    born = rf"(?:0[1-9]|1[0-2])/(?:0[1-9]|1[0-9]|2[0-8])/{_year_pattern(today)}"
    other = r"[^,\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"
    role = re.escape(rules.LEARNER_ROLE)
    line = ",".join((f"(?:{digits})?+", digits, name, name, born, role, f"{other}*+", f"{other}++"))
    return re.compile(f"(?:{line}(?:\r\n|\n))*+")


def _password_passes(password: str) -> bool:
    return rules.check_password(password, "password").__class__ is str


def _year_pattern(today: date) -> str:
    """The years of birth that give an age within the bounds for every month and day: one alternative per decade."""
    first, last = today.year - rules.MAX_AGE_YEARS, today.year - rules.MIN_AGE_YEARS - 1
    decades = []
    for decade in range(first // 10, last // 10 + 1):
        low, high = max(first, decade * 10) % 10, min(last, decade * 10 + 9) % 10
        decades.append(f"{decade:03d}[{low}-{high}]")
    return f"(?:{'|'.join(decades)})"


def _first_name(raw: str) -> str | FieldError:
    if raw.isalpha() and raw.isascii() and len(raw) <= rules.NAME_MAX:
        return raw  # what the rule returns for plain ASCII letters
    return rules.clean_name(raw, "firstName")


def _last_name(raw: str) -> str | FieldError:
    if raw.isalpha() and raw.isascii() and len(raw) <= rules.NAME_MAX:
        return raw
    return rules.clean_name(raw, "lastName")


def _role(raw: str) -> str | FieldError:
    return rules.check_role(raw, "role")


def _duplicate(field: str, what: str, first_line: int, fix: str) -> FieldError:
    return FieldError(field, "DUPLICATE_IN_FILE", f"{what} is already on line {first_line}: {fix}")


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
    facilities = requestor.facilities_as(Role.FACILITY_ADMIN)  # not those where they are an Educator
    if len(facilities) == 1:
        return f"enter your facility's id ({facilities[0]}) or the id of one of its housing units"
    return f"enter the id of one of your facilities ({', '.join(facilities)}) or of one of their housing units"
