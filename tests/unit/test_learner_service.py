"""POST /learners' service (learner_service.create_learner) with an in-memory repository and audit: no moto."""

from __future__ import annotations

import pytest

from intake import audit, learner_service, passwords
from intake.domain import AuditEntry, NewLearner, Role, StaffMember
from intake.errors import LearnerExists, PermissionDenied, ValidationFailed
from tests.unit.learner_fakes import AGENCY, FACILITY, OTHER_UNIT, UNIT, Repository, location

ADMIN = StaffMember(username="oak-admin", role=Role.FACILITY_ADMIN, agency_id=AGENCY, facility_ids=(FACILITY,))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    monkeypatch.setattr(audit, "record_all", entries.extend)
    return entries


def new(doc_id: str = " a100 ", location_id: str = UNIT, password: str | None = None) -> NewLearner:
    return NewLearner(
        location_id=location_id,
        doc_id=doc_id,
        first_name=" Dee ",
        last_name="Lee",
        date_of_birth="1/2/1990",
        password=password,
    )


def test_a_learner_is_created_cleaned_hashed_and_audited(recorded: list[AuditEntry]) -> None:
    repo = Repository()
    created = learner_service.create_learner(ADMIN, new(password="Given-pass-1"), repo)
    learner = created.learner
    assert created.generated_password is None
    assert (learner.doc_id, learner.first_name, learner.date_of_birth) == ("A100", "Dee", "01/02/1990")
    assert (learner.location_id, learner.facility_id, learner.created_by, learner.upload_id) == (
        UNIT,
        FACILITY,
        "oak-admin",
        None,
    )
    assert repo.learners == {(AGENCY, "A100"): learner}
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Given-pass-1")
    [entry] = recorded
    assert (entry.scope, entry.action, entry.target_id, entry.actor) == (
        FACILITY,
        "LEARNER_CREATED",
        learner.learner_id,
        "oak-admin",
    )
    assert entry.details == {"locationId": UNIT} and entry.agency_id == AGENCY and entry.facility_id == FACILITY


def test_a_blank_password_is_generated_and_returned_once(recorded: list[AuditEntry]) -> None:
    repo = Repository()
    created = learner_service.create_learner(ADMIN, new(password=""), repo)
    assert created.generated_password
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], created.generated_password)


def test_a_taken_doc_id_is_refused_and_nothing_audited(recorded: list[AuditEntry]) -> None:
    repo = Repository()
    learner_service.create_learner(ADMIN, new(), repo)
    with pytest.raises(LearnerExists):
        learner_service.create_learner(ADMIN, new("A100"), repo)
    assert len(recorded) == 1 and len(repo.learners) == 1


def test_out_of_scope_inactive_or_invalid_requests_store_nothing(recorded: list[AuditEntry]) -> None:
    repo = Repository()
    with pytest.raises(PermissionDenied):
        learner_service.create_learner(ADMIN, new(location_id=OTHER_UNIT), repo)
    repo.locations[UNIT] = location(UNIT, FACILITY, active=False)
    with pytest.raises(ValidationFailed):
        learner_service.create_learner(ADMIN, new(), repo)
    with pytest.raises(ValidationFailed):
        learner_service.create_learner(ADMIN, new(doc_id=""), repo)
    assert repo.learners == {} and recorded == []
