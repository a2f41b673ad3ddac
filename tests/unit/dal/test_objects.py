"""intake.dal.objects: the uploads bucket. Links bound to one key, reads of one version (If-Match), encrypted writes,
listing and deleting page by page, conditional deletes; S3 failures wrapped into NotFound / StorageUnavailable."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from intake.dal import objects
from intake.dal.aws import client
from intake.errors import NotFound, StorageUnavailable
from intake.settings import get_settings

FAULTED = ("s3",)


def _s3():
    return client("s3")


def _put(aws, key: str, body: bytes = b"a,b\n") -> str:
    """Put an object straight into the bucket; its ETag without quotes."""
    return _s3().put_object(Bucket=aws.bucket, Key=key, Body=body)["ETag"].strip('"')


def _keys(aws, prefix: str = "") -> list[str]:
    found: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=aws.bucket, Prefix=prefix):
        found += [entry["Key"] for entry in page.get("Contents", [])]
    return found


def _body(aws, key: str) -> bytes:
    return _s3().get_object(Bucket=aws.bucket, Key=key)["Body"].read()


# Links


def test_a_presigned_post_is_bound_to_its_key_and_size_range(aws):
    # Given the uploads bucket
    # When an upload link is signed for one key and at most 1000 bytes
    post = objects.presigned_post("incoming/fac-ridge/up-1.csv", 1000, 900)
    # Then the form posts that key to the bucket, under a policy that fixes the key and the size range
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert post["fields"]["key"] == "incoming/fac-ridge/up-1.csv"
    assert aws.bucket in post["url"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"key": "incoming/fac-ridge/up-1.csv"} in policy["conditions"]
    assert {"bucket": aws.bucket} in policy["conditions"]


def test_a_presigned_get_names_the_download_and_expires(aws):
    # Given a report key
    # When a download link is signed for 60 seconds
    url = objects.presigned_get("reports/up-1/errors.csv", 60, "errors-up-1.csv")
    # Then it is a SigV4 link to that key, downloading under the given name, for 60 seconds
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.endswith("/reports/up-1/errors.csv")
    assert query["response-content-disposition"] == ['attachment; filename="errors-up-1.csv"']
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_the_bucket_origin_is_the_scheme_and_host_of_its_links(aws):
    # Given the uploads bucket
    # When its origin is asked for
    origin = objects.bucket_origin()
    # Then it is what its links start with, with no path
    link = objects.presigned_get("k", 60, "k.csv")
    assert link.startswith(origin + "/")
    assert urlsplit(origin).path == ""
    assert origin.startswith("https://")


# Reads


def test_size_etag_and_body_of_an_object(aws):
    # Given an object of 8 bytes
    etag = _put(aws, "incoming/a.csv", b"x,y\n1,2\n")
    # When its size, ETag and body are read (by ETag, quoted or not)
    # Then each is the object's
    assert objects.object_size("incoming/a.csv") == 8
    assert objects.object_size("incoming/a.csv", etag) == 8
    assert objects.object_size("incoming/a.csv", f'"{etag}"') == 8
    assert objects.object_etag("incoming/a.csv") == etag
    assert objects.read_bytes("incoming/a.csv") == b"x,y\n1,2\n"
    body = objects.open_object("incoming/a.csv", etag)
    assert body.read(3) == b"x,y"
    body.close()


def test_reads_of_a_replaced_object_by_its_old_etag_are_not_found(aws):
    # Given an object, then another object put at the same key
    old = _put(aws, "incoming/a.csv", b"old\n")
    _put(aws, "incoming/a.csv", b"newer\n")
    # When it is read by the old ETag
    # Then the file it stood for no longer exists
    with pytest.raises(NotFound):
        objects.object_size("incoming/a.csv", old)
    with pytest.raises(NotFound):
        objects.open_object("incoming/a.csv", old)


def test_reads_of_a_missing_object(aws):
    # Given no object
    # When it is read
    # Then its ETag is None and every other read is NotFound
    assert objects.object_etag("incoming/none.csv") is None
    with pytest.raises(NotFound, match="The file to read no longer exists"):
        objects.object_size("incoming/none.csv")
    with pytest.raises(NotFound):
        objects.read_bytes("incoming/none.csv")


# Writes


def test_put_bytes_encrypts_with_the_reports_key(aws):
    # Given a reports key configured
    # When a report is stored
    objects.put_bytes("reports/up-1/errors.csv", b"row,error\n")
    # Then it is stored as given, encrypted under that key, with its content type
    head = _s3().head_object(Bucket=aws.bucket, Key="reports/up-1/errors.csv")
    assert _body(aws, "reports/up-1/errors.csv") == b"row,error\n"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.reports_kms_key_id
    assert head["ContentType"] == "text/csv; charset=utf-8"


def test_without_a_reports_key_objects_are_encrypted_by_s3(aws, monkeypatch):
    # Given no reports key configured
    monkeypatch.setenv("REPORTS_KMS_KEY_ID", "")
    get_settings.cache_clear()
    # When a report is stored, and a spooled one uploaded
    objects.put_bytes("reports/a.csv", b"a\n")
    objects.upload_file("reports/b.csv", io.BytesIO(b"b\n"))
    # Then both are encrypted with S3's own keys
    for key in ("reports/a.csv", "reports/b.csv"):
        head = _s3().head_object(Bucket=aws.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert "SSEKMSKeyId" not in head


def test_upload_file_stores_a_spooled_report_encrypted(aws):
    # Given a spooled report
    spooled = io.BytesIO(b"learnerId,password\nL-1,secret\n")
    # When it is uploaded with its own content type
    objects.upload_file("reports/up-1/result.csv", spooled, "text/plain")
    # Then it is stored whole, encrypted with the reports key, with its content type
    head = _s3().head_object(Bucket=aws.bucket, Key="reports/up-1/result.csv")
    assert _body(aws, "reports/up-1/result.csv") == b"learnerId,password\nL-1,secret\n"
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", aws.reports_kms_key_id)
    assert head["ContentType"] == "text/plain"


def test_json_documents_round_trip_compactly(aws):
    # Given a plan chunk
    chunk = {"rows": [{"docId": "D1", "n": 1}], "done": False}
    # When it is stored and read back
    objects.put_json("plans/up-1/0.json", chunk)
    # Then it is the same document, stored as compact JSON
    assert objects.get_json("plans/up-1/0.json") == chunk
    assert _body(aws, "plans/up-1/0.json") == b'{"rows":[{"docId":"D1","n":1}],"done":false}'
    assert _s3().head_object(Bucket=aws.bucket, Key="plans/up-1/0.json")["ContentType"] == "application/json"


def test_a_failed_put_is_storage_unavailable_and_stores_nothing(aws, refuse):
    # Given S3 denying puts
    refuse("s3", "PutObject", "AccessDenied", status=403)
    # When a report is stored
    with pytest.raises(StorageUnavailable, match="Could not save right now"):
        objects.put_bytes("reports/up-1/errors.csv", b"x")
    # Then there is no object
    assert _keys(aws, "reports/") == []


# Listing and deleting


def test_list_keys_pages_through_every_key_of_a_prefix_in_order(aws, faults):
    # Given 7 objects under one prefix and one under another, and S3 answering 3 keys a page
    for n in range(7):
        _put(aws, f"plans/up-1/{n:04}.json", b"{}")
    _put(aws, "plans/up-2/0000.json", b"{}")

    def three_a_page(params, **_):
        params["MaxKeys"] = 3

    _s3().meta.events.register("before-parameter-build.s3.ListObjectsV2", three_a_page, unique_id="three-a-page")
    try:
        # When the prefix is listed
        keys = list(objects.list_keys("plans/up-1/"))
    finally:
        _s3().meta.events.unregister("before-parameter-build.s3.ListObjectsV2", unique_id="three-a-page")
    # Then every key of it comes, in key order, over three pages
    assert keys == [f"plans/up-1/{n:04}.json" for n in range(7)]
    assert faults.calls[("s3", "ListObjectsV2")] == 3


def test_delete_keys_deletes_in_batches_of_a_thousand(aws, faults):
    # Given three objects among 1001 keys to delete (the others absent), and one object to keep
    for key in ("parts/0000", "parts/0999", "parts/1000", "keep/me"):
        _put(aws, key, b"x")
    # When the 1001 keys are deleted
    objects.delete_keys([f"parts/{n:04}" for n in range(1001)])
    # Then the three are gone, in two requests (the last key in the second), the other object stays
    assert _keys(aws) == ["keep/me"]
    assert faults.calls[("s3", "DeleteObjects")] == 2


def test_delete_keys_of_nothing_makes_no_request(aws, faults):
    # Given nothing to delete
    # When it is deleted
    objects.delete_keys([])
    # Then S3 was not called
    assert faults.calls[("s3", "DeleteObjects")] == 0


def test_delete_prefix_deletes_only_that_prefix(aws):
    # Given objects under two prefixes
    for key in ("plans/up-1/0.json", "plans/up-1/1.json", "plans/up-10/0.json", "reports/up-1/errors.csv"):
        _put(aws, key)
    # When one prefix is deleted
    objects.delete_prefix("plans/up-1/")
    # Then its objects are gone, the others stay
    assert _keys(aws) == ["plans/up-10/0.json", "reports/up-1/errors.csv"]


def test_a_failed_delete_is_storage_unavailable_and_keeps_the_objects(aws, refuse):
    # Given two objects, and S3 failing deletes
    _put(aws, "parts/a")
    _put(aws, "parts/b")
    refuse("s3", "DeleteObjects", "InternalError", status=500)
    # When they are deleted
    with pytest.raises(StorageUnavailable, match="Could not delete right now"):
        objects.delete_keys(["parts/a", "parts/b"])
    # Then both are still there
    assert _keys(aws, "parts/") == ["parts/a", "parts/b"]


def test_a_failed_listing_is_storage_unavailable(aws, refuse):
    # Given S3 denying listings
    refuse("s3", "ListObjectsV2", "AccessDenied", status=403)
    # When a prefix is listed
    # Then the failure is the domain's
    with pytest.raises(StorageUnavailable, match="Could not list right now"):
        list(objects.list_keys("plans/"))


def test_delete_if_current_deletes_only_the_version_it_names(aws):
    # Given an object
    etag = _put(aws, "incoming/a.csv", b"first\n")
    # When it is deleted by its ETag (quoted)
    # Then it is deleted
    assert objects.delete_if_current("incoming/a.csv", f'"{etag}"') is True
    assert _keys(aws, "incoming/") == []


def test_delete_if_current_leaves_a_replaced_object_alone(aws):
    # Given an object replaced by a newer file at the same key
    old = _put(aws, "incoming/a.csv", b"first\n")
    _put(aws, "incoming/a.csv", b"second\n")
    # When it is deleted by the old ETag
    # Then nothing is deleted: the newer file stays
    assert objects.delete_if_current("incoming/a.csv", old) is False
    assert _body(aws, "incoming/a.csv") == b"second\n"


def test_delete_if_current_never_deletes_blind(aws, faults):
    # Given an object
    _put(aws, "incoming/a.csv")
    calls = faults.calls[("s3", "DeleteObject")]
    # When it is deleted with no ETag known (empty, or only quotes)
    # Then nothing is deleted and S3 was not asked
    assert objects.delete_if_current("incoming/a.csv", "") is False
    assert objects.delete_if_current("incoming/a.csv", '""') is False
    assert _keys(aws, "incoming/") == ["incoming/a.csv"]
    assert faults.calls[("s3", "DeleteObject")] == calls


def test_a_failed_conditional_delete_is_storage_unavailable_and_keeps_the_object(aws, refuse):
    # Given an object, and S3 denying deletes
    etag = _put(aws, "incoming/a.csv")
    refuse("s3", "DeleteObject", "AccessDenied", status=403)
    # When it is deleted by its ETag
    with pytest.raises(StorageUnavailable):
        objects.delete_if_current("incoming/a.csv", etag)
    # Then it is still there
    assert _keys(aws, "incoming/") == ["incoming/a.csv"]


def test_delete_raw_by_etag_spares_a_newer_drop_and_without_etag_deletes_the_key(aws):
    # Given a raw file that was claimed (its ETag known) and then replaced by a newer drop, and another file
    claimed = _put(aws, "incoming/a.csv", b"claimed\n")
    _put(aws, "incoming/a.csv", b"newer drop\n")
    _put(aws, "incoming/b.csv", b"unclaimed\n")
    # When the first is deleted by the claimed ETag, the second without one
    objects.delete_raw("incoming/a.csv", claimed)
    objects.delete_raw("incoming/b.csv", None)
    # Then the newer drop stays, the unclaimed key is gone
    assert _keys(aws, "incoming/") == ["incoming/a.csv"]
    assert _body(aws, "incoming/a.csv") == b"newer drop\n"


def test_an_etag_read_refused_by_s3_is_storage_unavailable_not_a_missing_object(aws, refuse):
    # Given an object, and S3 denying reads of it
    _put(aws, "incoming/a.csv")
    refuse("s3", "HeadObject", "AccessDenied", status=403)
    # When its ETag is read
    # Then the failure is raised, not taken for "gone"
    with pytest.raises(StorageUnavailable, match="Could not read right now"):
        objects.object_etag("incoming/a.csv")


def test_a_failed_spooled_upload_is_storage_unavailable_and_stores_nothing(aws, refuse):
    # Given S3 failing every put
    refuse("s3", "PutObject", "InternalError", status=500)
    # When a spooled report is uploaded
    with pytest.raises(StorageUnavailable, match="Could not save right now"):
        objects.upload_file("reports/up-1/result.csv", io.BytesIO(b"a\n"))
    # Then there is no object
    assert _keys(aws, "reports/") == []
