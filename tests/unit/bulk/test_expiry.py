"""The hourly sweep (intake.bulk.expiry) over moto: unconfirmed uploads past their expiry become EXPIRED with their
raw file and plan deleted, once, however many sweeps run; results with passwords are deleted past passwordsUntil."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from intake.domain import Upload, UploadStatus
from tests.conftest import AGENCY_A, FAC_A1

S = UploadStatus
NOW = datetime.now(UTC)
PAST = NOW - timedelta(hours=1)
FUTURE = NOW + timedelta(days=1)


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _keys(aws: Any, prefix: str) -> list[str]:
    return [item["Key"] for item in _s3().list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])]


def _put(aws: Any, key: str, data: bytes = b"requestId,docID\n1,A1,pw\n") -> str:
    return _s3().put_object(Bucket=aws.bucket, Key=key, Body=data)["ETag"].strip('"')


def _body(aws: Any, key: str) -> bytes:
    return bytes(_s3().get_object(Bucket=aws.bucket, Key=key)["Body"].read())


def _stored(upload_id: str) -> Upload:
    from intake.dal import uploads as upload_store

    upload = upload_store.get_upload(upload_id)
    assert upload is not None
    return upload


def _completed_at(upload_id: str) -> str | None:
    """The stored completedAt (the domain's Upload does not carry it)."""
    from intake.dal.tables import UploadItem

    return UploadItem.get(upload_id, consistent_read=True).completedAt


def make_upload(aws: Any, upload_id: str, status: UploadStatus, *, expires_at: datetime = PAST) -> Upload:
    """An upload of FAC_A1 (a drop, so its raw file outlives validation) brought to `status` through the lifecycle,
    with its raw file and a plan chunk in the bucket wherever that status still has them."""
    from intake.bulk import keys, lifecycle
    from intake.dal import uploads as upload_store

    key = f"incoming/{FAC_A1}/{upload_id}.csv"
    upload = Upload(
        upload_id=upload_id,
        facility_id=FAC_A1,
        agency_id=AGENCY_A,
        source="drop",
        object_key=key,
        status=S.AWAITING_FILE,
        created_at=(expires_at - timedelta(days=2)).isoformat(),
        created_by="ridge",
        expires_at=expires_at.isoformat(),
    )
    assert upload_store.insert_upload(upload, ttl=0)
    if status is S.AWAITING_FILE:
        return _stored(upload_id)
    etag = _put(aws, key)
    current = lifecycle.start_validating(upload, etag)
    assert current is not None
    if status is S.VALIDATING:
        return current
    if status is S.REJECTED:
        rejected = lifecycle.reject(current, "NOT_CSV", "no")
        assert rejected is not None
        return rejected
    _put(aws, keys.plan_chunk_key(FAC_A1, upload_id, 0), b"[]")
    validated = S.VALIDATED_WITH_ERRORS if status is S.VALIDATED_WITH_ERRORS else S.VALIDATED
    current = lifecycle.mark_validated(
        current,
        validated,
        counts={"rows": 1},
        errors=[],
        warnings=[],
        encoding="utf-8",
        error_report_key=None,
        chunks_total=1,
        data_key=None,
    )
    assert current is not None
    if status in (S.VALIDATED, S.VALIDATED_WITH_ERRORS):
        return current
    current = lifecycle.start_creating(
        current, skip_invalid_rows=False, move_existing=False, confirmed_by="ridge", confirmed_at=NOW
    )
    assert current is not None
    assert status in (S.CREATING, S.COMPLETED), status
    return current


def completed_with_passwords(aws: Any, upload_id: str, finished_at: datetime) -> tuple[Upload, str]:
    """A COMPLETED upload whose results with generated passwords were written at `finished_at`."""
    from intake.bulk import keys, lifecycle

    creating = make_upload(aws, upload_id, S.CREATING, expires_at=FUTURE)
    passwords_key = keys.result_passwords_key(FAC_A1, upload_id)
    _put(aws, passwords_key, b"requestId,docID,password\n1,A1,secret-pass\n")
    done = lifecycle.complete(
        creating,
        S.COMPLETED,
        result_report_key=keys.results_report_key(FAC_A1, upload_id),
        passwords_key=passwords_key,
        at=finished_at,
    )
    assert done is not None and done.result_passwords_key == passwords_key
    return done, passwords_key


@pytest.fixture
def uploads(aws: Any) -> dict[str, Upload]:
    """One upload of each status, all past their expiry, and a validated one not yet due."""
    made = {
        status.value: make_upload(aws, f"u-{status.value.lower()}", status)
        for status in (
            S.AWAITING_FILE,
            S.VALIDATING,
            S.VALIDATED,
            S.VALIDATED_WITH_ERRORS,
            S.REJECTED,
            S.CREATING,
        )
    }
    made["fresh"] = make_upload(aws, "u-fresh", S.VALIDATED, expires_at=FUTURE)
    return made


DUE = {"AWAITING_FILE", "VALIDATING", "VALIDATED", "VALIDATED_WITH_ERRORS"}


def test_the_sweep_expires_only_unconfirmed_uploads_past_their_expiry(aws: Any, uploads: dict[str, Upload]) -> None:
    from intake.bulk import keys
    from intake.bulk.expiry import sweep_expired

    # Given uploads of every status past their expiry, and a validated upload not yet due
    assert _keys(aws, keys.plan_prefix(FAC_A1, "u-validated")) != []
    # When the sweep runs
    expired = sweep_expired()
    # Then exactly the unconfirmed uploads past their expiry are counted and stored EXPIRED
    assert expired == len(DUE)
    statuses = {name: _stored(upload.upload_id).status.value for name, upload in uploads.items()}
    assert statuses == {
        "AWAITING_FILE": "EXPIRED",
        "VALIDATING": "EXPIRED",
        "VALIDATED": "EXPIRED",
        "VALIDATED_WITH_ERRORS": "EXPIRED",
        "REJECTED": "REJECTED",
        "CREATING": "CREATING",
        "fresh": "VALIDATED",
    }
    # And each expired one says why and when it was swept
    for name in DUE:
        found = _stored(uploads[name].upload_id)
        assert found.reason is not None and "2 days" in found.reason
        completed_at = _completed_at(found.upload_id)
        assert completed_at is not None and datetime.fromisoformat(completed_at) >= NOW
    # And their raw files and plans are gone, while the fresh and the creating upload keep theirs
    for name in DUE:
        upload_id = uploads[name].upload_id
        assert _keys(aws, f"incoming/{FAC_A1}/{upload_id}") == []
        assert _keys(aws, keys.plan_prefix(FAC_A1, upload_id)) == []
    for name in ("fresh", "CREATING"):
        upload_id = uploads[name].upload_id
        assert _keys(aws, f"incoming/{FAC_A1}/{upload_id}") == [f"incoming/{FAC_A1}/{upload_id}.csv"]
        assert _keys(aws, keys.plan_prefix(FAC_A1, upload_id)) != []


def test_a_second_sweep_does_nothing(aws: Any, uploads: dict[str, Upload]) -> None:
    from intake.bulk.expiry import sweep_expired

    # Given a sweep has run
    assert sweep_expired() == len(DUE)
    before = {name: (_stored(u.upload_id), _completed_at(u.upload_id)) for name, u in uploads.items()}
    # When the next one runs
    again = sweep_expired()
    # Then it expires nothing and changes no record
    assert again == 0
    assert {name: (_stored(u.upload_id), _completed_at(u.upload_id)) for name, u in uploads.items()} == before


def test_a_sweep_from_a_stale_listing_leaves_uploads_another_sweep_expired(
    aws: Any, uploads: dict[str, Upload], monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.bulk import expiry
    from intake.dal import uploads as upload_store

    # Given a sweep listed the due uploads, and another sweep expired them all before it went on
    listed = list(upload_store.due_for_expiry(NOW.isoformat(), {S(s) for s in DUE}))
    assert {u.status.value for u in listed} == DUE
    assert expiry.sweep_expired() == len(DUE)
    first = {u.upload_id: _completed_at(u.upload_id) for u in listed}
    # And meanwhile a new file arrived at one expired upload's key
    late_key = uploads["VALIDATED"].object_key
    _put(aws, late_key, b"a newer drop")
    # When the first sweep goes on with what it listed
    monkeypatch.setattr(upload_store, "due_for_expiry", lambda now, unfinished: iter(listed))
    count = expiry.sweep_expired()
    # Then it counts none, each upload keeps the other sweep's completedAt, and deletes nothing
    assert count == 0
    assert {u.upload_id: _completed_at(u.upload_id) for u in listed} == first
    assert _keys(aws, late_key) == [late_key]


def test_concurrent_sweeps_expire_each_due_upload_exactly_once(aws: Any, uploads: dict[str, Upload]) -> None:
    from intake.bulk.expiry import sweep_expired

    # Given due uploads, When three sweeps run at once
    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(lambda _: sweep_expired(), range(3)))
    # Then together they expired each due upload once
    assert sum(counts) == len(DUE)
    assert {_stored(uploads[name].upload_id).status for name in DUE} == {S.EXPIRED}
    assert _stored(uploads["fresh"].upload_id).status is S.VALIDATED


def test_results_with_passwords_are_deleted_after_passwords_until(aws: Any) -> None:
    from intake.bulk.expiry import sweep_result_passwords

    # Given one upload whose results with passwords were written 25 hours ago, and one written an hour ago
    old, old_key = completed_with_passwords(aws, "u-old", NOW - timedelta(hours=25))
    _, recent_key = completed_with_passwords(aws, "u-recent", NOW - timedelta(hours=1))
    assert old.passwords_until is not None and datetime.fromisoformat(old.passwords_until) < NOW
    # When the passwords sweep runs
    deleted = sweep_result_passwords()
    # Then the old copy is deleted and its upload no longer names it; the recent one is untouched
    assert deleted == 1
    assert _keys(aws, old_key) == [] and _stored("u-old").result_passwords_key is None
    assert _keys(aws, recent_key) == [recent_key] and _stored("u-recent").result_passwords_key == recent_key
    # And the results without passwords stay named, and both uploads stay COMPLETED
    assert _stored("u-old").result_report_key == old.result_report_key
    assert _stored("u-old").status is S.COMPLETED and _stored("u-recent").status is S.COMPLETED
    # And a second run deletes nothing more
    assert sweep_result_passwords() == 0
    assert _keys(aws, recent_key) == [recent_key]


def test_a_passwords_sweep_that_stopped_after_the_delete_finishes_next_time(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.bulk import expiry
    from intake.dal import uploads as upload_store

    # Given a due copy with passwords, and a sweep that deleted the object but stopped before updating the upload
    _, key = completed_with_passwords(aws, "u-stopped", NOW - timedelta(hours=30))

    def stop(upload_id: str, key: str) -> None:
        raise RuntimeError("stopped")

    with monkeypatch.context() as patch:
        patch.setattr(upload_store, "forget_result_passwords", stop)
        with pytest.raises(RuntimeError):
            expiry.sweep_result_passwords()
    assert _keys(aws, key) == [] and _stored("u-stopped").result_passwords_key == key
    # When the next sweep runs
    deleted = expiry.sweep_result_passwords()
    # Then it deletes again (nothing there) and the upload stops naming the copy
    assert deleted == 1 and _stored("u-stopped").result_passwords_key is None


def test_the_expiry_sweep_also_deletes_due_passwords(aws: Any) -> None:
    from intake.bulk.expiry import sweep_expired

    # Given a completed upload's copy with passwords past its time, and nothing due to expire
    _, key = completed_with_passwords(aws, "u-done", NOW - timedelta(hours=25))
    # When the hourly sweep runs
    expired = sweep_expired()
    # Then nothing is expired, but the copy with passwords is deleted
    assert expired == 0 and _keys(aws, key) == [] and _stored("u-done").result_passwords_key is None
    assert _stored("u-done").status is S.COMPLETED


def test_expiring_an_old_drop_leaves_a_newer_drop_at_the_same_key(aws: Any) -> None:
    from intake.bulk import keys
    from intake.bulk.expiry import sweep_expired

    # Given an unconfirmed drop past its expiry, and a newer file dropped since at the same key
    old = make_upload(aws, "u-old-drop", S.VALIDATED)
    newer = b"requestId,docID\n1,B2,tonight\n"
    _put(aws, old.object_key, newer)
    # When the sweep expires the old drop
    assert sweep_expired() == 1 and _stored("u-old-drop").status is S.EXPIRED
    # Then the newer file (not the one the old upload took) is still there, as it was put, and the old plan is gone
    assert _body(aws, old.object_key) == newer
    assert _keys(aws, keys.plan_prefix(FAC_A1, "u-old-drop")) == []


def test_an_old_drop_expired_when_read_leaves_a_newer_drop_at_the_same_key(aws: Any) -> None:
    from intake import upload_service
    from intake.bulk import keys

    # Given an unconfirmed drop past its expiry, and a newer file dropped since at the same key
    old = make_upload(aws, "u-read-drop", S.VALIDATED)
    newer = b"requestId,docID\n1,B3,tonight\n"
    _put(aws, old.object_key, newer)
    # When staff read it (the API expires it on read)
    assert upload_service.expire_if_due(old).status is S.EXPIRED
    # Then it is EXPIRED in storage, its plan is gone, and the newer file is still there as it was put
    assert _stored("u-read-drop").status is S.EXPIRED
    assert _keys(aws, keys.plan_prefix(FAC_A1, "u-read-drop")) == []
    assert _body(aws, old.object_key) == newer


def test_a_read_past_expiry_leaves_every_raw_file_to_the_buckets_rule(aws: Any) -> None:
    from intake import upload_service

    # Given a validated drop past its expiry whose own file is still at its key, and a link upload past its expiry
    # that never took the file now at its key (its event never came)
    took = make_upload(aws, "u-took", S.VALIDATED)
    never = make_upload(aws, "u-never", S.AWAITING_FILE)
    _put(aws, never.object_key)
    # When staff read each (the API expires them; its role may not touch incoming/)
    for upload in (took, never):
        assert upload_service.expire_if_due(upload).status is S.EXPIRED
    # Then both files stay for the bucket's ExpireIncoming rule
    assert _keys(aws, took.object_key) == [took.object_key]
    assert _keys(aws, never.object_key) == [never.object_key]


def test_finishing_an_old_drop_leaves_a_newer_drop_at_the_same_key_and_deletes_its_own_file(aws: Any) -> None:
    from intake.bulk import keys, lifecycle

    # Given two drops being created (confirmed days after they came), the key of the first holding a newer file
    replaced = make_upload(aws, "u-replaced", S.CREATING, expires_at=FUTURE)
    kept = make_upload(aws, "u-kept", S.CREATING, expires_at=FUTURE)
    newer = b"requestId,docID\n1,B4,tonight\n"
    _put(aws, replaced.object_key, newer)
    # When each finishes and what it leaves behind is deleted
    for upload in (replaced, kept):
        done = lifecycle.complete(
            upload, S.COMPLETED, result_report_key=keys.results_report_key(FAC_A1, upload.upload_id),
            passwords_key=None, at=NOW,
        )  # fmt: skip
        assert done is not None
    # Then the newer file stays as it was put, the second drop's own file is deleted, and both plans are gone
    assert _body(aws, replaced.object_key) == newer
    assert _keys(aws, kept.object_key) == []
    for upload in (replaced, kept):
        assert _keys(aws, keys.plan_prefix(FAC_A1, upload.upload_id)) == []
