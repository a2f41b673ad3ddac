"""The template's optional Transfer Family block: off by default, two logical folders, each facility only its own."""

from __future__ import annotations

import json
import re
from typing import Any

from local.template import load_template

SFTP_RESOURCES = ("SftpLogGroup", "SftpServer", "SftpUserRole", "SftpFacilityUser")
BUCKET = "intake-uploads-test"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/test"
FACILITY_VARIABLE = "${transfer:UserName}"


def _resources() -> dict[str, Any]:
    return load_template()["Resources"]


def _substitute(template: str, values: dict[str, str]) -> str:
    """Fn::Sub of a string: ${Name} from values, ${!Literal} kept as ${Literal}."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return "${" + name[1:] + "}" if name.startswith("!") else values[name]

    return re.sub(r"\$\{([^}]+)\}", replace, template)


def _session_policy() -> dict[str, Any]:
    text = _resources()["SftpFacilityUser"]["Properties"]["Policy"]["Fn::Sub"]
    values = {"AWS::Partition": "aws", "UploadsBucket": BUCKET, "ReportsKey.Arn": KEY_ARN}
    return dict(json.loads(_substitute(text, values)))


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_sftp_is_off_unless_asked_for() -> None:
    # Given the template
    template = load_template()
    # When its SFTP parameter, conditions and resources are read
    # Then the server is opt-in, and every SFTP resource and output hangs on that choice
    assert template["Parameters"]["EnableSftp"]["Default"] == "false"
    assert template["Conditions"]["SftpEnabled"] == {"Fn::Equals": [{"Ref": "EnableSftp"}, "true"]}
    for name in SFTP_RESOURCES:
        assert _resources()[name]["Condition"] in ("SftpEnabled", "HasSftpFacilityUser"), name
    assert {name for name, out in template["Outputs"].items() if name.startswith("Sftp")} == {
        name for name, out in template["Outputs"].items() if out.get("Condition") == "SftpEnabled"
    }


def test_server_is_sftp_only_over_s3_with_keys_managed_by_the_service() -> None:
    # Given the Transfer server
    properties = _resources()["SftpServer"]["Properties"]
    # Then it speaks SFTP alone, stores in S3, and logs to a log group with retention
    assert properties["Protocols"] == ["SFTP"]
    assert (properties["Domain"], properties["IdentityProviderType"]) == ("S3", "SERVICE_MANAGED")
    assert properties["SecurityPolicyName"].startswith("TransferSecurityPolicy-20")
    log_group = properties["StructuredLogDestinations"][0]["Fn::GetAtt"][0]
    assert "RetentionInDays" in _resources()[log_group]["Properties"]


def test_a_facility_user_sees_its_incoming_and_reports_folders_only() -> None:
    # Given the facility user of the template
    properties = _resources()["SftpFacilityUser"]["Properties"]
    # Then its logical home maps exactly /incoming and /reports to that facility's prefixes of the uploads bucket
    assert properties["HomeDirectoryType"] == "LOGICAL"
    assert properties["UserName"] == {"Ref": "SftpFacilityId"}
    mappings = {m["Entry"]: m["Target"]["Fn::Sub"] for m in properties["HomeDirectoryMappings"]}
    assert mappings == {
        "/incoming": "/${UploadsBucket}/incoming/${SftpFacilityId}",
        "/reports": "/${UploadsBucket}/reports/${SftpFacilityId}",
    }


def test_session_policy_lets_a_facility_put_its_drops_and_get_its_reports_and_nothing_else() -> None:
    # Given the session policy every facility user gets (the user name is the facilityId)
    policy = _session_policy()
    statements = _statements(policy)
    assert len(json.dumps(policy)) <= 2048, "Transfer's limit on session policies"
    # Then puts go only below incoming/{facility}/, gets only below reports/{facility}/, lists only those prefixes
    own_incoming = f"arn:aws:s3:::{BUCKET}/incoming/{FACILITY_VARIABLE}/*"
    own_reports = f"arn:aws:s3:::{BUCKET}/reports/{FACILITY_VARIABLE}/*"
    assert statements["PutOwnDrops"]["Resource"] == own_incoming
    assert set(statements["PutOwnDrops"]["Action"]) == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert statements["GetOwnReports"]["Resource"] == own_reports
    assert set(statements["GetOwnReports"]["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    listing = statements["ListOwnFolders"]
    assert listing["Resource"] == f"arn:aws:s3:::{BUCKET}"
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    assert all(p.startswith((f"incoming/{FACILITY_VARIABLE}", f"reports/{FACILITY_VARIABLE}")) for p in prefixes)
    assert all(p.endswith((FACILITY_VARIABLE, f"{FACILITY_VARIABLE}/*")) for p in prefixes), "no sibling prefixes"
    # And nothing deletes, and the only other grant is the bucket's key
    actions = {a for s in policy["Statement"] for a in _as_list(s["Action"])}
    assert not any("Delete" in a or a.endswith("*") for a in actions)
    assert statements["BucketKeyUse"]["Resource"] == KEY_ARN


def test_user_role_is_for_transfer_of_this_account_and_scoped_to_the_two_prefixes() -> None:
    # Given the role Transfer assumes for facility sessions
    properties = _resources()["SftpUserRole"]["Properties"]
    trust = properties["AssumeRolePolicyDocument"]["Statement"]
    # Then only Transfer may assume it, for this account's server (no confused deputy)
    assert [s["Principal"] for s in trust] == [{"Service": "transfer.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "SftpServer.ServerId" in trust[0]["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    # And its grants are the session policy's, across facilities, never wider
    statements = {s["Sid"]: s for p in properties["Policies"] for s in p["PolicyDocument"]["Statement"]}
    assert statements["PutDrops"]["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/incoming/*"}
    assert statements["GetReports"]["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/reports/*"}
    assert statements["ListFacilityFolders"]["Condition"]["StringLike"]["s3:prefix"] == ["incoming/*", "reports/*"]
    session = _statements(_session_policy())
    for role_sid, session_sid in (("PutDrops", "PutOwnDrops"), ("GetReports", "GetOwnReports")):
        assert set(_as_list(statements[role_sid]["Action"])) == set(session[session_sid]["Action"])
    actions = {a for s in statements.values() for a in _as_list(s["Action"])}
    assert not any("Delete" in a or a.endswith("*") for a in actions)
