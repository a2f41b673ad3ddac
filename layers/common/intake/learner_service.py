"""Single learners: create, read, find by DOC ID, move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from intake import audit, authz, clock, learner_creation, password_rules, passwords, rules
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import (
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    NewLearner,
    Role,
    StaffMember,
    history_entry,
    move_of,
)
from intake.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from intake.learner_creation import STORE, LearnerRepository
from intake.observability import logger, metrics, tracer


@dataclass(frozen=True)
class CreatedLearner:
    learner: Learner
    generated_password: str | None
    outcome: Literal["CREATED", "REACTIVATED"] = "CREATED"


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


# --- placeholder (API helper): the services helper's versions replace these at merge ----------------------------


@dataclass(frozen=True)
class LearnerPage:
    learners: list[Learner]
    next_cursor: str | None


@dataclass(frozen=True)
class StatusResult:
    learner_id: str
    outcome: Literal["CHANGED", "UNCHANGED", "NOT_FOUND"]


@dataclass(frozen=True)
class PasswordReset:
    learner: Learner
    generated_password: str | None


def _require_write(requestor: StaffMember, learner: Learner) -> None:
    if not authz.in_scope(requestor, learner.agency_id, learner.facility_id):
        raise NotFound("No such learner")
    if requestor.role is Role.EDUCATOR:
        raise PermissionDenied("Requestor does not have permission to change this learner")


def _facility_in_scope(requestor: StaffMember, facility_id: str):
    facility = directory.get_location(facility_id)
    if (
        facility is None
        or facility.location_id != facility.facility_id
        or not authz.can_view_location(requestor, facility)
    ):
        raise NotFound("No such facility")
    return facility


def list_learners(
    requestor: StaffMember,
    facility_id: str,
    *,
    q: str | None = None,
    location_id: str | None = None,
    status: str = "ACTIVE",
    limit: int = 50,
    cursor: str | None = None,
) -> LearnerPage:
    """A page of a facility's roster (placeholder: no search keys)."""
    _facility_in_scope(requestor, facility_id)
    statuses = tuple(LearnerStatus) if status == "ALL" else (LearnerStatus(status),)
    found, next_cursor = learner_store.list_roster(facility_id, statuses, location_id, 10_000 if q else limit, cursor)
    if q:
        key = rules_key(q)
        found = [
            learner
            for learner in found
            if any(
                rules_key(text).startswith(key)
                for text in (
                    learner.doc_id,
                    learner.username or "",
                    learner.first_name,
                    learner.last_name,
                    f"{learner.first_name} {learner.last_name}",
                )
            )
        ][:limit]
        next_cursor = None
    return LearnerPage(learners=found, next_cursor=next_cursor)


def rules_key(text: str) -> str:
    import unicodedata

    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def edit_learner(requestor: StaffMember, learner_id: str, changes: LearnerEdit) -> Learner:
    """Change a learner's details and record which fields changed."""
    learner = get_learner(requestor, learner_id)
    _require_write(requestor, learner)
    destination = None
    if changes.location_id is not None:
        destination = directory.get_location(changes.location_id)
        if destination is None or destination.facility_id != learner.facility_id:
            raise ValidationFailed(
                [FieldError("locationId", "INVALID_VALUE", "Choose a housing unit of the learner's facility")]
            )
    names = {"first_name": "firstName", "last_name": "lastName", "date_of_birth": "dateOfBirth"}
    fields = tuple(wire for name, wire in names.items() if getattr(changes, name) is not None)
    if destination is not None:
        fields += ("locationId",)
    entry = history_entry(HistoryKind.EDITED, clock.utc_now(), requestor.username, fields=fields)
    changed = learner_store.update_details(learner, changes, entry, destination)
    audit.record(
        requestor.username,
        "LEARNER_EDITED",
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id],
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
        details={"fields": ",".join(fields)},
    )
    return changed


def set_learner_status(requestor: StaffMember, learner_id: str, status: LearnerStatus) -> Learner:
    """Deactivate or reactivate a learner; a repeat changes nothing and answers the same."""
    learner = get_learner(requestor, learner_id)
    _require_write(requestor, learner)
    return _set_status(requestor, learner, status) or learner


def _set_status(requestor: StaffMember, learner: Learner, status: LearnerStatus) -> Learner | None:
    if learner.status is status:
        return None
    kind = HistoryKind.DEACTIVATED if status is LearnerStatus.INACTIVE else HistoryKind.REACTIVATED
    changed = learner_store.set_status(learner, status, history_entry(kind, clock.utc_now(), requestor.username))
    if changed is not None:
        audit.record(
            requestor.username,
            f"LEARNER_{kind.value}",
            "learner",
            learner.learner_id,
            scopes=[learner.facility_id],
            agency_id=learner.agency_id,
            facility_id=learner.facility_id,
        )
    return changed


def set_statuses(
    requestor: StaffMember, facility_id: str, learner_ids: list[str], status: LearnerStatus
) -> list[StatusResult]:
    """Set the status of a selection of a facility's learners, one result per id."""
    facility = _facility_in_scope(requestor, facility_id)
    if not authz.can_write_location(requestor, facility) or requestor.role is Role.EDUCATOR:
        raise PermissionDenied("Requestor does not have permission to change these learners")
    results = []
    for learner_id in learner_ids:
        learner = learner_store.get_by_id(learner_id)
        if learner is None or learner.facility_id != facility_id:
            results.append(StatusResult(learner_id, "NOT_FOUND"))
            continue
        changed = _set_status(requestor, learner, status)
        results.append(StatusResult(learner_id, "CHANGED" if changed is not None else "UNCHANGED"))
    return results


def reset_password(requestor: StaffMember, learner_id: str, password: str | None) -> PasswordReset:
    """Give a learner a new password (given, checked against the facility's rule, or generated)."""
    learner = get_learner(requestor, learner_id)
    _require_write(requestor, learner)
    facility = directory.get_location(learner.facility_id)
    rule = facility.password_rule if facility is not None else None
    checked = rules.check_password(password)
    if isinstance(checked, FieldError):
        raise ValidationFailed([checked])
    if checked is not None and (problem := password_rules.check_given(rule, checked)):
        raise ValidationFailed([problem])
    generated = (
        password_rules.blank_password(rule, learner.first_name, learner.last_name, learner.doc_id)
        if checked is None
        else None
    )
    entry = history_entry(HistoryKind.PASSWORD_RESET, clock.utc_now(), requestor.username)
    changed = learner_store.set_password_hash(learner, passwords.hash_password(checked or generated or ""), entry)
    audit.record(
        requestor.username,
        "LEARNER_PASSWORD_RESET",
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id],
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
    )
    return PasswordReset(learner=changed, generated_password=generated)
