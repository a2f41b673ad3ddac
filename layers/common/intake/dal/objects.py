"""The uploads bucket: presigned links, streamed reads, reports and plans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from intake.dal.aws import client
from intake.errors import NotFound, StorageUnavailable
from intake.settings import get_settings


def _bucket() -> str:
    return get_settings().uploads_bucket


def _encryption() -> dict[str, str]:
    key = get_settings().reports_kms_key_id
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key} if key else {"ServerSideEncryption": "AES256"}


def _wrap(what: str, exc: Exception) -> Exception:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    if code in {"NoSuchKey", "404", "NotFound", "PreconditionFailed", "412"}:
        return NotFound(f"The file to {what} no longer exists")
    return StorageUnavailable(f"Could not {what} right now; try again in a moment")


def presigned_post(key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A browser-usable POST bound to one key, with a size range the client cannot lift."""
    try:
        return client("s3").generate_presigned_post(
            Bucket=_bucket(),
            Key=key,
            Fields=None,
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("sign the upload link", exc) from exc


def presigned_get(key: str, expires_in: int, download_name: str) -> str:
    """A short-lived link to download one report."""
    try:
        return client("s3").generate_presigned_url(
            "get_object",
            Params={
                "Bucket": _bucket(),
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{download_name}"',
            },
            ExpiresIn=expires_in,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("sign the report link", exc) from exc


def bucket_origin() -> str:
    """The scheme and host that presigned links of the bucket point at (for a page's Content-Security-Policy)."""
    try:
        url = client("s3").generate_presigned_url("get_object", Params={"Bucket": _bucket(), "Key": "x"}, ExpiresIn=1)
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("sign the report link", exc) from exc
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _if_match(etag: str | None) -> dict[str, str]:
    return {"IfMatch": '"' + etag.strip('"') + '"'} if etag else {}


def object_size(key: str, etag: str | None = None) -> int:
    """The size in bytes of an object; NotFound if it is gone (or, given an etag, was replaced)."""
    try:
        return int(client("s3").head_object(Bucket=_bucket(), Key=key, **_if_match(etag))["ContentLength"])
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("read", exc) from exc


def object_etag(key: str) -> str | None:
    """The current ETag of an object (without quotes), or None if it is gone."""
    try:
        return str(client("s3").head_object(Bucket=_bucket(), Key=key)["ETag"]).strip('"')
    except (ClientError, BotoCoreError) as exc:
        error = _wrap("read", exc)
        if isinstance(error, NotFound):
            return None
        raise error from exc


def open_object(key: str, etag: str | None = None) -> IO[bytes]:
    """A streamed body of an object (read in chunks, never whole); given an etag, only that version."""
    try:
        return client("s3").get_object(Bucket=_bucket(), Key=key, **_if_match(etag))["Body"]
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("read", exc) from exc


def read_bytes(key: str) -> bytes:
    """A small object's bytes (plan chunks, report parts)."""
    body = open_object(key)
    try:
        return body.read()
    finally:
        body.close()


def put_bytes(key: str, data: bytes, content_type: str = "text/csv; charset=utf-8") -> None:
    """Store a report or plan object, encrypted with the reports key."""
    try:
        client("s3").put_object(Bucket=_bucket(), Key=key, Body=data, ContentType=content_type, **_encryption())
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("save", exc) from exc


def upload_file(key: str, fileobj: IO[bytes], content_type: str = "text/csv; charset=utf-8") -> None:
    """Store a spooled report, encrypted with the reports key."""
    try:
        client("s3").upload_fileobj(fileobj, _bucket(), key, ExtraArgs={"ContentType": content_type, **_encryption()})
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("save", exc) from exc


def put_json(key: str, value: Any) -> None:
    """Store a JSON document (a plan chunk)."""
    put_bytes(key, json.dumps(value, separators=(",", ":")).encode(), "application/json")


def get_json(key: str) -> Any:
    """Read a JSON document."""
    return json.loads(read_bytes(key))


def list_keys(prefix: str) -> Iterator[str]:
    """Every key under a prefix, in key order."""
    try:
        for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("list", exc) from exc


def delete_keys(keys: list[str]) -> None:
    """Delete objects (absent ones are fine)."""
    try:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            if batch:
                client("s3").delete_objects(Bucket=_bucket(), Delete={"Objects": batch, "Quiet": True})
    except (ClientError, BotoCoreError) as exc:
        raise _wrap("delete", exc) from exc


def delete_if_current(key: str, etag: str) -> bool:
    """Delete an object only while it is this version (S3's conditional delete, If-Match its ETag).

    True if deleted; False if it was already gone or replaced by another object (which is left alone), or if no
    ETag is known (nothing is deleted blind).
    """
    if not etag.strip('"'):
        return False
    try:
        client("s3").delete_object(Bucket=_bucket(), Key=key, **_if_match(etag))
    except (ClientError, BotoCoreError) as exc:
        if isinstance(_wrap("delete", exc), NotFound):
            return False
        raise _wrap("delete", exc) from exc
    return True


def delete_raw(key: str, etag: str | None) -> None:
    """Delete an upload's raw file: given the ETag of the object it took, only that object, never a newer file put
    at the same key since (another drop); without one (no object was claimed), the key outright."""
    if etag:
        delete_if_current(key, etag)
    else:
        delete_keys([key])


def delete_prefix(prefix: str) -> None:
    """Delete every object under a prefix."""
    delete_keys(list(list_keys(prefix)))
