"""Staff sign-in hardening in template.yaml (finding 10): TOTP MFA, threat protection, SRP-only web client, WAF."""

from __future__ import annotations

from typing import Any

from local.template import load_template


def _resources() -> dict[str, Any]:
    return load_template()["Resources"]


def _parameter(name: str) -> dict[str, Any]:
    return load_template()["Parameters"][name]


def test_staff_mfa_is_a_parameter_admins_required_by_default() -> None:
    # Given the StaffMfa parameter, the user pool and the functions' environment
    parameter = _parameter("StaffMfa")
    pool = _resources()["UserPool"]["Properties"]
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]

    # Then it is OFF, OPTIONAL or ADMINS_REQUIRED (the default), the pool offers TOTP unless OFF, and the API reads it
    assert parameter["AllowedValues"] == ["OFF", "OPTIONAL", "ADMINS_REQUIRED"]
    assert parameter["Default"] == "ADMINS_REQUIRED"
    assert load_template()["Conditions"]["StaffMfaOn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "StaffMfa"}, "OFF"]}]}
    assert pool["MfaConfiguration"] == {"Fn::If": ["StaffMfaOn", "OPTIONAL", "OFF"]}
    assert pool["EnabledMfas"] == {"Fn::If": ["StaffMfaOn", ["SOFTWARE_TOKEN_MFA"], {"Ref": "AWS::NoValue"}]}
    assert env["STAFF_MFA"] == {"Ref": "StaffMfa"}


def test_threat_protection_is_a_parameter_enforced_by_default() -> None:
    # Given the ThreatProtection parameter and the user pool
    parameter = _parameter("ThreatProtection")
    pool = _resources()["UserPool"]["Properties"]

    # Then the pool's advanced security follows it, on the Plus plan it needs
    assert parameter["AllowedValues"] == ["OFF", "AUDIT", "ENFORCED"] and parameter["Default"] == "ENFORCED"
    assert pool["UserPoolAddOns"] == {"AdvancedSecurityMode": {"Ref": "ThreatProtection"}}
    assert pool["UserPoolTier"] == {"Fn::If": ["ThreatProtectionOn", "PLUS", "ESSENTIALS"]}


def test_the_deployed_web_client_signs_in_with_srp_only() -> None:
    # Given the app client the staff page uses
    client = _resources()["UserPoolClient"]["Properties"]

    # Then no password is ever sent to Cognito (USER_PASSWORD_AUTH is the local stack's alone), and no secret exists
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["GenerateSecret"] is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_local_client_adds_user_password_auth_and_the_pool_offers_totp(aws: Any) -> None:
    # Given the local stack's user pool made from the template
    import boto3

    from local.resources import provision_user_pool

    pool = provision_user_pool("us-east-1")
    cognito = boto3.client("cognito-idp", region_name="us-east-1")

    # When reading its client and MFA settings
    flows = cognito.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=pool.client_id)["UserPoolClient"]
    mfa = cognito.get_user_pool_mfa_config(UserPoolId=pool.pool_id)

    # Then scripts may use USER_PASSWORD_AUTH locally, and staff may enrol TOTP as deployed
    assert flows["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert mfa["MfaConfiguration"] == "OPTIONAL"
    assert mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}


def test_waf_rate_limits_each_ip_and_each_token_on_the_api_stage() -> None:
    # Given the WAF parameters, web ACL and its association
    resources = _resources()
    acl = resources["ApiWebAcl"]
    association = resources["ApiWebAclAssociation"]

    # Then both exist when EnableWaf is true (the default), on the API's stage
    assert _parameter("EnableWaf")["Default"] == "true"
    assert acl["Condition"] == association["Condition"] == "WafEnabled"
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert "/restapis/${IntakeApi}/stages/${IntakeApi.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]

    # And one rate-based rule counts per IP, one per Authorization header, each answering 429 in the contract's shape
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    per_ip = rules["PerIpRateLimit"]["Statement"]["RateBasedStatement"]
    per_token = rules["PerTokenRateLimit"]["Statement"]["RateBasedStatement"]
    assert per_ip["AggregateKeyType"] == "IP" and per_ip["Limit"] == {"Ref": "WafRequestsPerIp"}
    assert per_token["AggregateKeyType"] == "CUSTOM_KEYS" and per_token["Limit"] == {"Ref": "WafRequestsPerToken"}
    assert [key["Header"]["Name"] for key in per_token["CustomKeys"]] == ["authorization"]
    for rule in rules.values():
        response = rule["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 429
        body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert (
            body["ContentType"] == "APPLICATION_JSON" and '"code"' in body["Content"] and '"message"' in body["Content"]
        )
    assert _parameter("WafRequestsPerToken")["Default"] < _parameter("WafRequestsPerIp")["Default"]
