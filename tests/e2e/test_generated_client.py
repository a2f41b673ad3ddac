"""A client no one here wrote: openapi-python-client generates one from the stack's `/openapi.json`, and the README's
quickstart runs through it (list facilities, create a learner, find it, ask for an upload link, poll, confirm).

The generator and its client's libraries (httpx, attrs) are pinned in requirements-dev.txt; the client is generated
into a temporary folder on every run, so a change to the document that breaks generated clients breaks this test.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Stack, staff_named, token

pytestmark = pytest.mark.e2e

HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"
PACKAGE = "intake_generated_client"


@pytest.fixture(scope="module")
def client_package(local_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    # Given the document the running stack serves
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_bytes(requests.get(local_stack["apiUrl"] + "/openapi.json", timeout=30).content)
    # When openapi-python-client generates a client from it (no hand edits)
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [str(generator), "generate", "--path", str(document), "--meta", "none", "--output-path", str(folder / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _operation(package: ModuleType, prefix: str) -> Any:
    """The generated module of one operation, found by the start of its name (the generator appends the path)."""
    folder = Path(package.__file__).parent / "api" / "default"
    (name,) = [p.stem for p in folder.glob(f"{prefix}_*.py")]
    return _module(package, f"api.default.{name}")


def test_the_readme_quickstart_through_a_generated_client(local_stack: Stack, client_package: ModuleType) -> None:
    package = client_package
    models = _module(package, "models")
    username = staff_named(local_stack, "FacilityAdmin")
    client = package.AuthenticatedClient(
        base_url=local_stack["apiUrl"], token=token(local_stack, username), raise_on_unexpected_status=True
    )

    # When the facility admin lists the facilities in scope
    facilities = _operation(package, "list_facilities").sync(client=client)
    assert isinstance(facilities, models.FacilitiesResponse), facilities
    facility = facilities.facilities[0]
    unit = facility.housing_units[0].location_id

    # And creates a learner with no password (one is generated)
    doc_id = "GC" + uuid.uuid4().hex[:8].upper()
    body = models.CreateLearnerRequest(
        doc_id=doc_id, first_name="Marcus", last_name="Hill", date_of_birth="03/14/1988", location_id=unit
    )
    created = _operation(package, "create_learner").sync(client=client, body=body)
    assert isinstance(created, models.CreatedLearnerResponse), created
    assert created.learner.doc_id == doc_id and created.generated_password

    # And finds it by DOC ID
    found = _operation(package, "find_learners").sync(client=client, doc_id=doc_id)
    assert [learner.learner_id for learner in found.learners] == [created.learner.learner_id]

    # And asks for an upload link, sends the file the way the README says, and polls the upload
    link = _operation(package, "create_upload").sync(
        client=client, body=models.CreateUploadRequest(facility_id=facility.facility_id, file_name="roster.csv")
    )
    assert isinstance(link, models.CreatedUploadResponse), link
    row = f"1,GC{uuid.uuid4().hex[:8].upper()},Ann,Lee,07/19/1983,Learner,,{unit}"
    sent = requests.post(
        link.upload.url,
        data=link.upload.fields.to_dict(),
        files={"file": ("roster.csv", f"{HEADER}\r\n{row}\r\n".encode())},
        timeout=30,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    get_upload = _operation(package, "get_upload")

    def poll(statuses: set[str]) -> Any:
        deadline = time.monotonic() + 60
        while True:
            upload = get_upload.sync(client=client, upload_id=link.upload_id)
            if str(upload.status.value) in statuses or time.monotonic() > deadline:
                return upload
            time.sleep(0.3)

    validated = poll({"VALIDATED", "VALIDATED_WITH_ERRORS", "REJECTED", "FAILED"})
    assert validated.status.value == "VALIDATED", validated

    # Then confirming creates its learner
    confirmed = _operation(package, "confirm_upload").sync(
        client=client, upload_id=link.upload_id, body=models.ConfirmUploadRequest(skip_invalid_rows=False)
    )
    assert confirmed.status.value == "CREATING"
    done = poll({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
    assert done.status.value == "COMPLETED" and done.counts.created == 1, done
