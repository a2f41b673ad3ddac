"""Creating an upload's plan (intake.bulk.creation) end to end in moto, what its mutants showed unchecked (issue 21):
the confirm's audit entry and fan-out, parts of 50 rows and the hand-back at the margin, each part's counts and
results, the final status, results.csv with and without passwords, the clean-up, and a failed creation's report.
v1 plans (CREATE and MOVE) only; apply_entry's row outcomes are in test_creation.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import boto3

from intake import passwords
from intake.bulk import creation, keys, lifecycle
from intake.bulk.types import CREATE, MOVE, ExistingLearner, PlanEntry, plan_chunk_json
from intake.dal import audit as audit_store
from intake.dal import keys as key_store
from intake.dal import learners, objects
from intake.dal import uploads as upload_store
from intake.domain import Learner, Upload, UploadStatus
from intake.observability import metrics
from intake.settings import get_settings
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A2
from tests.log_capture import cloudwatch_lines
from tests.unit.upload_support import creation_messages

S = UploadStatus
PLENTY = 10**6  # milliseconds left: never hand back


def _entry(line: int, doc_id: str, *, location_id: str = UNIT_A1, sealed: str | None = None) -> PlanEntry:
    return PlanEntry(
        line, f"r{line}", CREATE, doc_id, "Dee", "Lee", "01/02/1990", location_id, FAC_A1, AGENCY_A, sealed
    )


def _move(line: int, doc_id: str) -> PlanEntry:
    existing = ExistingLearner(f"id-{doc_id}", UNIT_A2, FAC_A2)
    return PlanEntry(
        line, f"r{line}", MOVE, doc_id, "Dee", "Lee", "01/02/1990", UNIT_A1, FAC_A1, AGENCY_A, None, existing
    )


def _existing(doc_id: str) -> Learner:
    learner = Learner(
        learner_id=f"id-{doc_id}",
        agency_id=AGENCY_A,
        doc_id=doc_id,
        first_name="Dee",
        last_name="Lee",
        date_of_birth="01/02/1990",
        location_id=UNIT_A2,
        facility_id=FAC_A2,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        created_by="lake",
        username=f"leed{doc_id.lower()}",
    )
    return learners.insert_learner(learner, passwords.hash_password("Old-pass-123"))


def _validated(upload_id: str, chunks: list[list[PlanEntry]] | None = None) -> tuple[Upload, bytes]:
    """A dropped file's upload, validated with a sealed data key and a plan of these chunks (a raw file kept)."""
    upload = Upload(
        upload_id=upload_id,
        facility_id=FAC_A1,
        agency_id=AGENCY_A,
        source="drop",
        object_key=keys.incoming_key(FAC_A1, upload_id),
        status=S.AWAITING_FILE,
        created_at="2026-01-01T00:00:00+00:00",
        created_by="ridge",
        expires_at="2099-01-01T00:00:00+00:00",
    )
    assert upload_store.insert_upload(upload, ttl=0)
    objects.put_bytes(upload.object_key, b"docID\r\n")
    etag = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=get_settings().uploads_bucket, Key=upload.object_key
    )["ETag"]
    data_key, sealed = key_store.new_data_key(upload_id)
    chunks = [] if chunks is None else chunks
    for chunk, entries in enumerate(chunks):
        sealed_entries = [_sealed(entry, data_key, upload_id) for entry in entries]
        objects.put_json(keys.plan_chunk_key(FAC_A1, upload_id, chunk), plan_chunk_json(sealed_entries))
    rows = sum(len(entries) for entries in chunks)
    validating = lifecycle.start_validating(upload, etag)  # the file's own: clean-up deletes it only while current
    assert validating is not None
    validated = lifecycle.mark_validated(
        validating,
        S.VALIDATED,
        counts={"rows": rows, "valid": rows, "invalid": 0},
        errors=[],
        warnings=[],
        encoding="utf-8",
        error_report_key=None,
        chunks_total=len(chunks),
        data_key=sealed,
    )
    assert validated is not None
    return validated, data_key


def _sealed(entry: PlanEntry, data_key: bytes, upload_id: str) -> PlanEntry:
    """A plan entry whose `sealed_password` holds a plaintext given password, sealed as the validator does."""
    if not entry.sealed_password:
        return entry
    context = keys.given_password_context(upload_id, entry.line)
    return entry._replace(sealed_password=passwords.seal(data_key, entry.sealed_password, context))


def _creating(upload_id: str, chunks: list[list[PlanEntry]], move_existing: bool = False) -> Upload:
    validated, _ = _validated(upload_id, chunks)
    started = creation.begin_creation(validated, False, move_existing, "ridge")
    assert started is not None and started.status is S.CREATING
    return started


def _rows(key: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(objects.read_bytes(key).decode("utf-8-sig"), newline="")))


def _keys(prefix: str) -> list[str]:
    return list(objects.list_keys(prefix))


def _stored(upload_id: str) -> Upload:
    upload = upload_store.get_upload(upload_id)
    assert upload is not None
    return upload


def test_a_confirmed_plan_is_created_reported_with_its_generated_passwords_and_cleaned_up(
    aws: Any, directory: Any
) -> None:
    # Given a learner of another facility, and a plan of a given password, a generated one and a move
    _existing("M1")
    upload = _creating(
        "u-flow", [[_entry(2, "G1", sealed="Given-pass-123"), _entry(3, "N1"), _move(4, "M1")]], move_existing=True
    )
    # Then the confirm is audited at line 0 and one message per chunk is sent
    assert creation_messages(aws) == [{"uploadId": "u-flow", "chunk": 0, "start": 0}]
    confirmed = [e for e in audit_store.list_entries(FAC_A1, 100) if e.action == "UPLOAD_CONFIRMED"]
    assert [(e.actor, e.target_type, e.target_id, e.agency_id, e.facility_id) for e in confirmed] == [
        ("ridge", "upload", "u-flow", AGENCY_A, FAC_A1)
    ]
    assert confirmed[0].details == {"skipInvalidRows": False, "moveExisting": True}
    assert upload.confirmed_at is not None
    filed = datetime.fromisoformat(upload.confirmed_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert confirmed[0].entry_id == f"{filed}#u-flow:0000000"  # filed at the confirm, before its rows' entries
    # When its chunk is processed
    metrics.clear_metrics()
    with cloudwatch_lines() as logged:
        creation.process_chunk("u-flow", 0, 0, lambda: PLENTY)
    # Then the upload is completed with each row counted once
    done = _stored("u-flow")
    assert done.status is S.COMPLETED
    assert (done.counts["created"], done.counts["moved"], done.counts["skipped"], done.counts["failed"]) == (2, 1, 0, 0)
    assert done.chunks_done == 1
    assert done.result_report_key == keys.results_report_key(FAC_A1, "u-flow")
    assert done.result_passwords_key == keys.result_passwords_key(FAC_A1, "u-flow")
    # And results.csv lists every row without a password
    plain = _rows(done.result_report_key)
    assert plain[0] == list(creation.RESULT_COLUMNS)
    created = {doc_id: learners.get_by_doc_id(AGENCY_A, doc_id) for doc_id in ("G1", "N1")}
    assert [row[:8] for row in plain[1:]] == [
        ["2", "r2", "G1", "Dee", "Lee", created["G1"].learner_id, UNIT_A1, "CREATED"],  # type: ignore[union-attr]
        ["3", "r3", "N1", "Dee", "Lee", created["N1"].learner_id, UNIT_A1, "CREATED"],  # type: ignore[union-attr]
        ["4", "r4", "M1", "Dee", "Lee", "id-M1", UNIT_A1, "MOVED"],
    ]
    assert [row[8] for row in plain[1:]] == ["", "", ""]
    # And the copy with passwords holds only the generated one, which opens the learner's account
    secret = _rows(done.result_passwords_key)
    assert secret[0] == list(creation.RESULT_COLUMNS)
    assert [row[:8] for row in secret[1:]] == [row[:8] for row in plain[1:]]
    generated = secret[2][8]
    assert secret[1][8] == "" and secret[3][8] == "" and generated
    assert [[*row[:8], "", *row[9:]] for row in secret[1:]] == plain[1:]  # the same cells, the password aside
    # And the rows without a password are no unreadable password; the learners created are counted, the copy logged
    assert _logged(logged, "result password unreadable") == []
    assert metrics.metric_set["LearnersCreated"]["Value"] == [2.0]
    assert metrics.metric_set["LearnersCreated"]["Unit"] == "Count"
    metrics.clear_metrics()
    (written,) = _logged(logged, "results with passwords written")
    assert (written["upload_id"], written["passwords"]) == ("u-flow", 1)
    assert passwords.verify_password(learners.stored_password_hash(AGENCY_A, "N1") or "", generated)
    assert passwords.verify_password(learners.stored_password_hash(AGENCY_A, "G1") or "", "Given-pass-123")
    # And the trail holds each learner once, the move under both facilities
    ridge = [(e.action, e.target_id) for e in audit_store.list_entries(FAC_A1, 100)]
    assert sorted(ridge) == sorted(
        [
            ("UPLOAD_CONFIRMED", "u-flow"),
            ("LEARNER_CREATED", created["G1"].learner_id),  # type: ignore[union-attr]
            ("LEARNER_CREATED", created["N1"].learner_id),  # type: ignore[union-attr]
            ("LEARNER_MOVED", "id-M1"),
        ]
    )
    assert [(e.action, e.target_id) for e in audit_store.list_entries(FAC_A2, 100)] == [("LEARNER_MOVED", "id-M1")]
    # And the raw file and the plan are gone
    assert _keys("incoming/") == [] and _keys(keys.plan_prefix(FAC_A1, "u-flow")) == []
    moved = learners.get_by_doc_id(AGENCY_A, "M1")
    assert moved is not None and (moved.location_id, moved.history[-1].upload_id) == (UNIT_A1, "u-flow")


def test_a_chunk_is_done_in_parts_of_fifty_and_handed_back_when_time_runs_short(aws: Any, directory: Any) -> None:
    # Given a plan of one chunk of 120 moves, confirmed without moveExisting (each row is skipped, quickly)
    upload = _creating("u-long", [[_move(n, f"M{n}") for n in range(2, 122)]])
    creation_messages(aws)
    # When the chunk is processed with less than the hand-back margin left after each part
    creation.process_chunk("u-long", 0, 0, lambda: creation.HAND_BACK_MARGIN_MS - 1)
    # Then one part of 50 rows is done, and the rest is handed back from row 50
    assert creation.PART_SIZE == 50 and creation.HAND_BACK_MARGIN_MS == 15_000
    assert creation_messages(aws) == [{"uploadId": "u-long", "chunk": 0, "start": 50}]
    half = _stored("u-long")
    assert (half.status, half.counts["skipped"], half.chunks_done) == (S.CREATING, 50, 0)
    parts = _keys(keys.plan_prefix(FAC_A1, "u-long") + "results/")
    assert parts == [keys.result_part_key(FAC_A1, "u-long", 0, 0, 50)]
    # When the handed-back message is processed with exactly the margin left
    creation.process_chunk("u-long", 0, 50, lambda: creation.HAND_BACK_MARGIN_MS)
    # Then the other two parts (50 and 20 rows) are done, nothing is handed back, and the upload completes
    assert creation_messages(aws) == []
    done = _stored("u-long")
    assert (done.status, done.counts["skipped"], done.chunks_done) == (S.COMPLETED, 120, 1)
    rows = _rows(keys.results_report_key(FAC_A1, "u-long"))[1:]
    assert [int(row[0]) for row in rows] == list(range(2, 122))
    assert {(row[5], row[6], row[7]) for row in rows[:1]} == {("id-M2", UNIT_A2, "SKIPPED")}
    assert rows[0][9] == f"Already has an account at facility {FAC_A2}: confirm with moveExisting to move"
    # And with no generated password there is no copy with passwords
    assert done.result_passwords_key is None and _keys("passwords/") == []
    assert upload.chunks_total == 1


def test_the_last_chunk_to_finish_completes_the_upload_and_not_before(aws: Any, directory: Any) -> None:
    # Given a plan of two chunks
    _creating("u-two", [[_move(2, "A2")], [_move(3, "A3")]])
    assert creation_messages(aws) == [
        {"uploadId": "u-two", "chunk": 0, "start": 0},
        {"uploadId": "u-two", "chunk": 1, "start": 0},
    ]
    # When the second chunk is processed first
    creation.process_chunk("u-two", 1, 0, lambda: PLENTY)
    # Then the upload waits for the other
    waiting = _stored("u-two")
    assert (waiting.status, waiting.chunks_done, waiting.counts["skipped"]) == (S.CREATING, 1, 1)
    assert creation.finish_upload("u-two") is None
    # And when the first is processed, the upload is completed with both chunks' rows in line order
    creation.process_chunk("u-two", 0, 0, lambda: PLENTY)
    done = _stored("u-two")
    assert (done.status, done.chunks_done, done.counts["skipped"]) == (S.COMPLETED, 2, 2)
    assert [row[0] for row in _rows(keys.results_report_key(FAC_A1, "u-two"))[1:]] == ["2", "3"]


def test_a_failed_row_completes_the_upload_with_errors(aws: Any, directory: Any) -> None:
    # Given a plan whose row is at a location of another facility
    _creating("u-bad", [[_entry(2, "B1", location_id=UNIT_A2)]])
    # When it is processed
    creation.process_chunk("u-bad", 0, 0, lambda: PLENTY)
    # Then the row failed, nothing was created, and the upload completed with errors
    done = _stored("u-bad")
    assert (done.status, done.counts["failed"], done.counts["created"]) == (S.COMPLETED_WITH_ERRORS, 1, 0)
    assert learners.get_by_doc_id(AGENCY_A, "B1") is None
    (row,) = _rows(keys.results_report_key(FAC_A1, "u-bad"))[1:]
    assert (row[5], row[6], row[7]) == ("", "", "FAILED")
    assert row[9].startswith(f"Location {UNIT_A2} is in facility {FAC_A2}, not in this upload's facility {FAC_A1}")


def test_an_empty_plan_is_finished_by_its_one_message_with_an_empty_results_file(aws: Any, directory: Any) -> None:
    # Given a validated upload with nothing to create, begun: one message, and the upload still creating
    validated, _ = _validated("u-empty")
    started = creation.begin_creation(validated, True, False, "ridge")
    assert started is not None and creation_messages(aws) == [{"uploadId": "u-empty", "chunk": 0, "start": 0}]
    assert _stored("u-empty").status is S.CREATING
    # When its worker takes the message (twice, as a redelivery would)
    for _ in range(2):
        creation.process_chunk("u-empty", 0, 0, lambda: PLENTY)
    # Then it is COMPLETED once, with a results.csv of no row, and its raw file and plan are gone
    done = _stored("u-empty")
    assert done.status is S.COMPLETED and done.result_passwords_key is None
    assert done.counts.get("created", 0) == 0
    assert _rows(keys.results_report_key(FAC_A1, "u-empty")) == [list(creation.RESULT_COLUMNS)]
    assert _keys("incoming/") == [] and _keys(keys.plan_prefix(FAC_A1, "u-empty")) == []
    assert creation_messages(aws) == []


def test_an_upload_no_longer_confirmable_is_not_begun(aws: Any, directory: Any) -> None:
    upload = _creating("u-again", [[_move(2, "C2")]])
    creation_messages(aws)
    assert creation.begin_creation(upload, True, True, "lake") is None
    assert creation_messages(aws) == []
    confirmed = [e for e in audit_store.list_entries(FAC_A1, 100) if e.action == "UPLOAD_CONFIRMED"]
    assert [e.actor for e in confirmed] == ["ridge"]
    assert _stored("u-again").confirmed_by == "ridge"


def test_a_chunk_of_an_upload_not_creating_does_nothing_and_one_finished_finishes_its_clean_up(
    aws: Any, directory: Any
) -> None:
    # Given an upload still validated, and one completed whose plan was left behind by a finisher that stopped
    validated, _ = _validated("u-waiting", [[_move(2, "W2")]])
    _creating("u-finished", [[_move(2, "F2")]])
    creation.process_chunk("u-finished", 0, 0, lambda: PLENTY)
    objects.put_json(keys.plan_chunk_key(FAC_A1, "u-finished", 0), [])
    # When a chunk message of each arrives, or of an upload that does not exist
    creation.process_chunk("u-waiting", 0, 0, lambda: PLENTY)
    creation.process_chunk("u-finished", 0, 0, lambda: PLENTY)
    creation.process_chunk("u-missing", 0, 0, lambda: PLENTY)
    # Then the validated one is untouched, and the finished one's plan is deleted, its counts unchanged
    assert _stored("u-waiting") == validated
    assert _keys(keys.plan_prefix(FAC_A1, "u-waiting") + "results/") == []
    assert _keys(keys.plan_prefix(FAC_A1, "u-finished")) == []
    assert _stored("u-finished").counts["skipped"] == 1


def test_a_part_recorded_again_finishes_an_upload_whose_finisher_stopped(aws: Any, directory: Any) -> None:
    # Given a chunk whose part was recorded, but the upload left CREATING (its finisher stopped before results.csv)
    upload = _creating("u-stuck", [[_move(2, "S2")]])
    part = creation.apply_entry(_move(2, "S2"), upload, {}, None)
    upload_store.record_part("u-stuck", "0:0", {"skipped": 1}, True)
    objects.put_bytes(keys.result_part_key(FAC_A1, "u-stuck", 0, 0, 1), creation._csv("u-stuck", [part], None))
    assert _stored("u-stuck").status is S.CREATING
    # When the chunk is redelivered
    creation.process_chunk("u-stuck", 0, 0, lambda: PLENTY)
    # Then the part is not counted again, and the upload is finished
    done = _stored("u-stuck")
    assert (done.status, done.counts["skipped"], done.chunks_done) == (S.COMPLETED, 1, 1)


def test_results_are_not_written_while_a_part_is_missing(aws: Any, directory: Any) -> None:
    # Given an upload whose counts say two rows are done, but whose parts hold one (a concurrent finisher deleted one)
    _creating("u-short", [[_move(2, "P2"), _move(3, "P3")]])
    creation.process_chunk("u-short", 0, 0, lambda: PLENTY)
    # (made again: recorded, counted, one part on S3 of one row only)
    _creating("u-half", [[_move(2, "H2")]])
    upload_store.record_part("u-half", "0:0", {"skipped": 2}, True)
    objects.put_bytes(keys.result_part_key(FAC_A1, "u-half", 0, 0, 1), b"2,r2,H2,Dee,Lee,id-H2,,SKIPPED,,\r\n")
    # When it is finished
    # Then nothing is written and it stays CREATING
    assert creation.finish_upload("u-half") is None
    assert _stored("u-half").status is S.CREATING
    assert _keys(keys.results_report_key(FAC_A1, "u-half")) == []
    assert _stored("u-short").status is S.COMPLETED


def test_a_dead_lettered_creation_fails_with_a_report_of_the_rows_done(aws: Any, directory: Any) -> None:
    # Given a plan of two chunks, the first processed (a move and a skip)... confirmed with moveExisting
    _existing("D1")
    _creating("u-dead", [[_move(2, "D1"), _move(3, "D9")], [_move(4, "D8")]], move_existing=True)
    creation.process_chunk("u-dead", 0, 0, lambda: PLENTY)
    # When the second chunk is dead-lettered
    failed = creation.fail_creation("u-dead")
    # Then the upload failed, saying how many rows were done of how many, with results.csv of those done
    assert failed is not None and failed.status is S.FAILED
    assert failed.reason == (
        "Creating the learners stopped after several attempts, with 1 of 3 rows done: results.csv lists them; "
        "upload the other rows again"
    )
    assert failed.result_report_key == keys.results_report_key(FAC_A1, "u-dead")
    assert _stored("u-dead") == failed
    rows = _rows(failed.result_report_key)[1:]
    assert [(row[0], row[7]) for row in rows] == [("2", "MOVED"), ("3", "FAILED")]
    assert failed.result_passwords_key is None
    # And the plan and the raw file are gone
    assert _keys(keys.plan_prefix(FAC_A1, "u-dead")) == [] and _keys("incoming/") == []
    # And a second dead letter of it changes nothing
    assert creation.fail_creation("u-dead") == failed


def test_only_a_confirmed_creating_or_failed_upload_is_failed(aws: Any, directory: Any) -> None:
    validated, _ = _validated("u-unconfirmed", [[_move(2, "U2")]])
    assert creation.fail_creation("u-unconfirmed") is None
    assert creation.fail_creation("u-missing") is None
    _creating("u-complete", [[_move(2, "V2")]])
    creation.process_chunk("u-complete", 0, 0, lambda: PLENTY)
    assert creation.fail_creation("u-complete") is None
    assert _stored("u-complete").status is S.COMPLETED
    assert _stored("u-unconfirmed") == validated


def test_a_failed_creation_reports_the_generated_passwords_of_the_rows_created(aws: Any, directory: Any) -> None:
    # Given a plan of two chunks whose first created a learner with a generated password
    _creating("u-gen", [[_entry(2, "Q1")], [_entry(3, "Q2")]])
    creation.process_chunk("u-gen", 0, 0, lambda: PLENTY)
    # When the other chunk is dead-lettered
    failed = creation.fail_creation("u-gen")
    # Then the copy with passwords holds that learner's password, which opens the account
    assert failed is not None and failed.result_passwords_key == keys.result_passwords_key(FAC_A1, "u-gen")
    assert failed.reason is not None and failed.reason.startswith(
        "Creating the learners stopped after several attempts, with 1 of 2 rows done"
    )  # a created row is done as much as a moved one
    assert failed.passwords_until is not None
    (row,) = _rows(failed.result_passwords_key)[1:]
    assert row[7] == "CREATED" and passwords.verify_password(
        learners.stored_password_hash(AGENCY_A, "Q1") or "", row[8]
    )
    assert _rows(failed.result_report_key or "")[1][8] == ""


def test_a_result_password_that_does_not_open_is_left_blank_and_the_others_are_kept(aws: Any, directory: Any) -> None:
    # Given a completed part of two created rows, one of whose sealed password was damaged
    upload, data_key = _validated("u-seal", [[_entry(2, "R1"), _entry(3, "R2")]])
    started = creation.begin_creation(upload, False, False, "ridge")
    assert started is not None
    part = keys.result_part_key(FAC_A1, "u-seal", 0, 0, 2)
    outcomes = [creation.apply_entry(entry, started, {}, data_key) for entry in (_entry(2, "R1"), _entry(3, "R2"))]
    cells = _rows_of(creation._csv("u-seal", outcomes, data_key))
    cells[0][8] = cells[1][8]  # line 2 holds line 3's sealed password: bound to another line, it does not open
    objects.put_bytes(part, _csv_of(cells))
    upload_store.record_part("u-seal", "0:0", {"created": 2}, True)
    # When the upload is finished
    with cloudwatch_lines() as logged:
        done = creation.finish_upload("u-seal")
    # Then the damaged one is blank, the other is the learner's
    assert done is not None and done.result_passwords_key is not None
    secret = _rows(done.result_passwords_key)[1:]
    assert secret[0][8] == "" and secret[1][8] == outcomes[1].password
    # And the damaged one is logged once, by upload id and line (never the cell)
    unreadable = _logged(logged, "result password unreadable")
    assert [(r["level"], r["upload_id"], r["line"]) for r in unreadable] == [("WARNING", "u-seal", "2")]
    assert cells[0][8] not in logged.text


def _rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv_of(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def test_a_repeated_or_refused_create_answers_for_its_own_row() -> None:
    from tests.unit.learner_fakes import AGENCY as FAKE_AGENCY
    from tests.unit.learner_fakes import FACILITY as FAKE_FACILITY
    from tests.unit.learner_fakes import UNIT as FAKE_UNIT
    from tests.unit.learner_fakes import Repository

    # Given a row created once, and a row whose DOC ID another upload took since the check
    repo = Repository()
    upload = Upload(
        upload_id="u-fake",
        facility_id=FAKE_FACILITY,
        agency_id=FAKE_AGENCY,
        source="link",
        object_key="incoming/x.csv",
        status=S.CREATING,
        created_at="2026-01-01T00:00:00+00:00",
        created_by="maker",
        expires_at="2026-01-02T00:00:00+00:00",
        confirmed_by="confirmer",
    )
    row = PlanEntry(2, "r2", CREATE, "Z1", "Dee", "Lee", "01/02/1990", FAKE_UNIT, FAKE_FACILITY, FAKE_AGENCY)
    first = creation.apply_entry(row, upload, {}, None, repo)
    # When it is created again (a retried part), and the other row is created under another upload
    again = creation.apply_entry(row, upload, {}, None, repo)
    taken = creation.apply_entry(row, upload.model_copy(update={"upload_id": "u-other"}), {}, None, repo)
    # Then each outcome is of its own row, so results.csv lists it
    assert (first.row, again.row, taken.row) == (row, row, row)
    assert (again.outcome, taken.outcome) == ("CREATED", "FAILED")
    assert _rows_of(creation._csv("u-fake", [again, taken], None))[1][:3] == ["2", "r2", "Z1"]


def _fake_world() -> tuple[Any, Upload]:
    from tests.unit.learner_fakes import AGENCY as FAKE_AGENCY
    from tests.unit.learner_fakes import FACILITY as FAKE_FACILITY
    from tests.unit.learner_fakes import Repository

    upload = Upload(
        upload_id="u-fake",
        facility_id=FAKE_FACILITY,
        agency_id=FAKE_AGENCY,
        source="link",
        object_key="incoming/x.csv",
        status=S.CREATING,
        created_at="2026-01-01T00:00:00+00:00",
        created_by="maker",
        expires_at="2026-01-02T00:00:00+00:00",
        confirmed_by="confirmer",
        move_existing=True,
    )
    return Repository(), upload


def _fake_row(action: str = CREATE, existing: ExistingLearner | None = None) -> PlanEntry:
    from tests.unit.learner_fakes import AGENCY as FAKE_AGENCY
    from tests.unit.learner_fakes import FACILITY as FAKE_FACILITY
    from tests.unit.learner_fakes import UNIT as FAKE_UNIT

    return PlanEntry(
        5, "r5", action, "Y1", "Dee", "Lee", "01/02/1990", FAKE_UNIT, FAKE_FACILITY, FAKE_AGENCY, None, existing
    )


def test_a_row_of_a_facility_deactivated_since_the_check_fails_for_that_row() -> None:
    from tests.unit.learner_fakes import FACILITY as FAKE_FACILITY
    from tests.unit.learner_fakes import location

    repo, upload = _fake_world()
    repo.locations[FAKE_FACILITY] = location(FAKE_FACILITY, FAKE_FACILITY, active=False)
    outcome = creation.apply_entry(_fake_row(), upload, {}, None, repo)
    assert (outcome.row, outcome.outcome, outcome.message) == (
        _fake_row(),
        "FAILED",
        f"Facility {FAKE_FACILITY} no longer takes learners",
    )
    assert repo.learners == {}


def test_each_move_outcome_names_its_row_and_learner() -> None:
    from tests.unit.learner_fakes import OTHER_FACILITY as FAKE_OTHER_FACILITY
    from tests.unit.learner_fakes import OTHER_UNIT as FAKE_OTHER_UNIT
    from tests.unit.learner_fakes import UNIT as FAKE_UNIT

    repo, upload = _fake_world()
    row = _fake_row(MOVE, ExistingLearner("id-Y1", FAKE_OTHER_UNIT, FAKE_OTHER_FACILITY))
    # The learner gone since the check: the learner the plan saw is named
    gone = creation.apply_entry(row, upload, {}, None, repo)
    assert (gone.row, gone.outcome, gone.learner_id) == (row, "FAILED", "id-Y1")
    # Already at the destination, but not moved by this upload (no history at all)
    here = Learner(
        learner_id="id-now",
        agency_id=row.agency_id,
        doc_id="Y1",
        first_name="Dee",
        last_name="Lee",
        date_of_birth="01/02/1990",
        location_id=FAKE_UNIT,
        facility_id=row.facility_id,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        created_by="lake",
    )
    repo.learners[(row.agency_id, "Y1")] = here
    already = creation.apply_entry(row, upload, {}, None, repo)
    assert (already.row, already.outcome, already.learner_id, already.message) == (
        row,
        "FAILED",
        "id-now",
        "The learner is already at this location",
    )
    # Moved by this upload already (a retried part): MOVED again, naming the learner
    repo.learners.clear()
    seen = here.model_copy(
        update={"agency_id": row.agency_id, "location_id": FAKE_OTHER_UNIT, "facility_id": FAKE_OTHER_FACILITY}
    )
    repo.learners[(row.agency_id, "Y1")] = seen
    moved = creation.apply_entry(row, upload, {}, None, repo)
    again = creation.apply_entry(row, upload, {}, None, repo)
    assert (moved.row, moved.outcome, moved.learner_id) == (row, "MOVED", "id-now")
    assert (again.row, again.outcome, again.learner_id) == (row, "MOVED", "id-now")


def test_a_dead_lettered_sync_counts_its_reactivated_updated_and_deactivated_rows_as_done(
    aws: Any, directory: Any
) -> None:
    # Given a creating upload whose recorded parts count rows of every kind, each kind a different power of two
    _creating("u-sync-dead", [[_move(2, "Y1")], [_move(3, "Y2")]])
    done = {"created": 1, "moved": 2, "reactivated": 4, "updated": 8, "deactivated": 16}
    assert upload_store.record_part("u-sync-dead", "0:0", done, True) is not None
    # When its other chunk is dead-lettered
    metrics.clear_metrics()
    with cloudwatch_lines() as logged:
        failed = creation.fail_creation("u-sync-dead")
    # Then every kind counts as done, each once (a sum no other mix of the five gives)
    assert failed is not None and failed.reason is not None
    assert failed.reason.startswith("Creating the learners stopped after several attempts, with 31 of 2 rows done")
    # And the failure is logged by upload id and counted once, for the alarm on UploadsFailed
    assert [
        (r["level"], r["message"], r.get("upload_id")) for r in logged.records if r["message"] == "upload failed"
    ] == [("WARNING", "upload failed", "u-sync-dead")]
    assert metrics.metric_set["UploadsFailed"]["Value"] == [1.0]
    assert metrics.metric_set["UploadsFailed"]["Unit"] == "Count"
    # And a second dead letter of it neither logs nor counts it again
    metrics.clear_metrics()
    with cloudwatch_lines() as again:
        assert creation.fail_creation("u-sync-dead") == _stored("u-sync-dead")
    assert [r for r in again.records if r["message"] == "upload failed"] == []
    assert "UploadsFailed" not in metrics.metric_set


def _logged(logged: Any, message: str) -> list[dict[str, Any]]:
    return [record for record in logged.records if record["message"] == message]


def test_a_chunk_handed_back_skipped_or_finishing_its_upload_says_so_by_ids_and_counts_completions(
    aws: Any, directory: Any
) -> None:
    # Given a plan of one chunk of 60 moves (skipped, quickly), and an upload still validated
    _creating("u-said", [[_move(n, f"Z{n}") for n in range(2, 62)]])
    _validated("u-said-waiting", [[_move(2, "Z1")]])
    metrics.clear_metrics()
    with cloudwatch_lines() as logged:
        # When the chunk is handed back after its first part, a chunk of the validated one arrives, and the rest of
        # the chunk finishes the upload
        creation.process_chunk("u-said", 0, 0, lambda: creation.HAND_BACK_MARGIN_MS - 1)
        creation.process_chunk("u-said-waiting", 0, 0, lambda: PLENTY)
        creation.process_chunk("u-said", 0, 50, lambda: PLENTY)
    # Then each is logged by its ids, never a row
    assert [{k: r.get(k) for k in ("upload_id", "chunk", "start")} for r in _logged(logged, "chunk handed back")] == [
        {"upload_id": "u-said", "chunk": 0, "start": 50}
    ]
    skipped = _logged(logged, "chunk skipped: upload not creating")
    assert [(r["upload_id"], r["chunk"]) for r in skipped] == [("u-said-waiting", 0)]
    (finished,) = _logged(logged, "upload finished")
    assert (finished["upload_id"], finished["status"], finished["counts"]["skipped"]) == ("u-said", "COMPLETED", 60)
    assert "Z2" not in logged.text
    # And the completion is counted once
    assert metrics.metric_set["UploadsCompleted"]["Value"] == [1.0]
    assert metrics.metric_set["UploadsCompleted"]["Unit"] == "Count"
    metrics.clear_metrics()
    # And an upload that does not exist is not finished
    assert creation.finish_upload("u-said-missing") is None


def test_a_part_counts_a_change_refused_since_planning_as_failed_and_says_when_it_was_recorded_before(
    aws: Any, directory: Any
) -> None:
    # Given a creating upload of two chunks, and a part of its first holding a row refused as changed since planning
    upload = _creating("u-changed", [[_move(2, "C1")], [_move(3, "C2")]])
    refused = creation._Outcome(_move(2, "C1"), creation.CHANGED_SINCE_PLAN, "id-C1", message="changed")
    # When the part is recorded, and recorded again (a redelivery)
    with cloudwatch_lines() as logged:
        creation._record(upload, 0, 0, [refused], None, True)
        first = _stored("u-changed")
        creation._record(upload, 0, 0, [refused], None, True)
    # Then the row counts once, as failed, and the second recording is logged by ids and counts nothing
    assert (first.counts["failed"], first.chunks_done) == (1, 1)
    assert _stored("u-changed").counts == first.counts
    again = _logged(logged, "part already recorded")
    assert [(r["upload_id"], r["chunk"]) for r in again] == [("u-changed", 0)]


def test_a_confirm_stores_what_the_confirmer_chose(aws: Any, directory: Any) -> None:
    # Given a validated upload
    validated, _ = _validated("u-chose", [[_move(2, "O1")]])
    # When it is confirmed skipping invalid rows and allowing a mass deactivation
    started = creation.begin_creation(validated, True, False, "ridge", allow_mass_deactivation=True)
    # Then both choices are stored with the upload
    assert started is not None and started == _stored("u-chose")
    assert (started.skip_invalid_rows, started.move_existing, started.allow_mass_deactivation) == (True, False, True)


def test_a_chunk_of_exactly_one_part_finishes_its_upload(aws: Any, directory: Any) -> None:
    # Given a plan of one chunk of exactly PART_SIZE rows (skipped, quickly)
    _creating("u-fifty", [[_move(n, f"F{n}") for n in range(2, 2 + creation.PART_SIZE)]])
    # When it is processed
    creation.process_chunk("u-fifty", 0, 0, lambda: PLENTY)
    # Then its one part finished the chunk, and the upload is completed
    done = _stored("u-fifty")
    assert (done.status, done.chunks_done, done.counts["skipped"]) == (S.COMPLETED, 1, creation.PART_SIZE)
