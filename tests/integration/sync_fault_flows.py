"""One sync upload's plan (CREATE, UPDATE and DEACTIVATE entries) applied end to end under faults, and the check
that every entry ended exactly once in storage.

The plan is built here (plan_chunk_json) and the upload recorded VALIDATED through the lifecycle, as the validator
would leave it: the planner is not under test, the confirm, fan-out and workers are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1, UNIT_A1B
from tests.integration.bulk_helpers import drain, get_text, keys_under
from tests.integration.fault_injection import Faults

NEW_ROWS = 3
RENAMED = 2  # UPDATE of the last name
REHOUSED = 2  # UPDATE of the housing unit (UNIT_A1 -> UNIT_A1B, within the facility)
MISSING = 4  # DEACTIVATE
CHUNK_SIZE = 5  # the fault tests' CREATION_CHUNK_SIZE: 11 entries, three chunks


@dataclass
class SyncFlow:
    upload_id: str
    new_doc_ids: list[str]
    renamed: dict[str, str]  # docId -> learnerId
    rehoused: dict[str, str]
    missing: dict[str, str]


def _learner(call_api: Any, doc_id: str) -> dict[str, Any]:
    body = {"docId": doc_id, "firstName": "Sam", "lastName": "Reed", "dateOfBirth": "03/04/1988"}
    status, learner, _ = call_api("POST", "/learners", "ridge", {**body, "locationId": UNIT_A1})
    assert status == 201, learner
    return dict(learner["learner"])


def prepare(call_api: Any, aws: Any, tag: int = 1, missing: int = MISSING) -> SyncFlow:
    """Active learners of FAC_A1, and a VALIDATED sync upload of the facility whose plan creates NEW_ROWS, updates
    RENAMED + REHOUSED of them and deactivates `missing` (MISSING by default), each at the version it has now."""
    from intake import clock
    from intake.bulk import keys, lifecycle
    from intake.bulk.types import CREATE, DEACTIVATE, UPDATE, ExistingLearner, PlanEntry, plan_chunk_json
    from intake.dal import keys as key_store
    from intake.dal import objects
    from intake.dal import uploads as upload_store
    from intake.dal.learners import get_by_id
    from intake.domain import LearnerStatus, Upload, UploadMode, UploadStatus

    def existing(doc_id: str) -> dict[str, str]:
        return {doc_id: _learner(call_api, doc_id)["learnerId"]}

    renamed = {k: v for i in range(RENAMED) for k, v in existing(f"5{tag}{i:03d}").items()}
    rehoused = {k: v for i in range(REHOUSED) for k, v in existing(f"6{tag}{i:03d}").items()}
    gone = {k: v for i in range(missing) for k, v in existing(f"4{tag}{i:03d}").items()}
    new = [f"9{tag}{i:03d}" for i in range(NEW_ROWS)]

    now = clock.utc_now()
    upload = Upload(
        upload_id=f"sync-{tag}-{now.timestamp():.0f}",
        facility_id=FAC_A1,
        agency_id=AGENCY_A,
        source="link",
        object_key=f"incoming/{FAC_A1}/sync-{tag}.csv",
        status=UploadStatus.AWAITING_FILE,
        created_at=now.isoformat(),
        created_by="ridge",
        expires_at=lifecycle.expiry_of(now),
        mode=UploadMode.SYNC,
    )
    assert upload_store.insert_upload(upload, ttl=lifecycle.record_ttl(now))
    validating = lifecycle.start_validating(upload, '"etag-1"')
    assert validating is not None

    def planned(line: int, doc_id: str, action: str, learner_id: str | None = None, **row: Any) -> PlanEntry:
        seen = None
        if learner_id is not None:
            learner = get_by_id(learner_id)
            assert learner is not None
            seen = ExistingLearner(learner_id, learner.location_id, FAC_A1, LearnerStatus.ACTIVE, learner.version)
        fields: dict[str, Any] = {
            "line": line,
            "request_id": "" if action == DEACTIVATE else f"r{line}",
            "action": action,
            "doc_id": doc_id,
            "first_name": "Sam",
            "last_name": "Reed",
            "date_of_birth": "03/04/1988",
            "location_id": UNIT_A1,
            "facility_id": FAC_A1,
            "agency_id": AGENCY_A,
            "existing": seen,
            **row,
        }
        return PlanEntry(**fields)

    entries = [planned(2 + i, doc_id, CREATE, first_name="Ann", last_name="Lee") for i, doc_id in enumerate(new)]
    line = 2 + len(entries)
    for doc_id, learner_id in renamed.items():
        entries.append(planned(line, doc_id, UPDATE, learner_id, last_name="Lane", changed=("lastName",)))
        line += 1
    for doc_id, learner_id in rehoused.items():
        entries.append(planned(line, doc_id, UPDATE, learner_id, location_id=UNIT_A1B, changed=("locationId",)))
        line += 1
    for doc_id, learner_id in gone.items():  # numbered after the file's last line
        entries.append(planned(line, doc_id, DEACTIVATE, learner_id))
        line += 1
    chunks = [entries[i : i + CHUNK_SIZE] for i in range(0, len(entries), CHUNK_SIZE)]
    for number, chunk in enumerate(chunks):
        objects.put_json(keys.plan_chunk_key(FAC_A1, upload.upload_id, number), plan_chunk_json(chunk))
    _plain, sealed = key_store.new_data_key(upload.upload_id)
    rows = NEW_ROWS + RENAMED + REHOUSED
    counts = {
        "rows": rows,
        "valid": rows,
        "invalid": 0,
        "toCreate": NEW_ROWS,
        "toUpdate": RENAMED + REHOUSED,
        "unchanged": 0,
        "toDeactivate": missing,
        "warnings": 0,
    }
    validated = lifecycle.mark_validated(
        validating,
        UploadStatus.VALIDATED,
        counts=counts,
        errors=[],
        warnings=[],
        encoding="utf-8",
        error_report_key=None,
        chunks_total=len(chunks),
        data_key=sealed,
    )
    assert validated is not None
    return SyncFlow(upload.upload_id, new, renamed, rehoused, gone)


def run(call_api: Any, aws: Any, faults: Faults, tag: int = 1) -> SyncFlow:
    """Prepare (faults disarmed), then confirm and apply with the faults armed."""
    with faults.disarmed():
        flow = prepare(call_api, aws, tag)
    status, answer, _ = call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {})
    assert status == 202, answer
    drain(aws)
    faults.armed = False
    return flow


def assert_exactly_once(call_api: Any, aws: Any, flow: SyncFlow) -> dict[str, Any]:
    """Every entry ended once in storage: learner items, their history, the audit trail, counts and results.csv."""
    from intake.dal.audit import list_entries
    from intake.dal.learners import stored_password_hash
    from intake.dal.tables import LearnerItem
    from intake.passwords import verify_password

    _, upload, _ = call_api("GET", f"/uploads/{flow.upload_id}", "ridge")
    assert upload["status"] == "COMPLETED", upload
    counts = upload["counts"]
    outcome_counts = {k: counts[k] for k in ("created", "updated", "deactivated", "moved", "skipped", "failed")}
    assert outcome_counts == {
        "created": NEW_ROWS,
        "updated": RENAMED + REHOUSED,
        "deactivated": MISSING,
        "moved": 0,
        "skipped": 0,
        "failed": 0,
    }

    learners = {item.docId: item for item in LearnerItem.query(AGENCY_A)}
    created = [item for item in learners.values() if item.uploadId == flow.upload_id]
    assert sorted(item.docId for item in created) == sorted(flow.new_doc_ids)

    def history(doc_id: str) -> list[tuple[str, str | None, list[str] | None]]:
        return [(h.kind, h.uploadId, h.fields) for h in learners[doc_id].history or []]

    for doc_id in flow.renamed:
        item = learners[doc_id]
        assert (item.lastName, item.firstName, item.locationId, item.status) == ("Lane", "Sam", UNIT_A1, "ACTIVE")
        assert item.nameKey.startswith("lanesam"), item.nameKey
        assert history(doc_id) == [("EDITED", flow.upload_id, ["lastName"])], doc_id
    for doc_id in flow.rehoused:
        item = learners[doc_id]
        assert (item.lastName, item.locationId, item.facilityId, item.status) == ("Reed", UNIT_A1B, FAC_A1, "ACTIVE")
        assert history(doc_id) == [("EDITED", flow.upload_id, ["locationId"])], doc_id
    for doc_id in flow.missing:
        item = learners[doc_id]
        assert (item.status, item.roster, item.locationId) == ("INACTIVE", f"{FAC_A1}#INACTIVE", UNIT_A1)
        assert history(doc_id) == [("DEACTIVATED", flow.upload_id, None)], doc_id
    for doc_id in [*flow.renamed, *flow.rehoused, *flow.missing]:
        assert learners[doc_id].version == 2, doc_id  # one write each: created at 1

    plain = list(csv.DictReader(io.StringIO(get_text(aws, f"reports/{FAC_A1}/{flow.upload_id}/results.csv"))))
    assert {row["password"] for row in plain} == {""}
    outcomes = {row["docID"]: row["outcome"] for row in plain}
    assert len(plain) == len(outcomes) == NEW_ROWS + RENAMED + REHOUSED + MISSING
    assert outcomes == {
        **dict.fromkeys(flow.new_doc_ids, "CREATED"),
        **dict.fromkeys([*flow.renamed, *flow.rehoused], "UPDATED"),
        **dict.fromkeys(flow.missing, "DEACTIVATED"),
    }
    secret = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{flow.upload_id}/results.csv"))))
    with_password = {row["docID"]: row["password"] for row in secret if row["password"]}
    assert sorted(with_password) == sorted(flow.new_doc_ids)  # updates and deactivations issue no password
    for doc_id, password in with_password.items():
        assert verify_password(stored_password_hash(AGENCY_A, doc_id) or "", password), doc_id
    assert keys_under(aws, f"plans/{FAC_A1}/{flow.upload_id}/") == []

    entries = [e for e in list_entries(FAC_A1, limit=1000) if e.details.get("uploadId") == flow.upload_id]
    trail = sorted((e.action, e.target_id, str(e.details.get("fields", ""))) for e in entries)
    ids = {doc_id: learners[doc_id].learnerId for doc_id in flow.new_doc_ids}
    assert trail == sorted(
        [("LEARNER_CREATED", ids[d], "") for d in flow.new_doc_ids]
        + [("LEARNER_UPDATED", i, "lastName") for i in flow.renamed.values()]
        + [("LEARNER_UPDATED", i, "locationId") for i in flow.rehoused.values()]
        + [("LEARNER_DEACTIVATED", i, "") for i in flow.missing.values()]
    )
    return upload
