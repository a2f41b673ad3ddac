"""Single learners: create, read, find by DOC ID, move."""

from __future__ import annotations

from dataclasses import dataclass

from intake import audit, authz, clock, learner_creation, password_rules, passwords, rules
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import HistoryKind, Learner, Location, LocationKind, NewLearner, StaffMember, history_entry, move_of
from intake.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from intake.learner_creation import STORE, LearnerRepository
from intake.observability import logger, metrics, tracer


@dataclass(frozen=True)
class CreatedLearner:
    learner: Learner
    generated_password: str | None


@tracer.capture_method(capture_response=False)
def create_learner(
    requestor: StaffMember, request: NewLearner, repository: LearnerRepository = STORE
) -> CreatedLearner:
    """Create one learner where the requestor may; a blank password gets a generated one, returned once."""
    location = authz.require_create_permission(requestor, repository.get_location(request.location_id.strip()))
    today = clock.today()
    doc_id = rules.clean_doc_id(request.doc_id)
    first_name = rules.clean_name(request.first_name, "firstName")
    last_name = rules.clean_name(request.last_name, "lastName")
    date_of_birth = rules.clean_date_of_birth(request.date_of_birth, today)
    password = rules.check_password(request.password)
    problems = [v for v in (doc_id, first_name, last_name, date_of_birth, password) if isinstance(v, FieldError)]
    if problems:
        raise ValidationFailed(problems)
    assert isinstance(doc_id, str) and isinstance(first_name, str) and isinstance(last_name, str)
    assert isinstance(date_of_birth, str) and not isinstance(password, FieldError)
    if not location.active:
        raise ValidationFailed(
            [FieldError("locationId", "LOCATION_INACTIVE", "This location is deactivated: choose an active one")]
        )

    facility = (
        location if location.location_id == location.facility_id else repository.get_location(location.facility_id)
    )
    rule = facility.password_rule if facility is not None else None
    if password is not None and (problem := password_rules.check_given(rule, password)):
        raise ValidationFailed([problem])
    generated = password_rules.blank_password(rule, first_name, last_name, doc_id) if password is None else None
    learner = learner_creation.new_learner(
        agency_id=location.agency_id,
        doc_id=doc_id,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        location_id=location.location_id,
        facility_id=location.facility_id,
        created_by=requestor.username,
    )
    learner_creation.insert(learner, password or generated or "", repository)
    audit.record_all(learner_creation.creation_audit(learner))
    logger.info("learner created", extra={"learner_id": learner.learner_id, "facility_id": learner.facility_id})
    metrics.add_metric(name="LearnersCreated", unit="Count", value=1)
    return CreatedLearner(learner=learner, generated_password=generated)


def get_learner(requestor: StaffMember, learner_id: str) -> Learner:
    """A learner the requestor may see; NotFound otherwise, whether or not it exists."""
    learner = learner_store.get_by_id(learner_id)
    if learner is None or not authz.can_view_learner(requestor, learner):
        raise NotFound("No such learner")
    return learner


def find_learners(requestor: StaffMember, doc_id: str) -> list[Learner]:
    """Learners with this DOC ID in the agencies the requestor may search."""
    cleaned = rules.clean_doc_id(doc_id, "docId")
    if isinstance(cleaned, FieldError):
        raise ValidationFailed([cleaned])
    agencies = authz.searchable_agencies(requestor)
    if agencies is None:
        agencies = frozenset(agency.agency_id for agency in directory.list_agencies())
    found = (learner_store.get_by_doc_id(agency_id, cleaned) for agency_id in sorted(agencies))
    return [learner for learner in found if learner is not None and authz.can_view_learner(requestor, learner)]


@tracer.capture_method(capture_response=False)
def move_learner(requestor: StaffMember, learner_id: str, location_id: str) -> Learner:
    """Move a learner to a location the requestor may write to, keeping its id and recording the move."""
    learner = get_learner(requestor, learner_id)
    destination = authz.require_move_permission(requestor, directory.get_location(location_id.strip()))
    if destination.agency_id != learner.agency_id:
        raise ValidationFailed(
            [FieldError("locationId", "INVALID_VALUE", "A learner can only move between locations of their own agency")]
        )
    if not destination.active:
        raise ValidationFailed(
            [FieldError("locationId", "LOCATION_INACTIVE", "This location is deactivated: choose an active one")]
        )
    if destination.location_id == learner.location_id:
        raise Conflict("The learner is already at this location")
    move = move_of(learner, destination, clock.utc_now(), requestor.username)
    moved = learner_store.move_learner(learner, destination, move)
    audit.record(
        requestor.username,
        "LEARNER_MOVED",
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id, destination.facility_id],
        agency_id=learner.agency_id,
        facility_id=destination.facility_id,
        details={"fromLocationId": learner.location_id, "toLocationId": destination.location_id},
    )
    logger.info("learner moved", extra={"learner_id": learner.learner_id, "to_facility_id": destination.facility_id})
    metrics.add_metric(name="LearnersMoved", unit="Count", value=1)
    return moved


def new_passwords(requestor: StaffMember, learners: list[Learner]) -> dict[str, str]:
    """A new generated password for each learner (by learner id): hashed, stored, audited, returned once.

    Placeholder by the cards helper, as the #15 design states it; the services helper's version replaces it.
    """
    for learner in learners:
        if not authz.can_view_learner(requestor, learner):
            raise NotFound("No such learner")
        if not authz.can_write_location(requestor, _home(learner)):
            raise PermissionDenied("Requestor does not have permission to reset this learner's password")
    made: dict[str, str] = {}
    entries = []
    for learner in learners:
        password = passwords.generate_password()
        entry = history_entry(HistoryKind.PASSWORD_RESET, clock.utc_now(), requestor.username)
        learner_store.set_password_hash(learner, passwords.hash_password(password), entry)
        made[learner.learner_id] = password
        entries += audit.entries_for(
            requestor.username,
            "LEARNER_PASSWORD_RESET",
            "learner",
            learner.learner_id,
            scopes=[learner.facility_id],
            agency_id=learner.agency_id,
            facility_id=learner.facility_id,
        )
    audit.record_all(entries)
    return made


def _home(learner: Learner) -> Location:
    return Location(
        location_id=learner.location_id,
        name="",
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
        kind=LocationKind.HOUSING_UNIT,
    )
