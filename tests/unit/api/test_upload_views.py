"""The upload routes' response models answer the contract's JSON: a link or cursor one does not get is left out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from api_routes.models import UploadsResponse
from api_routes.uploads import upload_view
from intake.domain import Upload, UploadMode, UploadStatus
from intake.upload_service import ReportLinks, UploadWithLinks

ROW_ERROR = {
    "line": 3,
    "requestId": "7",
    "docId": "A1",
    "field": "dateOfBirth",
    "code": "INVALID_DATE",
    "message": "not a date",
    "severity": "error",
}


def an_upload(**changes: Any) -> Upload:
    fields: dict[str, Any] = {
        "upload_id": "u1",
        "facility_id": "fac-oak",
        "agency_id": "ag-1",
        "source": "link",
        "file_name": None,
        "object_key": "incoming/fac-oak/u1",
        "status": UploadStatus.VALIDATED_WITH_ERRORS,
        "created_at": "2026-01-01T00:00:00+00:00",
        "created_by": "alice",
        "expires_at": "2026-01-08T00:00:00+00:00",
        "counts": {"rows": 2, "valid": 1, "invalid": 1},
        "errors": [ROW_ERROR],
    }
    return Upload(**{**fields, **changes})


def served(model: BaseModel) -> Any:
    """The body as Powertools serves a route's returned model: validated against its type, dumped as JSON."""
    adapter = TypeAdapter(type(model))
    return adapter.dump_python(adapter.validate_python(model), mode="json", by_alias=True)


def expected_view(**extra: Any) -> dict[str, Any]:
    return {
        "uploadId": "u1",
        "facilityId": "fac-oak",
        "source": "link",
        "mode": "create",
        "fileName": None,
        "status": "VALIDATED_WITH_ERRORS",
        "createdAt": "2026-01-01T00:00:00+00:00",
        "createdBy": "alice",
        "expiresAt": "2026-01-08T00:00:00+00:00",
        "encoding": None,
        "reason": None,
        "counts": {
            "rows": 2,
            "valid": 1,
            "invalid": 1,
            "toCreate": 0,
            "toMove": 0,
            "toReactivate": 0,
            "toUpdate": 0,
            "unchanged": 0,
            "toDeactivate": 0,
            "warnings": 0,
            "created": 0,
            "moved": 0,
            "reactivated": 0,
            "updated": 0,
            "deactivated": 0,
            "skipped": 0,
            "failed": 0,
        },
        "errors": [ROW_ERROR],
        "warnings": [],
        "options": {"skipInvalidRows": None, "moveExisting": None},
        **extra,
    }


def test_a_view_without_report_links_leaves_them_out_and_keeps_nulls_it_has() -> None:
    # Given an upload with no reports (and no file name, encoding or reason)
    seen = UploadWithLinks(an_upload(), ReportLinks())
    # When the route builds its view
    body = served(upload_view(seen))
    # Then every count is there, the nulls stay null, and no report link key is sent
    assert body == expected_view()
    assert list(body) == list(expected_view())


def test_a_view_with_the_passwords_copy_carries_its_flag_and_deadline() -> None:
    links = ReportLinks(
        error_report_url="https://s3/errors",
        result_report_url="https://s3/results-passwords",
        result_report_has_passwords=True,
        passwords_until="2026-01-02T00:00:00+00:00",
    )
    body = served(upload_view(UploadWithLinks(an_upload(), links)))
    assert body == expected_view(
        errorReportUrl="https://s3/errors",
        resultReportUrl="https://s3/results-passwords",
        resultReportHasPasswords=True,
        passwordsUntil="2026-01-02T00:00:00+00:00",
    )
    assert list(body)[-4:] == ["errorReportUrl", "resultReportUrl", "resultReportHasPasswords", "passwordsUntil"]


def test_a_sync_view_shows_its_mode_hold_plan_link_and_the_confirms_flag() -> None:
    # Given a held sync upload confirmed with allowMassDeactivation, with its plan.csv
    hold = {"code": "MASS_DEACTIVATION", "message": "m", "toDeactivate": 3, "activeLearners": 5}
    upload = an_upload(mode=UploadMode.SYNC, hold=hold, allow_mass_deactivation=True)
    links = ReportLinks(error_report_url="https://s3/errors", plan_report_url="https://s3/plan")
    # When the route builds its view
    body = served(upload_view(UploadWithLinks(upload, links)))
    # Then mode, hold and planReportUrl are there, and the confirm's flag is among its options
    assert body["mode"] == "sync" and body["hold"] == hold and body["planReportUrl"] == "https://s3/plan"
    assert body["options"] == {"skipInvalidRows": None, "moveExisting": None, "allowMassDeactivation": True}
    assert body["errorReportUrl"] == "https://s3/errors"


def test_a_view_with_results_without_passwords_says_so() -> None:
    links = ReportLinks(result_report_url="https://s3/results", result_report_has_passwords=False)
    body = served(upload_view(UploadWithLinks(an_upload(), links)))
    assert body == expected_view(resultReportUrl="https://s3/results", resultReportHasPasswords=False)


def test_a_row_error_keeps_exactly_the_keys_it_was_stored_with() -> None:
    # Given a stored error without requestId or docId, and one with them null
    sparse = {"line": 0, "field": "file", "code": "EMPTY", "message": "no rows"}
    nulls = {**sparse, "requestId": None, "docId": None}
    body = served(upload_view(UploadWithLinks(an_upload(errors=[sparse, nulls]), ReportLinks())))
    # Then neither gains nor loses a key
    assert body["errors"] == [sparse, nulls]


def test_a_page_has_next_cursor_only_when_there_is_more() -> None:
    view = upload_view(UploadWithLinks(an_upload(), ReportLinks()))
    assert served(UploadsResponse(uploads=[view])) == {"uploads": [expected_view()]}
    assert served(UploadsResponse(uploads=[], nextCursor="abc")) == {"uploads": [], "nextCursor": "abc"}
