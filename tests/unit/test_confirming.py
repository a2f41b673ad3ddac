"""intake.confirming: the confirm's idempotency. The key is the command's upload_id, skip_invalid_rows and
move_existing (not who confirms); a repeated command answers the stored result and starts creation once."""

from __future__ import annotations

import hashlib
import json

import pytest

from intake import confirming
from intake.confirming import ConfirmCommand
from intake.domain import UploadStatus
from intake.errors import Conflict
from tests.unit.upload_support import creation_messages, idempotency_records, stored, validated_upload


@pytest.fixture
def start(aws, lambda_context):
    """confirming.start_creation_once with the invocation's context registered, as confirm_upload does."""
    confirming.idempotency_config.register_lambda_context(lambda_context)
    return lambda command: confirming.start_creation_once(command=command)


def _key_hash(upload_id: str, skip: bool, move: bool, allow_mass_deactivation: bool = False) -> str:
    data = json.dumps([upload_id, skip, move, allow_mass_deactivation], sort_keys=True).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()  # Powertools' key hash


def test_it_is_configured_as_the_contract_says():
    # Given the module as imported, Then the key is the upload and its options (allowMassDeactivation since #17),
    # kept an hour, on its own layer
    assert confirming.idempotency_config.event_key_jmespath == (
        "[upload_id, skip_invalid_rows, move_existing, allow_mass_deactivation]"
    )
    assert confirming.idempotency_config.expires_after_seconds == confirming.CONFIRM_IDEMPOTENCY_SECONDS == 3600
    assert isinstance(confirming.persistence, confirming.SettingsPersistenceLayer)


def test_two_calls_with_the_same_command_start_creation_once(aws, start):
    # Given a validated upload whose plan has 3 chunks
    upload = validated_upload(chunks=3)
    command = ConfirmCommand(upload_id=upload.upload_id, confirmed_by="ridge")
    # When the same command is run twice
    first = start(command)
    second = start(command)
    # Then both answer CREATING
    expected = {"uploadId": upload.upload_id, "status": "CREATING"}
    assert first == second == expected
    # And the upload is CREATING with the command's options, confirmed by its sender
    now = stored(upload.upload_id)
    assert now.status is UploadStatus.CREATING
    assert (now.skip_invalid_rows, now.move_existing, now.confirmed_by) == (False, False, "ridge")
    # And the creation queue got one message per chunk, once (a second run would resend them all)
    assert sorted(m["chunk"] for m in creation_messages(aws)) == [0, 1, 2]
    # And the idempotency table holds one COMPLETED record, keyed on the upload and its options, with the answer
    (record,) = idempotency_records(aws)
    assert record["status"] == "COMPLETED"
    assert record["id"].endswith(f"intake.confirming._start_creation#{_key_hash(upload.upload_id, False, False)}")
    assert json.loads(record["data"]) == expected


def test_who_confirms_is_not_part_of_the_key(aws, start, directory):
    # Given an upload confirmed once by ridge
    upload = validated_upload(chunks=1)
    start(ConfirmCommand(upload_id=upload.upload_id, confirmed_by="ridge"))
    creation_messages(aws)
    # When north sends the same options
    answer = start(ConfirmCommand(upload_id=upload.upload_id, confirmed_by="north"))
    # Then the stored answer is given: nothing is sent again and ridge is still the confirmer
    assert answer == {"uploadId": upload.upload_id, "status": "CREATING"}
    assert creation_messages(aws) == []
    assert stored(upload.upload_id).confirmed_by == "ridge"
    assert len(idempotency_records(aws)) == 1


@pytest.mark.parametrize("options", [{"skip_invalid_rows": True}, {"move_existing": True}])
def test_a_different_option_is_a_different_key(aws, start, options):
    # Given an upload confirmed with the default options
    upload = validated_upload(chunks=2)
    start(ConfirmCommand(upload_id=upload.upload_id, confirmed_by="ridge"))
    creation_messages(aws)
    # When it is confirmed again with one option changed
    with pytest.raises(Conflict, match="CREATING and cannot be confirmed"):
        start(ConfirmCommand(upload_id=upload.upload_id, confirmed_by="ridge", **options))
    # Then that command was not answered from the stored record: it ran, and was refused (the upload is CREATING
    # with the first options); nothing more was sent and only the first command's record stays (a failed one is
    # not kept)
    now = stored(upload.upload_id)
    assert now.status is UploadStatus.CREATING and (now.skip_invalid_rows, now.move_existing) == (False, False)
    assert creation_messages(aws) == []
    (record,) = idempotency_records(aws)
    assert record["id"].endswith(_key_hash(upload.upload_id, False, False))


def test_a_different_upload_is_a_different_key(aws, start):
    # Given two validated uploads
    one, two = validated_upload(chunks=1), validated_upload(chunks=1)
    # When each is confirmed with the same options
    start(ConfirmCommand(upload_id=one.upload_id, confirmed_by="ridge"))
    start(ConfirmCommand(upload_id=two.upload_id, confirmed_by="ridge"))
    # Then both are CREATING, each sent its chunk, and each has its own record
    assert {stored(u.upload_id).status for u in (one, two)} == {UploadStatus.CREATING}
    assert sorted(m["uploadId"] for m in creation_messages(aws)) == sorted([one.upload_id, two.upload_id])
    assert len(idempotency_records(aws)) == 2
