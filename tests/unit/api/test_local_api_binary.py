"""The local API hands base64 answers (the learner cards PDF) to clients as API Gateway does with BinaryMediaTypes."""

from __future__ import annotations

import base64

from local.local_api import _response, answers_binary, binary_media_types, cors_headers

PDF = b"%PDF-1.4 \xff\x00 bytes"
RESULT = {
    "statusCode": 200,
    "multiValueHeaders": {"Content-Type": ["application/pdf"]},
    "body": base64.b64encode(PDF).decode(),
    "isBase64Encoded": True,
}


def test_given_the_template_then_pdf_is_a_binary_media_type_and_patch_is_allowed_by_cors() -> None:
    assert binary_media_types() == ("application/pdf",)
    assert "PATCH" in cors_headers()["Access-Control-Allow-Methods"].split(",")


def test_given_a_first_accept_of_pdf_when_answered_then_the_client_gets_the_bytes() -> None:
    status, headers, body = _response(RESULT, ("application/pdf",), "application/pdf, application/json")
    assert (status, body) == (200, PDF)
    assert ("Content-Type", "application/pdf") in headers


def test_given_no_binary_accept_when_answered_then_the_body_stays_base64_text_as_api_gateway_sends_it() -> None:
    for accept in (None, "*/*", "application/json, application/pdf"):
        _, _, body = _response(RESULT, ("application/pdf",), accept)
        assert body == RESULT["body"].encode(), accept


def test_accept_matching_takes_wildcards_and_parameters() -> None:
    assert answers_binary(("image/*",), "image/png;q=0.9")
    assert answers_binary(("*/*",), "text/html")
    assert not answers_binary(("application/pdf",), "")
