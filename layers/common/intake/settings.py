"""Settings from the environment, read once per process through a cached factory (never at import time)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Everything Intake reads from its environment; names are those of template.yaml's Globals."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    region: str = Field(default="us-east-1", alias="AWS_REGION")
    agencies_table: str = Field(default="intake-agencies", alias="AGENCIES_TABLE")
    locations_table: str = Field(default="intake-locations", alias="LOCATIONS_TABLE")
    staff_table: str = Field(default="intake-staff", alias="STAFF_TABLE")
    learners_table: str = Field(default="intake-learners", alias="LEARNERS_TABLE")
    usernames_table: str = Field(default="intake-usernames", alias="USERNAMES_TABLE")
    uploads_table: str = Field(default="intake-uploads", alias="UPLOADS_TABLE")
    idempotency_table: str = Field(default="intake-idempotency", alias="IDEMPOTENCY_TABLE")
    audit_table: str = Field(default="intake-audit", alias="AUDIT_TABLE")
    sign_in_attempts_table: str = Field(default="intake-sign-in-attempts", alias="SIGN_IN_ATTEMPTS_TABLE")
    uploads_bucket: str = Field(default="intake-uploads", alias="UPLOADS_BUCKET")
    creation_queue_url: str = Field(default="", alias="CREATION_QUEUE_URL")
    reports_kms_key_id: str = Field(default="", alias="REPORTS_KMS_KEY_ID")
    user_pool_id: str = Field(default="", alias="USER_POOL_ID")
    user_pool_client_id: str = Field(default="", alias="USER_POOL_CLIENT_ID")
    # how the staff page signs in: SRP deployed; the local stack uses USER_PASSWORD_AUTH (moto checks no SRP proof)
    web_auth_flow: Literal["USER_SRP_AUTH", "USER_PASSWORD_AUTH"] = Field(
        default="USER_SRP_AUTH", alias="WEB_AUTH_FLOW"
    )
    # template.yaml's StaffMfa: ADMINS_REQUIRED refuses SystemAdmin and AgencyAdmin logins without an authenticator
    staff_mfa: Literal["OFF", "OPTIONAL", "ADMINS_REQUIRED"] = Field(default="OPTIONAL", alias="STAFF_MFA")
    # the tablet platform's app client (client-credentials grant, scope intake/learner-sign-ins): the only client
    # whose access tokens POST /learner-sign-ins takes
    tablet_client_id: str = Field(default="", alias="TABLET_CLIENT_ID")
    # the first lockout's wait after 5 failed learner sign-ins in a row; it doubles with each further failure, to 900
    learner_lockout_seconds: int = Field(default=60, gt=0, le=900, alias="LEARNER_LOCKOUT_SECONDS")
    # how long one sandbox trusts a facility's learnerAccess switch it read (a change made through it applies at once)
    learner_access_cache_seconds: float = Field(default=30.0, ge=0, le=300, alias="LEARNER_ACCESS_CACHE_SECONDS")
    aws_endpoint_url: str = Field(default="", alias="AWS_ENDPOINT_URL")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, alias="MAX_UPLOAD_BYTES")
    max_upload_rows: int = Field(default=200_000, gt=0, alias="MAX_UPLOAD_ROWS")
    upload_link_ttl_seconds: int = Field(default=900, gt=0, le=3600, alias="UPLOAD_LINK_TTL_SECONDS")
    report_link_ttl_seconds: int = Field(default=300, gt=0, le=3600, alias="REPORT_LINK_TTL_SECONDS")
    creation_chunk_size: int = Field(default=200, gt=0, le=1000, alias="CREATION_CHUNK_SIZE")
    upload_expiry_days: int = Field(default=2, gt=0, alias="UPLOAD_EXPIRY_DAYS")
    # CPU seconds one file may take to read and check (bulk/reading.py), past which it is REJECTED as TOO_SLOW.
    # ValidatorFunction's 300 s timeout at 1024 MB (1024/1769 of a vCPU) gives a busy thread ~174 s of CPU; 150
    # leaves the rest for the reports and the plan. A 200,000-row file takes well under a minute of it.
    validation_cpu_seconds: float = Field(default=150.0, gt=0, alias="VALIDATION_CPU_SECONDS")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated once."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    values = {name: value for name, value in os.environ.items() if name in _ALIASES}
    values["AWS_REGION"] = region
    return Settings.model_validate(values)


_ALIASES = frozenset(field.alias for field in Settings.model_fields.values() if field.alias)
