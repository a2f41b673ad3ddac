"""In-memory stand-ins for the learner and directory tables (intake.learner_creation.LearnerRepository)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from intake import rules
from intake.domain import HistoryEntry, Learner, LearnerEdit, LearnerStatus, Location, LocationKind, Move
from intake.errors import Conflict, LearnerExists, UsernameTaken

AGENCY = "agency-north"
FACILITY = "fac-oak"
UNIT = "unit-oak-a"
OTHER_FACILITY = "fac-pine"
OTHER_UNIT = "unit-pine-a"


def stored_learner(doc_id: str, *, location_id: str = UNIT, facility_id: str = FACILITY, **changes: object) -> Learner:
    """A learner of the agency as stored (Dee Lee, born 01/02/1990, id `id-{doc_id}`), with `changes` over those."""
    fields: dict[str, object] = {
        "learner_id": f"id-{doc_id}",
        "agency_id": AGENCY,
        "doc_id": doc_id,
        "first_name": "Dee",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": location_id,
        "facility_id": facility_id,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "created_by": "someone",
    }
    return Learner.model_validate({**fields, **changes})


def location(location_id: str, facility_id: str, active: bool = True) -> Location:
    kind = LocationKind.FACILITY if location_id == facility_id else LocationKind.HOUSING_UNIT
    return Location(
        location_id=location_id, name=location_id, agency_id=AGENCY, facility_id=facility_id, kind=kind, active=active
    )


class Repository:
    """Learners and locations in memory, with the stored tables' conditions (one DOC ID per agency; a move only
    from where the caller saw the learner)."""

    def __init__(self) -> None:
        self.locations = {
            loc.location_id: loc
            for loc in (
                location(FACILITY, FACILITY),
                location(UNIT, FACILITY),
                location(OTHER_FACILITY, OTHER_FACILITY),
                location(OTHER_UNIT, OTHER_FACILITY),
            )
        }
        self.learners: dict[tuple[str, str], Learner] = {}
        self.hashes: dict[tuple[str, str], str] = {}
        # (agency, username) -> learnerId: claims are never released, as in the usernames table
        self.usernames: dict[tuple[str, str], str] = {}
        self.writes = 0  # conditional writes attempted (a refused one counts: DynamoDB bills it too)
        self._lock = threading.Lock()  # each call is atomic, as one DynamoDB request (or transaction) is

    def get_location(self, location_id: str) -> Location | None:
        return self.locations.get(location_id)

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner:
        with self._lock:
            self.writes += 1
            key = (learner.agency_id, learner.doc_id)
            claim = (learner.agency_id, learner.username) if learner.username else None
            if key in self.learners:  # the DAL reads the DOC ID's refusal first when both conditions fail
                found = self.learners[key]
                raise LearnerExists(found.learner_id, found.facility_id, found.location_id)
            if claim is not None and self.usernames.get(claim, learner.learner_id) != learner.learner_id:
                raise UsernameTaken(learner.username or "")
            if claim is not None:
                self.usernames[claim] = learner.learner_id
            self.learners[key] = learner
            self.hashes[key] = password_hash
            return learner

    def get_by_id(self, learner_id: str) -> Learner | None:
        return next((found for found in self.learners.values() if found.learner_id == learner_id), None)

    def _current(self, learner: Learner) -> Learner:
        found = self.learners.get((learner.agency_id, learner.doc_id))
        if found is None or found.learner_id != learner.learner_id:
            raise Conflict("The learner changed meanwhile")
        return found

    def _store(self, learner: Learner, changes: dict, entries: list[HistoryEntry]) -> Learner:
        current = self._current(learner)
        updated = current.model_copy(
            update={
                **changes,
                "history": (*current.history, *entries),
                "version": current.version + 1,
                "updated_at": entries[-1].at if entries else current.updated_at,
            }
        )
        self.learners[(learner.agency_id, learner.doc_id)] = updated
        return updated

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner:
        with self._lock:
            self.writes += 1
            if self._current(learner).status is not LearnerStatus.INACTIVE:
                raise Conflict("The learner is no longer inactive")
            self.hashes[(learner.agency_id, learner.doc_id)] = password_hash
            changes = {
                "status": LearnerStatus.ACTIVE,
                "location_id": destination.location_id,
                "facility_id": destination.facility_id,
            }
            return self._store(learner, changes, entries)

    def update_details(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> Learner:
        with self._lock:
            self.writes += 1
            if self._current(learner).version != learner.version:
                raise Conflict("The learner was changed meanwhile")
            fields = {
                "first_name": changes.first_name,
                "last_name": changes.last_name,
                "date_of_birth": changes.date_of_birth,
                "location_id": destination.location_id if destination is not None else None,
            }
            return self._store(learner, {k: v for k, v in fields.items() if v is not None}, [entry])

    def set_status(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None:
        with self._lock:
            self.writes += 1
            if self._current(learner).status is status:
                return None
            return self._store(learner, {"status": status}, [entry])

    def update_at_version(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> bool:
        with self._lock:
            self.writes += 1
            found = self.learners.get((learner.agency_id, learner.doc_id))
            if found is None or found.learner_id != learner.learner_id or found.version != learner.version:
                return False
            fields = {
                "first_name": changes.first_name,
                "last_name": changes.last_name,
                "date_of_birth": changes.date_of_birth,
                "location_id": destination.location_id if destination is not None else None,
            }
            self._store(learner, {k: v for k, v in fields.items() if v is not None}, [entry])
            return True

    def set_status_at_version(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool:
        with self._lock:
            self.writes += 1
            found = self.learners.get((learner.agency_id, learner.doc_id))
            if (
                found is None
                or found.learner_id != learner.learner_id
                or found.facility_id != learner.facility_id
                or found.status is status
                or found.version != learner.version
            ):
                return False
            self._store(learner, {"status": status}, [entry])
            return True

    def set_password_hash(self, learner: Learner, password_hash: str, entry: HistoryEntry) -> Learner:
        with self._lock:
            self.writes += 1
            updated = self._store(learner, {}, [entry])
            self.hashes[(learner.agency_id, learner.doc_id)] = password_hash
            return updated

    def _roster(self, facility_id: str, statuses: tuple[LearnerStatus, ...], location_id: str | None) -> list[Learner]:
        found = [
            learner
            for learner in self.learners.values()
            if learner.facility_id == facility_id
            and learner.status in statuses
            and (location_id is None or learner.location_id == location_id)
        ]
        return sorted(found, key=lambda x: rules.search_key(x.last_name) + rules.search_key(x.first_name) + x.doc_id)

    def list_roster(
        self,
        facility_id: str,
        statuses: tuple[LearnerStatus, ...],
        location_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Learner], str | None]:
        roster = self._roster(facility_id, statuses, location_id)
        start = int(cursor) if cursor else 0
        page = roster[start : start + limit]
        return page, str(start + limit) if start + limit < len(roster) else None

    def search_roster(
        self, facility_id: str, statuses: tuple[LearnerStatus, ...], q: str, location_id: str | None, limit: int
    ) -> list[Learner]:
        key = rules.search_key(q)

        def matches(learner: Learner) -> bool:
            first, last = rules.search_key(learner.first_name), rules.search_key(learner.last_name)
            names = (first, last, last + first, first + last, rules.search_key(learner.doc_id))
            return any(name.startswith(key) for name in names) or (learner.username or "").startswith(key)

        return [learner for learner in self._roster(facility_id, statuses, location_id) if matches(learner)][:limit]

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None:
        return self.learners.get((agency_id, doc_id))

    def move_learner(self, learner: Learner, destination: Location, move: Move) -> Learner:
        self.writes += 1
        key = (learner.agency_id, learner.doc_id)
        if self.learners[key].location_id != learner.location_id:
            raise Conflict("The learner moved meanwhile")
        moved = learner.model_copy(
            update={
                "location_id": destination.location_id,
                "facility_id": destination.facility_id,
                "history": (*learner.history, move),
            }
        )
        self.learners[key] = moved
        return moved
