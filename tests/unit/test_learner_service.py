"""The learner service (intake.learner_service): in memory (tests/unit/learner_fakes.py, audit captured), then over
the tables (moto) through the stored repository."""

from __future__ import annotations

import pytest

from intake import audit, learner_service, passwords
from intake.domain import (
    AuditEntry,
    CharacterClass,
    HistoryEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    NewLearner,
    PasswordRule,
    Role,
    StaffMember,
)
from intake.errors import LearnerExists, NotFound, PermissionDenied, StorageUnavailable, ValidationFailed
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A2
from tests.unit.learner_fakes import AGENCY, FACILITY, OTHER_FACILITY, OTHER_UNIT, UNIT, Repository, location

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


# ------------------------------------------------------------------ the account life (issue 15), in memory

EDUCATOR = StaffMember(username="oak-teacher", role=Role.EDUCATOR, agency_id=AGENCY, facility_ids=(FACILITY,))
PINE_ADMIN = StaffMember(
    username="pine-admin", role=Role.FACILITY_ADMIN, agency_id=AGENCY, facility_ids=(OTHER_FACILITY,)
)
NORTH = StaffMember(username="north", role=Role.AGENCY_ADMIN, agency_id=AGENCY)
STRANGER = StaffMember(username="south", role=Role.AGENCY_ADMIN, agency_id="agency-south")


def seeded(*people: tuple[str, str, str], location_id: str = UNIT) -> tuple[Repository, list[Learner]]:
    """A repository with learners (doc id, first, last) created by ADMIN, audit not recorded."""
    repo = Repository()
    made = []
    for doc_id, first, last in people:
        request = NewLearner(
            location_id=location_id,
            doc_id=doc_id,
            first_name=first,
            last_name=last,
            date_of_birth="01/02/1990",
            password="Given-pass-1",
        )
        made.append(learner_service.create_learner(ADMIN, request, repo).learner)
    return repo, made


def deactivate(repo: Repository, learner: Learner) -> Learner:
    return learner_service.set_learner_status(ADMIN, learner.learner_id, LearnerStatus.INACTIVE, repo)


def test_an_inactive_doc_id_is_reentered_at_the_requested_location(recorded: list[AuditEntry]) -> None:
    # Given a learner A100 of the agency, deactivated at UNIT
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    deactivate(repo, learner)
    recorded.clear()
    # When the other facility's admin creates A100 at their unit, with a blank password
    request = NewLearner(
        location_id=OTHER_UNIT, doc_id="a100", first_name="Dee", last_name="Lee", date_of_birth="1/2/1990"
    )
    created = learner_service.create_learner(PINE_ADMIN, request, repo)
    # Then it is the same learner (id, username), active at the new unit, outcome REACTIVATED
    back = created.learner
    assert created.outcome == "REACTIVATED" and created.generated_password
    assert (back.learner_id, back.username, back.status) == (learner.learner_id, learner.username, "ACTIVE")
    assert (back.location_id, back.facility_id) == (OTHER_UNIT, OTHER_FACILITY) and len(repo.learners) == 1
    # And its history has one entry each for the move and the reactivation; only the new password verifies
    assert [entry.kind for entry in back.history[-2:]] == [HistoryKind.MOVED, HistoryKind.REACTIVATED]
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], created.generated_password)
    assert not passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Given-pass-1")
    # And the reactivation is audited under both facilities by ids
    assert {(e.scope, e.action) for e in recorded} == {
        (OTHER_FACILITY, "LEARNER_REACTIVATED"),
        (FACILITY, "LEARNER_REACTIVATED"),
    }


def test_an_active_doc_id_elsewhere_is_still_learner_exists(recorded: list[AuditEntry]) -> None:
    # Given an active learner A100 at UNIT, When created again at the other facility, Then LEARNER_EXISTS names it
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    request = NewLearner(
        location_id=OTHER_UNIT, doc_id="A100", first_name="Dee", last_name="Lee", date_of_birth="1/2/1990"
    )
    with pytest.raises(LearnerExists) as refused:
        learner_service.create_learner(PINE_ADMIN, request, repo)
    assert refused.value.existing["learnerId"] == learner.learner_id
    assert repo.learners[(AGENCY, "A100")].facility_id == FACILITY


def test_a_new_learner_is_created_with_a_username_and_outcome_created(recorded: list[AuditEntry]) -> None:
    created = learner_service.create_learner(ADMIN, new(password="Given-pass-1"), Repository())
    assert created.outcome == "CREATED" and created.learner.username == "leed100"


# roster and search


def test_the_roster_pages_a_facilitys_active_learners_by_name(recorded: list[AuditEntry]) -> None:
    # Given three learners of the facility, one of them inactive, and one of the other facility
    repo, (ann, bob, cy) = seeded(("A1", "Ann", "Zed"), ("A2", "Bob", "Able"), ("A3", "Cy", "Moe"))
    deactivate(repo, cy)
    seeded_elsewhere = learner_service.create_learner(
        PINE_ADMIN,
        NewLearner(location_id=OTHER_UNIT, doc_id="P1", first_name="Pat", last_name="Pine", date_of_birth="1/2/1990"),
        repo,
    )
    # When an Educator of the facility lists it one learner at a time
    first = learner_service.list_learners(EDUCATOR, FACILITY, limit=1, repository=repo)
    second = learner_service.list_learners(EDUCATOR, FACILITY, limit=1, cursor=first.next_cursor, repository=repo)
    # Then the active learners come by last name, the next cursor ending the list
    assert [x.learner_id for x in first.learners + second.learners] == [bob.learner_id, ann.learner_id]
    assert first.next_cursor is not None and second.next_cursor is None
    # And status filters choose the inactive ones or both
    inactive = learner_service.list_learners(EDUCATOR, FACILITY, status="INACTIVE", repository=repo)
    everyone = learner_service.list_learners(EDUCATOR, FACILITY, status="ALL", repository=repo)
    assert [x.learner_id for x in inactive.learners] == [cy.learner_id]
    assert len(everyone.learners) == 3 and seeded_elsewhere.learner not in everyone.learners


def test_a_search_ignores_case_and_accents_and_has_no_cursor(recorded: list[AuditEntry]) -> None:
    # Given José Núñez and another learner
    repo, (jose, _) = seeded(("D-4821", "José", "Núñez"), ("D-9999", "Ann", "Zed"))
    # When searched by "first last" without accents in another case, by DOC ID prefix and by username
    by_name = learner_service.list_learners(ADMIN, FACILITY, q="JOSE nun", repository=repo)
    by_doc_id = learner_service.list_learners(ADMIN, FACILITY, q="d-48", repository=repo)
    by_username = learner_service.list_learners(ADMIN, FACILITY, q=jose.username, repository=repo)
    # Then each finds only José, with no cursor
    for page in (by_name, by_doc_id, by_username):
        assert [x.learner_id for x in page.learners] == [jose.learner_id] and page.next_cursor is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "GONE"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"q": "x" * 101}, "q"),
        ({"q": "'-'"}, "q"),
        ({"q": "ann", "cursor": "1"}, "cursor"),
        ({"cursor": "c" * 2001}, "cursor"),
        ({"location_id": OTHER_UNIT}, "locationId"),
    ],
)
def test_a_roster_request_out_of_bounds_is_refused(changes: dict, field: str) -> None:
    # Given a facility, When listed with a bad parameter, Then the field is named
    with pytest.raises(ValidationFailed) as refused:
        learner_service.list_learners(ADMIN, FACILITY, repository=Repository(), **changes)
    assert [error.field for error in refused.value.errors] == [field]


@pytest.mark.parametrize("facility_id", [OTHER_FACILITY, UNIT, "no-such-facility"])
def test_a_roster_out_of_scope_or_not_a_facility_is_not_found(facility_id: str) -> None:
    with pytest.raises(NotFound):
        learner_service.list_learners(ADMIN, facility_id, repository=Repository())


def test_a_roster_filtered_by_housing_unit(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A1", "Ann", "Zed"))
    assert learner_service.list_learners(ADMIN, FACILITY, location_id=UNIT, repository=repo).learners == [learner]
    # (the facility's own id is a location too: learners housed at no unit)
    assert learner_service.list_learners(ADMIN, FACILITY, location_id=FACILITY, repository=repo).learners == []


# edit


def test_an_edit_cleans_writes_only_what_changed_and_records_field_names(recorded: list[AuditEntry]) -> None:
    # Given a learner Dee Lee
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    recorded.clear()
    # When the last name is corrected (with stray spaces) and the same first name is sent
    edited = learner_service.edit_learner(
        ADMIN, learner.learner_id, LearnerEdit(first_name="Dee", last_name="  Lée  "), repo
    )
    # Then only the last name changes, the history names the field (never a value), and the audit too
    assert (edited.first_name, edited.last_name, edited.version) == ("Dee", "Lée", learner.version + 1)
    [entry] = edited.history
    assert (entry.kind, entry.fields, entry.by) == (HistoryKind.EDITED, ("lastName",), "oak-admin")
    [audited] = recorded
    assert (audited.action, audited.details) == ("LEARNER_EDITED", {"fields": "lastName"})
    assert "Lée" not in audited.model_dump_json()


def test_a_date_of_birth_and_housing_unit_edit_within_the_facility(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    edited = learner_service.edit_learner(
        ADMIN, learner.learner_id, LearnerEdit(date_of_birth="3/4/1991", location_id=FACILITY), repo
    )
    assert (edited.date_of_birth, edited.location_id, edited.facility_id) == ("03/04/1991", FACILITY, FACILITY)
    assert edited.history[-1].fields == ("dateOfBirth", "locationId")
    assert "03/04/1991" not in edited.history[-1].model_dump_json()


def test_an_edit_that_changes_nothing_writes_nothing(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    recorded.clear()
    writes = repo.writes
    same = learner_service.edit_learner(
        ADMIN, learner.learner_id, LearnerEdit(first_name=" Dee ", location_id=UNIT), repo
    )
    assert same == repo.learners[(AGENCY, "A100")] and repo.writes == writes and recorded == []


def test_an_edit_to_another_facility_says_to_move_and_bad_values_are_named(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    with pytest.raises(ValidationFailed) as refused:
        learner_service.edit_learner(ADMIN, learner.learner_id, LearnerEdit(location_id=OTHER_UNIT), repo)
    assert "move" in refused.value.errors[0].message
    with pytest.raises(ValidationFailed) as refused:
        learner_service.edit_learner(
            ADMIN, learner.learner_id, LearnerEdit(first_name="", date_of_birth="13/13/1990"), repo
        )
    assert {error.field for error in refused.value.errors} == {"firstName", "dateOfBirth"}
    repo.locations[FACILITY] = location(FACILITY, FACILITY, active=False)
    with pytest.raises(ValidationFailed) as refused:
        learner_service.edit_learner(ADMIN, learner.learner_id, LearnerEdit(location_id=FACILITY), repo)
    assert refused.value.errors[0].code == "LOCATION_INACTIVE"
    assert repo.learners[(AGENCY, "A100")].version == learner.version


# status


def test_deactivation_is_recorded_once_and_a_repeat_answers_the_same(recorded: list[AuditEntry]) -> None:
    # Given an active learner
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    recorded.clear()
    # When deactivated twice
    first = deactivate(repo, learner)
    writes = repo.writes
    again = deactivate(repo, learner)
    # Then it is inactive, with one DEACTIVATED entry and one audit entry, the repeat writing nothing
    assert first.status is LearnerStatus.INACTIVE and again == first and repo.writes == writes
    assert [entry.kind for entry in again.history] == [HistoryKind.DEACTIVATED]
    assert [(e.action, e.details) for e in recorded] == [("LEARNER_DEACTIVATED", {"status": "INACTIVE"})]
    # And reactivation brings it back, in place, with its REACTIVATED entry
    back = learner_service.set_learner_status(ADMIN, learner.learner_id, LearnerStatus.ACTIVE, repo)
    assert back.status is LearnerStatus.ACTIVE and back.location_id == UNIT
    assert back.history[-1].kind is HistoryKind.REACTIVATED and recorded[-1].action == "LEARNER_REACTIVATED"


def test_a_selection_is_changed_per_id_with_one_write_per_changed_learner(recorded: list[AuditEntry]) -> None:
    # Given three learners of the facility (one already inactive) and one of the other facility
    repo, (ann, bob, cy) = seeded(("A1", "Ann", "Zed"), ("A2", "Bob", "Able"), ("A3", "Cy", "Moe"))
    deactivate(repo, cy)
    pine = learner_service.create_learner(
        PINE_ADMIN,
        NewLearner(location_id=OTHER_UNIT, doc_id="P1", first_name="Pat", last_name="Pine", date_of_birth="1/2/1990"),
        repo,
    ).learner
    recorded.clear()
    writes = repo.writes
    # When the selection is deactivated, with an unknown id and the other facility's learner in it
    ids = [ann.learner_id, bob.learner_id, cy.learner_id, "no-such-id", pine.learner_id]
    results = learner_service.set_statuses(ADMIN, FACILITY, ids, LearnerStatus.INACTIVE, repo)
    # Then each id has its outcome, in order; only the two that changed were written and audited
    assert [(r.learner_id, r.outcome) for r in results] == [
        (ann.learner_id, "CHANGED"),
        (bob.learner_id, "CHANGED"),
        (cy.learner_id, "UNCHANGED"),
        ("no-such-id", "NOT_FOUND"),
        (pine.learner_id, "NOT_FOUND"),
    ]
    assert repo.writes - writes == 2 and len(recorded) == 2
    assert repo.learners[(AGENCY, "P1")].status is LearnerStatus.ACTIVE


class _FailingFor(Repository):
    """The in-memory tables, unavailable for one learner's writes (as DynamoDB throttling one partition)."""

    def __init__(self, failing_doc_id: str) -> None:
        super().__init__()
        self.failing_doc_id = failing_doc_id

    def set_status(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> Learner | None:
        if learner.doc_id == self.failing_doc_id:
            raise StorageUnavailable("Could not change the learner's status right now; try again in a moment")
        return super().set_status(learner, status, entry)


def test_a_selection_that_fails_part_way_still_audits_the_changes_made(recorded: list[AuditEntry]) -> None:
    # Given three learners, the tables failing the second one's write
    repo = _FailingFor("A2")
    for doc_id in ("A1", "A2", "A3"):
        learner_service.create_learner(ADMIN, new(doc_id=doc_id), repo)
    ids = [repo.learners[(AGENCY, doc_id)].learner_id for doc_id in ("A1", "A2", "A3")]
    recorded.clear()
    # When the selection is deactivated, Then the failure is reported
    with pytest.raises(StorageUnavailable):
        learner_service.set_statuses(ADMIN, FACILITY, ids, LearnerStatus.INACTIVE, repo)
    # And the two learners that did change are inactive and audited, the failed one unchanged
    statuses = [repo.learners[(AGENCY, doc_id)].status for doc_id in ("A1", "A2", "A3")]
    assert statuses == [LearnerStatus.INACTIVE, LearnerStatus.ACTIVE, LearnerStatus.INACTIVE]
    assert sorted(e.target_id for e in recorded) == sorted([ids[0], ids[2]])


@pytest.mark.parametrize("count", [0, 501])
def test_a_selection_of_none_or_more_than_500_is_refused(count: int) -> None:
    with pytest.raises(ValidationFailed):
        learner_service.set_statuses(
            ADMIN, FACILITY, [f"id-{n}" for n in range(count)], LearnerStatus.INACTIVE, Repository()
        )


# passwords


def test_a_reset_with_a_given_password_replaces_the_hash_at_once(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    recorded.clear()
    reset = learner_service.reset_password(ADMIN, learner.learner_id, "Brand-new-pass-7", repo)
    assert reset.generated_password is None
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Brand-new-pass-7")
    assert not passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Given-pass-1")
    assert reset.learner.history[-1].kind is HistoryKind.PASSWORD_RESET
    [entry] = recorded
    assert (entry.action, entry.details) == ("LEARNER_PASSWORD_RESET", {"generated": False})
    assert "Brand-new-pass-7" not in entry.model_dump_json() + reset.learner.model_dump_json()


def test_a_blank_reset_generates_one_and_a_given_one_meets_the_facility_rule(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    reset = learner_service.reset_password(ADMIN, learner.learner_id, None, repo)
    assert reset.generated_password and passwords.verify_password(
        repo.hashes[(AGENCY, "A100")], reset.generated_password
    )
    repo.locations[FACILITY] = repo.locations[FACILITY].model_copy(
        update={"password_rule": PasswordRule(min_length=12, required_classes=(CharacterClass.DIGIT,))}
    )
    for weak in ("Short-pw-1", "Long-but-no-digits", " padded-pass-12 "):
        with pytest.raises(ValidationFailed):
            learner_service.reset_password(ADMIN, learner.learner_id, weak, repo)
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], reset.generated_password)


def test_new_passwords_for_cards_are_generated_stored_and_audited(recorded: list[AuditEntry]) -> None:
    repo, made = seeded(("A1", "Ann", "Zed"), ("A2", "Bob", "Able"))
    recorded.clear()
    fresh = learner_service.new_passwords(ADMIN, made, repo)
    assert set(fresh) == {x.learner_id for x in made} and len(set(fresh.values())) == 2
    for learner in made:
        assert passwords.verify_password(repo.hashes[(AGENCY, learner.doc_id)], fresh[learner.learner_id])
        assert repo.learners[(AGENCY, learner.doc_id)].history[-1].kind is HistoryKind.PASSWORD_RESET
    assert [e.action for e in recorded] == ["LEARNER_PASSWORD_RESET"] * 2


def test_new_passwords_check_every_learner_before_writing_any(recorded: list[AuditEntry]) -> None:
    repo, [mine] = seeded(("A1", "Ann", "Zed"))
    theirs = learner_service.create_learner(
        PINE_ADMIN,
        NewLearner(location_id=OTHER_UNIT, doc_id="P1", first_name="Pat", last_name="Pine", date_of_birth="1/2/1990"),
        repo,
    ).learner
    writes = repo.writes
    with pytest.raises(NotFound):
        learner_service.new_passwords(ADMIN, [mine, theirs], repo)
    with pytest.raises(PermissionDenied):
        learner_service.new_passwords(EDUCATOR, [mine], repo)
    assert repo.writes == writes


# the scope matrix: Educators read only; another facility's learner is not found


def _writes(requestor: StaffMember, learner_id: str, repo: Repository) -> list:
    return [
        lambda: learner_service.edit_learner(requestor, learner_id, LearnerEdit(last_name="Other"), repo),
        lambda: learner_service.set_learner_status(requestor, learner_id, LearnerStatus.INACTIVE, repo),
        lambda: learner_service.reset_password(requestor, learner_id, None, repo),
        lambda: learner_service.set_statuses(requestor, FACILITY, [learner_id], LearnerStatus.INACTIVE, repo),
    ]


@pytest.mark.parametrize("write", range(4))
def test_educators_are_refused_every_write_and_read_in_scope(write: int, recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    writes = repo.writes
    with pytest.raises(PermissionDenied):
        _writes(EDUCATOR, learner.learner_id, repo)[write]()
    assert repo.writes == writes
    assert learner_service.list_learners(EDUCATOR, FACILITY, repository=repo).learners == [learner]


@pytest.mark.parametrize("write", range(4))
@pytest.mark.parametrize("requestor", [PINE_ADMIN, STRANGER])
def test_another_facilitys_learner_is_not_found_for_every_write(
    write: int, requestor: StaffMember, recorded: list[AuditEntry]
) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    writes = repo.writes
    with pytest.raises(NotFound):
        _writes(requestor, learner.learner_id, repo)[write]()
    assert repo.writes == writes


def test_an_agency_admin_changes_any_facilitys_learner(recorded: list[AuditEntry]) -> None:
    repo, [learner] = seeded(("A100", "Dee", "Lee"))
    assert (
        learner_service.set_learner_status(NORTH, learner.learner_id, LearnerStatus.INACTIVE, repo).status == "INACTIVE"
    )


# ------------------------------------------------------------------ over the tables (moto), through STORE


def _create_stored(user: StaffMember, doc_id: str, location_id: str, first: str = "Dee", last: str = "Lee") -> Learner:
    request = NewLearner(
        location_id=location_id,
        doc_id=doc_id,
        first_name=first,
        last_name=last,
        date_of_birth="01/02/1990",
        password="Stored-pass-1",
    )
    return learner_service.create_learner(user, request).learner


def _audited(scope: str) -> list[str]:
    from intake.dal import audit as audit_store

    return sorted(entry.action for entry in audit_store.list_entries(scope, 100))


def test_over_the_tables_a_learner_is_edited_reset_deactivated_and_reentered(directory: dict) -> None:
    from intake.dal import learners as learner_store

    ridge, lake = directory["ridge"], directory["lake"]
    # Given a learner created at Ridge through the stored repository
    learner = _create_stored(ridge, "R100", UNIT_A1)
    assert learner.username and learner.status is LearnerStatus.ACTIVE
    # When its last name is corrected, Then the stored learner has it and its history names the field
    edited = learner_service.edit_learner(ridge, learner.learner_id, LearnerEdit(last_name="Leigh"))
    stored = learner_store.get_by_id(learner.learner_id)
    assert stored is not None and stored.last_name == "Leigh" == edited.last_name
    assert [(e.kind, e.fields) for e in stored.history if e.kind is HistoryKind.EDITED] == [
        (HistoryKind.EDITED, ("lastName",))
    ]
    # When its password is reset, Then the old one stops verifying at once and the new one does
    reset = learner_service.reset_password(ridge, learner.learner_id, None)
    stored_hash = learner_store.stored_password_hash(AGENCY_A, "R100")
    assert stored_hash is not None and reset.generated_password
    assert passwords.verify_password(stored_hash, reset.generated_password)
    assert not passwords.verify_password(stored_hash, "Stored-pass-1")
    # When it is deactivated twice, Then it is stored INACTIVE with one DEACTIVATED entry
    learner_service.set_learner_status(ridge, learner.learner_id, LearnerStatus.INACTIVE)
    again = learner_service.set_learner_status(ridge, learner.learner_id, LearnerStatus.INACTIVE)
    assert again.status is LearnerStatus.INACTIVE
    assert [e.kind for e in again.history].count(HistoryKind.DEACTIVATED) == 1
    # When Lake's admin creates its DOC ID at Lake, Then the same learner comes back there, REACTIVATED
    created = learner_service.create_learner(
        lake,
        NewLearner(location_id=UNIT_A2, doc_id="r100", first_name="Dee", last_name="Leigh", date_of_birth="1/2/1990"),
    )
    back = created.learner
    assert created.outcome == "REACTIVATED" and created.generated_password
    assert (back.learner_id, back.username, back.status, back.location_id) == (
        learner.learner_id,
        learner.username,
        LearnerStatus.ACTIVE,
        UNIT_A2,
    )
    kinds = [e.kind for e in back.history]
    assert kinds[-2:] == [HistoryKind.MOVED, HistoryKind.REACTIVATED]
    final_hash = learner_store.stored_password_hash(AGENCY_A, "R100")
    assert final_hash is not None and passwords.verify_password(final_hash, created.generated_password)
    # And every change is in the audit trail by ids, under the facility or both facilities of the re-entry
    assert _audited(FAC_A1) == [
        "LEARNER_CREATED",
        "LEARNER_DEACTIVATED",
        "LEARNER_EDITED",
        "LEARNER_PASSWORD_RESET",
        "LEARNER_REACTIVATED",
    ]
    assert _audited(FAC_A2) == ["LEARNER_REACTIVATED"]


def test_over_the_tables_a_selection_changes_per_id(directory: dict) -> None:
    ridge = directory["ridge"]
    # Given three learners of Ridge and one of Lake
    mine = [_create_stored(ridge, f"S{n}", UNIT_A1, first=f"Ann{chr(97 + n)}") for n in range(3)]
    theirs = _create_stored(directory["lake"], "L1", UNIT_A2)
    # When Ridge's admin deactivates the three, Lake's learner and an unknown id, twice
    ids = [x.learner_id for x in mine] + [theirs.learner_id, "no-such-learner"]
    first = learner_service.set_statuses(ridge, FAC_A1, ids, LearnerStatus.INACTIVE)
    second = learner_service.set_statuses(ridge, FAC_A1, ids, LearnerStatus.INACTIVE)
    # Then the three change once, the others are not found, and the repeat changes nothing
    assert [r.outcome for r in first] == ["CHANGED"] * 3 + ["NOT_FOUND"] * 2
    assert [r.outcome for r in second] == ["UNCHANGED"] * 3 + ["NOT_FOUND"] * 2
    assert _audited(FAC_A1).count("LEARNER_DEACTIVATED") == 3
    assert learner_service.get_learner(ridge, theirs.learner_id).status is LearnerStatus.ACTIVE


def test_over_the_tables_educators_are_refused_writes_and_others_find_nothing(directory: dict) -> None:
    learner = _create_stored(directory["ridge"], "T100", UNIT_A1)
    teacher, lake, bay = directory["teacher"], directory["lake"], directory["bay"]
    with pytest.raises(PermissionDenied):
        learner_service.edit_learner(teacher, learner.learner_id, LearnerEdit(last_name="Other"))
    with pytest.raises(PermissionDenied):
        learner_service.set_statuses(teacher, FAC_A1, [learner.learner_id], LearnerStatus.INACTIVE)
    for outsider in (lake, bay):
        with pytest.raises(NotFound):
            learner_service.set_learner_status(outsider, learner.learner_id, LearnerStatus.INACTIVE)
        with pytest.raises(NotFound):
            learner_service.reset_password(outsider, learner.learner_id, None)
    # And the Educator still reads it
    assert learner_service.get_learner(teacher, learner.learner_id).last_name == "Lee"
    assert learner_service.get_learner(teacher, learner.learner_id).status is LearnerStatus.ACTIVE
