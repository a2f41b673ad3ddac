"""intake.dal.learners: one learner per (agency, DOC ID) by a conditional put; moves conditional on where the learner
was seen; storage failures wrapped into StorageUnavailable with nothing changed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from bench.dynamo import READS, CountingClient
from intake.dal import learners
from intake.dal.tables import LearnerItem, UsernameItem
from intake.domain import (
    HistoryEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    Location,
    LocationKind,
    history_entry,
    move_of,
)
from intake.errors import Conflict, LearnerExists, StorageUnavailable, UsernameTaken, ValidationFailed

FAULTED = ("LearnerItem",)  # UsernameItem shares its client

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
UNIT = LocationKind.HOUSING_UNIT
RIDGE_A = Location(location_id="unit-a", name="A", agency_id="ag", facility_id="fac-ridge", kind=UNIT)
LAKE_B = Location(location_id="unit-b", name="B", agency_id="ag", facility_id="fac-lake", kind=UNIT)


def _learner(doc_id: str = "D100", learner_id: str = "L-1", agency_id: str = "ag", **changes) -> Learner:
    fields = {
        "learner_id": learner_id,
        "agency_id": agency_id,
        "doc_id": doc_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "12/10/1990",
        "location_id": RIDGE_A.location_id,
        "facility_id": RIDGE_A.facility_id,
        "created_at": AT,
        "created_by": "ridge",
        "upload_id": "up-1",
        "username": f"lovelacea{doc_id[-4:].lower()}",
    }
    return Learner(**{**fields, **changes})


def _as_stored(learner: Learner) -> Learner:
    """The learner as the DAL reads it back: updatedAt filled, and its history starting with its creation."""
    created = HistoryEntry(
        kind=HistoryKind.CREATED, at=learner.created_at, by=learner.created_by, upload_id=learner.upload_id
    )
    return learner.model_copy(update={"updated_at": learner.created_at, "history": (created, *learner.history)})


def _stored(agency_id: str, doc_id: str) -> dict | None:
    """The item as DynamoDB holds it (typed attribute values), or None."""
    return LearnerItem._get_connection().get_item(agency_id, doc_id, consistent_read=True).get("Item")


def test_an_inserted_learner_is_stored_and_read_back_as_the_same_learner(aws):
    # Given a new learner
    learner = _learner()
    # When it is inserted
    returned = learners.insert_learner(learner, "argon2id$hash")
    # Then it is returned, read back equal by DOC ID and by id, its hash kept apart from the domain object
    assert returned == _as_stored(learner)
    assert learners.get_by_doc_id("ag", "D100") == returned
    assert learners.get_by_id("L-1") == returned
    assert learners.stored_password_hash("ag", "D100") == "argon2id$hash"
    assert _stored("ag", "D100")["version"] == {"N": "1"}


def test_inserting_an_existing_doc_id_raises_learner_exists_and_leaves_the_stored_learner_unchanged(aws):
    # Given a learner stored with DOC ID D100
    learners.insert_learner(_learner(), "first-hash")
    before = _stored("ag", "D100")
    # When another learner with the same DOC ID in the same agency is inserted
    with pytest.raises(LearnerExists) as raised:
        learners.insert_learner(_learner(learner_id="L-2", first_name="Bob", location_id="unit-b"), "second-hash")
    # Then it is refused naming the existing learner, and the stored one is exactly as it was
    assert raised.value.existing == {"learnerId": "L-1", "facilityId": "fac-ridge", "locationId": "unit-a"}
    assert _stored("ag", "D100") == before
    assert learners.stored_password_hash("ag", "D100") == "first-hash"
    assert learners.get_by_id("L-2") is None


def test_a_learner_of_another_role_keeps_it(aws):
    # Given a learner whose role is not the default one
    learner = _learner(role="Mentor")
    # When it is inserted and read back
    learners.insert_learner(learner, "h1")
    # Then its role is kept
    assert learners.get_by_doc_id("ag", "D100").role == "Mentor"
    assert _stored("ag", "D100")["role"] == {"S": "Mentor"}


def test_the_same_doc_id_in_another_agency_is_another_learner(aws):
    # Given a learner with DOC ID D100 in agency ag
    learners.insert_learner(_learner(), "h1")
    # When a learner with the same DOC ID is inserted in agency other
    learners.insert_learner(_learner(agency_id="other", learner_id="L-9"), "h2")
    # Then both exist, each in its own agency
    assert learners.get_by_doc_id("ag", "D100").learner_id == "L-1"
    assert learners.get_by_doc_id("other", "D100").learner_id == "L-9"


def test_an_insert_refused_for_a_doc_id_deleted_meanwhile_is_a_conflict(aws, monkeypatch):
    # Given a stored DOC ID that is gone by the time the refusal is explained
    learners.insert_learner(_learner(), "h1")
    monkeypatch.setattr(learners, "get_by_doc_id", lambda agency_id, doc_id: None)
    # When the same DOC ID is inserted again
    with pytest.raises(Conflict) as raised:
        learners.insert_learner(_learner(learner_id="L-2"), "h2")
    # Then it is still a refusal (a Conflict, not a LearnerExists), and nothing was overwritten
    assert not isinstance(raised.value, LearnerExists)
    assert raised.value.message == "The DOC ID changed while saving; try again"
    assert _stored("ag", "D100")["learnerId"] == {"S": "L-1"}


def test_a_throttled_insert_is_storage_unavailable_and_stores_nothing(aws, refuse):
    # Given DynamoDB throttling every put of a learner (its username claim, an update, goes before it)
    rule = refuse("dynamodb", "PutItem", "ProvisionedThroughputExceededException")
    # When a learner is inserted
    with pytest.raises(StorageUnavailable) as raised:
        learners.insert_learner(_learner(), "h1")
    # Then the domain error says what failed, botocore retried first, and no learner is stored
    assert raised.value.message == "Could not save the learner right now; try again in a moment"
    assert rule.fired > 1
    assert _stored("ag", "D100") is None


def test_reads_of_missing_learners_are_none(aws):
    # Given no learner
    # When it is read by DOC ID, by id, and its hash
    # Then each answer is None
    assert learners.get_by_doc_id("ag", "nobody") is None
    assert learners.get_by_id("L-none") is None
    assert learners.stored_password_hash("ag", "nobody") is None


def test_get_by_id_of_an_index_entry_whose_learner_is_gone_is_none(aws, monkeypatch):
    # Given the byLearnerId index still naming a learner that has just been deleted
    learners.insert_learner(_learner(), "h1")
    key = next(iter(LearnerItem.by_learner_id.query("L-1", limit=1)))
    LearnerItem(agencyId="ag", docId="D100").delete()
    monkeypatch.setattr(LearnerItem.by_learner_id, "query", lambda *args, **kwargs: iter([key]))
    # When the learner is read by id
    # Then it is absent, not an error
    assert learners.get_by_id("L-1") is None


def test_a_read_refused_by_storage_is_storage_unavailable(aws, refuse):
    # Given DynamoDB refusing reads of the learners table
    refuse("dynamodb", "GetItem", "AccessDeniedException", table="LearnersTable")
    # When a learner is read
    # Then the failure is the domain's
    with pytest.raises(StorageUnavailable, match="Could not read the learner"):
        learners.get_by_doc_id("ag", "D100")


def test_find_by_doc_ids_reads_many_doc_ids_in_batches_of_one_hundred(aws, faults):
    # Given 130 learners of agency ag and one of another agency
    with faults.disarmed():
        with LearnerItem.batch_write() as batch:
            for n in range(130):
                batch.save(learners._item(_learner(doc_id=f"D{n:03}", learner_id=f"L-{n}"), "h"))
        learners.insert_learner(_learner(doc_id="D000", agency_id="other", learner_id="L-x"), "h")
    wanted = [f"D{n:03}" for n in range(0, 150, 1)] + ["D000", "D001"]
    # When 150 distinct DOC IDs (two given twice, 20 unknown) are looked up
    found = learners.find_by_doc_ids("ag", wanted)
    # Then the 130 known ones come back as learners of agency ag, in two batch requests
    assert set(found) == {f"D{n:03}" for n in range(130)}
    assert found["D000"].learner_id == "L-0"
    assert all(learner.agency_id == "ag" for learner in found.values())
    assert faults.calls[("dynamodb", "BatchGetItem")] == 2


def test_find_by_doc_ids_from_the_planners_look_up_threads_answers_as_in_the_calling_thread(aws, faults):
    # Given 300 learners of agency ag
    from intake.bulk.planning import LOOKUPS_IN_FLIGHT, lookup_pool

    with faults.disarmed(), LearnerItem.batch_write() as batch:
        for n in range(300):
            batch.save(learners._item(_learner(doc_id=f"D{n:03}", learner_id=f"L-{n}"), "h"))
    windows = [[f"D{n:03}" for n in range(start, start + 100)] + [f"X{start}"] for start in (0, 100, 200)]
    # When three windows of DOC IDs (one unknown each) are looked up at once in the planner's look-up threads
    answers = [lookup_pool().submit(learners.find_by_doc_ids, "ag", doc_ids) for doc_ids in windows]
    found = [answer.result(timeout=60) for answer in answers]
    # Then each answer is the one the calling thread gets, and each window was its own batch request (101 keys: two)
    assert LOOKUPS_IN_FLIGHT >= 2
    assert found == [learners.find_by_doc_ids("ag", doc_ids) for doc_ids in windows]
    assert [sorted(one) for one in found] == [sorted(doc_ids[:-1]) for doc_ids in windows]
    assert faults.calls[("dynamodb", "BatchGetItem")] == 2 * 3 * 2


def test_a_look_up_refused_by_storage_in_a_look_up_thread_is_storage_unavailable(aws, refuse):
    # Given DynamoDB refusing batch reads of the learners table
    from intake.bulk.planning import lookup_pool

    refuse("dynamodb", "BatchGetItem", "ProvisionedThroughputExceededException")
    # When DOC IDs are looked up in the planner's look-up threads
    answer = lookup_pool().submit(learners.find_by_doc_ids, "ag", ["D100"])
    # Then the caller that waits for the answer gets the domain's error, as it would in its own thread
    with pytest.raises(StorageUnavailable, match="Could not look up DOC IDs"):
        answer.result(timeout=60)


def test_find_by_no_doc_ids_makes_no_request(aws, faults):
    # Given nothing to look up
    # When the lookup runs
    # Then the answer is empty and DynamoDB was not called
    assert learners.find_by_doc_ids("ag", []) == {}
    assert faults.calls[("dynamodb", "BatchGetItem")] == 0


def test_a_move_returns_the_moved_learner_with_its_history(aws):
    # Given a learner at ridge's unit A
    learner = learners.insert_learner(_learner(), "h1")
    move = move_of(learner, LAKE_B, AT, "north", "up-2")
    # When it is moved to lake's unit B
    moved = learners.move_learner(learner, LAKE_B, move)
    # Then the returned and the stored learner are at unit B with the move in their history, one version on
    assert (moved.location_id, moved.facility_id) == ("unit-b", "fac-lake")
    assert moved.history[1:] == (move,) and moved.history[0].kind is HistoryKind.CREATED
    assert learners.get_by_doc_id("ag", "D100") == moved
    assert moved.history[1].from_location_id == "unit-a"
    assert moved.updated_at == AT and moved.version == 2
    assert _stored("ag", "D100")["version"] == {"N": "2"}
    assert learners.stored_password_hash("ag", "D100") == "h1"


def test_a_second_move_appends_to_the_history(aws):
    # Given a learner moved once
    learner = learners.insert_learner(_learner(), "h1")
    first = learners.move_learner(learner, LAKE_B, move_of(learner, LAKE_B, AT, "north"))
    # When it is moved back
    second = learners.move_learner(first, RIDGE_A, move_of(first, RIDGE_A, AT, "north"))
    # Then both moves are in its history, in order
    assert [m.to_location_id for m in second.history[1:]] == ["unit-b", "unit-a"]
    assert learners.get_by_doc_id("ag", "D100").history == second.history


def test_a_move_of_a_learner_seen_at_its_old_location_is_a_conflict_and_changes_nothing(aws):
    # Given a learner seen at unit A, then moved to unit B by someone else
    seen = learners.insert_learner(_learner(), "h1")
    learners.move_learner(seen, LAKE_B, move_of(seen, LAKE_B, AT, "north"))
    before = _stored("ag", "D100")
    # When the stale copy (still at unit A) is moved to unit B
    with pytest.raises(Conflict, match="moved or changed by someone else"):
        learners.move_learner(seen, LAKE_B, move_of(seen, LAKE_B, AT, "ridge"))
    # Then the stored learner is exactly as the first move left it
    assert _stored("ag", "D100") == before


def test_a_move_of_another_learner_under_the_same_doc_id_is_a_conflict_and_changes_nothing(aws):
    # Given a learner L-1 stored with DOC ID D100, and a copy claiming id L-other at the same place
    learners.insert_learner(_learner(), "h1")
    before = _stored("ag", "D100")
    impostor = _learner(learner_id="L-other")
    # When that copy is moved
    with pytest.raises(Conflict):
        learners.move_learner(impostor, LAKE_B, move_of(impostor, LAKE_B, AT, "ridge"))
    # Then the stored learner did not move
    assert _stored("ag", "D100") == before


def test_a_move_of_a_learner_that_does_not_exist_is_a_conflict_and_creates_nothing(aws):
    # Given no learner D404
    ghost = _learner(doc_id="D404")
    # When it is moved
    with pytest.raises(Conflict):
        learners.move_learner(ghost, LAKE_B, move_of(ghost, LAKE_B, AT, "ridge"))
    # Then no item was created by the update
    assert _stored("ag", "D404") is None


def test_a_move_refused_by_storage_is_storage_unavailable_and_changes_nothing(aws, refuse):
    # Given a stored learner, and DynamoDB denying updates of the learners table
    learner = learners.insert_learner(_learner(), "h1")
    before = _stored("ag", "D100")
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="LearnersTable")
    # When it is moved
    with pytest.raises(StorageUnavailable, match="Could not move the learner"):
        learners.move_learner(learner, LAKE_B, move_of(learner, LAKE_B, AT, "north"))
    # Then it is where it was
    assert _stored("ag", "D100") == before


def test_replace_password_hash_sets_the_hash_of_a_learner_of_that_upload(aws):
    # Given a learner created by upload up-1
    learners.insert_learner(_learner(), "lost-hash")
    # When its hash is replaced on behalf of up-1
    learners.replace_password_hash("ag", "D100", "up-1", "new-hash")
    # Then the new hash is stored, nothing else changed
    assert learners.stored_password_hash("ag", "D100") == "new-hash"
    assert learners.get_by_doc_id("ag", "D100") == _as_stored(_learner())


def test_replace_password_hash_for_another_upload_changes_nothing(aws):
    # Given a learner created by upload up-1
    learners.insert_learner(_learner(), "kept-hash")
    # When upload up-2 tries to replace its hash, and someone tries it for a learner that does not exist
    # Then each is refused (today as a storage failure) and no hash is changed or created
    with pytest.raises(StorageUnavailable):
        learners.replace_password_hash("ag", "D100", "up-2", "stolen-hash")
    with pytest.raises(StorageUnavailable):
        learners.replace_password_hash("ag", "D404", "up-1", "ghost-hash")
    assert learners.stored_password_hash("ag", "D100") == "kept-hash"
    assert _stored("ag", "D404") is None


def test_a_stale_move_says_to_reload(aws):
    # Given a learner moved by someone else since it was read
    seen = learners.insert_learner(_learner(), "h1")
    learners.move_learner(seen, LAKE_B, move_of(seen, LAKE_B, AT, "north"))
    # When the stale copy is moved
    with pytest.raises(Conflict) as raised:
        learners.move_learner(seen, LAKE_B, move_of(seen, LAKE_B, AT, "ridge"))
    # Then the message is the one the page shows
    assert raised.value.message == "The learner was moved or changed by someone else meanwhile; reload and try again"


RESET = "reset the learner's password"


@pytest.mark.parametrize(
    ("operation", "call", "what"),
    [
        ("Query", lambda: learners.get_by_id("L-1"), "read the learner"),
        ("GetItem", lambda: learners.stored_password_hash("ag", "D100"), "read the learner"),
        ("BatchGetItem", lambda: learners.find_by_doc_ids("ag", ["D100"]), "look up DOC IDs"),
        ("UpdateItem", lambda: learners.replace_password_hash("ag", "D100", "up-1", "h2"), RESET),
        (
            "Query",
            lambda: learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None),
            "list the learners",
        ),
        (
            "Query",
            lambda: learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "ada", None, 5),
            "search the learners",
        ),
        (
            "UpdateItem",
            lambda: learners.set_password_hash(_learner(), "h2", history_entry(HistoryKind.PASSWORD_RESET, AT, "x")),
            RESET,
        ),
        (
            "UpdateItem",
            lambda: learners.set_status(
                _learner(), LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "x")
            ),
            "change the learner's status",
        ),
    ],
    ids=[
        "get_by_id",
        "stored_password_hash",
        "find_by_doc_ids",
        "replace_password_hash",
        "list_roster",
        "search_roster",
        "set_password_hash",
        "set_status",
    ],
)
def test_each_failure_names_what_could_not_be_done(aws, faults, refuse, operation, call, what):
    # Given a stored learner, and DynamoDB throttling one kind of call
    learners.insert_learner(_learner(), "h1")
    refuse("dynamodb", operation, "ProvisionedThroughputExceededException")
    # When the call is made
    with pytest.raises(StorageUnavailable) as raised:
        call()
    # Then the domain error names it, and the stored hash is the one it had
    assert raised.value.message == f"Could not {what} right now; try again in a moment"
    with faults.disarmed():
        assert _stored("ag", "D100")["passwordHash"] == {"S": "h1"}


def test_reads_by_key_are_strongly_consistent(aws):
    # Given a stored learner, and the requests the learners client makes recorded
    learners.insert_learner(_learner(), "h1")
    seen: list[tuple[str, object]] = []

    def record(params, model, **_):
        seen.append((model.name, params.get("ConsistentRead")))

    events = LearnerItem._get_connection().connection.client.meta.events
    events.register("provide-client-params.dynamodb.GetItem", record, unique_id="record-get")
    try:
        # When it is read by DOC ID, by id, and for its hash
        learners.get_by_doc_id("ag", "D100")
        learners.get_by_id("L-1")
        learners.stored_password_hash("ag", "D100")
    finally:
        events.unregister("provide-client-params.dynamodb.GetItem", unique_id="record-get")
    # Then each item read asked for a consistent read (a learner just written is seen)
    assert seen == [("GetItem", True)] * 3


def test_get_by_id_asks_the_index_for_one_entry(aws):
    # Given a stored learner, and the index queries of the learners client recorded
    learners.insert_learner(_learner(), "h1")
    limits: list[object] = []

    def record(params, **_):
        limits.append((params.get("IndexName"), params.get("Limit")))

    events = LearnerItem._get_connection().connection.client.meta.events
    events.register("provide-client-params.dynamodb.Query", record, unique_id="record-query")
    try:
        # When it is read by id
        found = learners.get_by_id("L-1")
    finally:
        events.unregister("provide-client-params.dynamodb.Query", unique_id="record-query")
    # Then one query of the byLearnerId index, for one entry, found it
    assert found is not None
    assert limits == [("byLearnerId", 1)]


# ------------------------------------------------------------------ usernames


def test_a_username_held_by_another_learner_is_refused_and_nothing_is_stored(aws):
    # Given Ada (D100) holding lovelacead100
    learners.insert_learner(_learner(), "h1")
    # When another learner of the agency is stored with that username
    with pytest.raises(UsernameTaken):
        learners.insert_learner(_learner("E0100", "L-2", username="lovelacead100"), "h2")
    # Then neither that learner nor a second claim exists
    assert learners.get_by_doc_id("ag", "E0100") is None
    assert [c.learnerId for c in UsernameItem.query("ag")] == ["L-1"]


def test_an_existing_doc_id_is_learner_exists_even_when_the_username_is_taken_too(aws):
    # Given Ada stored, and a retry of her creation under a new id with the same username
    learners.insert_learner(_learner(), "h1")
    # When it is stored
    with pytest.raises(LearnerExists) as raised:
        learners.insert_learner(_learner(learner_id="L-9"), "h2")
    # Then the answer is the existing learner (trying another username would not help)
    assert raised.value.existing["learnerId"] == "L-1"


def test_the_same_username_in_another_agency_is_another_claim(aws):
    learners.insert_learner(_learner(), "h1")
    other = learners.insert_learner(_learner(agency_id="south", learner_id="L-2"), "h2")
    assert other.username == "lovelacead100" and len(list(UsernameItem.scan())) == 2


# ------------------------------------------------------------------ status, edit, password, reactivation

LATER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_deactivation_moves_the_learner_to_the_inactive_roster_once(aws):
    # Given an active learner
    learner = learners.insert_learner(_learner(), "h1")
    entry = history_entry(HistoryKind.DEACTIVATED, LATER, "ridge")
    # When it is deactivated, twice
    first = learners.set_status(learner, LearnerStatus.INACTIVE, entry)
    again = learners.set_status(learner, LearnerStatus.INACTIVE, entry)
    # Then the first changed it (history, version, updatedAt), the second wrote nothing
    assert first is not None and first.status is LearnerStatus.INACTIVE
    assert first.history[-1] == entry and first.version == 2 and first.updated_at == LATER
    assert again is None and learners.get_by_doc_id("ag", "D100") == first
    # And it is listed under INACTIVE only
    assert learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None) == ([], None)
    assert learners.list_roster("fac-ridge", (LearnerStatus.INACTIVE,), None, 50, None)[0] == [first]


def test_a_status_change_of_a_learner_moved_meanwhile_is_a_conflict(aws):
    learner = learners.insert_learner(_learner(), "h1")
    learners.move_learner(learner, LAKE_B, move_of(learner, LAKE_B, AT, "north"))
    with pytest.raises(Conflict):
        learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, LATER, "x"))
    assert learners.get_by_doc_id("ag", "D100").status is LearnerStatus.ACTIVE


def test_an_edit_renames_the_learner_and_resorts_it_and_a_stale_edit_is_a_conflict(aws):
    # Given Ada Lovelace and Bea Byron
    ada = learners.insert_learner(_learner(), "h1")
    learners.insert_learner(_learner("D200", "L-2", first_name="Bea", last_name="Byron"), "h2")
    entry = history_entry(HistoryKind.EDITED, LATER, "ridge", fields=("lastName",))
    # When Ada's last name becomes Ámes
    edited = learners.update_details(ada, LearnerEdit(last_name="Ámes"), entry, None)
    # Then she is stored renamed, one version on, the edit in her history (field names only), sorted first
    assert (edited.last_name, edited.version, edited.history[-1].fields) == ("Ámes", 2, ("lastName",))
    page, _ = learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None)
    assert [p.last_name for p in page] == ["Ámes", "Byron"]
    assert [p.doc_id for p in learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "ames", None, 10)] == [
        "D100"
    ]
    # And an edit made from the old version is refused, changing nothing
    with pytest.raises(Conflict):
        learners.update_details(ada, LearnerEdit(first_name="Eve"), entry, None)
    assert learners.get_by_doc_id("ag", "D100") == edited


def test_a_password_reset_replaces_the_hash_and_records_no_secret(aws):
    learner = learners.insert_learner(_learner(), "old-hash")
    entry = history_entry(HistoryKind.PASSWORD_RESET, LATER, "ridge")
    reset = learners.set_password_hash(learner, "new-hash", entry)
    assert learners.stored_password_hash("ag", "D100") == "new-hash"
    assert reset.history[-1] == entry and "hash" not in str(_stored("ag", "D100")["history"])


def test_a_reactivation_brings_an_inactive_learner_back_elsewhere_with_a_new_hash(aws):
    # Given a deactivated learner at ridge
    learner = learners.insert_learner(_learner(), "old-hash")
    inactive = learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    assert inactive is not None
    entries = [move_of(inactive, LAKE_B, LATER, "lake"), history_entry(HistoryKind.REACTIVATED, LATER, "lake")]
    # When it is reactivated at lake's unit B by an upload
    back = learners.reactivate(inactive, LAKE_B, "new-hash", entries, upload_id="up-9")
    # Then it is active there, same id and username, both entries recorded, and the upload may replace its hash
    assert (back.status, back.facility_id, back.learner_id, back.username) == (
        LearnerStatus.ACTIVE,
        "fac-lake",
        "L-1",
        "lovelacead100",
    )
    assert [e.kind for e in back.history] == [
        HistoryKind.CREATED,
        HistoryKind.DEACTIVATED,
        HistoryKind.MOVED,
        HistoryKind.REACTIVATED,
    ]
    learners.replace_password_hash("ag", "D100", "up-9", "retried-hash")
    assert learners.stored_password_hash("ag", "D100") == "retried-hash"
    # And reactivating it again is a conflict (it is not inactive)
    with pytest.raises(Conflict):
        learners.reactivate(back, LAKE_B, "h", entries)


# ------------------------------------------------------------------ roster and search


def _many(count: int, facility: Location = RIDGE_A, status: LearnerStatus = LearnerStatus.ACTIVE) -> None:
    """`count` learners stored in one batch write (the computed keys as insert_learner writes them)."""
    with LearnerItem.batch_write() as batch:
        for i in range(count):
            learner = _learner(
                f"D{i:05d}",
                f"L-{i}",
                first_name=FIRSTS[i % len(FIRSTS)],
                last_name=f"{LASTS[i % len(LASTS)]}{chr(97 + i // 100 % 26)}{chr(97 + i % 26)}",
                location_id=facility.location_id,
                facility_id=facility.facility_id,
                status=status,
                username=f"user{i:05d}",
            )
            batch.save(learners._item(learner, "h"))


FIRSTS = ("Ada", "José", "Zoë", "Bea")
LASTS = ("Núñez", "Smith", "O'Neil", "Lee")


def test_a_roster_is_paged_by_name_each_learner_once_with_an_opaque_cursor(aws):
    # Given 120 active learners at ridge, 30 inactive
    _many(120)
    with LearnerItem.batch_write() as batch:
        for i in range(30):
            batch.save(learners._item(_learner(f"X{i:03d}", f"LX-{i}", status=LearnerStatus.INACTIVE), "h"))
    # When the active ones are listed 50 at a time
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, cursor)
        seen += page
        pages += 1
        if cursor is None:
            break
        assert "fac-ridge" not in cursor and "{" not in cursor
    # Then every active learner comes once, sorted by last then first name (accents ignored)
    assert len(seen) == 120 and len({s.learner_id for s in seen}) == 120 and pages == 3
    keys = [learners.name_keys(s.first_name, s.last_name, s.doc_id)["nameKey"] for s in seen]
    assert keys == sorted(keys)
    # And ALL merges both partitions in name order, each once
    everyone, cursor = [], None
    while True:
        page, cursor = learners.list_roster(
            "fac-ridge", (LearnerStatus.ACTIVE, LearnerStatus.INACTIVE), None, 40, cursor
        )
        everyone += page
        if cursor is None:
            break
    keys = [learners.name_keys(s.first_name, s.last_name, s.doc_id)["nameKey"] for s in everyone]
    assert len(everyone) == 150 and len(set(keys)) == 150 and keys == sorted(keys)


def test_a_housing_unit_filter_lists_only_that_unit(aws):
    _many(5)
    _many(3, RIDGE_B_UNIT)
    page, _ = learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), "unit-b2", 50, None)
    assert len(page) == 3 and {p.location_id for p in page} == {"unit-b2"}


RIDGE_B_UNIT = Location(location_id="unit-b2", name="B2", agency_id="ag", facility_id="fac-ridge", kind=UNIT)


def _cursor_of(positions: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(positions).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !!",
        _cursor_of({"fac-lake#ACTIVE": {}}),  # another facility
        _cursor_of({"fac-ridge#INACTIVE": {}}),  # another status
        _cursor_of(
            {"fac-ridge#ACTIVE": {"agencyId": "ag", "docId": "D1", "roster": "fac-lake#ACTIVE", "nameKey": "a"}}
        ),
        _cursor_of({"fac-ridge#ACTIVE": {"agencyId": 1, "docId": "D1", "roster": "fac-ridge#ACTIVE", "nameKey": "a"}}),
        _cursor_of(["fac-ridge#ACTIVE"]),
    ],
    ids=["garbage", "other-facility", "other-status", "key-of-another-roster", "typed-wrong", "not-a-map"],
)
def test_a_cursor_not_made_for_this_facility_and_status_is_invalid(aws, cursor):
    with pytest.raises(ValidationFailed) as raised:
        learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, cursor)
    assert [e.field for e in raised.value.errors] == ["cursor"]


def test_searches_find_by_doc_id_name_first_last_and_username_ignoring_case_and_accents(aws):
    # Given José Núñez (D00001, username nunezj0001) and others, one of them inactive
    jose = learners.insert_learner(
        _learner("D00001", "L-J", first_name="José", last_name="Núñez", username="nunezj0001"), "h"
    )
    learners.insert_learner(_learner("D00002", "L-N", first_name="Nora", last_name="Nunn", username="nunnn0002"), "h")
    learners.insert_learner(_learner("Q77", "L-Q", first_name="Jo", last_name="Quay", username="quayj0077"), "h")
    active = (LearnerStatus.ACTIVE,)

    def found(q: str) -> list[str]:
        return [x.learner_id for x in learners.search_roster("fac-ridge", active, q, None, 10)]

    # Then each kind of prefix finds its learners, sorted by name
    assert found("d0000") == ["L-J", "L-N"]  # DOC ID prefix
    assert found("NUÑE") == ["L-J"]  # last name, accents and case ignored
    assert found("jose nu") == ["L-J"]  # "first last"
    assert found("nunezj00") == ["L-J"]  # username
    assert found("Nu") == ["L-J", "L-N"]
    assert found("jo") == ["L-J", "L-Q"]  # first names
    assert found("zz") == []
    assert learners.search_roster("fac-ridge", active, "José", None, 10) == [jose]
    assert learners.search_roster("fac-lake", active, "jose", None, 10) == []


def test_a_page_of_50_of_5000_is_one_request_and_each_search_at_most_three(aws):
    # Given a facility of 5,000 active learners
    _many(5000)
    counter = CountingClient()
    active = (LearnerStatus.ACTIVE,)
    with counter.installed():
        # When a page of 50, the next page, and a search of each kind are read
        page, cursor = learners.list_roster("fac-ridge", active, None, 50, None)
        first_page = counter.total(READS)
        learners.list_roster("fac-ridge", active, None, 50, cursor)
        next_page = counter.total(READS) - first_page
        counts = {}
        for q in ("D0012", "smith", "jose smi", "user0012"):
            before = counter.total(READS)
            results = learners.search_roster("fac-ridge", active, q, None, 50)
            counts[q] = (counter.total(READS) - before, len(results))
    # Then a page is one Query, and a search at most three (what it finds is right)
    assert (first_page, next_page, len(page)) == (1, 1, 50)
    assert counts["D0012"] == (2, 10)  # DOC ID begins_with, and the username check on the (empty) letters "d"
    assert counts["smith"][0] == 3 and counts["smith"][1] == 50
    assert counts["jose smi"][0] == 3 and counts["jose smi"][1] > 0
    assert counts["user0012"][0] == 2
    assert all(count <= 3 for count, _ in counts.values())


def test_a_whole_roster_is_every_learner_of_the_facility_of_those_statuses_in_few_requests(aws):
    # Given 120 active learners at ridge, 30 inactive, and one at lake
    _many(120)
    with LearnerItem.batch_write() as batch:
        for i in range(30):
            batch.save(learners._item(_learner(f"X{i:03d}", f"LX-{i}", status=LearnerStatus.INACTIVE), "h"))
    learners.insert_learner(_learner("Z999", "LZ", location_id=LAKE_B.location_id, facility_id="fac-lake"), "h")
    # When the whole roster is read, and then only its active part
    every = list(learners.whole_roster("fac-ridge", (LearnerStatus.ACTIVE, LearnerStatus.INACTIVE)))
    active = list(learners.whole_roster("fac-ridge", (LearnerStatus.ACTIVE,)))
    # Then each learner of those statuses comes once, none of another facility, and no hash is read
    assert len(every) == 150 and len({one.learner_id for one in every}) == 150
    assert {one.facility_id for one in every} == {"fac-ridge"} and "LZ" not in {one.learner_id for one in every}
    assert len(active) == 120 and {one.status for one in active} == {LearnerStatus.ACTIVE}


# ------------------------------------------------------------------ a sync's roster (issue 17)


def test_active_roster_yields_the_facilitys_active_learners_compactly_with_their_versions(aws):
    from intake.domain import RosterLearner

    # Given two active learners of ridge (one moved once: version 2), an inactive one, and one at lake
    learners.insert_learner(_learner("D1", "L-1"), "hash")
    moved = learners.insert_learner(_learner("D2", "L-2", location_id="unit-lake", facility_id="fac-lake"), "hash")
    learners.move_learner(moved, RIDGE_A, move_of(moved, RIDGE_A, AT, "ridge"))
    gone = learners.insert_learner(_learner("D3", "L-3"), "hash")
    learners.set_status(gone, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "ridge"))
    learners.insert_learner(_learner("D4", "L-4", location_id="unit-b", facility_id="fac-lake"), "hash")
    # When ridge's active roster is read, its requests counted
    counter = CountingClient()
    with counter.installed():
        roster = list(learners.active_roster("fac-ridge"))
    # Then exactly the two active ones, as RosterLearner tuples with the stored versions, in one Query
    assert sorted(roster) == [
        RosterLearner("D1", "L-1", "unit-a", "Ada", "Lovelace", "12/10/1990", 1),
        RosterLearner("D2", "L-2", "unit-a", "Ada", "Lovelace", "12/10/1990", 2),
    ]
    assert counter.total(READS) == 1
    # And repeated values are one string each (a 200,000-learner roster stays small)
    assert roster[0].first_name is roster[1].first_name and roster[0].location_id is roster[1].location_id


def test_an_active_roster_refused_by_storage_is_storage_unavailable(aws, refuse):
    # Given DynamoDB refusing Queries of the learners table
    refuse("dynamodb", "Query", "AccessDeniedException", table="LearnersTable")
    # When a roster is read, Then the failure is the domain's
    with pytest.raises(StorageUnavailable, match="Could not read the facility's learners"):
        list(learners.active_roster("fac-ridge"))
