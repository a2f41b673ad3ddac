"""Planning: checked rows and a learner look-up in, plan entries (CREATE, MOVE or REACTIVATE) and row issues out.
In sync mode (SyncPlanner) also UPDATE, UNCHANGED and, after the last row, DEACTIVATE.

A DOC ID unknown to the agency is a CREATE; an active learner at another facility a MOVE; an inactive learner of the
agency, wherever it was left, a REACTIVATE (re-entry: the old account comes back at the row's location), counted as
toReactivate and never an error. An active learner already at this facility is a LEARNER_EXISTS error.

No I/O here: the look-up is a port (the learners table in production, a dict in tests) and sealing a given password
is a callable the caller passes in (it holds the upload's data key). DOC IDs are looked up in windows of
LOOKUP_BATCH valid rows, one batched read per agency and window, so the planner holds at most one window of rows
(and, with look-ups in flight, the few windows whose answers it awaits).

Sync mode (contract "Uploads: create or sync"): the file is the facility's whole roster. The facility's ACTIVE
learners are read once (one paged Query, RosterLearner tuples); a valid row whose DOC ID is one of them is an UPDATE
(naming the fields that differ) or UNCHANGED (never an error, never in a plan chunk, no hash), its password cell
ignored with a PASSWORD_IGNORED warning. Other rows are planned as in create mode. After the last row each roster
learner whose DOC ID is on no row of the file, valid or not, is a DEACTIVATE numbered after the file's last line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Protocol

from intake.bulk.types import (
    CREATE,
    DEACTIVATE,
    MOVE,
    REACTIVATE,
    UNCHANGED,
    UPDATE,
    CheckedRow,
    CleanRow,
    ExistingLearner,
    PlanEntry,
    RowIssue,
    as_checked,
)
from intake.domain import (
    DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT,
    PLAN_COUNT_NAMES,
    Learner,
    LearnerStatus,
    RosterLearner,
)

LOOKUP_BATCH = 100
# Windows whose look-up the validator keeps in flight while it reads on (Planner's in_flight): BatchGetItem requests
# at once, each of LOOKUP_BATCH keys; the reads per row stay the same.
LOOKUPS_IN_FLIGHT = 3
# What only a sync counts: a create-mode plan's counts are those of v1, as they always were.
SYNC_COUNT_NAMES = ("toUpdate", "unchanged", "toDeactivate")
CREATE_COUNT_NAMES = tuple(name for name in PLAN_COUNT_NAMES if name not in SYNC_COUNT_NAMES)

# A sync's UNCHANGED row with no issue, as SyncPlanner hands it on: the clean row itself (no CheckedRow, no PlanEntry
# made for it). It costs no write and no hash, so it is in plan.csv only (line, docID, UNCHANGED); SyncPlanner.plan
# gives its PlanEntry instead (unchanged_entry).
UnchangedRow = CleanRow
# What the planner gives out, row by row, in line order: each row's issues (errors first), then its entry if the row
# is valid (in a sync, an UnchangedRow for an unchanged row with no issue).
Planned = PlanEntry | RowIssue | UnchangedRow
# seal(password, line): a given password as the plan keeps it.
Seal = Callable[[str, int], str]
# What a look-up found: the agency's learners by (agency_id, doc_id).
_Existing = dict[tuple[str, str], Learner]
# A window of CleanRows only as its ten columns (zip(*rows)), or None.
_Columns = list[tuple[Any, ...]] | None
_Pending = tuple[list[CheckedRow | CleanRow], dict[int, str], _Columns, Future[_Existing]]
_TUPLE = {tuple}


@cache
def lookup_pool() -> ThreadPoolExecutor:
    """The threads that answer look-ups in flight: made on first use, one per process, shared by its planners."""
    return ThreadPoolExecutor(max_workers=LOOKUPS_IN_FLIGHT, thread_name_prefix="intake-lookup")


class LearnerLookup(Protocol):
    """The agency's learners for many DOC IDs (those it has; the others are missing from the answer)."""

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]: ...


class RosterLookup(LearnerLookup, Protocol):
    """A sync's port: the look-up, and a facility's ACTIVE learners read once (intake.dal.learners.active_roster)."""

    def active_roster(self, facility_id: str) -> Iterable[RosterLearner]: ...


class Planner:
    """Plans rows as they come: `add` each row, `flush` at the end; each returns what it planned, in line order.

    A row is planned when its window is looked up, so `add` returns nothing until LOOKUP_BATCH valid rows wait.
    `plan` does the same for a whole iterable.

    A CleanRow waits in its window as it is: a new DOC ID's becomes its CREATE entry straight from the tuple (no
    CheckedRow); only a row whose DOC ID the agency has, or may have lost its leading zeros, is made a CheckedRow.

    in_flight=0 (the default): each window is looked up and planned when it closes. in_flight=N (the validator's
    LOOKUPS_IN_FLIGHT): a closed window's look-up is sent to a small shared thread pool and rows keep coming while
    it is answered; at most N look-ups wait, the oldest is awaited when one more would, and windows are planned in
    order as their answers come (`flush` and `end` wait for all). A look-up's error (the DAL's StorageUnavailable)
    is raised where its window is planned.
    """

    def __init__(self, lookup: LearnerLookup, seal: Seal, *, in_flight: int = 0) -> None:
        self.lookup = lookup
        self.seal = seal
        self.counts = dict.fromkeys(CREATE_COUNT_NAMES, 0)
        self.window: list[CheckedRow | CleanRow] = []
        self.window_valid = 0
        self.in_flight = in_flight
        # closed windows whose look-up was sent, oldest first: rows, restored DOC IDs, columns, the answer to come
        self.pending: deque[_Pending] = deque()

    def plan(self, rows: Iterable[CheckedRow | CleanRow]) -> Iterator[Planned]:
        for planned in self.add_all(rows):
            yield from planned
        yield from self.end()

    def end(self) -> list[Planned]:
        """After the file's last row: the last window (and, in sync mode, the deactivations)."""
        return self.flush()

    def add_all(self, rows: Iterable[CheckedRow | CleanRow]) -> Iterator[list[Planned]]:
        """`add` each row, giving what is planned as it comes (a window at a time, none while it fills): the
        validator's loop, with no call per row (rows are counted when their window closes)."""
        window, valid = self.window, self.window_valid
        try:
            for row in rows:
                window.append(row)
                if row.__class__ is tuple or row.is_valid:  # type: ignore[union-attr]  # a CleanRow is valid
                    valid += 1
                    if valid >= LOOKUP_BATCH:
                        self.window_valid = valid
                        planned = self._close()
                        window, valid = self.window, self.window_valid
                        if planned:
                            yield planned
        finally:
            self.window_valid = valid

    def add(self, checked: CheckedRow | CleanRow) -> list[Planned]:
        """One row: what its window planned if it closed the window, else nothing yet."""
        planned: list[Planned] = []
        for some in self.add_all((checked,)):
            planned += some
        return planned

    def flush(self) -> list[Planned]:
        """Look up the window's DOC IDs (one batched read per agency) and plan each of its rows; with look-ups in
        flight, every window that waits is planned first, in order."""
        planned = self._close() if self.window else []  # an empty window looks nothing up
        while self.pending:
            planned += self._plan_pending()
        return planned

    def _close(self) -> list[Planned]:
        """The window closed (its rows counted): looked up and planned (in_flight=0), or its look-up sent and the
        windows whose answers came (or the oldest, when more than in_flight wait) planned."""
        window = self.window
        self.window = []
        self.window_valid = 0
        self.counts["rows"] += len(window)
        restored, wanted, columns = self._wanted(window)
        if not self.in_flight:
            return self._plan_window(window, restored, self._find(wanted), columns)
        self.pending.append((window, restored, columns, lookup_pool().submit(self._find, wanted)))
        planned: list[Planned] = []
        pending = self.pending
        while pending and (len(pending) > self.in_flight or pending[0][3].done()):
            planned += self._plan_pending()
        return planned

    def _plan_pending(self) -> list[Planned]:
        window, restored, columns, answer = self.pending.popleft()
        return self._plan_window(window, restored, answer.result(), columns)  # a look-up's error is raised here

    def _wanted(self, window: list[CheckedRow | CleanRow]) -> tuple[dict[int, str], dict[str, list[str]], _Columns]:
        """The window's restored DOC IDs (by line), the DOC IDs to look up per agency, and its columns if it is
        CleanRows only. The usual window, CleanRows of one agency and maybe a few invalid rows, no all-digit DOC ID
        shorter than another, is read at C speed."""
        clean_only = set(map(type, window)) == _TUPLE
        checked = [] if clean_only else [row for row in window if row.__class__ is not tuple]
        if not any(row.is_valid for row in checked):  # type: ignore[union-attr]
            clean = window if clean_only else [row for row in window if row.__class__ is tuple]
            if clean:
                columns = list(zip(*clean, strict=True))
                doc_ids, agencies = columns[2], set(columns[9])
                digits = list(filter(str.isdigit, doc_ids))
                if len(agencies) == 1 and (not digits or min(map(len, digits)) == max(map(len, digits))):
                    return {}, {agencies.pop(): list(doc_ids)}, columns if clean_only else None
        restored = _zero_padded_doc_ids(window)
        return restored, self._doc_ids(window, restored), None

    def _plan_window(
        self, window: list[CheckedRow | CleanRow], restored: dict[int, str], existing: _Existing, columns: _Columns
    ) -> list[Planned]:
        """Each row of a looked-up window planned, in order: each run of clean rows of new DOC IDs as their CREATE
        entries, made at once from the tuples themselves; any other row (checked by the full rules, of a DOC ID the
        agency has or that may have lost its zeros) as a CheckedRow. `columns`: the window's if it is CleanRows only
        with no DOC ID restored."""
        if columns is not None and not existing:
            return self._created(columns)
        found = {doc_id for _, doc_id in existing}
        odd = [
            at
            for at, row in enumerate(window)
            if row.__class__ is not tuple or (found and row[2] in found) or (restored and row[0] in restored)
        ]
        planned: list[Planned] = []
        start = 0
        for at in odd:
            if at > start:
                planned += self._created(list(zip(*window[start:at], strict=True)))
            self._plan_looked_up(as_checked(window[at]), existing, restored, planned)
            start = at + 1
        if start < len(window):
            planned += self._created(list(zip(*window[start:], strict=True)))
        return planned

    def _created(self, columns: list[tuple[Any, ...]]) -> list[Planned]:
        """The CREATE entries of clean rows of new DOC IDs (given as their columns), in order, given passwords sealed:
        made by C-level calls, no Python call per row (tuple.__new__ over PlanEntry's fields, every one given)."""
        lines, request_ids, doc_ids, firsts, lasts, borns, passwords, location_ids, facility_ids, agencies = columns
        seal = self.seal
        sealed = (
            [seal(password, line) if password else None for password, line in zip(passwords, lines, strict=True)]
            if any(passwords)
            else repeat(None)
        )
        values = zip(lines, request_ids, repeat(CREATE), doc_ids, firsts, lasts, borns, location_ids, facility_ids,
                     agencies, sealed, repeat(None), repeat(None), repeat(()))  # fmt: skip
        planned: list[Planned] = list(map(tuple.__new__, repeat(PlanEntry), values))
        self.counts["valid"] += len(planned)
        self.counts["toCreate"] += len(planned)
        return planned

    def _look_up(self, rows: Sequence[CheckedRow | CleanRow], restored: dict[int, str]) -> _Existing:
        """The learners of the rows' DOC IDs (and of their restored zeros): one batched read per agency."""
        return self._find(self._doc_ids(rows, restored))

    def _doc_ids(self, rows: Sequence[CheckedRow | CleanRow], restored: dict[int, str]) -> dict[str, list[str]]:
        """The DOC IDs to look up per agency: each valid row's that needs it, and its restored zeros after it."""
        by_agency: dict[str, list[str]] = {}
        for row in rows:
            if isinstance(row, tuple):
                line, doc_id, agency_id = row[0], row[2], row[9]
            elif row.is_valid and self._needs_lookup(row):
                line, doc_id, agency_id = row.line, row.doc_id, row.agency_id
            else:
                continue
            doc_ids = by_agency.get(agency_id)
            if doc_ids is None:
                doc_ids = by_agency[agency_id] = []
            doc_ids.append(doc_id)
            if line in restored:
                doc_ids.append(restored[line])
        return by_agency

    def _find(self, by_agency: dict[str, list[str]]) -> _Existing:
        """The port asked once per agency (in a look-up thread when in flight): the learners found, by key."""
        existing: _Existing = {}
        for agency_id, doc_ids in by_agency.items():
            for doc_id, found in self.lookup.find_by_doc_ids(agency_id, doc_ids).items():
                existing[(agency_id, doc_id)] = found
        return existing

    def _plan_looked_up(
        self,
        row: CheckedRow,
        existing: dict[tuple[str, str], Learner],
        restored: dict[int, str],
        planned: list[Planned],
    ) -> None:
        learner = existing.get((row.agency_id, row.doc_id)) if row.is_valid else None
        if learner is None and row.line in restored:  # create mode: a warning, the row stays as valid as it was
            self._lost_zeros(row, existing.get((row.agency_id, restored[row.line])))
        self._plan(row, row.is_valid, learner, planned)

    def _needs_lookup(self, row: CheckedRow) -> bool:
        return True

    def _lost_zeros(self, row: CheckedRow, learner: Learner | None) -> None:
        _warn_lost_zeros(row, learner)

    def _plan(self, row: CheckedRow, valid: bool, learner: Learner | None, planned: list[Planned]) -> None:
        inactive = learner is not None and learner.status is LearnerStatus.INACTIVE
        if valid and learner is not None and not inactive and learner.facility_id == row.facility_id:
            _doc_id_issue(
                row,
                "LEARNER_EXISTS",
                f"DOC ID {row.doc_id} already has an account at this facility (learnerId {learner.learner_id}): "
                "remove the row",
            )
            valid = False
        if row.issues:
            issues = sorted(row.issues, key=lambda issue: issue.severity != "error")
            planned.extend(issues)
            if any(issue.severity == "warning" for issue in row.issues):
                self.counts["warnings"] += 1
        if not valid:
            self.counts["invalid"] += 1
            return
        self.counts["valid"] += 1
        # No plaintext password in the plan: a given one is sealed; a blank one is derived from the key at creation.
        sealed = self.seal(row.password, row.line) if row.password else None
        if learner is None:
            self.counts["toCreate"] += 1
            action, existing = CREATE, None
        else:
            action = REACTIVATE if inactive else MOVE
            self.counts["toReactivate" if inactive else "toMove"] += 1
            # Where and as the planner saw it: creation refuses a learner changed since (its conditional update).
            existing = ExistingLearner(learner.learner_id, learner.location_id, learner.facility_id, learner.status)
        planned.append(
            PlanEntry(  # by position (PlanEntry's field order): one per valid row, on the validator's hot path
                row.line,
                row.request_id,
                action,
                row.doc_id,
                row.first_name,
                row.last_name,
                row.date_of_birth,
                row.location_id,
                row.facility_id,
                row.agency_id,
                sealed,
                existing,
            )
        )


def _zero_padded_doc_ids(window: Sequence[CheckedRow | CleanRow], passed: Sequence[CleanRow] = ()) -> dict[int, str]:
    """For all-digit DOC IDs shorter than the window's longest all-digit one, that ID with its zeros restored, by line.

    Excel drops leading zeros from a numeric column; IDs of a fixed width mostly start with a non-zero digit, so the
    longest all-digit ID of the window is the agency's width. Only damaged rows cost an extra key in the look-up.
    `passed`: the window's rows a sync planned UNCHANGED as they came (valid, so they count in the width, but never
    restored themselves: only the checked rows' restored IDs are asked for).
    """
    digits: dict[int, str] = {}  # line -> the valid row's all-digit DOC ID
    for row in window:
        if isinstance(row, tuple):  # a CleanRow: valid
            doc_id = row[2]
            if doc_id.isdigit():
                digits[row[0]] = doc_id
        elif row.is_valid and row.doc_id.isdigit():
            digits[row.line] = row.doc_id
    if not digits:
        return {}
    width = max(map(len, digits.values()))
    if passed:
        width = max(width, max(map(len, filter(str.isdigit, map(_DOC_ID, passed))), default=0))  # at C speed
    return {line: doc_id.zfill(width) for line, doc_id in digits.items() if len(doc_id) < width}


def _warn_lost_zeros(row: CheckedRow, learner: Learner | None) -> None:
    if learner is not None:
        _doc_id_issue(
            row,
            "DOC_ID_LEADING_ZEROS",
            f"DOC ID {row.doc_id} may have lost its leading zeros in Excel: learner {learner.learner_id} has "
            f"DOC ID {learner.doc_id}. If this is that person, format the column as Text and write {learner.doc_id}",
            severity="warning",
        )


def _doc_id_issue(row: CheckedRow, code: str, message: str, severity: str = "error") -> None:
    row.issues.append(
        RowIssue(
            line=row.line,
            request_id=row.request_id,
            doc_id=row.doc_id,
            field="docID",
            code=code,
            message=message,
            severity=severity,
        )
    )


IGNORED_CELL_MESSAGE = "A sync never changes an existing learner's password: the password cell was ignored"
_COMPARED = (("firstName", 3), ("lastName", 4), ("dateOfBirth", 5), ("locationId", 2))  # RosterLearner positions
_LINE, _DOC_ID = itemgetter(0), itemgetter(2)  # a CleanRow's


class SyncPlanner(Planner):
    """The planner of a sync: the file is the whole roster of `facility_id` (of `agency_id`).

    The roster is read at the first row (or at `end` for a file with none): one paged Query. `add` marks each row's
    DOC ID seen, valid or not (as the checker cleans it: trimmed, upper-cased), so a row with an error never
    deactivates its learner; `end` plans every unseen roster learner DEACTIVATE. `active_learners` is the roster's
    size (the guard's denominator).
    """

    def __init__(self, lookup: RosterLookup, seal: Seal, *, facility_id: str, agency_id: str) -> None:
        super().__init__(lookup, seal)
        self.counts = dict.fromkeys(PLAN_COUNT_NAMES, 0)
        self.roster_lookup = lookup
        self.facility_id = facility_id
        self.agency_id = agency_id
        self.roster: dict[str, RosterLearner] | None = None
        # The roster's DOC IDs on no row yet (the roster's own strings: a set of the rows' would keep the file's)
        self.unseen: set[str] = set()
        self.last_line = 1  # the header's
        self.active_learners = 0
        # The window's UNCHANGED rows (clean, on the roster, the four fields as stored) wait as they are, in line
        # order; checked_at[i] is how many of them came before window[i], so `flush` hands both on in line order.
        self.passed: list[CleanRow] = []
        self.checked_at: list[int] = []

    def _roster(self) -> dict[str, RosterLearner]:
        if self.roster is None:
            self.roster = {learner.doc_id: learner for learner in self.roster_lookup.active_roster(self.facility_id)}
            self.unseen = set(self.roster)
            self.active_learners = len(self.roster)
        return self.roster

    def plan(self, rows: Iterable[CheckedRow | CleanRow]) -> Iterator[Planned]:
        """As Planner.plan, every UNCHANGED row as its PlanEntry (the whole plan as entries, for whoever wants them;
        the validator drives `add_all` and `end` and writes an UnchangedRow to plan.csv as it is)."""
        for planned in self.add_all(rows):
            yield from map(self._entry, planned)
        yield from map(self._entry, self.end())

    def _entry(self, item: Planned) -> PlanEntry | RowIssue:
        return item if isinstance(item, (PlanEntry, RowIssue)) else self.unchanged_entry(item)

    def unchanged_entry(self, row: UnchangedRow) -> PlanEntry:
        """The PlanEntry an UnchangedRow stands for: the one a CheckedRow of it would have been planned as."""
        known = self._roster()[row[2]]
        existing = ExistingLearner(known.learner_id, known.location_id, self.facility_id, LearnerStatus.ACTIVE,
                                   known.version)  # fmt: skip
        line, request_id, doc_id, first_name, last_name, date_of_birth, _, location_id, facility_id, agency_id = row
        return PlanEntry(line, request_id, UNCHANGED, doc_id, first_name, last_name, date_of_birth, location_id,
                         facility_id, agency_id, None, existing, None, ())  # fmt: skip

    def add_all(self, rows: Iterable[CheckedRow | CleanRow]) -> Iterator[list[Planned]]:
        """`add` each row, giving what is planned as it comes (a window at a time): the validator's loop.

        A clean row on the roster, with no password cell, whose four fields are the roster's (as `_plan` compares
        them) is UNCHANGED: it waits in `passed` as it is, with no CheckedRow and no call, and is counted and marked
        seen at `flush`. Every other row is planned as a CheckedRow.
        """
        them = iter(rows)
        first = next(them, None)
        if first is None:
            return
        roster = self._roster()  # read at the first row: a file rejected before any reads no roster
        known_as = roster.get
        passed, valid = self.passed, self.window_valid  # locals on the hot path, given back before any call
        try:
            for row in chain((first,), them):
                if isinstance(row, tuple):
                    known = known_as(row[2])
                    if (
                        known is not None
                        and row[6] is None  # a password cell is ignored with a warning: planned as a CheckedRow
                        and known[3] == row[3]  # the four fields _COMPARED, as _plan compares them
                        and known[4] == row[4]
                        and known[5] == row[5]
                        and known[2] == row[7]
                    ):
                        passed.append(row)
                        valid += 1
                        if valid >= LOOKUP_BATCH:
                            self.window_valid = valid
                            yield self.flush()
                            passed, valid = self.passed, self.window_valid
                        continue
                self.window_valid = valid
                planned = self._add_checked(row, roster)
                if planned:
                    yield planned
                passed, valid = self.passed, self.window_valid
        finally:
            self.window_valid = valid

    def _add_checked(self, checked: CheckedRow | CleanRow, roster: dict[str, RosterLearner]) -> list[Planned]:
        if isinstance(checked, tuple):
            line, doc_id = checked[0], checked[2]
        else:
            line, doc_id = checked.line, checked.doc_id.strip().upper()
        self.last_line = max(self.last_line, line)
        if doc_id in roster:
            self.unseen.discard(doc_id)
        row = as_checked(checked)  # the plan entry and any later issue need a CheckedRow
        self.counts["rows"] += 1
        self.checked_at.append(len(self.passed))
        self.window.append(row)
        if row.is_valid:
            self.window_valid += 1  # UNCHANGED rows included: the window is LOOKUP_BATCH valid rows, as in create mode
            if self.window_valid >= LOOKUP_BATCH:
                return self.flush()
        return []

    def flush(self) -> list[Planned]:
        """The window's UNCHANGED rows handed on as they are; its other rows looked up and planned as in create mode,
        all in line order."""
        passed, window, checked_at = self.passed, self.window, self.checked_at
        self.passed, self.window, self.checked_at, self.window_valid = [], [], [], 0
        planned: list[Planned] = []
        if passed:
            counts = self.counts
            for name in ("rows", "valid", "unchanged"):
                counts[name] += len(passed)
            self.unseen.difference_update(map(_DOC_ID, passed))
            self.last_line = max(self.last_line, max(map(_LINE, passed)))
            if not window:
                planned += passed
                return planned
        restored = _zero_padded_doc_ids(window, passed)
        existing = self._look_up(window, restored)
        done = 0
        for row, before in zip(window, checked_at, strict=True):
            if before > done:
                planned += passed[done:before]
                done = before
            self._plan_looked_up(as_checked(row), existing, restored, planned)  # a sync's window holds CheckedRows
        planned += passed[done:]
        return planned

    def _needs_lookup(self, row: CheckedRow) -> bool:
        return row.doc_id not in self._roster()

    def end(self) -> list[Planned]:
        planned = self.flush()
        roster = self._roster()
        line = self.last_line
        unseen, self.unseen = self.unseen, set()  # planned: an `end` again deactivates nobody
        for doc_id in filter(unseen.__contains__, roster) if unseen else ():  # in the roster's (name) order
            learner = roster[doc_id]
            line += 1
            self.counts["toDeactivate"] += 1
            planned.append(
                PlanEntry(
                    line,
                    "",
                    DEACTIVATE,
                    doc_id,
                    learner.first_name,
                    learner.last_name,
                    learner.date_of_birth,
                    learner.location_id,
                    self.facility_id,
                    self.agency_id,
                    None,
                    ExistingLearner(
                        learner.learner_id,
                        learner.location_id,
                        self.facility_id,
                        LearnerStatus.ACTIVE,
                        learner.version,
                    ),
                )
            )
        return planned

    def _lost_zeros(self, row: CheckedRow, learner: Learner | None) -> None:
        """A row whose DOC ID lost the leading zeros of an active learner of this facility: an error in a sync (it
        would create a second account and deactivate the first), and that learner is not deactivated."""
        if learner is None or learner.doc_id not in self._roster():
            _warn_lost_zeros(row, learner)
            return
        self.unseen.discard(learner.doc_id)
        _doc_id_issue(
            row,
            "DOC_ID_LEADING_ZEROS",
            f"DOC ID {row.doc_id} may have lost its leading zeros in Excel: learner {learner.learner_id} of this "
            f"facility has DOC ID {learner.doc_id}. Format the column as Text and write {learner.doc_id}",
        )

    def _plan(self, row: CheckedRow, valid: bool, learner: Learner | None, planned: list[Planned]) -> None:
        known: RosterLearner | None = self._roster().get(row.doc_id) if valid else None
        if (
            known is None
            and learner is not None
            and learner.status is LearnerStatus.ACTIVE
            and learner.facility_id == row.facility_id
        ):  # an active learner here that the roster's (eventually consistent) Query has not seen yet
            known = RosterLearner(
                learner.doc_id,
                learner.learner_id,
                learner.location_id,
                learner.first_name,
                learner.last_name,
                learner.date_of_birth,
                learner.version,
            )
        if known is None:
            super()._plan(row, valid, learner, planned)
            return
        if row.password:
            row.issues.append(
                RowIssue(
                    row.line,
                    row.request_id,
                    row.doc_id,
                    "password",
                    "PASSWORD_IGNORED",
                    IGNORED_CELL_MESSAGE,
                    "warning",
                )
            )
        if row.issues:
            issues = sorted(row.issues, key=lambda issue: issue.severity != "error")
            planned.extend(issues)
            self.counts["warnings"] += 1  # a valid row's issues are warnings
        self.counts["valid"] += 1
        values = (row.first_name, row.last_name, row.date_of_birth, row.location_id)
        changed = tuple(name for (name, at), value in zip(_COMPARED, values, strict=True) if known[at] != value)
        self.counts["toUpdate" if changed else "unchanged"] += 1
        planned.append(
            PlanEntry(
                row.line,
                row.request_id,
                UPDATE if changed else UNCHANGED,
                row.doc_id,
                row.first_name,
                row.last_name,
                row.date_of_birth,
                row.location_id,
                row.facility_id,
                row.agency_id,
                None,  # a sync never changes a password: no seal, no hash
                ExistingLearner(
                    known.learner_id, known.location_id, self.facility_id, LearnerStatus.ACTIVE, known.version
                ),
                None,
                changed,
            )
        )


def mass_deactivation_hold(
    to_deactivate: int, active_learners: int, percent: int | None
) -> dict[str, str | int] | None:
    """The hold of a sync deactivating more than `percent` (None: the default) of the facility's active learners."""
    limit = DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT if percent is None else percent
    if to_deactivate * 100 <= limit * active_learners:
        return None
    return {
        "code": "MASS_DEACTIVATION",
        "message": f"This sync would deactivate {to_deactivate} of the facility's {active_learners} active learners, "
        f"more than {limit}%: check plan.csv; confirm with allowMassDeactivation if the file is right",
        "toDeactivate": to_deactivate,
        "activeLearners": active_learners,
    }
