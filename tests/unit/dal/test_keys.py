"""intake.dal.keys: a KMS data key per upload, stored only sealed, opened only for the upload it was made for."""

from __future__ import annotations

import base64

import pytest

from intake.dal import keys
from intake.dal.aws import client
from intake.errors import StorageUnavailable
from intake.settings import get_settings

FAULTED = ("kms",)


def test_a_new_data_key_is_256_bits_and_sealed_under_the_reports_key(aws):
    # Given the stack's reports key
    # When a data key is made for an upload
    plaintext, sealed = keys.new_data_key("up-1")
    # Then it is 32 bytes, and its sealed form is base64 of a ciphertext KMS opens, for that upload, to the same key
    assert len(plaintext) == 32
    opened = client("kms").decrypt(
        CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"uploadId": "up-1"}, KeyId=aws.reports_kms_key_id
    )
    assert opened["Plaintext"] == plaintext
    assert opened["KeyId"] == aws.reports_kms_key_id


def test_a_sealed_key_opens_to_its_plaintext(aws):
    # Given a data key made for an upload
    plaintext, sealed = keys.new_data_key("up-1")
    # When it is opened for that upload
    # Then it is the same key
    assert keys.open_data_key("up-1", sealed) == plaintext


def test_each_upload_gets_its_own_key(aws):
    # Given two uploads
    # When a key is made for each
    first, second = keys.new_data_key("up-1"), keys.new_data_key("up-2")
    # Then the keys and their sealed forms differ
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_a_sealed_key_does_not_open_for_another_upload(aws):
    # Given a data key made for up-1
    _, sealed = keys.new_data_key("up-1")
    # When it is opened for up-2
    # Then KMS refuses it (the encryption context is the upload's) and the refusal is the domain's
    with pytest.raises(StorageUnavailable, match="Could not read the upload's encryption key"):
        keys.open_data_key("up-2", sealed)


@pytest.mark.parametrize("operation", ["new", "open"])
def test_without_a_configured_key_nothing_is_asked_of_kms(aws, faults, monkeypatch, operation):
    # Given no reports key configured
    _, sealed = keys.new_data_key("up-1")
    monkeypatch.setenv("REPORTS_KMS_KEY_ID", "")
    get_settings.cache_clear()
    calls = sum(faults.calls.values())
    # When a key is made or opened
    with pytest.raises(StorageUnavailable, match="No encryption key is configured"):
        if operation == "new":
            keys.new_data_key("up-1")
        else:
            keys.open_data_key("up-1", sealed)
    # Then KMS was not called
    assert sum(faults.calls.values()) == calls


def test_a_failed_key_creation_is_storage_unavailable(aws, refuse, faults):
    # Given KMS throttling key creation
    rule = refuse("kms", "GenerateDataKey", "ThrottlingException")
    # When a key is made
    # Then the failure is the domain's, after botocore's retries
    with pytest.raises(StorageUnavailable, match="Could not make an encryption key"):
        keys.new_data_key("up-1")
    assert rule.fired == 6
    assert len(faults.delays) == 5


def test_a_failed_key_opening_is_storage_unavailable(aws, refuse):
    # Given a sealed key, and KMS denying decryption
    _, sealed = keys.new_data_key("up-1")
    refuse("kms", "Decrypt", "AccessDeniedException")
    # When it is opened
    # Then the failure is the domain's
    with pytest.raises(StorageUnavailable, match="Could not read the upload's encryption key"):
        keys.open_data_key("up-1", sealed)
