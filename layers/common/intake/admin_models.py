"""What the administration service takes and gives; the routes' own bodies are in the API's `api_routes.models`."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from intake.domain import DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT, BodyModel, CharacterClass, DomainModel, Role

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"
NAME_MAX = 120


class _Request(BodyModel):
    model_config = ConfigDict(extra="forbid")


class CreateAgencyRequest(_Request):
    agencyId: str | None = Field(default=None, pattern=ID_PATTERN, description="Blank: generated from the name")
    name: str = Field(min_length=1, max_length=NAME_MAX)


class CreateFacilityRequest(_Request):
    agencyId: str = Field(pattern=ID_PATTERN)
    facilityId: str | None = Field(default=None, pattern=ID_PATTERN, description="Blank: generated from the name")
    name: str = Field(min_length=1, max_length=NAME_MAX)


class CreateHousingUnitRequest(_Request):
    locationId: str | None = Field(default=None, pattern=ID_PATTERN, description="Blank: generated from the name")
    name: str = Field(min_length=1, max_length=NAME_MAX)


class PasswordRuleIn(_Request):
    minLength: int = Field(default=8, ge=8, le=128)
    requiredClasses: list[CharacterClass] = Field(default_factory=list)
    blankFormat: str | None = Field(
        default=None,
        max_length=100,
        description="How a blank password is made, e.g. {lastName}{random:9}; placeholders {lastName} "
        "{firstName} {firstInitial} {docId} {docIdLast4} (guessable) and {random:N} (N letters/digits) "
        "{words:N} (N syllables). Every output must meet the rule and have a random part of at least 40 bits, "
        "or 12+ characters of which 6+ are random; it may not start with = + - @. Null: a random password",
    )


class FacilitySettingsRequest(_Request):
    """Only the fields sent change; null resets a setting to the system's default."""

    autoConfirmDrops: bool | None = None
    passwordRule: PasswordRuleIn | None = None
    maxUploadBytes: int | None = Field(default=None, gt=0)
    maxUploadRows: int | None = Field(default=None, gt=0)
    learnerAccess: Literal["ON", "OFF"] | None = Field(
        default=None, description="OFF turns sign-in off for every learner of the facility; null: ON"
    )
    dropMode: Literal["create", "sync"] | None = Field(
        default=None, description="The mode of the facility's drops (SFTP): sync diffs each file as the whole roster"
    )
    maxSyncDeactivationPercent: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="A sync deactivating more than this percent of the facility's active learners is held; null: 10",
    )


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class InviteStaffRequest(_Request):
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role
    agencyId: str | None = Field(default=None, pattern=ID_PATTERN)
    facilityIds: list[str] = Field(default_factory=list, max_length=100)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, description="e.g. Teacher, Professor")
    firstName: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    lastName: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    displayFirstName: str | None = Field(
        default=None, min_length=1, max_length=NAME_MAX, description="The name learners see, e.g. Professor"
    )
    displayLastName: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, description="e.g. Jones")


class ChangeStaffRequest(_Request):
    role: Role
    agencyId: str | None = Field(default=None, pattern=ID_PATTERN)
    facilityIds: list[str] = Field(default_factory=list, max_length=100)


class GrantChangeRequest(_Request):
    """One grant to add to or remove from a staff member, in their agency."""

    role: Role
    facilityId: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="A FacilityAdmin or Educator grant's facility; none for AgencyAdmin",
    )


class LocationOut(DomainModel):
    location_id: str
    name: str
    agency_id: str
    facility_id: str
    kind: str
    active: bool


class AdminFacilityOut(DomainModel):
    facility_id: str
    name: str
    agency_id: str
    active: bool
    housing_units: list[LocationOut]


class FacilitySettingsOut(DomainModel):
    facility_id: str
    auto_confirm_drops: bool
    password_rule: dict | None
    max_upload_bytes: int
    max_upload_rows: int
    system_max_upload_bytes: int
    system_max_upload_rows: int
    learner_access: Literal["ON", "OFF"] = "ON"
    drop_mode: Literal["create", "sync"] = "create"
    max_sync_deactivation_percent: int = DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT
