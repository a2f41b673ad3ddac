"""Where an upload's objects live in the uploads bucket (the contract's S3 layout)."""

from __future__ import annotations

from urllib.parse import unquote_plus

INCOMING = "incoming/"


def incoming_key(facility_id: str, upload_id: str) -> str:
    """Where a presigned upload lands."""
    return f"{INCOMING}{facility_id}/{upload_id}.csv"


def parse_incoming_key(raw_key: str) -> tuple[str, str] | None:
    """(facilityId, file name) of an object key from an S3 event (URL-encoded), or None if not under incoming/."""
    key = unquote_plus(raw_key)
    if not key.startswith(INCOMING):
        return None
    facility_id, _, name = key[len(INCOMING) :].partition("/")
    if not facility_id or not name or name.endswith("/"):
        return None
    return facility_id, name


def error_report_key(facility_id: str, upload_id: str) -> str:
    return f"reports/{facility_id}/{upload_id}/errors.csv"


def plan_report_key(facility_id: str, upload_id: str) -> str:
    """plan.csv: what validation planned for each learner (line, docID, action, changed fields)."""
    return f"reports/{facility_id}/{upload_id}/plan.csv"


def results_report_key(facility_id: str, upload_id: str) -> str:
    return f"reports/{facility_id}/{upload_id}/results.csv"


# Results with generated passwords: outside reports/ (the SFTP logins' folder) and short-lived.
PASSWORDS = "passwords/"


def result_passwords_key(facility_id: str, upload_id: str) -> str:
    return f"{PASSWORDS}{facility_id}/{upload_id}/results.csv"


def plan_prefix(facility_id: str, upload_id: str) -> str:
    return f"plans/{facility_id}/{upload_id}/"


def plan_chunk_key(facility_id: str, upload_id: str, chunk: int) -> str:
    return f"{plan_prefix(facility_id, upload_id)}chunk-{chunk:06d}.json"


def result_part_key(facility_id: str, upload_id: str, chunk: int, start: int, rows: int) -> str:
    return f"{plan_prefix(facility_id, upload_id)}results/{chunk:06d}-{start:06d}-{rows:04d}.csv"


def rows_in_result_part(key: str) -> int:
    """How many rows a result part holds, from its name."""
    return int(key.rsplit("-", 1)[1].removesuffix(".csv"))


# What each use of an upload's data key is bound to (AES-GCM associated data, HMAC label): a sealed value moved to
# another row, upload or use fails to open.
def given_password_context(upload_id: str, line: int) -> str:
    return f"{upload_id}:{line}:given"


def generated_password_label(upload_id: str, line: int) -> str:
    return f"{upload_id}:{line}:generated"


def result_password_context(upload_id: str, line: int) -> str:
    return f"{upload_id}:{line}:result"
