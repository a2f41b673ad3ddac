"""intake.dal.objects, what its mutants showed unchecked (issue 21): links signed without credentials say which link
failed, a connection error is StorageUnavailable (not an AttributeError), each refused call names what it could not
do, an upload link expires when asked, a spooled report's content type, delete requests of at most 1000 keys each,
and an empty listing."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError

from intake.dal import objects
from intake.dal.aws import client
from intake.errors import NotFound, StorageUnavailable

FAULTED = ("s3",)


@pytest.fixture
def no_credentials(aws: Any) -> Iterator[None]:
    """Signing refused as botocore refuses it when it finds no credentials (raised where the signer starts)."""
    s3 = client("s3")

    def refuse(**_: Any) -> None:
        raise NoCredentialsError()

    s3.meta.events.register_first("before-sign.s3", refuse, unique_id="test-no-credentials")
    yield
    s3.meta.events.unregister("before-sign.s3", unique_id="test-no-credentials")


@pytest.mark.parametrize(
    ("sign", "what"),
    [
        (lambda: objects.presigned_post("incoming/fac-ridge/u-1.csv", 1000, 900), "sign the upload link"),
        (lambda: objects.presigned_get("reports/u-1/errors.csv", 60, "errors.csv"), "sign the report link"),
        (objects.bucket_origin, "sign the report link"),
    ],
    ids=["upload-link", "report-link", "bucket-origin"],
)
def test_a_link_that_cannot_be_signed_says_which_link(no_credentials: None, sign: Any, what: str) -> None:
    # Given an S3 client without credentials
    # When a link is signed
    with pytest.raises(StorageUnavailable) as raised:
        sign()
    # Then the domain error names that link
    assert raised.value.message == f"Could not {what} right now; try again in a moment"


def test_a_connection_error_is_storage_unavailable(aws: Any) -> None:
    # Given S3 unreachable (botocore's own connection error, raised where the request would be sent)
    s3 = client("s3")

    def unreachable(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    s3.meta.events.register_first("before-send.s3.HeadObject", unreachable, unique_id="test-unreachable")
    try:
        # When an object is read
        with pytest.raises(StorageUnavailable) as raised:
            objects.object_etag("incoming/fac-ridge/u-1.csv")
    finally:
        s3.meta.events.unregister("before-send.s3.HeadObject", unique_id="test-unreachable")
    # Then it is the domain error, not a missing object
    assert raised.value.message == "Could not read right now; try again in a moment"


def test_an_object_s3_calls_not_found_is_gone(aws: Any, refuse: Any) -> None:
    refuse("s3", "HeadObject", "NotFound", status=404)
    assert objects.object_etag("incoming/fac-ridge/u-1.csv") is None
    with pytest.raises(NotFound):
        objects.object_size("incoming/fac-ridge/u-1.csv")


@pytest.mark.parametrize(
    ("operation", "call", "message"),
    [
        ("GetObject", lambda: objects.open_object("k.csv"), "Could not read right now; try again in a moment"),
        (
            "DeleteObject",
            lambda: objects.delete_if_current("k.csv", "abc"),
            "Could not delete right now; try again in a moment",
        ),
    ],
    ids=["read", "conditional-delete"],
)
def test_a_refused_call_names_what_it_could_not_do(
    aws: Any, refuse: Any, operation: str, call: Any, message: str
) -> None:
    client("s3").put_object(Bucket=aws.bucket, Key="k.csv", Body=b"a")
    refuse("s3", operation, "AccessDenied", status=403)
    with pytest.raises(StorageUnavailable) as raised:
        call()
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("ListObjectsV2", lambda: list(objects.list_keys("plans/"))),
        ("PutObject", lambda: objects.put_bytes("k.csv", b"a")),
        ("PutObject", lambda: objects.upload_file("k.csv", io.BytesIO(b"a"))),
        ("DeleteObjects", lambda: objects.delete_keys(["k.csv"])),
    ],
    ids=["list", "put", "upload", "delete"],
)
def test_a_call_answered_no_such_key_is_not_found(aws: Any, refuse: Any, operation: str, call: Any) -> None:
    # S3's own "not found" codes are NotFound wherever they come from (the error is read from the exception)
    refuse("s3", operation, "NoSuchKey", status=404)
    with pytest.raises(NotFound):
        call()


def test_an_upload_link_expires_when_asked(aws: Any) -> None:
    before = datetime.now(UTC)
    post = objects.presigned_post("incoming/fac-ridge/u-1.csv", 1000, 120)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(seconds=100) <= expires <= before + timedelta(seconds=140)


def test_a_spooled_report_is_stored_as_utf8_csv_by_default(aws: Any) -> None:
    objects.upload_file("reports/r.csv", io.BytesIO(b"a,b\r\n"))
    head = client("s3").head_object(Bucket=aws.bucket, Key="reports/r.csv")
    assert head["ContentType"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(("count", "requests"), [(3, 1), (1000, 1), (1001, 2)])
def test_each_delete_request_holds_at_most_a_thousand_keys(aws: Any, faults: Any, count: int, requests: int) -> None:
    # Absent keys are fine to delete: the number of requests is what is checked
    objects.delete_keys([f"plans/k-{n:05d}" for n in range(count)])
    assert faults.calls[("s3", "DeleteObjects")] == requests


def test_an_empty_prefix_lists_nothing(aws: Any) -> None:
    assert list(objects.list_keys("nothing-here/")) == []
    objects.delete_prefix("nothing-here/")
