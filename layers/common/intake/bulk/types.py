"""The shapes that flow through the bulk path: raw rows in, checked rows and file rejections out, plan entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from intake.domain import LearnerStatus


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem with one row: an error blocks the row, a warning does not."""

    line: int
    request_id: str
    doc_id: str
    field: str
    code: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "requestId": self.request_id,
            "docId": self.doc_id,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass(slots=True)
class CheckedRow:
    """A data row after the per-row and in-file checks.

    `line` is the spreadsheet line (header = 1). When `issues` holds no error, the cleaned fields are set:
    doc_id (upper-cased), names, date_of_birth (MM/DD/YYYY), password (None = generate), location_id, and
    facility_id/agency_id of that location.
    """

    line: int
    request_id: str
    doc_id: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: str = ""
    password: str | None = None
    location_id: str = ""
    facility_id: str = ""
    agency_id: str = ""
    issues: list[RowIssue] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


# A row that passed every check on the fast path, as a plain tuple (no object per row on the hot path): line,
# request_id, doc_id, first_name, last_name, date_of_birth, password (None = generate), location_id, facility_id,
# agency_id, i.e. CheckedRow's fields in order, without issues.
CleanRow = tuple[int, str, str, str, str, str, str | None, str, str, str]


def as_checked(row: CheckedRow | CleanRow) -> CheckedRow:
    """The row as a CheckedRow (a clean row becomes one with no issues)."""
    if isinstance(row, tuple):
        return CheckedRow(*row)
    return row


class FileRejected(Exception):
    """The file as a whole is unusable: one error of line 0 (NOT_CSV, MISSING_COLUMN, EMPTY_FILE, TOO_LARGE, ...).

    The reader's bounds (docs/security.md, "Bounded spreadsheet reading") add TOO_MANY_COLUMNS, INVALID_SPREADSHEET
    (a workbook that cannot be read safely: DTD or entities, far too many ZIP members) and TOO_SLOW (past the CPU
    budget of a file); TOO_MANY_ROWS and TOO_LARGE also cover sheet rows, unpacked sizes, cells and shared strings.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ExistingLearner(NamedTuple):
    """The agency's learner a MOVE or REACTIVATE entry found for its DOC ID, where and as the planner saw it."""

    learner_id: str
    location_id: str
    facility_id: str
    status: LearnerStatus = LearnerStatus.ACTIVE  # INACTIVE exactly for a REACTIVATE
    version: int = 0  # the learner's version when planned (0: a plan written before sync); UPDATE and DEACTIVATE
    # are applied only if it is still this version


CREATE = "CREATE"
MOVE = "MOVE"
REACTIVATE = "REACTIVATE"  # the DOC ID is an inactive learner's of the agency: its account comes back
# sync mode only (docs and contract: "Uploads: create or sync")
UPDATE = "UPDATE"  # an active learner of the facility whose name, date of birth or housing unit differs
DEACTIVATE = "DEACTIVATE"  # an active learner of the facility missing from the roster file
UNCHANGED = "UNCHANGED"  # in plan.csv only: never in a plan chunk (it costs no write and no hash)


class PlanEntry(NamedTuple):
    """One valid row of a checked file as the plan keeps it: what the worker creates (CREATE), moves (MOVE) or
    reactivates (REACTIVATE, at the row's location, whatever facility the inactive learner was left at); in sync mode
    also what it updates (UPDATE, the `changed` fields) or deactivates (DEACTIVATE: a learner missing from the file,
    numbered after the file's last line, with the learner's stored details).

    Written to S3 by the validator and read back by the worker in the same JSON (plan_entry_json and
    plan_entry_of). No plaintext password: a given one is `sealed_password` (sealed with the upload's data key, bound
    to upload and line); `password` is only ever read, from a plan written before plans were sealed.

    A NamedTuple, not a frozen dataclass: as immutable and as typed, and made several times faster (the validator
    makes one per valid row, on its hot path).
    """

    line: int
    request_id: str
    action: str  # CREATE | MOVE | REACTIVATE
    doc_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    location_id: str
    facility_id: str
    agency_id: str
    sealed_password: str | None = None
    existing: ExistingLearner | None = None  # set exactly when action is MOVE, REACTIVATE, UPDATE or DEACTIVATE
    password: str | None = None  # never written
    changed: tuple[str, ...] = ()  # UPDATE: the fields that differ (firstName, lastName, dateOfBirth, locationId)


def plan_entry_json(entry: PlanEntry) -> dict[str, object]:
    """The entry's JSON object in a plan chunk (the keys plans have always had, in their order)."""
    data: dict[str, object] = {
        "line": entry.line,
        "requestId": entry.request_id,
        "action": entry.action,
        "docId": entry.doc_id,
        "firstName": entry.first_name,
        "lastName": entry.last_name,
        "dateOfBirth": entry.date_of_birth,
        "locationId": entry.location_id,
        "facilityId": entry.facility_id,
        "agencyId": entry.agency_id,
    }
    if entry.sealed_password:
        data["sealedPassword"] = entry.sealed_password
    if entry.existing is not None:
        data["existing"] = {
            "learnerId": entry.existing.learner_id,
            "locationId": entry.existing.location_id,
            "facilityId": entry.existing.facility_id,
            "status": entry.existing.status.value,
        }
        if entry.existing.version:
            data["existing"]["version"] = entry.existing.version  # type: ignore[index]
    if entry.changed:
        data["changed"] = list(entry.changed)
    return data


def plan_entry_of(data: dict[str, Any]) -> PlanEntry:
    """A plan chunk's JSON object as a PlanEntry (plans written before sealing may hold a plaintext `password`)."""
    existing = data.get("existing")
    return PlanEntry(
        line=data["line"],
        request_id=data["requestId"],
        action=data["action"],
        doc_id=data["docId"],
        first_name=data["firstName"],
        last_name=data["lastName"],
        date_of_birth=data["dateOfBirth"],
        location_id=data["locationId"],
        facility_id=data["facilityId"],
        agency_id=data["agencyId"],
        sealed_password=data.get("sealedPassword") or None,
        existing=ExistingLearner(
            existing["learnerId"],
            existing["locationId"],
            existing["facilityId"],
            LearnerStatus(existing.get("status", LearnerStatus.ACTIVE.value)),  # plans before #15 moved active ones
            int(existing.get("version", 0)),
        )
        if existing
        else None,
        password=data.get("password") or None,
        changed=tuple(data.get("changed", ())),
    )


def is_missing_row(entry: PlanEntry) -> bool:
    """A DEACTIVATE entry: a learner of the roster the file does not have (no row of the file is its line)."""
    return entry.action == DEACTIVATE


def plan_chunk_json(entries: Iterable[PlanEntry]) -> list[dict[str, object]]:
    return [plan_entry_json(entry) for entry in entries]


def plan_chunk_of(data: Iterable[dict[str, Any]]) -> list[PlanEntry]:
    return [plan_entry_of(item) for item in data]
