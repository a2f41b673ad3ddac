"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from intake.domain import DomainModel, Learner


class CreateLearnerRequest(BaseModel):
    """POST /learners. Field rules beyond type and size live in intake.rules (shared with bulk uploads)."""

    model_config = ConfigDict(extra="forbid")

    docId: str = Field(max_length=200)
    firstName: str = Field(max_length=200)
    lastName: str = Field(max_length=200)
    dateOfBirth: str = Field(max_length=40, description="MM/DD/YYYY (M/D/YYYY accepted)")
    locationId: str = Field(max_length=100, description="A housing unit or facility of the requestor's scope")
    password: str | None = Field(default=None, max_length=1000, description="Blank or absent: one is generated")


class MoveLearnerRequest(BaseModel):
    """POST /learners/{learnerId}/move."""

    model_config = ConfigDict(extra="forbid")

    locationId: str = Field(min_length=1, max_length=100)


class LearnerResponse(BaseModel):
    learner: Learner


class CreatedLearnerResponse(BaseModel):
    learner: Learner
    generatedPassword: str | None = Field(default=None, description="Only when no password was given; shown once")


class LearnersResponse(BaseModel):
    learners: list[Learner]


class HousingUnitOut(DomainModel):
    location_id: str
    name: str


class FacilityOut(DomainModel):
    facility_id: str
    name: str
    agency_id: str
    housing_units: list[HousingUnitOut]


class FacilitiesResponse(BaseModel):
    facilities: list[FacilityOut]


class HealthResponse(BaseModel):
    status: str = "ok"


class FieldErrorOut(BaseModel):
    field: str
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error: a code, a message, and for some codes more fields."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    errors: list[FieldErrorOut] | None = None
