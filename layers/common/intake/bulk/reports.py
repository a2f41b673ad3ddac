"""CSV reports staff open in Excel: UTF-8 with BOM, CRLF, and no cell Excel would run as a formula."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from intake.bulk.types import UNCHANGED, PlanEntry, RowIssue

PLAN_REPORT_COLUMNS = ("line", "docID", "action", "changedFields")
ERROR_REPORT_COLUMNS = ("line", "requestId", "docID", "field", "code", "message", "severity")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell with a leading apostrophe if Excel would otherwise read it as a formula (OWASP CSV injection)."""
    if cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


class _Utf8Sink:
    """What csv.writer writes to: text, encoded as it comes, onto a binary stream."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(text.encode("utf-8"))


class ReportWriter:
    """One CSV report, row by row, onto a binary stream: BOM and header first, CRLF, every text cell neutralised."""

    def __init__(self, out: BinaryIO, columns: Sequence[str]) -> None:
        out.write(codecs.BOM_UTF8)
        self._writer = csv.writer(_Utf8Sink(out), lineterminator="\r\n")
        self._writer.writerow([neutralise(column) for column in columns])
        self.rows = 0

    def write(self, row: Sequence[str | int | None]) -> None:
        """One row; ints are written as numbers, None as an empty cell."""
        self._writer.writerow(
            [neutralise(cell) if isinstance(cell, str) else ("" if cell is None else cell) for cell in row]
        )
        self.rows += 1


def write_error_report(issues: Iterable[RowIssue], out: BinaryIO) -> int:
    """errors.csv from row issues (errors and warnings); returns the number of rows written."""
    writer = ReportWriter(out, ERROR_REPORT_COLUMNS)
    for issue in issues:
        writer.write(
            (issue.line, issue.request_id, issue.doc_id, issue.field, issue.code, issue.message, issue.severity)
        )
    return writer.rows


class PlanReport:
    """plan.csv, entry by entry as planned (in line order): line, docID, action and, for an UPDATE, the changed
    fields joined by ";". Never a password or a date of birth."""

    def __init__(self, out: BinaryIO) -> None:
        self._writer = ReportWriter(out, PLAN_REPORT_COLUMNS)

    @property
    def rows(self) -> int:
        return self._writer.rows

    def write(self, entry: PlanEntry) -> None:
        self._writer.write((entry.line, entry.doc_id, entry.action, ";".join(entry.changed)))

    def unchanged(self, line: int, doc_id: str) -> None:
        """An UNCHANGED row's line, written from the row itself (the sync planner makes no entry for it)."""
        self._writer.write((line, doc_id, UNCHANGED, ""))
