"""Creating one learner (intake.learner_creation): build, hash, conditional insert, audit, with an in-memory
repository (tests/unit/learner_fakes.py): no moto."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import VerifyMismatchError

from intake import clock, learner_creation, passwords
from intake.domain import HistoryKind, Learner, LearnerStatus
from intake.errors import Conflict, LearnerExists
from tests.unit.learner_fakes import AGENCY, FACILITY, OTHER_FACILITY, OTHER_UNIT, UNIT, Repository

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 12, 5, 0, tzinfo=UTC)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The clock fixed at NOW."""
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    return NOW


def build(doc_id: str = "A100", upload_id: str | None = None, **changes: str) -> Learner:
    fields = {
        "agency_id": AGENCY,
        "doc_id": doc_id,
        "first_name": "Dee",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": UNIT,
        "facility_id": FACILITY,
        "created_by": "oak-admin",
        **changes,
    }
    return learner_creation.new_learner(upload_id=upload_id, **fields)


def test_new_learner_has_the_given_fields_a_new_id_and_now(pinned: datetime) -> None:
    # Given the clock at NOW
    # When a learner is built from an upload
    learner = build(upload_id="up-1")
    # Then it has exactly the given fields, a random UUID, the Learner role, no history, created now
    assert (learner.agency_id, learner.doc_id, learner.first_name, learner.last_name) == (AGENCY, "A100", "Dee", "Lee")
    assert (learner.date_of_birth, learner.location_id, learner.facility_id) == ("01/02/1990", UNIT, FACILITY)
    assert (learner.created_by, learner.upload_id, learner.created_at) == ("oak-admin", "up-1", NOW)
    assert learner.role == "Learner" and learner.history == ()
    assert str(uuid.UUID(learner.learner_id)) == learner.learner_id


def test_new_learners_get_different_ids_and_none_is_from_an_upload_unless_told() -> None:
    # Given two learners built with the same fields
    first, second = build(), build()
    # Then their ids differ, and neither names an upload
    assert first.learner_id != second.learner_id
    assert first.upload_id is None and second.upload_id is None


def test_insert_stores_the_learner_with_an_argon2id_hash_of_the_password() -> None:
    # Given an empty repository and a learner
    repo = Repository()
    learner = build()
    # When inserted with a password
    stored = learner_creation.insert(learner, "Given-pass-1", repo)
    # Then the repository holds the learner under its agency and DOC ID, with the first username candidate
    assert stored == learner.model_copy(update={"username": "leed100"}) and repo.learners == {(AGENCY, "A100"): stored}
    # And the hash kept is an Argon2id PHC string that verifies that password only, never the password itself
    password_hash = repo.hashes[(AGENCY, "A100")]
    assert password_hash.startswith("$argon2id$") and "Given-pass-1" not in password_hash
    assert passwords.verify_password(password_hash, "Given-pass-1")
    assert not passwords.verify_password(password_hash, "Given-pass-2")
    # (checked by argon2 itself too, not only by the module under test)
    assert PasswordHasher(type=Type.ID).verify(password_hash, "Given-pass-1")
    with pytest.raises(VerifyMismatchError):
        PasswordHasher(type=Type.ID).verify(password_hash, "given-pass-1")


def test_the_same_password_hashes_differently_each_time() -> None:
    # Given two learners inserted with the same password
    repo = Repository()
    learner_creation.insert(build("A1"), "Same-pass-1", repo)
    learner_creation.insert(build("A2"), "Same-pass-1", repo)
    # Then their hashes are salted apart, and both verify
    first, second = repo.hashes[(AGENCY, "A1")], repo.hashes[(AGENCY, "A2")]
    assert first != second
    assert passwords.verify_password(first, "Same-pass-1") and passwords.verify_password(second, "Same-pass-1")


def test_a_refused_insert_raises_learner_exists_and_leaves_storage_unchanged() -> None:
    # Given a repository holding a learner with DOC ID A100
    repo = Repository()
    original = learner_creation.insert(build("A100"), "First-pass-1", repo)
    learners, hashes = dict(repo.learners), dict(repo.hashes)
    # When another learner with that DOC ID in the same agency is inserted, elsewhere, with another password
    newcomer = build("A100", location_id=OTHER_UNIT, facility_id=OTHER_FACILITY, first_name="Other")
    with pytest.raises(LearnerExists) as refused:
        learner_creation.insert(newcomer, "Second-pass-2", repo)
    # Then the refusal names the learner already there
    assert refused.value.existing == {"learnerId": original.learner_id, "facilityId": FACILITY, "locationId": UNIT}
    # And storage is as it was: the first learner and the first password's hash
    assert repo.learners == learners and repo.hashes == hashes
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], "First-pass-1")
    assert not passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Second-pass-2")


def test_the_same_doc_id_in_another_agency_is_inserted() -> None:
    # Given a learner A100 in one agency, When A100 is inserted for another agency, Then both are stored
    repo = Repository()
    learner_creation.insert(build("A100"), "First-pass-1", repo)
    learner_creation.insert(build("A100", agency_id="agency-south"), "Second-pass-2", repo)
    assert set(repo.learners) == {(AGENCY, "A100"), ("agency-south", "A100")}


def test_the_creation_audit_of_a_learner_made_by_hand(pinned: datetime) -> None:
    # Given a learner created by hand (no upload)
    learner = build()
    # When its audit entries are made
    [entry] = learner_creation.creation_audit(learner)
    # Then one entry, filed under its facility, says who created which learner where, by ids only
    assert (entry.scope, entry.actor, entry.action) == (FACILITY, "oak-admin", "LEARNER_CREATED")
    assert (entry.target_type, entry.target_id) == ("learner", learner.learner_id)
    assert (entry.agency_id, entry.facility_id, entry.at) == (AGENCY, FACILITY, NOW)
    assert entry.details == {"locationId": UNIT}
    assert entry.entry_id.startswith("2026-03-01T12:00:00.123456Z#")
    # And no name, date of birth or DOC ID is in it
    dumped = entry.model_dump_json()
    assert "Dee" not in dumped and "Lee" not in dumped and "01/02/1990" not in dumped and "A100" not in dumped


def test_unkeyed_audits_of_one_learner_get_distinct_ids(pinned: datetime) -> None:
    # Given the same learner's entries made twice without a key, Then each is a new entry
    learner = build()
    [first] = learner_creation.creation_audit(learner)
    [second] = learner_creation.creation_audit(learner)
    assert first.entry_id != second.entry_id


def test_the_creation_audit_of_a_learner_from_an_upload_is_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a learner from an upload, and the clock later than the part's time
    learner = build(upload_id="up-1")
    monkeypatch.setattr(clock, "utc_now", lambda: LATER)
    # When its audit entries are made at the part's time with the row's key, twice (a retried part)
    [first] = learner_creation.creation_audit(learner, at=NOW, key="up-1:0000002")
    [again] = learner_creation.creation_audit(learner, at=NOW, key="up-1:0000002")
    # Then both have the same id, sorted at the part's time and ending in the key: the retry overwrites
    assert first.entry_id == again.entry_id == "2026-03-01T12:00:00.123456Z#up-1:0000002"
    # And the details name the upload first, then the location
    assert first.details == {"uploadId": "up-1", "locationId": UNIT}
    assert list(first.details) == ["uploadId", "locationId"]
    assert (first.scope, first.actor, first.target_id) == (FACILITY, "oak-admin", learner.learner_id)


def test_the_stored_repository_is_the_default() -> None:
    # Given the module's defaults, Then insert goes to the stored tables unless given another repository
    assert isinstance(learner_creation.STORE, learner_creation.StoredLearners)
    assert learner_creation.insert.__defaults__ == (learner_creation.STORE,)


def test_the_stored_repository_inserts_once_and_refuses_a_second_doc_id(aws: object) -> None:
    # Given the deployed tables (moto) and a learner inserted through the module's default repository
    from intake.dal import learners as learner_store

    learner = build("S100")
    learner_creation.insert(learner, "Stored-pass-1")
    # When a second learner with that DOC ID is inserted
    with pytest.raises(LearnerExists):
        learner_creation.insert(build("S100", first_name="Other"), "Stored-pass-2")
    # Then the table holds the first learner, with the first password's Argon2id hash
    found = learner_creation.STORE.get_by_doc_id(AGENCY, "S100")
    assert found is not None and found.learner_id == learner.learner_id and found.first_name == "Dee"
    stored_hash = learner_store.stored_password_hash(AGENCY, "S100")
    assert stored_hash is not None and stored_hash.startswith("$argon2id$")
    assert passwords.verify_password(stored_hash, "Stored-pass-1")
    assert not passwords.verify_password(stored_hash, "Stored-pass-2")


# ------------------------------------------------------------------ usernames


def test_a_taken_username_moves_on_to_the_next_candidate() -> None:
    # Given a learner holding the username leed100 (Dee Lee, DOC ID A100) in the agency
    repo = Repository()
    first = learner_creation.insert(build("A100"), "First-pass-1", repo)
    # When learners whose names and DOC IDs give the same base are inserted (another agency's claim is separate)
    second = learner_creation.insert(build("B-A100"), "Second-pass-2", repo)
    third = learner_creation.insert(build("CA100"), "Third-pass-3", repo)
    elsewhere = learner_creation.insert(build("DA100", agency_id="agency-south"), "Other-pass-4", repo)
    # Then each gets the next free candidate of its agency, and every claim names its learner
    assert (first.username, second.username, third.username) == ("leed100", "leed1002", "leed1003")
    assert elsewhere.username == "leed100"
    assert repo.usernames[(AGENCY, "leed1002")] == second.learner_id
    assert repo.learners[(AGENCY, "B-A100")].username == "leed1002"


def test_a_learner_exists_refusal_is_not_retried_under_other_usernames() -> None:
    # Given a learner A100
    repo = Repository()
    learner_creation.insert(build("A100"), "First-pass-1", repo)
    writes = repo.writes
    # When A100 is inserted again, under another name and under the same (its username taken too)
    # Then LearnerExists comes from the first try each time, with no further attempts
    with pytest.raises(LearnerExists):
        learner_creation.insert(build("A100", first_name="Other"), "Second-pass-2", repo)
    with pytest.raises(LearnerExists):
        learner_creation.insert(build("A100"), "Second-pass-2", repo)
    assert repo.writes == writes + 2


def test_an_exhausted_candidate_list_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only two tries allowed and the first two candidates taken
    repo = Repository()
    monkeypatch.setattr(learner_creation, "USERNAME_TRIES", 2)
    learner_creation.insert(build("A100"), "First-pass-1", repo)
    learner_creation.insert(build("BA100"), "First-pass-1", repo)
    # When a third learner with the same base is inserted, Then it is refused and nothing is stored
    with pytest.raises(Conflict):
        learner_creation.insert(build("CA100"), "Third-pass-3", repo)
    assert (AGENCY, "CA100") not in repo.learners


def test_twenty_concurrent_creations_with_one_base_get_twenty_distinct_usernames() -> None:
    # Given 20 learners whose names and DOC IDs give the same username base, started together in threads
    repo = Repository()
    learners = [build(f"N{n:02d}0100") for n in range(20)]
    start = threading.Barrier(20)
    stored: list[Learner] = []
    failures: list[BaseException] = []

    def create(learner: Learner) -> None:
        start.wait()
        try:
            stored.append(learner_creation.insert(learner, "Race-pass-12", repo))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every creation succeeds, with 20 distinct usernames, each claimed by its own learner
    assert failures == [] and len(stored) == 20
    usernames = {learner.username for learner in stored}
    assert len(usernames) == 20 and "leed0100" in usernames
    assert {repo.usernames[(AGENCY, str(learner.username))] for learner in stored} == {x.learner_id for x in stored}


# ------------------------------------------------------------------ re-entry


def _inactive(repo: Repository, doc_id: str = "A100") -> Learner:
    learner_creation.insert(build(doc_id), "Old-pass-123", repo)
    key = (AGENCY, doc_id)
    repo.learners[key] = repo.learners[key].model_copy(update={"status": LearnerStatus.INACTIVE})
    return repo.learners[key]


def test_reactivating_elsewhere_records_a_move_then_the_reactivation(pinned: datetime) -> None:
    # Given an inactive learner at UNIT
    repo = Repository()
    existing = _inactive(repo)
    destination = repo.locations[OTHER_UNIT]
    # When it is reactivated at another facility's unit with a new password, from an upload
    back = learner_creation.reactivate(existing, destination, "New-pass-456", "pine-admin", "up-9", repo)
    # Then it is the same learner (id, username), active at the destination
    assert (back.learner_id, back.username, back.status) == (existing.learner_id, existing.username, "ACTIVE")
    assert (back.location_id, back.facility_id) == (OTHER_UNIT, OTHER_FACILITY)
    # And its history gains a MOVED entry then a REACTIVATED one, by the actor, from the upload, at NOW
    moved, reactivated = back.history[-2:]
    assert (moved.kind, moved.from_location_id, moved.to_location_id) == (HistoryKind.MOVED, UNIT, OTHER_UNIT)
    assert (reactivated.kind, reactivated.by, reactivated.upload_id, reactivated.at) == (
        HistoryKind.REACTIVATED,
        "pine-admin",
        "up-9",
        NOW,
    )
    # And only the new password verifies
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], "New-pass-456")
    assert not passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Old-pass-123")


def test_reactivating_in_place_records_only_the_reactivation() -> None:
    # Given an inactive learner at UNIT, When reactivated at UNIT, Then the history gains only REACTIVATED
    repo = Repository()
    existing = _inactive(repo)
    back = learner_creation.reactivate(existing, repo.locations[UNIT], "New-pass-456", "oak-admin", repository=repo)
    assert [entry.kind for entry in back.history] == [HistoryKind.REACTIVATED]


def test_an_active_learner_is_not_reactivated() -> None:
    # Given an active learner, When reactivated, Then it is a Conflict and its password is unchanged
    repo = Repository()
    active = learner_creation.insert(build("A100"), "Old-pass-123", repo)
    with pytest.raises(Conflict):
        learner_creation.reactivate(active, repo.locations[UNIT], "New-pass-456", "oak-admin", repository=repo)
    assert passwords.verify_password(repo.hashes[(AGENCY, "A100")], "Old-pass-123")


def test_the_reactivation_audit_is_filed_under_both_facilities_by_ids(pinned: datetime) -> None:
    # Given a learner reactivated at OTHER_UNIT from an upload, having left FACILITY
    learner = build("A100", location_id=OTHER_UNIT, facility_id=OTHER_FACILITY)
    # When its audit entries are made, keyed
    entries = learner_creation.reactivation_audit(
        learner, "pine-admin", upload_id="up-9", from_facility_id=FACILITY, at=NOW, key="up-9:0000001"
    )
    # Then one entry per facility, LEARNER_REACTIVATED by the actor, ids only
    assert [entry.scope for entry in entries] == [OTHER_FACILITY, FACILITY]
    assert {(e.action, e.actor, e.target_id) for e in entries} == {
        ("LEARNER_REACTIVATED", "pine-admin", learner.learner_id)
    }
    assert entries[0].details == {"uploadId": "up-9", "locationId": OTHER_UNIT}
    assert entries[0].entry_id == "2026-03-01T12:00:00.123456Z#up-9:0000001"
    assert "Dee" not in entries[0].model_dump_json()


def test_over_the_tables_twenty_concurrent_creations_get_twenty_distinct_usernames(aws: object) -> None:
    # Given the deployed tables (moto, each call atomic as on AWS) and 20 learners whose names and DOC IDs give the
    # same username base, inserted together from threads through the stored repository
    from intake.dal import learners as learner_store

    learners = [build(f"N{n:02d}0100") for n in range(20)]
    start = threading.Barrier(20)
    stored: list[Learner] = []
    failures: list[BaseException] = []

    def create(learner: Learner) -> None:
        start.wait()
        try:
            stored.append(learner_creation.insert(learner, "Race-pass-12"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then all 20 succeed with 20 distinct usernames, and each stored learner has the username it was given
    assert failures == [] and len(stored) == 20
    assert len({learner.username for learner in stored}) == 20
    for learner in stored:
        found = learner_store.get_by_id(learner.learner_id)
        assert found is not None and found.username == learner.username
