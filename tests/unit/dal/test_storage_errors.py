"""intake.dal.storage_errors: what counts as a refused condition, and storage failures turned into domain errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pynamodb.exceptions import PutError, UpdateError

from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.errors import Conflict, StorageUnavailable


def _client_error(code: str, operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, operation)


def test_a_refused_condition_is_recognised_in_a_botocore_error():
    # Given botocore's error for a failed condition, and one for throttling
    # When each is classified
    # Then only the refused condition counts as one
    assert is_condition_failure(_client_error("ConditionalCheckFailedException"))
    assert not is_condition_failure(_client_error("ProvisionedThroughputExceededException"))


def test_a_refused_condition_is_recognised_in_a_pynamodb_error():
    # Given PynamoDB's errors wrapping a refused condition and a throttled write
    refused = PutError("refused", cause=_client_error("ConditionalCheckFailedException"))
    throttled = UpdateError("throttled", cause=_client_error("ProvisionedThroughputExceededException", "UpdateItem"))
    # When each is classified
    # Then only the refused condition counts as one
    assert refused.cause_response_code == "ConditionalCheckFailedException"
    assert is_condition_failure(refused)
    assert not is_condition_failure(throttled)


def test_errors_without_a_code_are_not_refused_conditions():
    # Given errors that carry no response code at all
    # When each is classified
    # Then none counts as a refused condition
    assert not is_condition_failure(ValueError("ConditionalCheckFailedException"))
    assert not is_condition_failure(EndpointConnectionError(endpoint_url="http://x"))
    assert not is_condition_failure(ClientError({}, "PutItem"))


@pytest.mark.parametrize(
    "error",
    [
        _client_error("AccessDeniedException"),
        EndpointConnectionError(endpoint_url="http://dynamodb"),
        PutError("throttled", cause=_client_error("ProvisionedThroughputExceededException")),
    ],
    ids=["botocore-client-error", "botocore-connection-error", "pynamodb-error"],
)
def test_storage_errors_become_storage_unavailable_naming_what_failed(error):
    # Given a storage call that fails with a botocore or PynamoDB error
    # When it runs inside storage_call
    with pytest.raises(StorageUnavailable) as raised, storage_call("save the learner"):
        raise error
    # Then the domain error names what could not be done, and keeps the storage error as its cause
    assert raised.value.message == "Could not save the learner right now; try again in a moment"
    assert raised.value.code == "UNAVAILABLE"
    assert raised.value.__cause__ is error


def test_domain_errors_and_results_pass_through_unchanged():
    # Given a call that raises a domain error, and one that succeeds
    conflict = Conflict("taken")
    # When each runs inside storage_call
    with pytest.raises(Conflict) as raised, storage_call("save the staff member"):
        raise conflict
    with storage_call("read"):
        value = 41 + 1
    # Then the domain error is the same object, not wrapped, and the successful call is untouched
    assert raised.value is conflict
    assert value == 42


def test_other_exceptions_are_not_hidden_as_storage_errors():
    # Given a programming error inside a storage call
    # When it runs inside storage_call
    # Then it is raised as it is, not dressed up as a retryable storage failure
    with pytest.raises(KeyError), storage_call("read the learner"):
        raise KeyError("docId")
