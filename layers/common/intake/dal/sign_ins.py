"""Learner sign-in's storage: the look-up of a typed login (its learner, hash and failure counter) in one BatchGetItem,
and the counter of failures in a row per (agency, login), kept by single atomic writes (no read-then-write).

The counter's key is the sha256 hex of the canonical login (the learner's username, or the typed text lower-cased
when it names nobody), never the typed text: a learner who types a password into the username box must not have it
stored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError

from intake.dal.learners import _learner
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import LearnerItem, SignInAttemptItem, UsernameItem, bind_tables
from intake.domain import Learner
from intake.errors import FieldError, StorageUnavailable
from intake.rules import clean_doc_id

ATTEMPTS_TTL_SECONDS = 24 * 3600
_BATCH_TRIES = 5  # unprocessed keys (throttling) are asked for again, a few times, before giving up


@dataclass(frozen=True, slots=True)
class SignInLook:
    """What a typed login names: its learner and stored hash (None for nobody), and its counter of failures."""

    learner: Learner | None
    password_hash: str | None
    login_key: str
    failures: int
    last_failure_at: float | None


def login_key(canonical_login: str) -> str:
    """The counter's sort key of a canonical login: its sha256, hex."""
    return hashlib.sha256(canonical_login.encode("utf-8")).hexdigest()


def _typed_doc_id(typed: str) -> str | None:
    cleaned = clean_doc_id(typed)
    return None if isinstance(cleaned, FieldError) else cleaned


def _counter(raw: dict[str, Any] | None) -> tuple[int, float | None]:
    if not raw:
        return 0, None
    item = SignInAttemptItem.from_raw_data(raw)
    last = float(item.lastFailureAt) if item.lastFailureAt is not None else None
    return int(item.failures or 0), last


def _batch_get(client: Any, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every item of one BatchGetItem, asking again for unprocessed keys (throttling only: one request normally)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(_BATCH_TRIES):
        answer = client.batch_get_item(RequestItems=request)
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise StorageUnavailable("Could not look up the sign-in right now; try again in a moment")


def look_up(agency_id: str, typed: str) -> SignInLook:
    """The learner a typed login names in the agency (a username first, else a DOC ID), its hash and its counter.

    One BatchGetItem (consistent on every table) of the username claim, the learner by DOC ID and the counter of the
    typed text; then, only when needed, one consistent GetItem: the claimed learner (unless the batch already read
    it), or the counter of the username of a learner found by DOC ID."""
    bind_tables()
    typed_lower = typed.strip().lower()
    doc_id = _typed_doc_id(typed)
    typed_key = login_key(typed_lower)
    usernames, learners, attempts = (
        UsernameItem.Meta.table_name,
        LearnerItem.Meta.table_name,
        SignInAttemptItem.Meta.table_name,
    )
    request: dict[str, Any] = {
        attempts: {
            "Keys": [{"agencyId": {"S": agency_id}, "loginKey": {"S": typed_key}}],
            "ConsistentRead": True,
        }
    }
    if typed_lower:
        request[usernames] = {
            "Keys": [{"agencyId": {"S": agency_id}, "username": {"S": typed_lower}}],
            "ConsistentRead": True,
        }
    if doc_id:
        request[learners] = {"Keys": [{"agencyId": {"S": agency_id}, "docId": {"S": doc_id}}], "ConsistentRead": True}
    with storage_call("look up the sign-in"):
        found = _batch_get(LearnerItem._get_connection().connection.client, request)
        claim_raw = next(iter(found.get(usernames, [])), None)
        by_doc_raw = next(iter(found.get(learners, [])), None)
        failures, last = _counter(next(iter(found.get(attempts, [])), None))
        item: LearnerItem | None = LearnerItem.from_raw_data(by_doc_raw) if by_doc_raw else None
        key = typed_key
        claimed: LearnerItem | None = None
        if claim_raw is not None:  # a username wins over a DOC ID
            claim = UsernameItem.from_raw_data(claim_raw)
            claimed = item if item is not None and item.docId == claim.docId else _learner_item(agency_id, claim.docId)
            if claimed is not None and claimed.username != claim.username:
                # A claim left by a refused creation of that DOC ID (intake.dal.learners.insert_learner), whose
                # learner holds another username: the username names nobody.
                claimed = None
        if claimed is not None:
            item = claimed
        elif item is not None and item.username and item.username != typed_lower:
            key = login_key(item.username)
            try:
                counter = SignInAttemptItem.get(agency_id, key, consistent_read=True)
                failures, last = int(counter.failures or 0), _as_float(counter.lastFailureAt)
            except SignInAttemptItem.DoesNotExist:
                failures, last = 0, None
    if item is None:
        return SignInLook(None, None, key, failures, last)
    return SignInLook(_learner(item), item.passwordHash, key, failures, last)


def _learner_item(agency_id: str, doc_id: str) -> LearnerItem | None:
    try:
        return LearnerItem.get(agency_id, doc_id, consistent_read=True)
    except LearnerItem.DoesNotExist:
        return None


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def record_failure(agency_id: str, login_key: str, now: float) -> tuple[int, float]:
    """Count one failure for the login in ONE UpdateItem (ADD: atomic, so concurrent failures all count); the
    counter's new (failures, lastFailureAt)."""
    bind_tables()
    at = round(now, 3)
    actions = [
        SignInAttemptItem.failures.add(1),
        SignInAttemptItem.lastFailureAt.set(at),
        SignInAttemptItem.expiresAt.set(math.ceil(at) + ATTEMPTS_TTL_SECONDS),
    ]
    with storage_call("count the failed sign-in"):
        answer = SignInAttemptItem._get_connection().update_item(
            agency_id, login_key, actions=actions, return_values="UPDATED_NEW"
        )
    values = answer.get("Attributes", {})
    # UPDATED_NEW may leave out an attribute whose value did not change (moto does, for two failures in the same
    # millisecond): it is then the `at` just written.
    last = values.get("lastFailureAt")
    return int(values["failures"]["N"]), float(last["N"]) if last is not None else at


def reset_failures(agency_id: str, login_key: str, seen_failures: int) -> None:
    """Delete the login's counter if it still holds the failures seen (a failure counted meanwhile is not erased)."""
    bind_tables()
    with storage_call("reset the failed sign-ins"):
        try:
            SignInAttemptItem(agencyId=agency_id, loginKey=login_key).delete(
                condition=SignInAttemptItem.failures == seen_failures
            )
        except DeleteError as exc:
            if not is_condition_failure(exc):
                raise


def rehash(learner: Learner, old_hash: str, new_hash: str) -> bool:
    """Replace a learner's hash by one of the same password with today's parameters, unless the hash changed
    meanwhile (a reset wins); no history entry and no new version (nothing about the learner changed)."""
    bind_tables()
    with storage_call("rehash the learner's password"):
        try:
            LearnerItem._get_connection().update_item(
                learner.agency_id,
                learner.doc_id,
                actions=[LearnerItem.passwordHash.set(new_hash)],
                condition=(LearnerItem.learnerId == learner.learner_id) & (LearnerItem.passwordHash == old_hash),
                return_values="NONE",
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True
