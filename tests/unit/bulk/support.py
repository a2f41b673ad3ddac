"""Shared by the bulk unit tests: the fixtures' world (real Locations and a real StaffMember) and a file's outcome."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from intake.bulk.checking import check_file
from intake.bulk.reading import FileInfo
from intake.bulk.types import CheckedRow, FileRejected, RowIssue, as_checked
from intake.domain import Location, LocationKind, Role, StaffMember

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
MB = 1024 * 1024


@dataclass
class World:
    """Locations by id, a requestor, a fixed today, and a resolver that counts its calls."""

    requestor: StaffMember
    locations: dict[str, Location]
    today: date
    calls: list[str] = field(default_factory=list)
    facility_id: str = "fac-oak"  # the facility the file is uploaded for

    def resolve(self, location_id: str) -> Location | None:
        self.calls.append(location_id)
        return self.locations.get(location_id)

    def as_role(self, role: Role, **changes: Any) -> World:
        """The same locations seen by another requestor."""
        requestor = self.requestor.model_copy(update={"role": role, **changes})
        return World(requestor, self.locations, self.today, facility_id=self.facility_id)


def load_world() -> World:
    """The world expected.json describes: agency-north's fac-oak and its units, seen by fac-oak's FacilityAdmin."""
    spec = EXPECTED["world"]
    locations = {
        item["locationId"]: Location(
            location_id=item["locationId"],
            name=f"{item['locationId']} name",
            agency_id=item["agencyId"],
            facility_id=item["facilityId"],
            kind=LocationKind(item["kind"]),
            active=item["active"],
        )
        for item in spec["locations"]
    }
    who = spec["requestor"]
    requestor = StaffMember(
        username=who["username"],
        role=Role(who["role"]),
        agency_id=who["agencyId"],
        facility_ids=tuple(who["facilityIds"]),
    )
    return World(requestor, locations, date.fromisoformat(spec["today"]))


@dataclass
class Outcome:
    """What the validator makes of a file: a status, and either the rejection or the checked rows."""

    status: str
    code: str = ""
    message: str = ""
    info: FileInfo | None = None
    rows: list[CheckedRow] = field(default_factory=list)

    @property
    def issues(self) -> list[RowIssue]:
        return [issue for row in self.rows for issue in row.issues]

    def errors(self) -> list[list[object]]:
        return sorted([i.line, i.field, i.code] for i in self.issues if i.severity == "error")

    def warnings(self) -> list[list[object]]:
        issues = [*(self.info.warnings if self.info else []), *self.issues]
        return sorted([i.line, i.field, i.code] for i in issues if i.severity == "warning")


def outcome(
    data: bytes,
    world: World,
    *,
    max_rows: int = 5000,
    max_bytes: int = 50 * MB,
    stream: Callable[[bytes], Any] = io.BytesIO,
) -> Outcome:
    """Checks a whole file as the validator does and names its status."""
    try:
        info, rows = check_file(
            stream(data),
            requestor=world.requestor,
            resolve_location=world.resolve,
            today=world.today,
            facility_id=world.facility_id,
            max_bytes=max_bytes,
            max_rows=max_rows,
        )
        checked = [as_checked(row) for row in rows]
    except FileRejected as rejected:
        return Outcome("REJECTED", rejected.code, rejected.message)
    status = "VALIDATED_WITH_ERRORS" if any(not row.is_valid for row in checked) else "VALIDATED"
    return Outcome(status, info=info, rows=checked)
