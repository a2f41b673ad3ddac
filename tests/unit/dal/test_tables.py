"""intake.dal.tables: the models are bound to the settings' tables on first use, never at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from intake.dal import tables
from intake.settings import get_settings

ROOT = Path(__file__).resolve().parents[3]
BOUND = {
    tables.AgencyItem: "AgenciesTable",
    tables.LocationItem: "LocationsTable",
    tables.StaffItem: "StaffTable",
    tables.LearnerItem: "LearnersTable",
    tables.UploadItem: "UploadsTable",
    tables.AuditItem: "AuditTable",
}


def test_importing_the_models_binds_nothing():
    # Given a fresh process with table names in its environment
    code = (
        "import intake.dal.tables as t; "
        "print(t.LearnerItem.Meta.table_name, t.bind_tables.cache_info().currsize, t.LearnerItem._connection)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers/common"), "LEARNERS_TABLE": "real-learners"}
    # When the models are imported
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    # Then they still have their unbound names, and nothing was read or connected
    assert out.split() == ["unbound-learners", "0", "None"]


def test_bind_tables_points_every_model_at_its_table(aws):
    # Given the template's tables in moto (their names in the environment)
    # When the tables are bound
    tables.rebind_tables()
    # Then every model names its own table, in the settings' region, and can read it
    for model, logical_id in BOUND.items():
        assert model.Meta.table_name == aws.tables[logical_id]
        assert model.Meta.region == "us-east-1"
    assert tables.LearnerItem.count() == 0
    assert tables.LearnerItem.describe_table()["TableName"] == aws.tables["LearnersTable"]


def test_bind_tables_reads_the_settings_once_and_rebind_tables_again(aws, monkeypatch: pytest.MonkeyPatch):
    # Given bound tables
    tables.rebind_tables()
    learners = aws.tables["LearnersTable"]
    # When the setting changes, bind_tables is called again (cached), then rebind_tables
    monkeypatch.setenv("LEARNERS_TABLE", "another-learners")
    get_settings.cache_clear()
    tables.bind_tables()
    cached = tables.LearnerItem.Meta.table_name
    tables.rebind_tables()
    rebound = tables.LearnerItem.Meta.table_name
    # Then the cached binding kept the old name, the rebinding took the new one and dropped the old connection
    assert cached == learners
    assert rebound == "another-learners"
    assert tables.LearnerItem._connection is None
    monkeypatch.setenv("LEARNERS_TABLE", learners)
    get_settings.cache_clear()
    tables.rebind_tables()


def test_a_learner_item_has_its_defaults():
    # Given a learner item made with only its required fields
    item = tables.LearnerItem(agencyId="ag", docId="D1")
    # When its defaults are read
    # Then a new learner is a Learner, with an empty history, at version 1
    assert (item.role, item.history, item.version) == ("Learner", [], 1)
