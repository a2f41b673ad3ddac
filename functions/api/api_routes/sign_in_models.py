"""Request and response bodies of POST /learner-sign-ins (the tablet platform's sign-in of a learner)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from intake.admin_models import ID_PATTERN
from intake.domain import BodyModel, Learner


class SignInRequest(BodyModel):
    """A learner's credentials as typed on a tablet: the username may also be the learner's DOC ID."""

    model_config = ConfigDict(extra="forbid")

    agencyId: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN, description="The tablet's agency")
    username: str = Field(min_length=1, max_length=64, description="The learner's username or DOC ID")
    password: str = Field(min_length=1, max_length=256)


class SignedInLearner(BodyModel):
    """Who signed in: ids and names only (never the DOC ID, date of birth or anything about the password)."""

    learnerId: str
    agencyId: str
    username: str
    firstName: str
    lastName: str
    facilityId: str
    locationId: str

    @classmethod
    def of(cls, learner: Learner) -> SignedInLearner:
        return cls(
            learnerId=learner.learner_id,
            agencyId=learner.agency_id,
            username=learner.username or "",
            firstName=learner.first_name,
            lastName=learner.last_name,
            facilityId=learner.facility_id,
            locationId=learner.location_id,
        )


class SignInResponse(BodyModel):
    learner: SignedInLearner
