"""Learner cards of a facility: who may print which, new passwords when asked, the audit entry, the PDF."""

from __future__ import annotations

from intake import audit, authz, cards, learner_service, rules
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import Learner, LearnerStatus, StaffMember
from intake.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from intake.facility_service import get_facility
from intake.observability import logger, metrics, tracer

MAX_CARDS = learner_service.SELECTION_MAX  # one request prints as many as a selection holds
# From this many cards on, the facility's roster is read whole (a few Queries) rather than each learner by id (two
# requests each): 50 learners by id cost about as much as a 1,000-learner roster.
ROSTER_READ_FROM = 50


def _requested(learner_ids: list[str]) -> list[str]:
    ids = rules.selection_ids(learner_ids)
    if not 1 <= len(ids) <= MAX_CARDS or not all(ids):
        raise ValidationFailed(
            [FieldError("learnerIds", "INVALID_VALUE", f"learnerIds holds 1 to {MAX_CARDS} learner ids")]
        )
    return ids


def _facility_learners(requestor: StaffMember, facility_id: str, learner_ids: list[str]) -> list[Learner]:
    """The learners, each of this facility and visible to the requestor; NotFound naming only how many are not.

    Many are read from the facility's roster in a few Queries; a learner the index does not show (not yet there, or
    not yet migrated) is looked up by id, as a few are."""
    roster: dict[str, Learner] = {}
    if len(learner_ids) > ROSTER_READ_FROM:
        roster = {
            learner.learner_id: learner
            for learner in learner_store.whole_roster(facility_id, (LearnerStatus.ACTIVE, LearnerStatus.INACTIVE))
        }
    found = [roster.get(learner_id) or learner_store.get_by_id(learner_id) for learner_id in learner_ids]
    missing = sum(
        1
        for learner in found
        if learner is None or learner.facility_id != facility_id or not authz.can_view_learner(requestor, learner)
    )
    if missing:
        raise NotFound(f"{missing} of the {len(learner_ids)} learners are not in this facility")
    return [learner for learner in found if learner is not None]


@tracer.capture_method(capture_response=False)
def learner_cards(
    requestor: StaffMember, facility_id: str, learner_ids: list[str], reset_passwords: bool = False
) -> bytes:
    """A PDF with one card per learner of the facility, by housing unit then name; with `reset_passwords` each
    learner gets a new generated password, printed on its card and shown nowhere else.

    Anyone who may see the facility prints cards without reset (Educators too); a reset needs write permission
    (PermissionDenied). A facility out of scope, or any learner that is not the facility's, is NotFound.
    A learner not yet given a username (an item from before usernames) shows its DOC ID, which signs in as well.
    """
    facility = get_facility(requestor, facility_id)
    ids = _requested(learner_ids)
    if reset_passwords and not authz.can_write_location(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to reset these learners' passwords")
    learners = _facility_learners(requestor, facility.location_id, ids)
    new = learner_service.new_passwords(requestor, learners) if reset_passwords else {}
    units = directory.get_locations({learner.location_id for learner in learners})

    def unit_name(learner: Learner) -> str:
        unit = units.get(learner.location_id)
        return "" if unit is None or unit.location_id == facility.location_id else unit.name

    ordered = sorted(learners, key=lambda one: (unit_name(one), one.last_name, one.first_name, one.doc_id))
    pdf = cards.render(
        [
            cards.Card(
                name=f"{learner.first_name} {learner.last_name}",
                username=learner.username or learner.doc_id,
                doc_id=learner.doc_id,
                facility_name=facility.name,
                housing_unit_name=unit_name(learner),
                password=new.get(learner.learner_id),
            )
            for learner in ordered
        ]
    )
    audit.record(
        requestor.username,
        "LEARNER_CARDS_PRINTED",
        "facility",
        facility.location_id,
        scopes=[facility.location_id],
        agency_id=facility.agency_id,
        facility_id=facility.location_id,
        details={"count": len(ordered), "resetPasswords": reset_passwords, "learnerIds": ",".join(ids)},
    )
    logger.info(
        "learner cards printed",
        extra={"facility_id": facility.location_id, "count": len(ordered), "reset_passwords": reset_passwords},
    )
    metrics.add_metric(name="LearnerCardsPrinted", unit="Count", value=len(ordered))
    return pdf
