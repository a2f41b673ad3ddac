"""The shapes that flow through the bulk path: raw rows in, checked rows and file rejections out."""

from __future__ import annotations

from dataclasses import dataclass, field


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
