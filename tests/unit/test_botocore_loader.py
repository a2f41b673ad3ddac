"""tests/conftest.py: every botocore session the tests make reads the service models through one loader."""

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
