"""Learners one at a time and by selection: create (or re-enter), read, list and search a roster, edit, move,
deactivate and reactivate, reset passwords. Every change is audited by ids and recorded in the learner's history."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from intake import audit, authz, clock, learner_creation, password_rules, passwords, rules
from intake.dal import directory
from intake.dal import learners as learner_store
from intake.domain import (
    AuditEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    Location,
    LocationKind,
    NewLearner,
    PasswordRule,
    StaffMember,
    history_entry,
    move_of,
)
from intake.errors import Conflict, FieldError, LearnerExists, NotFound, PermissionDenied, ValidationFailed
from intake.learner_creation import STORE, LearnerRepository
from intake.observability import logger, metrics, tracer

LIMIT_MAX = 200
LIMIT_DEFAULT = 50
Q_MAX = 100
CURSOR_MAX = 2000
SELECTION_MAX = 500
LEARNER_ID_MAX = 100
STATUS_FILTERS: dict[str, tuple[LearnerStatus, ...]] = {
    "ACTIVE": (LearnerStatus.ACTIVE,),
    "INACTIVE": (LearnerStatus.INACTIVE,),
    "ALL": (LearnerStatus.ACTIVE, LearnerStatus.INACTIVE),
}
SELECTION_THREADS = 8  # a selection's reads and writes wait on DynamoDB, not the CPU

Outcome = Literal["CREATED", "REACTIVATED"]
StatusOutcome = Literal["CHANGED", "UNCHANGED", "NOT_FOUND"]


@dataclass(frozen=True)
class CreatedLearner:
    learner: Learner
    generated_password: str | None
    outcome: Outcome = "CREATED"


@dataclass(frozen=True)
class LearnerPage:
    learners: list[Learner]
    next_cursor: str | None


@dataclass(frozen=True)
class StatusResult:
    learner_id: str
    outcome: StatusOutcome


@dataclass(frozen=True)
class PasswordReset:
    learner: Learner
    generated_password: str | None


@tracer.capture_method(capture_response=False)
def create_learner(
    requestor: StaffMember, request: NewLearner, repository: LearnerRepository = STORE
) -> CreatedLearner:
    """Create one learner where the requestor may; a blank password gets a generated one, returned once.

    Re-entry: when the DOC ID belongs to an inactive learner of the agency, that learner gets its account back at
    the requested location with the new password (same id and username; outcome REACTIVATED). An active one is
    LearnerExists, as before (move it instead). The read only picks the path: both writes are conditional.
    """
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
    existing = repository.get_by_doc_id(location.agency_id, doc_id)
    if existing is not None and existing.status is LearnerStatus.ACTIVE:
        raise LearnerExists(existing.learner_id, existing.facility_id, existing.location_id)
    if existing is not None:
        generated = (
            password_rules.blank_password(rule, existing.first_name, existing.last_name, doc_id)
            if password is None
            else None
        )
        return _reenter(requestor, existing, location, password or generated or "", generated, repository)
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
    learner = learner_creation.insert(learner, password or generated or "", repository)
    audit.record_all(learner_creation.creation_audit(learner))
    logger.info("learner created", extra={"learner_id": learner.learner_id, "facility_id": learner.facility_id})
    metrics.add_metric(name="LearnersCreated", unit="Count", value=1)
    return CreatedLearner(learner=learner, generated_password=generated)


def _reenter(
    requestor: StaffMember,
    existing: Learner,
    location: Location,
    password: str,
    generated: str | None,
    repository: LearnerRepository,
) -> CreatedLearner:
    learner = learner_creation.reactivate(existing, location, password, requestor.username, repository=repository)
    moved_from = existing.facility_id if existing.facility_id != learner.facility_id else None
    audit.record_all(learner_creation.reactivation_audit(learner, requestor.username, from_facility_id=moved_from))
    logger.info("learner re-entered", extra={"learner_id": learner.learner_id, "facility_id": learner.facility_id})
    metrics.add_metric(name="LearnersReactivated", unit="Count", value=1)
    return CreatedLearner(learner=learner, generated_password=generated, outcome="REACTIVATED")


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


# ------------------------------------------------------------------ roster and search


def _facility(requestor: StaffMember, facility_id: str, repository: LearnerRepository) -> Location:
    """A facility the requestor may read (Educators included); NotFound otherwise, whether or not it exists."""
    facility = repository.get_location(facility_id.strip())
    if (
        facility is None
        or facility.kind is not LocationKind.FACILITY
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
    limit: int = LIMIT_DEFAULT,
    cursor: str | None = None,
    repository: LearnerRepository = STORE,
) -> LearnerPage:
    """A page of a facility's learners sorted by last then first name, or those matching `q` (a DOC ID or username
    prefix, or the start of a first name, last name or "first last", case and accents ignored; no cursor)."""
    facility = _facility(requestor, facility_id, repository)
    problems: list[FieldError] = []
    statuses = STATUS_FILTERS.get(status.strip().upper() if status else "ACTIVE")
    if statuses is None:
        problems.append(FieldError("status", "INVALID_VALUE", "status must be ACTIVE, INACTIVE or ALL"))
    if not 1 <= limit <= LIMIT_MAX:
        problems.append(FieldError("limit", "INVALID_VALUE", f"limit must be 1 to {LIMIT_MAX}"))
    query = (q or "").strip() or None
    if query is not None and len(query) > Q_MAX:
        problems.append(FieldError("q", "INVALID_VALUE", f"q is longer than {Q_MAX} characters: shorten it"))
    elif query is not None and not rules.search_key(query):
        problems.append(FieldError("q", "INVALID_VALUE", "q must hold at least one letter or digit"))
    if cursor is not None and (len(cursor) > CURSOR_MAX or not cursor.strip()):
        problems.append(FieldError("cursor", "INVALID_VALUE", "cursor is not one this list gave: start again"))
    elif cursor is not None and query is not None:
        problems.append(FieldError("cursor", "INVALID_VALUE", "A search has one page: send q without a cursor"))
    unit = (location_id or "").strip() or None
    if unit is not None and unit != facility.location_id:
        housing = repository.get_location(unit)
        if housing is None or housing.facility_id != facility.location_id:
            problems.append(
                FieldError("locationId", "INVALID_VALUE", "locationId is not a housing unit of this facility")
            )
    if problems:
        raise ValidationFailed(problems)
    assert statuses is not None
    if query is not None:
        found = repository.search_roster(facility.location_id, statuses, query, unit, limit)
        return LearnerPage(learners=found, next_cursor=None)
    page, following = repository.list_roster(facility.location_id, statuses, unit, limit, cursor)
    return LearnerPage(learners=page, next_cursor=following)


# ------------------------------------------------------------------ changes of one learner


def _writable(requestor: StaffMember, learner_id: str, repository: LearnerRepository) -> Learner:
    """A learner the requestor may change: NotFound outside their facilities, PermissionDenied for Educators."""
    return authz.require_learner_write(requestor, repository.get_by_id(learner_id.strip()))


def _learner_audit(requestor: StaffMember, action: str, learner: Learner, details: audit.Details) -> list[AuditEntry]:
    return audit.entries_for(
        requestor.username,
        action,
        "learner",
        learner.learner_id,
        scopes=[learner.facility_id],
        agency_id=learner.agency_id,
        facility_id=learner.facility_id,
        details=details,
    )


_EDIT_FIELDS = (("first_name", "firstName"), ("last_name", "lastName"), ("date_of_birth", "dateOfBirth"))


@tracer.capture_method(capture_response=False)
def edit_learner(
    requestor: StaffMember, learner_id: str, edit: LearnerEdit, repository: LearnerRepository = STORE
) -> Learner:
    """Change a learner's names, date of birth or housing unit (within its facility; another facility is a move),
    cleaned by the same rules as creation. Only what differs is written; an edit that changes nothing writes
    nothing and answers the learner as it is."""
    learner = _writable(requestor, learner_id, repository)
    cleaned: dict[str, str | FieldError | None] = {
        "first_name": None if edit.first_name is None else rules.clean_name(edit.first_name, "firstName"),
        "last_name": None if edit.last_name is None else rules.clean_name(edit.last_name, "lastName"),
        "date_of_birth": None
        if edit.date_of_birth is None
        else rules.clean_date_of_birth(edit.date_of_birth, clock.today()),
    }
    problems = [value for value in cleaned.values() if isinstance(value, FieldError)]
    destination: Location | None = None
    if edit.location_id is not None and edit.location_id.strip() != learner.location_id:
        destination = repository.get_location(edit.location_id.strip())
        if destination is None or destination.facility_id != learner.facility_id:
            problems.append(
                FieldError(
                    "locationId",
                    "INVALID_VALUE",
                    "locationId must be a housing unit of the learner's facility: to change facility, move the "
                    "learner (POST /learners/{learnerId}/move)",
                )
            )
        elif not destination.active:
            problems.append(
                FieldError("locationId", "LOCATION_INACTIVE", "This location is deactivated: choose an active one")
            )
    if problems:
        raise ValidationFailed(problems)
    changes = {
        name: value for name, value in cleaned.items() if isinstance(value, str) and value != getattr(learner, name)
    }
    fields = [wire for name, wire in _EDIT_FIELDS if name in changes]
    if destination is not None:
        fields.append("locationId")
    if not fields:
        return learner
    entry = history_entry(HistoryKind.EDITED, clock.utc_now(), requestor.username, fields=tuple(fields))
    change = LearnerEdit(
        first_name=changes.get("first_name"),
        last_name=changes.get("last_name"),
        date_of_birth=changes.get("date_of_birth"),
        location_id=destination.location_id if destination is not None else None,
    )
    updated = repository.update_details(learner, change, entry, destination)
    audit.record_all(_learner_audit(requestor, "LEARNER_EDITED", updated, {"fields": ",".join(fields)}))
    logger.info("learner edited", extra={"learner_id": learner.learner_id, "fields": fields})
    return updated


_STATUS_CHANGES = {
    LearnerStatus.INACTIVE: (HistoryKind.DEACTIVATED, "LEARNER_DEACTIVATED"),
    LearnerStatus.ACTIVE: (HistoryKind.REACTIVATED, "LEARNER_REACTIVATED"),
}


def _change_status(
    requestor: StaffMember, learner: Learner, status: LearnerStatus, repository: LearnerRepository
) -> tuple[Learner, list[AuditEntry]] | None:
    """The learner with the status and its audit entries, or None when it had the status already (no write, or a
    refused conditional one when someone else changed it first)."""
    if learner.status is status:
        return None
    kind, action = _STATUS_CHANGES[status]
    changed = repository.set_status(learner, status, history_entry(kind, clock.utc_now(), requestor.username))
    if changed is None:
        return None
    return changed, _learner_audit(requestor, action, changed, {"status": status.value})


@tracer.capture_method(capture_response=False)
def set_learner_status(
    requestor: StaffMember, learner_id: str, status: LearnerStatus, repository: LearnerRepository = STORE
) -> Learner:
    """Deactivate or reactivate one learner in place; repeating it writes nothing and answers the same."""
    learner = _writable(requestor, learner_id, repository)
    done = _change_status(requestor, learner, status, repository)
    if done is None:
        current = repository.get_by_id(learner.learner_id) if learner.status is not status else learner
        return current or learner
    changed, entries = done
    audit.record_all(entries)
    metrics.add_metric(name="LearnerStatusChanges", unit="Count", value=1)
    return changed


@tracer.capture_method(capture_response=False)
def set_statuses(
    requestor: StaffMember,
    facility_id: str,
    learner_ids: Sequence[str],
    status: LearnerStatus,
    repository: LearnerRepository = STORE,
) -> list[StatusResult]:
    """Deactivate or reactivate a selection of a facility's learners (1 to 500): one result per id, in the order
    sent. Ids unknown or of another facility are NOT_FOUND; one conditional write per learner that changes, none
    for the others, and the audit entries written together in batches."""
    facility = _facility(requestor, facility_id, repository)
    if not authz.can_write_location(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to change this facility's learners")
    ids = rules.selection_ids(learner_ids)
    if not 1 <= len(learner_ids) <= SELECTION_MAX:
        raise ValidationFailed(
            [FieldError("learnerIds", "INVALID_VALUE", f"learnerIds must hold 1 to {SELECTION_MAX} ids")]
        )
    if any(not learner_id or len(learner_id) > LEARNER_ID_MAX for learner_id in ids):
        raise ValidationFailed([FieldError("learnerIds", "INVALID_VALUE", "learnerIds holds an empty or overlong id")])

    def one(learner_id: str) -> tuple[StatusResult, list[AuditEntry]]:
        learner = repository.get_by_id(learner_id)
        if learner is None or learner.facility_id != facility.location_id or learner.agency_id != facility.agency_id:
            return StatusResult(learner_id, "NOT_FOUND"), []
        done = _change_status(requestor, learner, status, repository)
        if done is None:
            return StatusResult(learner_id, "UNCHANGED"), []
        return StatusResult(learner_id, "CHANGED"), done[1]

    # Each learner is one read and at most one conditional write, independent of the others: a few at a time keep
    # a selection of 500 well inside the API's time limit.
    # If one fails (storage unavailable), the changes made are still audited before the failure is reported.
    with ThreadPoolExecutor(max_workers=SELECTION_THREADS) as pool:
        futures = [pool.submit(one, learner_id) for learner_id in ids]
    failures = [failure for future in futures if (failure := future.exception()) is not None]
    outcomes = [future.result() for future in futures if future.exception() is None]
    results = [result for result, _ in outcomes]
    audit.record_all([entry for _, made in outcomes for entry in made])
    if failures:
        raise failures[0]
    changed = sum(result.outcome == "CHANGED" for result in results)
    logger.info("learner statuses set", extra={"facility_id": facility.location_id, "changed": changed})
    metrics.add_metric(name="LearnerStatusChanges", unit="Count", value=changed)
    return results


# ------------------------------------------------------------------ passwords


def _rule_of(
    learner: Learner, repository: LearnerRepository, cache: dict[str, Location | None] | None = None
) -> PasswordRule | None:
    """The password rule of the learner's facility (read once per facility with a cache)."""
    facilities = cache if cache is not None else {}
    if learner.facility_id not in facilities:
        facilities[learner.facility_id] = repository.get_location(learner.facility_id)
    facility = facilities[learner.facility_id]
    return facility.password_rule if facility is not None else None


@tracer.capture_method(capture_response=False)
def reset_password(
    requestor: StaffMember, learner_id: str, password: str | None, repository: LearnerRepository = STORE
) -> PasswordReset:
    """Give a learner a new password: the one given (checked against the facility's rule) or, when blank, one
    generated and returned once. The old hash is replaced in the same write, so the old password stops working."""
    learner = _writable(requestor, learner_id, repository)
    rule = _rule_of(learner, repository)
    given = rules.check_password(password)
    if isinstance(given, FieldError):
        raise ValidationFailed([given])
    if given is not None and (problem := password_rules.check_given(rule, given)):
        raise ValidationFailed([problem])
    generated = (
        password_rules.blank_password(
            rule, learner.first_name, learner.last_name, learner.doc_id, facility_id=learner.facility_id
        )
        if given is None
        else None
    )
    entry = history_entry(HistoryKind.PASSWORD_RESET, clock.utc_now(), requestor.username)
    updated = repository.set_password_hash(learner, passwords.hash_password(given or generated or ""), entry)
    audit.record_all(_learner_audit(requestor, "LEARNER_PASSWORD_RESET", updated, {"generated": generated is not None}))
    logger.info("learner password reset", extra={"learner_id": learner.learner_id})
    return PasswordReset(learner=updated, generated_password=generated)


def new_passwords(
    requestor: StaffMember, learners: Sequence[Learner], repository: LearnerRepository = STORE
) -> dict[str, str]:
    """New generated passwords for learners the requestor may change (all checked before any is written), by
    learner id: hashed, then stored one write each and audited together. For the cards."""
    for learner in learners:
        authz.require_learner_write(requestor, learner)
    facilities: dict[str, Location | None] = {}
    made = {
        learner.learner_id: password_rules.blank_password(
            _rule_of(learner, repository, facilities),
            learner.first_name,
            learner.last_name,
            learner.doc_id,
            facility_id=learner.facility_id,
        )
        for learner in learners
    }
    chosen = list({learner.learner_id: learner for learner in learners}.values())
    # One after another: Argon2id takes 19 MiB per hash, and hashes run side by side on threads cost more CPU each
    # (measured by `make bench`'s cards figure), while a Lambda of the API's size has one vCPU to spread them over.
    hashes = [passwords.hash_password(made[learner.learner_id]) for learner in chosen]
    entries: list[AuditEntry] = []
    now = clock.utc_now()
    for learner, password_hash in zip(chosen, hashes, strict=True):
        entry = history_entry(HistoryKind.PASSWORD_RESET, now, requestor.username)
        updated = repository.set_password_hash(learner, password_hash, entry)
        entries += _learner_audit(requestor, "LEARNER_PASSWORD_RESET", updated, {"generated": True})
    audit.record_all(entries)
    logger.info("learner passwords made", extra={"count": len(chosen)})
    return made
