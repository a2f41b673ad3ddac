"""intake.bulk.lifecycle: the one table of allowed status moves, its named steps and their clean-up, and the rule
that nothing else calls the data layer's transition."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from intake.domain import CONFIRMABLE, UNFINISHED, Upload, UploadStatus

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("layers/common", "functions")
LIFECYCLE = "layers/common/intake/bulk/lifecycle.py"
DAL_UPLOADS = "layers/common/intake/dal/uploads.py"
GUARDED = frozenset({"transition", "claim_object"})
FACILITY = "fac-ridge"
S = UploadStatus


# ------------------------------------------------------------------ only the lifecycle calls the transition


def uses_upload_transition(source: str) -> list[int]:
    """The lines where a module refers to intake.dal.uploads.transition or claim_object, however it was imported."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to the intake.dal.uploads module
    functions: set[str] = set()  # local names bound to one of its guarded functions
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.asname or alias.name for alias in node.names if alias.name == "intake.dal.uploads")
        elif isinstance(node, ast.ImportFrom):
            package = node.module or ""
            for alias in node.names:
                if alias.name == "uploads" and (package in ("intake.dal", "dal") or node.level):
                    modules.add(alias.asname or alias.name)
                elif package.endswith("uploads") and alias.name in {*GUARDED, "*"}:
                    functions.add(alias.asname or alias.name)
                    lines.add(node.lineno)
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and node.attr in GUARDED and ast.unparse(node.value) in modules
        if attribute or (isinstance(node, ast.Name) and node.id in functions):
            lines.add(getattr(node, "lineno", 0))
    return sorted(lines)


def test_only_the_lifecycle_module_calls_the_data_layers_transition_or_claim() -> None:
    # Given every module of the layer and of the functions (the data layer's own module defines them)
    sources = [
        path
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() != DAL_UPLOADS
    ]
    # When each is scanned for a use of intake.dal.uploads.transition or claim_object
    users = {
        path.relative_to(ROOT).as_posix(): found
        for path in sources
        if (found := uses_upload_transition(path.read_text(encoding="utf-8")))
    }
    # Then the lifecycle module is the one and only user
    assert list(users) == [LIFECYCLE]


@pytest.mark.parametrize(
    "source",
    [
        "from intake.dal import uploads as upload_store\nupload_store.transition('u', set(), None)\n",
        "from intake.dal import uploads\nuploads.claim_object('u', 'e', set())\n",
        "import intake.dal.uploads\nintake.dal.uploads.transition('u', set(), None)\n",
        "from intake.dal.uploads import transition as move\nmove('u', set(), None)\n",
        "from intake.dal.uploads import claim_object\n",
    ],
)
def test_the_scan_finds_every_way_of_reaching_the_transition(source: str) -> None:
    assert uses_upload_transition(source)


def test_the_scan_leaves_the_data_layers_other_functions_alone() -> None:
    source = "from intake.dal import uploads as upload_store\nupload_store.get_upload('u')\nx.transition()\n"
    assert uses_upload_transition(source) == []


# ------------------------------------------------------------------ the table


def test_the_table_allows_exactly_the_moves_each_step_has_always_made() -> None:
    from intake.bulk.lifecycle import TRANSITIONS, Step

    validation = frozenset({S.AWAITING_FILE, S.VALIDATING})
    got = {step: (move.allowed_from, move.to) for step, move in TRANSITIONS.items()}
    assert got == {
        Step.START_VALIDATING: (validation, {S.VALIDATING}),
        Step.REJECT: ({S.VALIDATING}, {S.REJECTED}),
        Step.MARK_VALIDATED: ({S.VALIDATING}, {S.VALIDATED, S.VALIDATED_WITH_ERRORS}),
        Step.FAIL: (validation, {S.FAILED}),
        Step.FAIL_REPLACED: (UNFINISHED, {S.FAILED}),
        Step.START_CREATING: (CONFIRMABLE, {S.CREATING}),
        Step.COMPLETE: ({S.CREATING}, {S.COMPLETED, S.COMPLETED_WITH_ERRORS}),
        Step.FAIL_CREATION: ({S.CREATING}, {S.FAILED}),
        Step.REPORT_FAILURE: ({S.FAILED}, {S.FAILED}),
        Step.EXPIRE: (UNFINISHED, {S.EXPIRED}),
    }


def test_final_statuses_are_never_left_and_every_status_is_reachable() -> None:
    from intake.bulk.lifecycle import allowed_transitions

    pairs = allowed_transitions()
    final = {S.REJECTED, S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.FAILED, S.EXPIRED}
    # A final status is never left (a failed upload only gains its results report)
    assert {(source, to) for source, to in pairs if source in final} == {(S.FAILED, S.FAILED)}
    # Every status but the first is reached by some step, and nothing goes back to AWAITING_FILE
    assert {to for _, to in pairs} == set(S) - {S.AWAITING_FILE}
    # CREATING is entered only by a confirm of a validated upload
    assert {source for source, to in pairs if to is S.CREATING} == set(CONFIRMABLE)


def test_a_step_refuses_a_status_outside_its_row_of_the_table() -> None:
    from intake.bulk import lifecycle
    from intake.dal.uploads import UploadChange

    with pytest.raises(ValueError, match="complete does not move an upload to FAILED"):
        lifecycle._transition(lifecycle.Step.COMPLETE, "u1", S.FAILED, UploadChange())


def test_expiry_and_record_ttl_follow_the_expiry_setting() -> None:
    from intake.bulk import lifecycle
    from intake.settings import get_settings

    now = datetime(2026, 1, 1, tzinfo=UTC)
    days = get_settings().upload_expiry_days
    assert lifecycle.expiry_of(now) == (now + timedelta(days=days)).isoformat()
    assert lifecycle.record_ttl(now) == int((now + timedelta(days=days + 90)).timestamp())


# ------------------------------------------------------------------ the steps, over moto


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _keys(aws: Any, prefix: str) -> list[str]:
    return [item["Key"] for item in _s3().list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])]


def _completed_at(upload_id: str) -> str | None:
    """The stored completedAt (the domain's Upload does not carry it)."""
    from intake.dal.tables import UploadItem

    return UploadItem.get(upload_id, consistent_read=True).completedAt


def _stored(
    aws: Any, upload_id: str, source: str = "link", status: UploadStatus = S.AWAITING_FILE, data: bytes = b"a,b\n"
) -> tuple[Upload, str]:
    """An upload record with its raw file and one plan chunk in the bucket; (upload, the raw file's ETag)."""
    from intake.bulk import keys
    from intake.dal import uploads as upload_store

    key = f"incoming/{FACILITY}/{upload_id}.csv"
    etag = _s3().put_object(Bucket=aws.bucket, Key=key, Body=data)["ETag"].strip('"')
    plan = keys.plan_chunk_key(FACILITY, upload_id, 0)
    _s3().put_object(Bucket=aws.bucket, Key=plan, Body=b"[]")
    now = datetime.now(UTC)
    upload = Upload(
        upload_id=upload_id,
        facility_id=FACILITY,
        agency_id="ag-north",
        source=source,
        object_key=key,
        status=status,
        created_at=now.isoformat(),
        created_by="ridge",
        expires_at=(now + timedelta(days=7)).isoformat(),
    )
    assert upload_store.insert_upload(upload, ttl=0)
    return upload, etag


def test_start_validating_takes_one_object_only(aws: Any) -> None:
    from intake.bulk import lifecycle

    upload, etag = _stored(aws, "u-claim")
    # When the upload's object claims it, twice (a redelivered event), then another object tries
    first = lifecycle.start_validating(upload, etag)
    again = lifecycle.start_validating(upload, f'"{etag}"')
    other = lifecycle.start_validating(upload, "0" * 32)
    # Then the first and its redelivery validate that object; the other is refused
    assert first is not None and first.status is S.VALIDATING and first.object_etag == etag
    assert again is not None and again.object_etag == etag
    assert other is None


def test_reject_reports_the_file_and_deletes_it_and_any_plan_written_before_the_fault(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import error_report_key, plan_prefix

    upload, etag = _stored(aws, "u-reject")
    started = lifecycle.start_validating(upload, etag)
    assert started is not None
    rejected = lifecycle.reject(started, "NOT_CSV", "The file is not a CSV")
    assert rejected is not None and rejected.status is S.REJECTED
    assert rejected.error_report_key == error_report_key(FACILITY, "u-reject")
    assert rejected.counts["rows"] == 0
    assert [(e["line"], e["code"]) for e in rejected.errors] == [(0, "NOT_CSV")]
    assert _keys(aws, "incoming/") == []
    assert _keys(aws, plan_prefix(FACILITY, "u-reject")) == []
    assert _keys(aws, "reports/") == [error_report_key(FACILITY, "u-reject")]


@pytest.mark.parametrize(("source", "raw_kept"), [("link", False), ("drop", True)])
def test_mark_validated_deletes_a_links_raw_file_and_keeps_a_drops(aws: Any, source: str, raw_kept: bool) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix

    upload, etag = _stored(aws, f"u-valid-{source}", source=source)
    started = lifecycle.start_validating(upload, etag)
    assert started is not None
    validated = lifecycle.mark_validated(
        started,
        S.VALIDATED,
        counts={"rows": 1, "valid": 1},
        errors=[],
        warnings=[],
        encoding="utf-8",
        error_report_key=None,
        chunks_total=1,
        data_key="sealed-key",
    )
    assert validated is not None and validated.status is S.VALIDATED
    assert (validated.chunks_total, validated.encoding, validated.data_key) == (1, "utf-8", "sealed-key")
    assert bool(_keys(aws, "incoming/")) is raw_kept
    assert _keys(aws, plan_prefix(FACILITY, upload.upload_id)) != []


def test_a_refused_step_changes_and_deletes_nothing(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix
    from intake.dal import uploads as upload_store

    upload, _ = _stored(aws, "u-refused")  # AWAITING_FILE: not validating, not creating
    at = datetime.now(UTC)
    assert lifecycle.reject(upload, "NOT_CSV", "no") is None
    assert lifecycle.complete(upload, S.COMPLETED, result_report_key="r", passwords_key=None, at=at) is None
    assert lifecycle.fail_creation(upload, "stopped") is None
    assert (stored := upload_store.get_upload("u-refused")) is not None and stored.status is S.AWAITING_FILE
    assert _keys(aws, plan_prefix(FACILITY, "u-refused")) != []


def test_fail_deletes_the_raw_file_and_plan_and_a_repeat_finishes_the_deletes(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix

    upload, etag = _stored(aws, "u-fail")
    started = lifecycle.start_validating(upload, etag)
    assert started is not None
    failed = lifecycle.fail(started, "gone")
    assert failed is not None and failed.status is S.FAILED and failed.reason == "gone"
    assert _keys(aws, "incoming/") == [] and _keys(aws, plan_prefix(FACILITY, "u-fail")) == []
    # Given an attempt that stopped after the status change, before its deletes
    _s3().put_object(Bucket=aws.bucket, Key=f"{plan_prefix(FACILITY, 'u-fail')}chunk-000000.json", Body=b"[]")
    again = lifecycle.fail(started, "gone")
    assert again is not None and again.status is S.FAILED
    assert _keys(aws, plan_prefix(FACILITY, "u-fail")) == []


def test_fail_keeps_a_newer_file_put_at_the_same_key(aws: Any) -> None:
    from intake.bulk import lifecycle

    upload, etag = _stored(aws, "u-newer", source="drop")
    started = lifecycle.start_validating(upload, etag)
    assert started is not None
    _s3().put_object(Bucket=aws.bucket, Key=upload.object_key, Body=b"a newer file\n")
    assert lifecycle.fail(started, "gone") is not None
    assert _keys(aws, "incoming/") == [upload.object_key]


def test_fail_replaced_fails_a_validated_upload_but_fail_does_not(aws: Any) -> None:
    from intake.bulk import lifecycle

    upload, _ = _stored(aws, "u-replaced", status=S.VALIDATED)
    assert lifecycle.fail(upload, "gone") is None
    replaced = lifecycle.fail_replaced(upload, "replaced")
    assert replaced is not None and replaced.status is S.FAILED and replaced.reason == "replaced"
    assert _keys(aws, "incoming/") == []


def test_creation_steps_record_the_confirm_then_the_results_and_clean_up(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix

    upload, _ = _stored(aws, "u-create", source="drop", status=S.VALIDATED)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    started = lifecycle.start_creating(
        upload, skip_invalid_rows=True, move_existing=False, confirmed_by="ridge", confirmed_at=at
    )
    assert started is not None and started.status is S.CREATING
    assert (started.skip_invalid_rows, started.move_existing, started.confirmed_by, started.confirmed_at) == (
        True,
        False,
        "ridge",
        at.isoformat(),
    )
    assert _keys(aws, "incoming/") != []  # a drop's raw file stays until its final status
    assert (
        lifecycle.start_creating(
            upload, skip_invalid_rows=True, move_existing=False, confirmed_by="ridge", confirmed_at=at
        )
        == started
    )  # the same write again (a lost response retried) is the same confirm
    done = lifecycle.complete(started, S.COMPLETED_WITH_ERRORS, result_report_key="r.csv", passwords_key="p.csv", at=at)
    assert done is not None and done.status is S.COMPLETED_WITH_ERRORS
    assert done.result_report_key == "r.csv" and _completed_at("u-create") == at.isoformat()
    assert (done.result_passwords_key, done.passwords_until) == ("p.csv", (at + timedelta(hours=24)).isoformat())
    assert _keys(aws, "incoming/") == [] and _keys(aws, plan_prefix(FACILITY, "u-create")) == []


def test_a_held_sync_starts_creating_only_with_allow_mass_deactivation_which_is_recorded(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.dal import uploads as upload_store
    from intake.dal.uploads import UploadChange

    # Given a validated sync upload held for MASS_DEACTIVATION
    upload, _ = _stored(aws, "u-held", status=S.VALIDATING)
    hold = {"code": "MASS_DEACTIVATION", "message": "m", "toDeactivate": 3, "activeLearners": 5}
    held = upload_store.transition(upload.upload_id, {S.VALIDATING}, S.VALIDATED, UploadChange(hold=hold))
    assert held is not None and held.hold == hold
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    options = {"skip_invalid_rows": False, "move_existing": False, "confirmed_by": "ridge", "confirmed_at": at}
    # When it is started without the flag, Then nothing moves and nothing is written
    assert lifecycle.start_creating(held, **options) is None
    assert lifecycle.start_creating(held, allow_mass_deactivation=False, **options) is None
    assert upload_store.get_upload("u-held") == held
    # When with it, Then CREATING with the flag recorded
    started = lifecycle.start_creating(held, allow_mass_deactivation=True, **options)
    assert started is not None and started.status is S.CREATING and started.allow_mass_deactivation is True


def test_a_failed_creation_keeps_its_plan_until_its_results_are_recorded(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix

    upload, _ = _stored(aws, "u-stopped", status=S.CREATING)
    failed = lifecycle.fail_creation(upload, "stopped")
    assert failed is not None and failed.status is S.FAILED and failed.reason == "stopped"
    assert _keys(aws, plan_prefix(FACILITY, "u-stopped")) != []  # results.csv is made from the plan's parts
    at = datetime(2026, 3, 1, tzinfo=UTC)
    reported = lifecycle.report_failure(failed, "r.csv", None, at)
    assert reported is not None and reported.status is S.FAILED
    assert (reported.result_report_key, reported.result_passwords_key, reported.passwords_until) == (
        "r.csv",
        None,
        None,
    )
    lifecycle.clean_up(reported)
    assert _keys(aws, "incoming/") == [] and _keys(aws, plan_prefix(FACILITY, "u-stopped")) == []


def test_expire_by_the_sweeper_records_why_and_when_and_by_a_read_only_the_status(aws: Any) -> None:
    from intake.bulk import lifecycle
    from intake.bulk.keys import plan_prefix
    from intake.settings import get_settings

    swept, _ = _stored(aws, "u-swept", status=S.VALIDATED)
    read, _ = _stored(aws, "u-read", status=S.AWAITING_FILE)
    now = datetime.now(UTC).isoformat()
    by_sweep = lifecycle.expire(swept, swept_at=now)
    by_read = lifecycle.expire(read)
    days = get_settings().upload_expiry_days
    assert by_sweep is not None and by_sweep.status is S.EXPIRED
    assert by_sweep.reason == f"Not confirmed within {days} days: upload the file again"
    assert _completed_at("u-swept") == now
    assert by_read is not None and by_read.status is S.EXPIRED and by_read.reason is None
    assert _completed_at("u-read") is None
    # The sweeper deletes the swept upload's file; a read (the API, which may not touch incoming/) leaves the read
    # upload's to the bucket's ExpireIncoming rule; both plans are gone
    assert _keys(aws, "incoming/") == [read.object_key] and _keys(aws, "plans/") == []
    # A second sweep (another instant) finds nothing to expire
    assert lifecycle.expire(swept, swept_at=datetime.now(UTC).isoformat() + "x") is None
    assert _keys(aws, plan_prefix(FACILITY, "u-swept")) == []
