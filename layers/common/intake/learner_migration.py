"""The one-off upgrade of learners stored before usernames and rosters (`intake-admin migrate-learners`).

Each learner item that lacks a v2 attribute gets its username (the first free candidate of intake.rules, claimed in
UsernamesTable in the same transaction), status ACTIVE, its roster keys and updatedAt. Idempotent: a second run finds
nothing to do, and an item changed meanwhile by the API (which writes the roster keys itself) is left as it is.
Until it runs, the API reads such items as ACTIVE with no username; they are missing from rosters and searches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from intake import rules
from intake.dal import learners as learner_store
from intake.domain import Learner
from intake.errors import Conflict, UsernameTaken

USERNAME_TRIES = 1000


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a run did: items found lacking v2 attributes, migrated by this run, left as they were."""

    found: int
    migrated: int
    unchanged: int


def migrate_learners() -> MigrationReport:
    """Upgrade every learner item stored before v2 (see the module's docstring); safe to run again."""
    found = migrated = 0
    for learner in learner_store.unmigrated():
        found += 1
        if _migrate(learner):
            migrated += 1
    return MigrationReport(found=found, migrated=migrated, unchanged=found - migrated)


def _migrate(learner: Learner) -> bool:
    if learner.username:
        return learner_store.migrate_item(learner, learner.username)
    candidates = rules.username_candidates(learner.first_name, learner.last_name, learner.doc_id)
    for candidate in itertools.islice(candidates, USERNAME_TRIES):
        try:
            return learner_store.migrate_item(learner, candidate)
        except UsernameTaken:
            continue
    raise Conflict(f"No free username was found for learner {learner.learner_id}")
