"""The OpenAPI document tells what the API really answers: the contract's errors and the Cognito bearer token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api_routes.openapi import SECURITY_SCHEME, contract_document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import api_handler

    return json.loads(api_handler.openapi_json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_no_operation_documents_powertools_422(document) -> None:
    # Given the served document
    # Then no operation answers 422 and the Powertools-only schemas are gone
    assert all("422" not in op["responses"] for _, _, op in operations(document))
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])
    assert "HTTPValidationError" not in json.dumps(document)


def test_every_operation_documents_a_success_and_contract_errors(document) -> None:
    for method, path, op in operations(document):
        responses = op["responses"]
        # Then each operation has its success status
        assert any(status.startswith("2") for status in responses), (method, path)
        # And every error status carries the contract's {code, message} body
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
        secured = (method, path) != ("get", "/health")
        assert ("401" in responses) is secured, (method, path)
        # And only operations with a body or a query string document 400
        has_input = "requestBody" in op or any(p["in"] != "path" for p in op.get("parameters", []))
        assert ("400" in responses) is has_input, (method, path)
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in responses, (method, path)
    assert set(document["components"]["schemas"]["ErrorResponse"]["required"]) == {"code", "message"}


def test_bearer_security_everywhere_but_health(document) -> None:
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert document["security"] == [{SECURITY_SCHEME: []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert all("security" not in op for method, path, op in operations(document) if path != "/health")


def test_route_errors_are_documented_where_routes_raise_them(document) -> None:
    paths = document["paths"]
    assert {"403", "409"} <= set(paths["/learners"]["post"]["responses"])
    assert {"403", "409"} <= set(paths["/uploads/{uploadId}/confirm"]["post"]["responses"])
    assert {"403", "404"} <= set(paths["/uploads"]["post"]["responses"])
    assert "409" not in paths["/uploads"]["post"]["responses"]


def test_contract_document_leaves_its_input_alone() -> None:
    # Given a minimal generated document
    raw = {"paths": {"/x/{id}": {"get": {"parameters": [{"in": "path", "name": "id"}], "responses": {"422": {}}}}}}
    # When it is post-processed
    fixed = contract_document(raw)
    # Then the copy is fixed and the input is not
    assert set(fixed["paths"]["/x/{id}"]["get"]["responses"]) == {"401", "404", "429", "503"}
    assert raw["paths"]["/x/{id}"]["get"]["responses"] == {"422": {}}


def test_every_json_route_documents_the_model_it_returns(document) -> None:
    # Given every documented route of the app (Powertools keeps them in two lists)
    from pydantic import BaseModel

    import api_handler

    routes = [*api_handler.app._static_routes, *api_handler.app._dynamic_routes]
    checked = 0
    for route in routes:
        returned = route.dependant.return_param.type_ if route.dependant.return_param else None
        if not route.include_in_schema or not (isinstance(returned, type) and issubclass(returned, BaseModel)):
            continue
        responses = document["paths"][route.openapi_path][route.method.lower()]["responses"]
        success = [status for status in responses if status.startswith("2")]
        # Then its one success answer is documented with the model the route returns, nothing hand-written
        assert len(success) == 1, (route.method, route.openapi_path)
        schema = responses[success[0]]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{returned.__name__}"}, (route.method, route.openapi_path)
        checked += 1
    # And every JSON route is among them: none answers a hand-built dict
    not_json = {("GET", "/facilities/{facilityId}/template"), ("POST", "/facilities/{facilityId}/learner-cards")}
    documented = [r for r in routes if r.include_in_schema]
    assert checked == len(documented) - len(not_json)
    assert not_json <= {(r.method, r.openapi_path) for r in documented}


# Issue 15: a learner's whole account life. Each route: its request body, its success model and its errors.
ACCOUNT_LIFE = [
    ("get", "/facilities/{facilityId}/learners", None, "RosterResponse", {"400", "404"}),
    ("patch", "/learners/{learnerId}", "EditLearnerRequest", "LearnerResponse", {"400", "403", "404", "409"}),
    ("post", "/learners/{learnerId}/deactivate", None, "LearnerResponse", {"403", "404"}),
    ("post", "/learners/{learnerId}/reactivate", None, "LearnerResponse", {"403", "404"}),
    ("post", "/learners/{learnerId}/password", "ResetPasswordRequest", "PasswordResetResponse", {"400", "403", "404"}),
    (
        "post",
        "/facilities/{facilityId}/learners/status",
        "SetStatusesRequest",
        "StatusResultsResponse",
        {"400", "403", "404"},
    ),
    ("post", "/facilities/{facilityId}/learner-cards", "LearnerCardsRequest", None, {"400", "403", "404"}),
]


@pytest.mark.parametrize(("method", "path", "request_model", "response_model", "errors"), ACCOUNT_LIFE)
def test_given_an_account_life_route_then_its_bodies_and_errors_are_documented(
    document, method, path, request_model, response_model, errors
) -> None:
    operation = document["paths"][path][method]
    # Then its request body is the request model (JSON), if it takes one
    if request_model is None:
        assert "requestBody" not in operation
    else:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{request_model}"}
        assert request_model in document["components"]["schemas"]
    # And its success answer is the response model
    success = operation["responses"]["200"]["content"]
    if response_model is not None:
        assert success == {"application/json": {"schema": {"$ref": f"#/components/schemas/{response_model}"}}}
    # And the errors the route raises are documented with the contract's error body
    assert errors | {"401", "429", "503"} <= set(operation["responses"])


def test_cards_are_documented_as_a_pdf_and_the_roster_query_with_its_bounds(document) -> None:
    cards = document["paths"]["/facilities/{facilityId}/learner-cards"]["post"]["responses"]["200"]["content"]
    assert cards == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    parameters = {p["name"]: p for p in document["paths"]["/facilities/{facilityId}/learners"]["get"]["parameters"]}
    assert {"facilityId", "q", "locationId", "status", "limit", "cursor"} == set(parameters)
    status = parameters["status"]["schema"]
    assert (status["enum"], status["default"]) == (["ACTIVE", "INACTIVE", "ALL"], "ACTIVE")
    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 50)
    assert parameters["cursor"]["schema"]["anyOf"][0]["maxLength"] == 2000


def test_selections_are_bounded_to_500_unique_ids(document) -> None:
    schemas = document["components"]["schemas"]
    for name in ("SetStatusesRequest", "LearnerCardsRequest"):
        ids = schemas[name]["properties"]["learnerIds"]
        assert (ids["minItems"], ids["maxItems"]) == (1, 500), name
    assert set(schemas["SetStatusesRequest"]["required"]) == {"learnerIds", "status"}
    assert schemas["LearnerCardsRequest"]["properties"]["resetPasswords"]["default"] is False
    assert "outcome" in schemas["CreatedLearnerResponse"]["required"]


# Issue 18: the document states what the v1 learner and staff bodies require, beyond type and size.
def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator  # schemathesis' own validator (a dev dependency through it)

    # The whole document as the root, so that the schema's "#/components/schemas/..." references resolve
    return Draft202012Validator({**document, **schema})


def _valid(document: dict[str, Any], component: str, body: dict[str, Any]) -> bool:
    return _validator(document, {"$ref": f"#/components/schemas/{component}"}).is_valid(body)


LEARNER = {"docId": "a-1", "firstName": "José", "lastName": "O'Neil", "dateOfBirth": "3/7/1990", "locationId": "u1"}


@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({}, True),
        ({"docId": " ab-12\t", "password": ""}, True),
        ({"password": None}, True),
        ({"password": "Gardenia Road 77"}, True),
        ({"firstName": "  Mary  Ann ", "lastName": "Núñez-O’Neil"}, True),
        ({"dateOfBirth": "12/31/1990"}, True),
        ({"docId": "1E5"}, False),  # scientific notation, as Excel shows a long number
        ({"docId": "X" * 21}, False),
        ({"docId": "12_34"}, False),
        ({"docId": "\u0131d"}, False),
        ({"firstName": ""}, False),
        ({"firstName": "   "}, False),
        ({"firstName": "J0hn"}, False),
        ({"lastName": "Smith\x00"}, False),
        ({"lastName": "-"}, False),
        ({"firstName": "a" * 51}, False),
        ({"dateOfBirth": "1990-03-07"}, False),
        ({"dateOfBirth": "13/01/1990"}, False),
        ({"dateOfBirth": "3/7/90"}, False),
        ({"locationId": " "}, False),
        ({"password": "short"}, False),
        ({"password": " padded password"}, False),
    ],
)
def test_the_new_learner_body_states_the_rules_of_its_fields(document, changes, valid) -> None:
    # Given a body a client sends to POST /learners
    body = {**LEARNER, **changes}
    # Then the document accepts it exactly when intake.rules do (the DOC ID, names, date pattern, password bounds)
    assert _valid(document, "CreateLearnerRequest", body) is valid


def test_the_doc_id_searched_has_the_doc_id_pattern(document) -> None:
    (parameter,) = document["paths"]["/learners"]["get"]["parameters"]
    searched = _validator(document, parameter["schema"])
    assert searched.is_valid(" a1234821 ") and searched.is_valid("AB-12")
    assert not searched.is_valid("1E5") and not searched.is_valid("12 34") and not searched.is_valid("")


INVITE = {"username": "mia", "email": "mia@example.org"}


@pytest.mark.parametrize(
    ("grant", "valid"),
    [
        ({"role": "Educator", "agencyId": "a", "facilityIds": ["f1"]}, True),
        ({"role": "FacilityAdmin", "agencyId": "a", "facilityIds": ["f1", "f2"]}, True),
        ({"role": "AgencyAdmin", "agencyId": "a"}, True),
        ({"role": "AgencyAdmin", "agencyId": "a", "facilityIds": []}, True),
        ({"role": "SystemAdmin"}, True),
        ({"role": "SystemAdmin", "agencyId": None, "facilityIds": []}, True),
        ({"role": "Educator", "agencyId": "a"}, False),
        ({"role": "Educator", "agencyId": "a", "facilityIds": []}, False),
        ({"role": "FacilityAdmin", "facilityIds": ["f1"]}, False),
        ({"role": "AgencyAdmin"}, False),
        ({"role": "AgencyAdmin", "agencyId": "a", "facilityIds": ["f1"]}, False),
        ({"role": "SystemAdmin", "agencyId": "a"}, False),
        ({"role": "SystemAdmin", "facilityIds": ["f1"]}, False),
        ({"role": "Learner", "agencyId": "a"}, False),
        ({"role": "Educator", "agencyId": "a", "facilityIds": ["f1"], "extra": 1}, False),
    ],
)
def test_a_staff_grant_is_one_body_per_role(document, grant, valid) -> None:
    # Given a grant a client sends, to invite someone or to change someone's scope
    # Then both documents accept it exactly when admin_service's grant check (beyond stored state) does
    assert _valid(document, "InviteStaffRequest", {**INVITE, **grant}) is valid
    assert _valid(document, "ChangeStaffRequest", grant) is valid


@pytest.mark.parametrize(("component", "suffix"), [("InviteStaffRequest", "Invite"), ("ChangeStaffRequest", "Grant")])
def test_a_staff_body_is_a_one_of_discriminated_by_role(document, component, suffix) -> None:
    schema = document["components"]["schemas"][component]
    roles = ("Educator", "FacilityAdmin", "AgencyAdmin", "SystemAdmin")
    refs = [f"#/components/schemas/{role}{suffix}" for role in roles]
    assert [one["$ref"] for one in schema["oneOf"]] == refs
    assert schema["discriminator"] == {"propertyName": "role", "mapping": dict(zip(roles, refs, strict=True))}


@pytest.mark.parametrize(
    ("grant", "valid"),
    [
        ({"role": "Educator", "facilityId": "f1"}, True),
        ({"role": "FacilityAdmin", "facilityId": "f1"}, True),
        ({"role": "AgencyAdmin"}, True),
        ({"role": "AgencyAdmin", "facilityId": None}, True),
        ({"role": "Educator"}, False),
        ({"role": "FacilityAdmin", "facilityId": None}, False),
        ({"role": "AgencyAdmin", "facilityId": "f1"}, False),
        ({"role": "SystemAdmin"}, False),
        ({"role": "Educator", "facilityId": "f1", "agencyId": "a"}, False),
        ({"role": "Educator", "facilityId": "not an id"}, False),
    ],
)
def test_one_grant_added_or_removed_is_one_body_per_role(document, grant, valid) -> None:
    # Given a grant a client sends to add to or remove from a staff member (issue 19)
    # Then the document accepts it exactly when admin_service's check (beyond stored state) does
    assert _valid(document, "GrantChangeRequest", grant) is valid
    roles = ("Educator", "FacilityAdmin", "AgencyAdmin")
    refs = [f"#/components/schemas/{role}OneGrant" for role in roles]
    assert [one["$ref"] for one in document["components"]["schemas"]["GrantChangeRequest"]["oneOf"]] == refs
