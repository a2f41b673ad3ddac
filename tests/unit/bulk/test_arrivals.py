"""intake.bulk.arrivals: which upload an object in incoming/ is (a link's, a new drop, or none of ours)."""

from __future__ import annotations

from typing import Any

import boto3

from intake.domain import Role, UploadStatus
from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _put(aws: Any, key: str, data: bytes = b"docID\n") -> str:
    return _s3().put_object(Bucket=aws.bucket, Key=key, Body=data)["ETag"].strip('"')


def _exists(aws: Any, key: str) -> bool:
    return bool(_s3().list_objects_v2(Bucket=aws.bucket, Prefix=key).get("Contents"))


def test_a_drops_id_depends_on_its_key_content_and_put_only() -> None:
    from intake.bulk.arrivals import drop_upload_id

    # Given one PUT's key, ETag and identity, its id is the same each time (every delivery of its event)
    first = drop_upload_id("incoming/fac/a.csv", "e1", "seq@t1")
    assert first == drop_upload_id("incoming/fac/a.csv", "e1", "seq@t1")
    assert first.startswith("drop-") and len(first) == len("drop-") + 32
    # And another key, another content, or the same bytes put again under the same name, is another upload
    others = {
        drop_upload_id("incoming/fac/b.csv", "e1", "seq@t1"),
        drop_upload_id("incoming/fac/a.csv", "e2", "seq@t1"),
        drop_upload_id("incoming/fac/a.csv", "e1", "seq@t2"),
    }
    assert len({first, *others}) == 4


def test_a_drop_is_validated_as_its_facility(directory: Any) -> None:
    from intake.bulk.arrivals import facility_scope
    from intake.dal.directory import get_location

    facility = get_location(FAC_A1)
    assert facility is not None
    scope = facility_scope(facility)
    assert (scope.username, scope.role, scope.agency_id, scope.facility_ids) == (
        f"drop:{FAC_A1}",
        Role.FACILITY_ADMIN,
        AGENCY_A,
        (FAC_A1,),
    )


def test_objects_that_are_not_ours_are_deleted_and_give_no_upload(aws: Any, directory: Any) -> None:
    from intake.bulk.arrivals import upload_for_object

    for key in ("incoming/loose.csv", f"incoming/{UNIT_A1}/roster.csv", "incoming/fac-nowhere/roster.csv"):
        etag = _put(aws, key)
        assert upload_for_object(key, etag) is None
        assert not _exists(aws, key), key


def test_a_dropped_file_starts_one_drop_upload_however_often_its_event_comes(aws: Any, directory: Any) -> None:
    from intake.bulk.arrivals import drop_upload_id, upload_for_object

    key = f"incoming/{FAC_A1}/roster%20one.csv"
    etag = _put(aws, f"incoming/{FAC_A1}/roster one.csv")
    found = upload_for_object(key, etag)
    again = upload_for_object(key, etag)
    assert found is not None and again is not None
    upload, facility = found
    assert facility.location_id == FAC_A1
    assert upload.upload_id == drop_upload_id(f"incoming/{FAC_A1}/roster one.csv", etag)
    assert (upload.source, upload.status, upload.file_name, upload.created_by) == (
        "drop",
        UploadStatus.AWAITING_FILE,
        "roster one.csv",
        f"drop:{FAC_A1}",
    )
    assert upload.expires_at > upload.created_at
    assert again[0].upload_id == upload.upload_id and again[0].created_at == upload.created_at


def test_a_late_event_of_a_replaced_drop_is_ignored_and_deletes_nothing(aws: Any, directory: Any) -> None:
    from intake.bulk.arrivals import upload_for_object

    key = f"incoming/{FAC_A1}/roster.csv"
    older = _put(aws, key, b"old\n")
    _put(aws, key, b"new\n")
    assert upload_for_object(key, older) is None
    assert _exists(aws, key)


def test_a_dead_lettered_event_fails_its_drop_with_a_reason_staff_can_act_on(aws: Any, directory: Any) -> None:
    from intake.bulk.arrivals import DEAD_LETTER_REASON, fail_unvalidated

    key = f"incoming/{FAC_A1}/stuck.csv"
    etag = _put(aws, key)
    failed = fail_unvalidated(key, etag)
    assert failed is not None and (failed.status, failed.reason) == (UploadStatus.FAILED, DEAD_LETTER_REASON)
    assert not _exists(aws, key)
