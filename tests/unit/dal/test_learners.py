"""intake.dal.learners: one learner per (agency, DOC ID) by a conditional put; moves conditional on where the learner
was seen; storage failures wrapped into StorageUnavailable with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.dal import learners
from intake.dal.tables import LearnerItem
from intake.domain import HistoryEntry, HistoryKind, Learner, Location, LocationKind, move_of
from intake.errors import Conflict, LearnerExists, StorageUnavailable

FAULTED = ("LearnerItem",)

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
    # Given DynamoDB throttling every write transaction (the learner and its username claim are one)
    rule = refuse("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException")
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
    ],
    ids=["get_by_id", "stored_password_hash", "find_by_doc_ids", "replace_password_hash"],
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
