"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StringConstraints,
    TypeAdapter,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import core_schema

from intake import admin_models, rules
from intake.admin_models import (
    ID_PATTERN,
    NAME_MAX,
    USERNAME_PATTERN,
    AdminFacilityOut,
    FacilitySettingsOut,
    LocationOut,
)
from intake.domain import (
    Agency,
    AuditEntry,
    BodyModel,
    DomainModel,
    Learner,
    LearnerStatus,
    StaffMember,
    UploadMode,
    UploadStatus,
)

# The most learners one selection (status change, cards) may name: the staff page's "select all" of a few pages.
SELECTION_MAX = 500
LearnerId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"[^ \t\n\r\f\v]")
]  # not blank (intake.rules.ID_SPACE)


class SparseBody(BodyModel):
    """A body that leaves out the optional fields it was not given (the contract omits them rather than send null)."""

    # No return annotation: with one, the generated schema would be the annotation's instead of the model's fields.
    @model_serializer(mode="wrap")
    def _leave_out_unset(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        unset = {name for name in type(self).model_fields if name not in self.model_fields_set}
        return {key: value for key, value in data.items() if key not in unset}


# What the OpenAPI document says of a learner's fields: intake.rules' own patterns and limits. Schema only: the
# service's rules still check each field (and say what to fix), so these are `json_schema_extra`, not constraints.
NOT_BLANK = r"[^ \t\n\r\f\v]"  # an id: not blank once trimmed of ASCII spaces (intake.rules.ID_SPACE)
DOC_ID_SCHEMA: dict[str, Any] = {
    "pattern": rules.DOC_ID_PATTERN,
    "not": {"pattern": rules.DOC_ID_SCIENTIFIC_PATTERN},
    "description": f"Up to {rules.DOC_ID_MAX} ASCII letters, digits or hyphens, starting with a letter or digit "
    "(trimmed, upper-cased); not digits-E-digits, the scientific notation Excel shows long numbers in",
}
NAME_SCHEMA: dict[str, Any] = {
    "pattern": rules.NAME_PATTERN,
    "maxLength": rules.NAME_MAX,
    "description": "Letters (any script), spaces, apostrophes, hyphens and periods, with at least one letter; "
    "spaces are folded and trimmed",
}
DATE_OF_BIRTH_SCHEMA: dict[str, Any] = {
    "pattern": rules.DATE_OF_BIRTH_PATTERN,
    "description": f"MM/DD/YYYY (M/D/YYYY accepted): a real date, an age of {rules.MIN_AGE_YEARS} to "
    f"{rules.MAX_AGE_YEARS} years",
}
LOCATION_ID_SCHEMA: dict[str, Any] = {"minLength": 1, "pattern": NOT_BLANK}
PASSWORD_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 0},
        {
            "type": "string",
            "minLength": rules.PASSWORD_MIN,
            "maxLength": rules.PASSWORD_MAX,
            "pattern": rules.PASSWORD_PATTERN,
        },
        {"type": "null"},
    ],
    "description": f"Blank, null or absent: one is generated; else {rules.PASSWORD_MIN} to {rules.PASSWORD_MAX} "
    "characters, no control characters, no space at either end, and the facility's password rule",
}


def _documented(**fields: dict[str, Any]):
    """A model's `json_schema_extra`: these properties' schemas merged into (a `anyOf` replacing) the generated."""

    def extra(schema: dict[str, Any]) -> None:
        for name, documented in fields.items():
            target = schema["properties"][name]
            if "anyOf" in documented:
                target.pop("anyOf", None)
                target.pop("type", None)
            target.update(documented)

    return extra


class CreateLearnerRequest(BodyModel):
    """POST /learners. Field rules beyond type and size live in intake.rules (shared with bulk uploads)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_documented(
            docId=DOC_ID_SCHEMA,
            firstName=NAME_SCHEMA,
            lastName=NAME_SCHEMA,
            dateOfBirth=DATE_OF_BIRTH_SCHEMA,
            locationId=LOCATION_ID_SCHEMA,
            password=PASSWORD_SCHEMA,
        ),
    )

    docId: str = Field(max_length=200)
    firstName: str = Field(max_length=200)
    lastName: str = Field(max_length=200)
    dateOfBirth: str = Field(max_length=40)
    locationId: str = Field(max_length=100, description="A housing unit or facility of the requestor's scope")
    password: str | None = Field(default=None, max_length=1000)


class MoveLearnerRequest(BodyModel):
    """POST /learners/{learnerId}/move."""

    model_config = ConfigDict(extra="forbid")

    locationId: str = Field(min_length=1, max_length=100)


class LearnerResponse(BodyModel):
    learner: Learner


class CreatedLearnerResponse(SparseBody):
    learner: Learner
    outcome: Literal["CREATED", "REACTIVATED"] = Field(
        description="REACTIVATED: the DOC ID was an inactive learner of the agency, now back at the location"
    )
    generatedPassword: str | None = Field(default=None, description="Only when no password was given; shown once")


def _at_least_one_change(schema: dict[str, Any]) -> None:
    """A PATCH body's schema: at least one property, each a value (no null default to send)."""
    schema["minProperties"] = 1
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class EditLearnerRequest(BodyModel):
    """PATCH /learners/{learnerId}: the fields to change (at least one); absent fields stay as they are."""

    # The schema says what the validators below hold: at least one field, each a string (null is not a change).
    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema: _edit_schema(schema))

    firstName: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200)
    lastName: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200)
    dateOfBirth: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=40, description="MM/DD/YYYY")
    locationId: str | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=100, description="A housing unit of the learner's own facility"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(value is None for value in data.values()):
            raise ValueError("null is not a value: leave out the fields that do not change")
        return data

    @model_validator(mode="after")
    def _something_to_change(self) -> EditLearnerRequest:
        if not any(value is not None for value in (self.firstName, self.lastName, self.dateOfBirth, self.locationId)):
            raise ValueError("Give at least one of firstName, lastName, dateOfBirth, locationId")
        return self


def _edit_schema(schema: dict[str, Any]) -> None:
    _at_least_one_change(schema)
    _documented(
        firstName=NAME_SCHEMA, lastName=NAME_SCHEMA, dateOfBirth=DATE_OF_BIRTH_SCHEMA, locationId=LOCATION_ID_SCHEMA
    )(schema)


def _unique(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("Each learnerId may appear only once")
    return ids


class SetStatusesRequest(BodyModel):
    """POST /facilities/{facilityId}/learners/status."""

    model_config = ConfigDict(extra="forbid")

    learnerIds: list[LearnerId] = Field(min_length=1, max_length=SELECTION_MAX, json_schema_extra={"uniqueItems": True})
    status: LearnerStatus

    @model_validator(mode="after")
    def _ids_unique(self) -> SetStatusesRequest:
        _unique(self.learnerIds)
        return self


class StatusResultOut(BodyModel):
    learnerId: str
    outcome: Literal["CHANGED", "UNCHANGED", "NOT_FOUND"] = Field(
        description="NOT_FOUND: no such learner in this facility (or outside the requestor's scope)"
    )


class StatusResultsResponse(BodyModel):
    results: list[StatusResultOut] = Field(description="One per learnerId asked for, in the same order")


class ResetPasswordRequest(BodyModel):
    """POST /learners/{learnerId}/password."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        default=None, max_length=1000, description="Checked against the facility's rule; blank or absent: generated"
    )


class PasswordResetResponse(SparseBody):
    learner: Learner
    generatedPassword: str | None = Field(default=None, description="Only when no password was given; shown once")


class LearnerCardsRequest(BodyModel):
    """POST /facilities/{facilityId}/learner-cards."""

    model_config = ConfigDict(extra="forbid")

    learnerIds: list[LearnerId] = Field(min_length=1, max_length=SELECTION_MAX, json_schema_extra={"uniqueItems": True})
    resetPasswords: bool = Field(
        default=False, description="Give each learner a new generated password, printed on its card and nowhere else"
    )

    @model_validator(mode="after")
    def _ids_unique(self) -> LearnerCardsRequest:
        _unique(self.learnerIds)
        return self


class RosterResponse(SparseBody):
    learners: list[Learner]
    nextCursor: str | None = Field(
        default=None, description="Present when there are more learners: pass it as cursor for the next page"
    )


class LearnersResponse(BodyModel):
    learners: list[Learner]


class HousingUnitOut(DomainModel):
    location_id: str
    name: str


class FacilityOut(DomainModel):
    facility_id: str
    name: str
    agency_id: str
    housing_units: list[HousingUnitOut]


class FacilitiesResponse(BodyModel):
    facilities: list[FacilityOut]


class DeletedResponse(BodyModel):
    deleted: str = Field(description="The id of what was deleted")


class FieldErrorOut(BodyModel):
    field: str
    code: str
    message: str


class ExistingLearnerOut(BodyModel):
    learnerId: str
    facilityId: str
    locationId: str


class ErrorResponse(BodyModel):
    """Every error: a code, a message, and for some codes more fields."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    errors: list[FieldErrorOut] | None = Field(default=None, description="VALIDATION_FAILED: each field to fix")
    existing: ExistingLearnerOut | None = Field(default=None, description="LEARNER_EXISTS: where the learner is")
    reason: str | None = Field(
        default=None, description='CONFLICT: why, when the client can act on it (e.g. "MASS_DEACTIVATION")'
    )


class UploadLinkOut(BodyModel):
    """How to send the file: a presigned S3 POST (`fields` with the file) or PUT (`fields` empty)."""

    method: str
    url: str
    fields: dict[str, str]
    expiresAt: str
    maxBytes: int


class CreatedUploadResponse(BodyModel):
    uploadId: str
    status: UploadStatus
    upload: UploadLinkOut


class RowErrorOut(SparseBody):
    """One problem of one row; `line` is the spreadsheet line (0: the file as a whole)."""

    model_config = ConfigDict(extra="allow")

    line: int
    requestId: str | None = None
    docId: str | None = None
    field: str
    code: str
    message: str


class UploadCountsOut(BodyModel):
    model_config = ConfigDict(extra="allow")

    rows: int
    valid: int
    invalid: int
    toCreate: int
    toMove: int
    toReactivate: int = 0
    toUpdate: int = 0
    unchanged: int = 0
    toDeactivate: int = 0
    warnings: int
    created: int
    moved: int
    reactivated: int = 0
    updated: int = 0
    deactivated: int = 0
    skipped: int
    failed: int


class UploadOptionsOut(SparseBody):
    skipInvalidRows: bool | None = None
    moveExisting: bool | None = None
    allowMassDeactivation: bool | None = Field(default=None, description="A sync's confirm: set when confirmed")


class UploadHoldOut(BodyModel):
    """Why a sync waits for an explicit confirm (contract "Uploads: create or sync")."""

    code: Literal["MASS_DEACTIVATION"]
    message: str
    toDeactivate: int
    activeLearners: int


class UploadView(SparseBody):
    """One upload as staff see it: status, counts, the first row errors and short-lived report links."""

    model_config = ConfigDict(extra="allow")

    uploadId: str
    facilityId: str
    source: str = Field(description='"link" or "drop"')
    mode: UploadMode = Field(default=UploadMode.CREATE, description="create (v1) or sync (the whole roster)")
    fileName: str | None = None
    status: UploadStatus
    createdAt: str
    createdBy: str
    expiresAt: str | None = None
    encoding: str | None = None
    reason: str | None = None
    counts: UploadCountsOut
    errors: list[RowErrorOut]
    warnings: list[RowErrorOut] = Field(default_factory=list)
    options: UploadOptionsOut | None = None
    errorReportUrl: str | None = None
    resultReportUrl: str | None = None
    resultReportHasPasswords: bool | None = Field(
        default=None, description="With resultReportUrl: true when the link is the copy with generated passwords"
    )
    passwordsUntil: str | None = Field(default=None, description="With the passwords copy: when it stops being given")
    hold: UploadHoldOut | None = Field(
        default=None, description="A sync past the facility's deactivation limit: confirm with allowMassDeactivation"
    )
    planReportUrl: str | None = Field(default=None, description="plan.csv of a sync: line, docID, action, fields")


class UploadsResponse(SparseBody):
    uploads: list[UploadView]
    nextCursor: str | None = Field(
        default=None, description="Present when there are more uploads: pass it as cursor for the next page"
    )


class ConfirmResponse(BodyModel):
    uploadId: str
    status: UploadStatus


# Administration: the bodies only the routes use (the service's own types are in intake.admin_models).


class RenameRequest(BodyModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)


class AgencyResponse(BodyModel):
    agency: Agency


class AgenciesResponse(BodyModel):
    agencies: list[Agency]


class LocationResponse(BodyModel):
    location: LocationOut


class AdminFacilitiesResponse(BodyModel):
    facilities: list[AdminFacilityOut]


class FacilitySettingsResponse(BodyModel):
    settings: FacilitySettingsOut


class StaffResponse(BodyModel):
    staff: StaffMember


class InvitedStaffResponse(BodyModel):
    staff: StaffMember
    temporaryPassword: str = Field(description="Shown once; the staff member sets their own at first sign-in")


class StaffListResponse(BodyModel):
    staff: list[StaffMember]


class AuditResponse(BodyModel):
    entries: list[AuditEntry]
    next: str | None = Field(default=None, description="Pass as ?before= for the next (older) page")


# Staff grants as the OpenAPI document states them: one body per role (`oneOf`, discriminated by `role`), with the
# rules of admin_service's grant check that do not depend on stored state. Schema only, as for a learner: the route
# still validates the one admin_models body, and admin_service still refuses a grant that breaks them.
AgencyId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
FacilityId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
GRANT_FACILITIES_MAX = 100


class _Grant(BodyModel):
    model_config = ConfigDict(extra="forbid")


class _FacilitiesGrant(_Grant):
    agencyId: AgencyId = Field(description="The agency of the facilities")
    facilityIds: list[FacilityId] = Field(
        min_length=1, max_length=GRANT_FACILITIES_MAX, description="Facilities of the agency (at least one)"
    )


class _AgencyGrant(_Grant):
    agencyId: AgencyId
    facilityIds: list[FacilityId] = Field(
        default_factory=list, max_length=0, description="None: an AgencyAdmin covers its whole agency"
    )


class _SystemGrant(_Grant):
    agencyId: None = Field(default=None, description="None: a SystemAdmin covers every agency")
    facilityIds: list[FacilityId] = Field(default_factory=list, max_length=0)


class EducatorGrant(_FacilitiesGrant):
    role: Literal["Educator"]


class FacilityAdminGrant(_FacilitiesGrant):
    role: Literal["FacilityAdmin"]


class AgencyAdminGrant(_AgencyGrant):
    role: Literal["AgencyAdmin"]


class SystemAdminGrant(_SystemGrant):
    role: Literal["SystemAdmin"]


class _Invite(BodyModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    email: str | None = Field(default=None, max_length=254, pattern=admin_models.EMAIL_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=admin_models.NAME_MAX)
    firstName: str | None = Field(default=None, min_length=1, max_length=admin_models.NAME_MAX)
    lastName: str | None = Field(default=None, min_length=1, max_length=admin_models.NAME_MAX)
    displayFirstName: str | None = Field(
        default=None, min_length=1, max_length=admin_models.NAME_MAX, description="The name learners see"
    )
    displayLastName: str | None = Field(default=None, min_length=1, max_length=admin_models.NAME_MAX)


class EducatorInvite(_Invite, EducatorGrant):
    pass


class FacilityAdminInvite(_Invite, FacilityAdminGrant):
    pass


class AgencyAdminInvite(_Invite, AgencyAdminGrant):
    pass


class SystemAdminInvite(_Invite, SystemAdminGrant):
    pass


StaffGrant = Annotated[
    EducatorGrant | FacilityAdminGrant | AgencyAdminGrant | SystemAdminGrant, Field(discriminator="role")
]
StaffInvite = Annotated[
    EducatorInvite | FacilityAdminInvite | AgencyAdminInvite | SystemAdminInvite, Field(discriminator="role")
]


@cache
def _one_body_per_role(union: Any) -> core_schema.CoreSchema:
    """The union's core schema, built when a document is first generated (not at import)."""
    return TypeAdapter(union).core_schema


class InviteStaffRequest(admin_models.InviteStaffRequest):
    """POST /staff: admin_models' body, documented as one body per role (StaffInvite)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_one_body_per_role(StaffInvite))


class ChangeStaffRequest(admin_models.ChangeStaffRequest):
    """POST /staff/{username}/scope: admin_models' body, documented as one body per role (StaffGrant)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_one_body_per_role(StaffGrant))


class _OneGrant(_Grant):
    facilityId: FacilityId = Field(description="A facility of the staff member's agency")


class EducatorOneGrant(_OneGrant):
    role: Literal["Educator"]


class FacilityAdminOneGrant(_OneGrant):
    role: Literal["FacilityAdmin"]


class AgencyAdminOneGrant(_Grant):
    role: Literal["AgencyAdmin"]
    facilityId: None = Field(default=None, description="None: an AgencyAdmin grant covers the staff member's agency")


# One grant added or removed: a SystemAdmin grant stands alone (set it with /scope), so it is not one of them.
OneGrant = Annotated[EducatorOneGrant | FacilityAdminOneGrant | AgencyAdminOneGrant, Field(discriminator="role")]


class GrantChangeRequest(admin_models.GrantChangeRequest):
    """POST /staff/{username}/grants and /grants/remove: admin_models' body, documented as one body per role
    (OneGrant), in the staff member's agency."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_one_body_per_role(OneGrant))


class UndoDeactivationsResponse(BodyModel):
    """POST /uploads/{uploadId}/undo-deactivations: learners the sync deactivated, reactivated or skipped (changed
    since)."""

    reactivated: int
    skipped: int
