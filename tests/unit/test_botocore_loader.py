"""tests/conftest.py: every botocore session the tests make reads the service models through one loader; PynamoDB reuses
one session per thread."""

from __future__ import annotations

import boto3
import botocore.session


def test_new_sessions_share_one_loader_and_its_parsed_models() -> None:
    # Given two sessions made as Intake's clients and PynamoDB make theirs (a new session each)
    first, second = boto3.session.Session(), botocore.session.get_session()
    # Then both read through the same loader, so a model parsed once is not parsed again
    loader = first._session.get_component("data_loader")
    assert loader is second.get_component("data_loader")
    model = loader.load_service_model("dynamodb", "service-2")
    assert second.get_component("data_loader").load_service_model("dynamodb", "service-2") is model


def test_a_session_with_its_own_data_path_keeps_its_own_loader() -> None:
    # Given a session told to read models from another path, Then it is not given the shared loader
    session = botocore.session.get_session({"data_path": ("data_path", None, "/nonexistent", None)})
    session.set_config_variable("data_path", "/nonexistent")
    shared = botocore.session.get_session().get_component("data_loader")
    assert session.get_component("data_loader") is not shared


def test_pynamodb_connections_share_a_session_per_thread_until_the_built_in_handlers_change() -> None:
    import threading

    import botocore.handlers
    import pynamodb.connection.base

    get_session = pynamodb.connection.base.get_session
    # Given PynamoDB's sessions in this thread, Then two connections get the same one
    first = get_session()
    assert get_session() is first
    # And another thread gets its own (a botocore session is not thread-safe)
    other: list[botocore.session.Session] = []
    thread = threading.Thread(target=lambda: other.append(get_session()))
    thread.start()
    thread.join()
    assert other[0] is not first
    # When a hook is added to the built-in handlers (as tests.iam_recorder does), Then the next session is new and
    # has it; once the hook is gone, a newer one again
    hook = ("before-parameter-build", lambda **_: None)
    botocore.handlers.BUILTIN_HANDLERS.append(hook)
    try:
        hooked = get_session()
        assert hooked is not first
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(hook)
    assert get_session() not in (first, hooked)
