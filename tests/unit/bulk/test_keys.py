"""The uploads bucket's layout (contract, S3 layout) and what each use of a data key is bound to."""

from __future__ import annotations

import pytest

from intake.bulk import keys


def test_incoming_key_is_under_incoming_by_facility() -> None:
    assert keys.incoming_key("fac-ridge", "upl-1") == "incoming/fac-ridge/upl-1.csv"


def test_parse_incoming_key_round_trips_a_presigned_key() -> None:
    # Given the key a presigned upload lands at, Then it parses back to its facility and file name
    assert keys.parse_incoming_key(keys.incoming_key("fac-ridge", "upl-1")) == ("fac-ridge", "upl-1.csv")


def test_parse_incoming_key_decodes_the_event_encoding() -> None:
    # Given an S3 event's URL-encoded key (spaces as +, others as %XX), Then the real name comes back
    assert keys.parse_incoming_key("incoming/fac-ridge/March+intake%282%29.csv") == (
        "fac-ridge",
        "March intake(2).csv",
    )


def test_parse_incoming_key_keeps_a_deeper_path_as_the_name() -> None:
    assert keys.parse_incoming_key("incoming/fac-ridge/sub/a.csv") == ("fac-ridge", "sub/a.csv")


@pytest.mark.parametrize(
    "raw",
    [
        "reports/fac-ridge/upl-1/errors.csv",
        "plans/fac-ridge/upl-1/chunk-000000.json",
        "incoming/",
        "incoming/fac-ridge",
        "incoming/fac-ridge/",
        "incoming//a.csv",
        "incoming/fac-ridge/folder/",
        "Incoming/fac-ridge/a.csv",
    ],
)
def test_parse_incoming_key_refuses_keys_that_are_not_a_facility_file(raw: str) -> None:
    assert keys.parse_incoming_key(raw) is None


def test_report_keys_are_under_reports_and_passwords_outside_it() -> None:
    # Then errors and results are in reports/<facility>/<upload>/ (the SFTP logins' folder)
    assert keys.error_report_key("fac-ridge", "upl-1") == "reports/fac-ridge/upl-1/errors.csv"
    assert keys.results_report_key("fac-ridge", "upl-1") == "reports/fac-ridge/upl-1/results.csv"
    # And the results with passwords are not
    passwords_key = keys.result_passwords_key("fac-ridge", "upl-1")
    assert passwords_key == "passwords/fac-ridge/upl-1/results.csv"
    assert not passwords_key.startswith("reports/")


def test_plan_keys_sort_by_chunk_and_line() -> None:
    # Given plan chunks and result parts
    assert keys.plan_prefix("f", "u") == "plans/f/u/"
    chunks = [keys.plan_chunk_key("f", "u", n) for n in (10, 2, 1)]
    # Then their names sort in chunk order, and each is under the plan prefix
    assert sorted(chunks) == [keys.plan_chunk_key("f", "u", n) for n in (1, 2, 10)]
    assert keys.plan_chunk_key("f", "u", 2) == "plans/f/u/chunk-000002.json"
    part = keys.result_part_key("f", "u", 3, 401, 200)
    assert part == "plans/f/u/results/000003-000401-0200.csv"
    assert part.startswith(keys.plan_prefix("f", "u"))


@pytest.mark.parametrize("rows", [0, 1, 200, 1000])
def test_rows_in_result_part_reads_the_count_back(rows: int) -> None:
    assert keys.rows_in_result_part(keys.result_part_key("f", "u", 7, 1, rows)) == rows


def test_each_use_of_a_data_key_has_its_own_binding_per_upload_and_line() -> None:
    # Given the bindings of line 2 of upload 1
    bindings = {
        keys.given_password_context("upl-1", 2),
        keys.generated_password_label("upl-1", 2),
        keys.result_password_context("upl-1", 2),
    }
    # Then the three uses differ, and differ from another line's and another upload's
    assert len(bindings) == 3
    assert keys.given_password_context("upl-1", 2) == "upl-1:2:given"
    assert keys.given_password_context("upl-1", 3) not in bindings
    assert keys.given_password_context("upl-2", 2) not in bindings
