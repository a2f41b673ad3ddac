"""intake.dal.uploads: a transition takes a typed UploadChange, mapped to the item's attributes inside the data layer,
and keeps telling its own retried write (a lost response) from a refusal."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.domain import Upload, UploadStatus

S = UploadStatus


def test_every_change_field_names_an_attribute_of_the_upload_item() -> None:
    from intake.dal import uploads
    from intake.dal.tables import UploadItem

    names = [field.name for field in dataclasses.fields(uploads.UploadChange)]
    assert sorted(uploads._ATTRIBUTES) == sorted(names)
    attributes = UploadItem.get_attributes()
    assert [uploads._ATTRIBUTES[name] for name in names if uploads._ATTRIBUTES[name] not in attributes] == []
    assert "status" not in uploads._ATTRIBUTES.values()  # the status is the transition's own argument


def test_a_change_writes_its_set_fields_removes_its_none_fields_and_leaves_the_rest() -> None:
    from intake.dal.uploads import KEEP, UploadChange, _attribute_values

    assert _attribute_values(UploadChange()) == {}
    change = UploadChange(reason="why", error_report_key=None, chunks_total=3, skip_invalid_rows=False, data_key=KEEP)
    assert _attribute_values(change) == {
        "reason": "why",
        "errorReportKey": None,
        "chunksTotal": 3,
        "skipInvalidRows": False,
    }


def _inserted(upload_id: str, status: UploadStatus) -> Upload:
    from intake.dal import uploads

    now = datetime.now(UTC)
    upload = Upload(
        upload_id=upload_id,
        facility_id="fac-ridge",
        agency_id="ag-north",
        source="link",
        object_key=f"incoming/fac-ridge/{upload_id}.csv",
        status=status,
        created_at=now.isoformat(),
        created_by="ridge",
        expires_at=(now + timedelta(days=7)).isoformat(),
    )
    assert uploads.insert_upload(upload, ttl=0)
    return upload


def test_a_transition_writes_the_typed_change(aws: Any) -> None:
    from intake.dal import uploads
    from intake.dal.uploads import UploadChange

    _inserted("u-typed", S.VALIDATING)
    change = UploadChange(
        counts={"rows": 2, "valid": 1, "invalid": 1},
        errors=[{"line": 2, "code": "REQUIRED"}],
        warnings=[],
        encoding="utf-8",
        error_report_key="reports/fac-ridge/u-typed/errors.csv",
        chunks_total=1,
        data_key="ciphertext",
    )
    moved = uploads.transition("u-typed", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, change)
    assert moved is not None and moved.status is S.VALIDATED_WITH_ERRORS
    stored = uploads.get_upload("u-typed")
    assert stored is not None
    assert (stored.counts["rows"], stored.counts["invalid"], stored.errors[0]["code"]) == (2, 1, "REQUIRED")
    assert (stored.encoding, stored.error_report_key, stored.chunks_total, stored.data_key) == (
        "utf-8",
        "reports/fac-ridge/u-typed/errors.csv",
        1,
        "ciphertext",
    )
    # A None field removes its attribute; a field left out keeps it
    again = uploads.transition("u-typed", {S.VALIDATED_WITH_ERRORS}, S.VALIDATED, UploadChange(data_key=None))
    assert again is not None and again.data_key is None and again.encoding == "utf-8"


def test_a_transition_from_a_status_not_allowed_changes_nothing(aws: Any) -> None:
    from intake.dal import uploads
    from intake.dal.uploads import UploadChange

    _inserted("u-refused", S.AWAITING_FILE)
    assert uploads.transition("u-refused", {S.CREATING}, S.FAILED, UploadChange(reason="stopped")) is None
    stored = uploads.get_upload("u-refused")
    assert stored is not None and (stored.status, stored.reason) == (S.AWAITING_FILE, None)
    assert uploads.transition("u-missing", {S.CREATING}, S.FAILED, UploadChange(reason="stopped")) is None


@pytest.mark.parametrize(
    ("retried", "ours"),
    [
        ({"reason": "Not confirmed", "completed_at": "2026-01-02T00:00:00+00:00"}, True),
        ({"reason": "Not confirmed", "completed_at": "2026-01-02T00:00:01+00:00"}, False),
        ({"reason": "Not confirmed"}, True),
    ],
    ids=["the-same-change", "another-instant", "a-subset-it-also-wrote"],
)
def test_a_refused_write_that_already_holds_exactly_this_change_was_ours(
    aws: Any, retried: dict[str, str], ours: bool
) -> None:
    from intake.dal import uploads
    from intake.dal.uploads import UploadChange

    _inserted("u-lost", S.VALIDATED)
    first = UploadChange(reason="Not confirmed", completed_at="2026-01-02T00:00:00+00:00")
    assert uploads.transition("u-lost", {S.VALIDATED}, S.EXPIRED, first) is not None
    # When the SDK retries the write (its response was lost) or another writer makes its own
    again = uploads.transition("u-lost", {S.VALIDATED}, S.EXPIRED, UploadChange(**retried))
    # Then only a write whose every field the item holds is taken for this one
    assert (again is not None) is ours


def test_claim_object_takes_the_allowed_statuses_and_one_etag(aws: Any) -> None:
    from intake.dal import uploads

    _inserted("u-claimed", S.AWAITING_FILE)
    allowed = {S.AWAITING_FILE, S.VALIDATING}
    claimed = uploads.claim_object("u-claimed", '"abc"', allowed)
    assert claimed is not None and (claimed.status, claimed.object_etag) == (S.VALIDATING, "abc")
    assert uploads.claim_object("u-claimed", "abc", allowed) is not None
    assert uploads.claim_object("u-claimed", "def", allowed) is None
    _inserted("u-validated", S.VALIDATED)
    assert uploads.claim_object("u-validated", "abc", allowed) is None
