"""Planning: checked rows and a learner look-up in, plan entries (CREATE, MOVE or REACTIVATE) and row issues out.

A DOC ID unknown to the agency is a CREATE; an active learner at another facility a MOVE; an inactive learner of the
agency, wherever it was left, a REACTIVATE (re-entry: the old account comes back at the row's location), counted as
toReactivate and never an error. An active learner already at this facility is a LEARNER_EXISTS error.

No I/O here: the look-up is a port (the learners table in production, a dict in tests) and sealing a given password
is a callable the caller passes in (it holds the upload's data key). DOC IDs are looked up in windows of
LOOKUP_BATCH valid rows, one batched read per agency and window, so the planner holds at most one window of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from intake.bulk.types import (
    CREATE,
    MOVE,
    REACTIVATE,
    CheckedRow,
    CleanRow,
    ExistingLearner,
    PlanEntry,
    RowIssue,
    as_checked,
)
from intake.domain import PLAN_COUNT_NAMES, Learner, LearnerStatus

LOOKUP_BATCH = 100

# What the planner gives out, row by row: each row's issues (errors first), then its entry if the row is valid.
Planned = PlanEntry | RowIssue
# seal(password, line): a given password as the plan keeps it.
Seal = Callable[[str, int], str]


class LearnerLookup(Protocol):
    """The agency's learners for many DOC IDs (those it has; the others are missing from the answer)."""

    def find_by_doc_ids(self, agency_id: str, doc_ids: list[str]) -> dict[str, Learner]: ...


class Planner:
    """Plans rows as they come: `add` each row, `flush` at the end; each returns what it planned, in line order.

    A row is planned when its window is looked up, so `add` returns nothing until LOOKUP_BATCH valid rows wait.
    `plan` does the same for a whole iterable.
    """

    def __init__(self, lookup: LearnerLookup, seal: Seal) -> None:
        self.lookup = lookup
        self.seal = seal
        self.counts = dict.fromkeys(PLAN_COUNT_NAMES, 0)
        self.window: list[CheckedRow] = []
        self.window_valid = 0

    def plan(self, rows: Iterable[CheckedRow | CleanRow]) -> Iterator[Planned]:
        for row in rows:
            yield from self.add(row)
        yield from self.flush()

    def add(self, checked: CheckedRow | CleanRow) -> list[Planned]:
        row = as_checked(checked)  # the plan entry and any later issue need a CheckedRow
        self.counts["rows"] += 1
        self.window.append(row)
        if row.is_valid:
            self.window_valid += 1
            if self.window_valid >= LOOKUP_BATCH:
                return self.flush()
        return []

    def flush(self) -> list[Planned]:
        """Look up the window's DOC IDs (one batched read per agency) and plan each of its rows."""
        existing: dict[tuple[str, str], Learner] = {}
        by_agency: dict[str, list[str]] = {}
        restored = _zero_padded_doc_ids(self.window)
        for row in self.window:
            if row.is_valid:
                by_agency.setdefault(row.agency_id, []).append(row.doc_id)
                if row.line in restored:
                    by_agency[row.agency_id].append(restored[row.line])
        for agency_id, doc_ids in by_agency.items():
            for doc_id, found in self.lookup.find_by_doc_ids(agency_id, doc_ids).items():
                existing[(agency_id, doc_id)] = found
        planned: list[Planned] = []
        for row in self.window:
            valid = row.is_valid
            learner = existing.get((row.agency_id, row.doc_id)) if valid else None
            if learner is None and row.line in restored:  # a warning: the row stays as valid as it was
                _warn_lost_zeros(row, existing.get((row.agency_id, restored[row.line])))
            self._plan(row, valid, learner, planned)
        self.window = []
        self.window_valid = 0
        return planned

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


def _zero_padded_doc_ids(window: list[CheckedRow]) -> dict[int, str]:
    """For all-digit DOC IDs shorter than the window's longest all-digit one, that ID with its zeros restored, by line.

    Excel drops leading zeros from a numeric column; IDs of a fixed width mostly start with a non-zero digit, so the
    longest all-digit ID of the window is the agency's width. Only damaged rows cost an extra key in the look-up.
    """
    digits = [row for row in window if row.is_valid and row.doc_id.isdigit()]
    width = max((len(row.doc_id) for row in digits), default=0)
    return {row.line: row.doc_id.zfill(width) for row in digits if len(row.doc_id) < width}


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
