"""KMS envelope keys: a data key per upload, kept only encrypted under the stack's customer-managed key."""

from __future__ import annotations

import base64

from botocore.exceptions import BotoCoreError, ClientError

from intake.dal.aws import client
from intake.errors import StorageUnavailable
from intake.settings import get_settings

DATA_KEY_SPEC = "AES_256"


def _key_id() -> str:
    key_id = get_settings().reports_kms_key_id
    if not key_id:
        raise StorageUnavailable("No encryption key is configured (REPORTS_KMS_KEY_ID): passwords cannot be kept")
    return key_id


def new_data_key(upload_id: str) -> tuple[bytes, str]:
    """A fresh 256-bit data key: (its plaintext, to use now and forget; its KMS ciphertext, base64, to store)."""
    try:
        answer = client("kms").generate_data_key(
            KeyId=_key_id(), KeySpec=DATA_KEY_SPEC, EncryptionContext={"uploadId": upload_id}
        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable("Could not make an encryption key right now; try again in a moment") from exc
    return bytes(answer["Plaintext"]), base64.b64encode(answer["CiphertextBlob"]).decode("ascii")


def open_data_key(upload_id: str, sealed: str) -> bytes:
    """The plaintext of a stored data key (KMS checks that it was made for this upload)."""
    try:
        answer = client("kms").decrypt(
            KeyId=_key_id(), CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"uploadId": upload_id}
        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable("Could not read the upload's encryption key right now; try again in a moment") from exc
    return bytes(answer["Plaintext"])
