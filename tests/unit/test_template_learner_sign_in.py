"""Learner sign-in in template.yaml (issue 16): the machine client, the scoped route, the attempts table, the
function's settings, the per-client rate rule, the lockout alarm and the outputs the tablet platform needs."""

from __future__ import annotations

from typing import Any

from local.template import load_template

SCOPE = "intake/learner-sign-ins"


def _resources() -> dict[str, Any]:
    return load_template()["Resources"]


def test_the_tablet_client_is_a_client_credentials_client_with_only_the_sign_in_scope() -> None:
    # Given the resource server and the tablet client
    server = _resources()["UserPoolResourceServer"]["Properties"]
    tablet = _resources()["TabletClient"]
    props = tablet["Properties"]
    # Then the scope is intake/learner-sign-ins, of the staff pool
    assert server["UserPoolId"] == {"Ref": "UserPool"}
    # (and scim, the SCIM clients' scope: issue 19; no app client of the template has it)
    assert (server["Identifier"], [s["ScopeName"] for s in server["Scopes"]]) == (
        "intake",
        ["learner-sign-ins", "scim"],
    )
    # And the client has a secret Cognito generates, the client-credentials grant only, that scope only
    assert props["UserPoolId"] == {"Ref": "UserPool"} and props["GenerateSecret"] is True
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthFlows"] == ["client_credentials"]
    assert props["AllowedOAuthScopes"] == [SCOPE]
    assert "ALLOW_USER_PASSWORD_AUTH" not in props.get("ExplicitAuthFlows", [])
    # And its access tokens live 60 minutes; the scope exists before the client names it
    assert (props["AccessTokenValidity"], props["TokenValidityUnits"]) == (60, {"AccessToken": "minutes"})
    assert tablet["DependsOn"] == "UserPoolResourceServer"


def test_the_pool_has_a_domain_for_the_token_endpoint_unique_to_the_stack() -> None:
    domain = _resources()["UserPoolDomain"]["Properties"]
    assert domain["UserPoolId"] == {"Ref": "UserPool"}
    assert domain["Domain"] == {
        "Fn::Join": ["", ["intake-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]
    }


def test_the_sign_in_route_takes_only_the_scope_and_the_function_knows_the_tablet_client() -> None:
    function = _resources()["ApiFunction"]["Properties"]
    event = function["Events"]["LearnerSignIn"]["Properties"]
    assert (event["Method"], event["Path"]) == ("POST", "/learner-sign-ins")
    assert event["Auth"] == {"Authorizer": "CognitoAuthorizer", "AuthorizationScopes": [SCOPE]}
    env = function["Environment"]["Variables"]
    assert env == {
        "SIGN_IN_ATTEMPTS_TABLE": {"Ref": "SignInAttemptsTable"},
        "TABLET_CLIENT_ID": {"Ref": "TabletClient"},
        "LEARNER_LOCKOUT_SECONDS": {"Ref": "LearnerLockoutSeconds"},
        "LEARNER_ACCESS_CACHE_SECONDS": "30",
    }
    parameter = load_template()["Parameters"]["LearnerLockoutSeconds"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (60, 1, 900)


def test_the_attempts_table_is_keyed_by_agency_and_login_hash_encrypted_and_expired() -> None:
    table = _resources()["SignInAttemptsTable"]
    props = table["Properties"]
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == [
        ("agencyId", "HASH"),
        ("loginKey", "RANGE"),
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True and props["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Delete"
    assert "GlobalSecondaryIndexes" not in props


def test_waf_limits_sign_ins_per_client_token() -> None:
    rules = {r["Name"]: r for r in _resources()["ApiWebAcl"]["Properties"]["Rules"]}
    rule = rules["SignInsPerClientRateLimit"]
    statement = rule["Statement"]["RateBasedStatement"]
    assert statement["Limit"] == {"Ref": "WafSignInsPerClient"}
    assert statement["AggregateKeyType"] == "CUSTOM_KEYS"
    assert [key["Header"]["Name"] for key in statement["CustomKeys"]] == ["authorization"]
    match = statement["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["FieldToMatch"], match["SearchString"]) == ({"UriPath": {}}, "/learner-sign-ins")
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    assert len({r["Priority"] for r in rules.values()}) == len(rules)


def test_a_burst_of_lockouts_in_one_facility_raises_an_alarm() -> None:
    alarm = _resources()["LearnerLockoutsAlarm"]["Properties"]
    (query,) = alarm["Metrics"]
    expression = " ".join(query["Expression"].split())
    assert expression.startswith('SELECT SUM(LearnerSignInLockouts) FROM SCHEMA("Intake", facilityId, service)')
    assert "GROUP BY facilityId" in expression and "LIMIT 1" in expression
    assert query["ReturnData"] is True and query["Period"] == 300
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] >= 1
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_outputs_tell_the_tablet_platform_what_it_needs() -> None:
    outputs = load_template()["Outputs"]
    assert outputs["TabletClientId"]["Value"] == {"Ref": "TabletClient"}
    assert outputs["TabletScope"]["Value"] == SCOPE
    assert outputs["TabletTokenUrl"]["Value"] == {
        "Fn::Sub": "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"
    }
    assert "describe-user-pool-client" in outputs["TabletClientId"]["Description"]
