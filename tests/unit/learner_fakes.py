"""In-memory stand-ins for the learner and directory tables (intake.learner_creation.LearnerRepository)."""

from __future__ import annotations

from intake.domain import HistoryEntry, Learner, LearnerStatus, Location, LocationKind, Move
from intake.errors import Conflict, LearnerExists

AGENCY = "agency-north"
FACILITY = "fac-oak"
UNIT = "unit-oak-a"
OTHER_FACILITY = "fac-pine"
OTHER_UNIT = "unit-pine-a"


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

    def get_location(self, location_id: str) -> Location | None:
        return self.locations.get(location_id)

    def insert_learner(self, learner: Learner, password_hash: str) -> Learner:
        key = (learner.agency_id, learner.doc_id)
        if key in self.learners:
            found = self.learners[key]
            raise LearnerExists(found.learner_id, found.facility_id, found.location_id)
        self.learners[key] = learner
        self.hashes[key] = password_hash
        return learner

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None:
        return self.learners.get((agency_id, doc_id))

    def move_learner(self, learner: Learner, destination: Location, move: Move) -> Learner:
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

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner:
        key = (learner.agency_id, learner.doc_id)
        stored = self.learners.get(key)
        if stored is None or stored.learner_id != learner.learner_id or stored.status is not LearnerStatus.INACTIVE:
            raise Conflict("The learner was reactivated or changed by someone else meanwhile")
        update: dict[str, object] = {
            "status": LearnerStatus.ACTIVE,
            "location_id": destination.location_id,
            "facility_id": destination.facility_id,
            "history": (*stored.history, *entries),
        }
        if upload_id is not None:
            update["upload_id"] = upload_id
        reactivated = stored.model_copy(update=update)
        self.learners[key] = reactivated
        self.hashes[key] = password_hash
        return reactivated
