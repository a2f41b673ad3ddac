"""Domain objects: what the data-access layer returns and the logic works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class BodyModel(BaseModel):
    """Base of request and response bodies; each validator is built on first use, not at import."""

    model_config = ConfigDict(defer_build=True)


class DomainModel(BaseModel):
    """Base: camelCase on the wire, snake_case in code."""

    # defer_build: a model's validator is built when first used, so a cold start pays only for what it touches
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)

    def to_json_dict(self) -> dict:
        """The camelCase JSON form clients see."""
        return self.model_dump(mode="json", by_alias=True)


class Role(StrEnum):
    SYSTEM_ADMIN = "SystemAdmin"
    AGENCY_ADMIN = "AgencyAdmin"
    FACILITY_ADMIN = "FacilityAdmin"
    EDUCATOR = "Educator"


class LocationKind(StrEnum):
    FACILITY = "FACILITY"
    HOUSING_UNIT = "HOUSING_UNIT"


class Agency(DomainModel):
    agency_id: str
    name: str


class CharacterClass(StrEnum):
    LOWER = "lower"
    UPPER = "upper"
    DIGIT = "digit"
    SYMBOL = "symbol"


class PasswordRule(DomainModel):
    """A facility's rule for given passwords, and optionally the format blank passwords are made from."""

    min_length: int = Field(default=8, ge=8, le=128)
    required_classes: tuple[CharacterClass, ...] = ()
    blank_format: str | None = Field(
        default=None,
        max_length=100,
        description="e.g. {lastName}{docIdLast4}; placeholders: {lastName} {firstName} {firstInitial} {docId} "
        "{docIdLast4}. Empty: a random password is generated",
    )


class UploadMode(StrEnum):
    """create (v1): every valid row is a new learner, a move or a reactivation. sync: the file is the facility's
    whole roster, diffed against its learners (UPDATE, UNCHANGED, and DEACTIVATE for each active learner missing)."""

    CREATE = "create"
    SYNC = "sync"


DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT = 10  # a sync deactivating more of a facility's active learners is held
UNDO_DEACTIVATIONS_DAYS = 30  # how long after completion a sync's deactivations can be undone


class Location(DomainModel):
    """A facility (its own facility_id) or a housing unit (a child of one facility)."""

    location_id: str
    name: str
    agency_id: str
    facility_id: str
    kind: LocationKind
    active: bool = True
    auto_confirm_drops: bool = False
    # Facility settings (housing units follow their facility's): None means the system's default.
    password_rule: PasswordRule | None = None
    max_upload_bytes: int | None = None
    max_upload_rows: int | None = None
    learner_access: bool = True  # the facility setting learnerAccess ON/OFF: OFF turns every learner's sign-in off
    drop_mode: UploadMode = UploadMode.CREATE  # the mode of the facility's drops (SFTP, incoming/)
    max_sync_deactivation_percent: int | None = Field(default=None, ge=0, le=100)  # None: the default (10)


ROLE_RANK = {Role.EDUCATOR: 1, Role.FACILITY_ADMIN: 2, Role.AGENCY_ADMIN: 3, Role.SYSTEM_ADMIN: 4}
STAFF_TEXT_MAX = 120


class Grant(DomainModel):
    """One role at one scope: SystemAdmin everywhere, AgencyAdmin an agency, FacilityAdmin and Educator a facility."""

    role: Role
    agency_id: str | None = None
    facility_id: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.role is Role.SYSTEM_ADMIN:
            wrong = self.agency_id is not None or self.facility_id is not None
        elif self.role is Role.AGENCY_ADMIN:
            wrong = self.agency_id is None or self.facility_id is not None
        else:
            wrong = self.agency_id is None or self.facility_id is None
        if wrong:
            raise ValueError(
                "A SystemAdmin grant has no agency or facility, an AgencyAdmin grant an agency and no facility, "
                "a FacilityAdmin or Educator grant an agency and a facility"
            )
        return self

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.role]


def _legacy_grants(role: Role, agency_id: str | None, facility_ids: tuple[str, ...]) -> tuple[Grant, ...]:
    """The grants a v1 record (one role, an agency, facilities) stands for: one for a SystemAdmin (whatever agency or
    facilities it names) or an AgencyAdmin (its agency's, whatever facilities), else one per facility. A record that
    covers nothing today (no agency, or a FacilityAdmin or Educator without facilities) has none."""
    if role is Role.SYSTEM_ADMIN:
        return (Grant(role=role),)
    if not agency_id:
        return ()
    if role is Role.AGENCY_ADMIN:
        return (Grant(role=role, agency_id=agency_id),)
    return tuple(Grant(role=role, agency_id=agency_id, facility_id=f) for f in sorted(set(facility_ids)))


def _ordered(grants: tuple[Grant, ...]) -> tuple[Grant, ...]:
    """The grants highest first (then by facility), each (role, facility) once; all in one agency, or one
    SystemAdmin grant alone."""
    ordered = tuple(sorted(grants, key=lambda g: (-g.rank, g.facility_id or "")))
    if len({(g.role, g.agency_id, g.facility_id) for g in ordered}) != len(ordered):
        raise ValueError("A staff member holds each role at each facility once")
    if ordered[0].role is Role.SYSTEM_ADMIN and len(ordered) > 1:
        raise ValueError("A SystemAdmin grant stands alone")
    if len({g.agency_id for g in ordered}) > 1:
        raise ValueError("All grants of a staff member are in one agency")
    return ordered


_DERIVED = frozenset({"role", "agency_id", "facility_ids"})


class StaffMember(DomainModel):
    """An authenticated requestor, from Intake's own records: who they are and their grants (role per scope).

    `role`, `agency_id` and `facility_ids` are the v1 view of the grants, kept for every reader of them: the highest
    grant's role, the grants' one agency and the facilities they name. A staff member is built either from grants or,
    as in v1, from a role, agency and facilities (then one grant per facility)."""

    username: str
    # None only until the validator below fills it from the grants (a model without a role is refused)
    role: Role = Field(default=None, description="The highest grant's role (v1)")  # type: ignore[assignment]
    agency_id: str | None = Field(default=None, description="The grants' agency (v1); none for a SystemAdmin")
    facility_ids: tuple[str, ...] = Field(default=(), description="The facilities the grants name (v1)")
    active: bool = True
    title: str | None = Field(default=None, max_length=STAFF_TEXT_MAX)
    first_name: str | None = Field(default=None, max_length=STAFF_TEXT_MAX)
    last_name: str | None = Field(default=None, max_length=STAFF_TEXT_MAX)
    display_first_name: str | None = Field(default=None, max_length=STAFF_TEXT_MAX)
    display_last_name: str | None = Field(default=None, max_length=STAFF_TEXT_MAX)
    email: str | None = Field(default=None, max_length=254)
    grants: tuple[Grant, ...] = ()
    version: int = Field(default=0, ge=0, description="Bumped by each change (conditional writes)")

    @model_validator(mode="after")
    def _grants_and_their_v1_view(self) -> Self:
        given = self.model_fields_set
        if not self.grants:
            if "role" not in given:
                raise ValueError("A staff member needs a role or grants")
            object.__setattr__(self, "grants", _legacy_grants(self.role, self.agency_id, self.facility_ids))
            if not self.grants:  # covers nothing: the v1 fields stand as given
                return self
        grants = _ordered(self.grants)
        derived = {
            "role": grants[0].role,
            "agency_id": grants[0].agency_id,
            "facility_ids": tuple(sorted({g.facility_id for g in grants if g.facility_id})),
        }
        if "grants" in given:  # v1 fields sent with grants (a record read back from JSON) must agree with them
            stated = {name: getattr(self, name) for name in _DERIVED & given}
            if "facility_ids" in stated:
                stated["facility_ids"] = tuple(sorted(set(self.facility_ids)))
            if wrong := sorted(name for name, value in stated.items() if value != derived[name]):
                raise ValueError(f"{', '.join(wrong)} must follow from the grants")
        object.__setattr__(self, "grants", grants)
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        return self

    def facilities_as(self, role: Role) -> tuple[str, ...]:
        """The facilities where the staff member holds this very role (by id)."""
        return tuple(g.facility_id for g in self.grants if g.role is role and g.facility_id)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with changes; changing the role, agency or facilities makes the grants again, and changing the
        grants their v1 view (a plain model_copy would leave them disagreeing)."""
        if not update or not (set(update) & (_DERIVED | {"grants"})):
            return super().model_copy(update=update, deep=deep)
        dropped = _DERIVED if "grants" in update else {"grants"}
        data = {name: getattr(self, name) for name in type(self).model_fields if name not in dropped}
        return type(self).model_validate(data | dict(update))


class LearnerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class HistoryKind(StrEnum):
    CREATED = "CREATED"
    MOVED = "MOVED"
    EDITED = "EDITED"
    DEACTIVATED = "DEACTIVATED"
    REACTIVATED = "REACTIVATED"
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 (a kind of change, not a password)


class HistoryEntry(DomainModel):
    """One entry of a learner's history: what kind of change, when, by whom (never a password, hash or date of birth).

    A move keeps the v1 wire names (fromLocationId ... movedAt, movedBy), so v1 clients still read moves."""

    kind: HistoryKind
    at: datetime
    by: str
    upload_id: str | None = None
    from_location_id: str | None = None
    from_facility_id: str | None = None
    to_location_id: str | None = None
    to_facility_id: str | None = None
    moved_at: datetime | None = None
    moved_by: str | None = None
    fields: tuple[str, ...] = Field(default=(), description="EDITED: the changed fields' names (camelCase), no values")


Move = HistoryEntry  # the v1 name of a history entry (every v1 entry was a move)


def move_of(
    learner: Learner, destination: Location, moved_at: datetime, moved_by: str, upload_id: str | None = None
) -> HistoryEntry:
    """The history entry of moving a learner from where it is to a destination."""
    return HistoryEntry(
        kind=HistoryKind.MOVED,
        at=moved_at,
        by=moved_by,
        from_location_id=learner.location_id,
        from_facility_id=learner.facility_id,
        to_location_id=destination.location_id,
        to_facility_id=destination.facility_id,
        moved_at=moved_at,
        moved_by=moved_by,
        upload_id=upload_id,
    )


def history_entry(
    kind: HistoryKind, at: datetime, by: str, upload_id: str | None = None, fields: tuple[str, ...] = ()
) -> HistoryEntry:
    """A history entry of a change that is not a move (a move's entry comes from move_of: it says from and to)."""
    return HistoryEntry(kind=kind, at=at, by=by, upload_id=upload_id, fields=tuple(fields))


class Learner(DomainModel):
    learner_id: str
    agency_id: str
    doc_id: str
    first_name: str
    last_name: str
    date_of_birth: str = Field(description="MM/DD/YYYY")
    location_id: str
    facility_id: str
    role: str = "Learner"
    created_at: datetime
    created_by: str
    upload_id: str | None = None
    username: str | None = None  # None only on an item stored before usernames, not yet migrated
    status: LearnerStatus = LearnerStatus.ACTIVE
    updated_at: datetime | None = None
    version: int = 1
    history: tuple[HistoryEntry, ...] = ()


class RosterLearner(NamedTuple):
    """An active learner of a facility as a sync diffs it (intake.dal.learners.active_roster): the fields the diff
    needs and nothing else (no history, no hash), a plain tuple so that a 200,000-learner roster stays small."""

    doc_id: str
    learner_id: str
    location_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    version: int


@dataclass(frozen=True, slots=True)
class LearnerEdit:
    """Changes to a learner's details (None: unchanged); cleaned by intake.rules before they reach storage."""

    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None
    location_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewLearner:
    """A learner to create, as received (raw strings: intake.rules cleans them)."""

    location_id: str
    doc_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    password: str | None = None


class UploadStatus(StrEnum):
    AWAITING_FILE = "AWAITING_FILE"
    VALIDATING = "VALIDATING"
    REJECTED = "REJECTED"
    VALIDATED = "VALIDATED"
    VALIDATED_WITH_ERRORS = "VALIDATED_WITH_ERRORS"
    CREATING = "CREATING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


CONFIRMABLE = frozenset({UploadStatus.VALIDATED, UploadStatus.VALIDATED_WITH_ERRORS})
UNFINISHED = frozenset({UploadStatus.AWAITING_FILE, UploadStatus.VALIDATING, *CONFIRMABLE})

# What validation counts (the planner's), then what creation adds: an upload's counts, in the order the API sends them.
PLAN_COUNT_NAMES = (
    "rows",
    "valid",
    "invalid",
    "toCreate",
    "toMove",
    "toReactivate",
    "toUpdate",
    "unchanged",
    "toDeactivate",
    "warnings",
)
COUNT_NAMES = (*PLAN_COUNT_NAMES, "created", "moved", "reactivated", "updated", "deactivated", "skipped", "failed")


class Upload(DomainModel):
    upload_id: str
    facility_id: str
    agency_id: str
    source: str  # "link" | "drop"
    file_name: str | None = None
    object_key: str
    object_etag: str | None = None  # the one object (its ETag) the upload took: set by the first event that claims it
    status: UploadStatus
    created_at: str
    created_by: str
    expires_at: str
    encoding: str | None = None
    reason: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    errors: list[dict] = Field(default_factory=list)
    warnings: list[dict] = Field(default_factory=list)
    error_report_key: str | None = None
    result_report_key: str | None = None
    chunks_total: int = 0
    chunks_done: int = 0
    skip_invalid_rows: bool | None = None
    move_existing: bool | None = None
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    # The upload's data key, encrypted by KMS (base64): given passwords in the plan are sealed with it, and the
    # generated passwords of its rows are derived from it. Never shown.
    data_key: str | None = None
    # results.csv with generated passwords (outside reports/), for the confirmer until passwords_until.
    result_passwords_key: str | None = None
    passwords_until: str | None = None
    passwords_claimed_by: str | None = None
    mode: UploadMode = UploadMode.CREATE
    # A sync whose deactivations pass the facility's maxSyncDeactivationPercent: {code: MASS_DEACTIVATION, message,
    # toDeactivate, activeLearners}. A held upload is confirmed only with allowMassDeactivation, never by itself.
    hold: dict[str, str | int] | None = None
    allow_mass_deactivation: bool | None = None
    plan_report_key: str | None = None  # plan.csv: line, docID, action, changed fields of every planned learner
    completed_at: str | None = None  # when it reached its final status (COMPLETED, COMPLETED_WITH_ERRORS, ...)
    # A sync's undo-deactivations: when it was first asked for and by whom (a repeat keeps these).
    deactivations_undone_at: str | None = None
    deactivations_undone_by: str | None = None


class AuditEntry(DomainModel):
    """One recorded change: who, when, what, on which ids (never names, dates of birth or passwords)."""

    scope: str = Field(description="The facility id the entry is filed under (or agency:<id>, system)")
    entry_id: str
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    agency_id: str | None = None
    facility_id: str | None = None
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class CreationMessage(BaseModel):
    """One chunk of an upload's plan to create, from `start` on: the body of a creation queue message."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    uploadId: str = Field(min_length=1, max_length=100)
    chunk: int = Field(ge=0)
    start: int = Field(default=0, ge=0)
