"""PynamoDB models of Intake's tables, bound to their real names on first use (not at import time)."""

from __future__ import annotations

from functools import lru_cache

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from intake.settings import get_settings


class AgencyItem(Model):
    class Meta:
        table_name = "unbound-agencies"

    agencyId = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    # SCIM (issue 19): the app clients bound to the agency, and when (epoch seconds) SCIM disabled its staff within
    # the last hour (the mass-deactivation guard's rolling window: at most its limit of entries)
    scimClientIds = UnicodeSetAttribute(null=True)
    scimDeactivatedAt = ListAttribute(of=NumberAttribute, null=True)


class LocationsByAgency(GlobalSecondaryIndex["LocationItem"]):
    class Meta:
        index_name = "byAgency"
        projection = AllProjection()

    agencyId = UnicodeAttribute(hash_key=True)
    locationId = UnicodeAttribute(range_key=True)


class LocationItem(Model):
    class Meta:
        table_name = "unbound-locations"

    locationId = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    agencyId = UnicodeAttribute()
    facilityId = UnicodeAttribute()
    kind = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    autoConfirmDrops = BooleanAttribute(default=False)
    passwordRule = UnicodeAttribute(null=True)  # the PasswordRule as JSON
    maxUploadBytes = NumberAttribute(null=True)
    maxUploadRows = NumberAttribute(null=True)
    learnerAccess = BooleanAttribute(null=True)  # None: ON (the default)
    dropMode = UnicodeAttribute(null=True)  # None: create (the default)
    maxSyncDeactivationPercent = NumberAttribute(null=True)  # None: the default
    by_agency = LocationsByAgency()


class GrantAttribute(MapAttribute):
    """One role at one scope (a staff member's grant)."""

    role = UnicodeAttribute()
    agencyId = UnicodeAttribute(null=True)
    facilityId = UnicodeAttribute(null=True)


class StaffItem(Model):
    """A staff record. `grants` is the truth; `role`, `agencyId`, `facilityIds` are its v1 view, still written for
    older readers. An item without `grants` (written before them) is the grants its v1 fields give; one without
    `version` is at version 0."""

    class Meta:
        table_name = "unbound-staff"

    username = UnicodeAttribute(hash_key=True)
    role = UnicodeAttribute()
    agencyId = UnicodeAttribute(null=True)
    facilityIds = UnicodeSetAttribute(null=True)
    active = BooleanAttribute(default=True)
    grants = ListAttribute(of=GrantAttribute, null=True)
    title = UnicodeAttribute(null=True)
    firstName = UnicodeAttribute(null=True)
    lastName = UnicodeAttribute(null=True)
    displayFirstName = UnicodeAttribute(null=True)
    displayLastName = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    scimRecord = UnicodeAttribute(null=True)  # JSON: what a SCIM client provisioned (intake.scim_service)


class HistoryAttribute(MapAttribute):
    """One history entry. A move keeps its v1 attribute names; an entry without `kind` is a v1 move."""

    kind = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute(null=True)
    by = UnicodeAttribute(null=True)
    fields = ListAttribute(of=UnicodeAttribute, null=True)  # EDITED: the changed fields' names, never values
    fromLocationId = UnicodeAttribute(null=True)
    fromFacilityId = UnicodeAttribute(null=True)
    toLocationId = UnicodeAttribute(null=True)
    toFacilityId = UnicodeAttribute(null=True)
    movedAt = UTCDateTimeAttribute(null=True)
    movedBy = UnicodeAttribute(null=True)
    uploadId = UnicodeAttribute(null=True)


MoveAttribute = HistoryAttribute  # the v1 name

# byLearnerId carries keys only. The roster indexes carry every attribute but the password hash, so that a page of a
# roster is one Query and no BatchGetItem (their keys are written by intake.dal.learners only).
ROSTER_ATTRIBUTES = [
    "learnerId",
    "firstName",
    "lastName",
    "dateOfBirth",
    "locationId",
    "facilityId",
    "role",
    "createdAt",
    "createdBy",
    "uploadId",
    "history",
    "version",
    "username",
    "status",
    "updatedAt",
    "nameKey",
    "firstKey",
    "docKey",
]


class LearnersByLearnerId(GlobalSecondaryIndex["LearnerItem"]):
    class Meta:
        index_name = "byLearnerId"
        projection = KeysOnlyProjection()

    learnerId = UnicodeAttribute(hash_key=True)


class LearnersByRosterName(GlobalSecondaryIndex["LearnerItem"]):
    """A facility's learners of one status ("facilityId#STATUS"), by last then first name."""

    class Meta:
        index_name = "byRosterName"
        projection = IncludeProjection(ROSTER_ATTRIBUTES)

    roster = UnicodeAttribute(hash_key=True)
    nameKey = UnicodeAttribute(range_key=True)


class LearnersByRosterFirst(GlobalSecondaryIndex["LearnerItem"]):
    """The same partitions by first then last name (a search of "first last")."""

    class Meta:
        index_name = "byRosterFirst"
        projection = IncludeProjection(ROSTER_ATTRIBUTES)

    roster = UnicodeAttribute(hash_key=True)
    firstKey = UnicodeAttribute(range_key=True)


class LearnersByRosterDocId(GlobalSecondaryIndex["LearnerItem"]):
    """The same partitions by DOC ID (a DOC ID prefix search; whether a location has learners)."""

    class Meta:
        index_name = "byRosterDocId"
        projection = IncludeProjection(ROSTER_ATTRIBUTES)

    roster = UnicodeAttribute(hash_key=True)
    docKey = UnicodeAttribute(range_key=True)


class LearnerItem(Model):
    """One learner; (agencyId, docId) is the key, so a conditional put makes the DOC ID unique in its agency.

    Items stored before usernames lack username, status, updatedAt and the roster keys until `intake-admin
    migrate-learners` fills them; they read as ACTIVE."""

    class Meta:
        table_name = "unbound-learners"

    agencyId = UnicodeAttribute(hash_key=True)
    docId = UnicodeAttribute(range_key=True)
    learnerId = UnicodeAttribute()
    firstName = UnicodeAttribute()
    lastName = UnicodeAttribute()
    dateOfBirth = UnicodeAttribute()
    locationId = UnicodeAttribute()
    facilityId = UnicodeAttribute()
    role = UnicodeAttribute(default="Learner")
    passwordHash = UnicodeAttribute()
    createdAt = UTCDateTimeAttribute()
    createdBy = UnicodeAttribute()
    uploadId = UnicodeAttribute(null=True)
    lastUploadId = UnicodeAttribute(null=True)  # the upload that last reactivated it (may replace its hash)
    history = ListAttribute(of=HistoryAttribute, default=list)
    version = NumberAttribute(default=1)
    username = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    updatedAt = UTCDateTimeAttribute(null=True)
    roster = UnicodeAttribute(null=True)  # f"{facilityId}#{status}"
    nameKey = UnicodeAttribute(null=True)  # search_key(last) + search_key(first) + "#" + docId
    firstKey = UnicodeAttribute(null=True)  # search_key(first) + search_key(last) + "#" + docId
    docKey = UnicodeAttribute(null=True)  # search_key(docId)
    by_learner_id = LearnersByLearnerId()
    by_roster_name = LearnersByRosterName()
    by_roster_first = LearnersByRosterFirst()
    by_roster_doc_id = LearnersByRosterDocId()


class UsernameItem(Model):
    """A username claimed in an agency for one DOC ID, written just before its learner (intake.dal.learners); deleted
    only when that learner's put was refused and the stored learner does not hold it."""

    class Meta:
        table_name = "unbound-usernames"

    agencyId = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(range_key=True)
    learnerId = UnicodeAttribute()
    docId = UnicodeAttribute()
    createdAt = UTCDateTimeAttribute()


class UploadsByFacility(GlobalSecondaryIndex["UploadItem"]):
    class Meta:
        index_name = "byFacility"
        projection = IncludeProjection(["locationId"])

    facilityId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class UploadItem(Model):
    """One bulk upload and its life; counters are updated atomically by the validator and the workers."""

    class Meta:
        table_name = "unbound-uploads"

    uploadId = UnicodeAttribute(hash_key=True)
    facilityId = UnicodeAttribute()
    agencyId = UnicodeAttribute()
    source = UnicodeAttribute()
    fileName = UnicodeAttribute(null=True)
    objectKey = UnicodeAttribute()
    objectEtag = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    createdBy = UnicodeAttribute()
    expiresAt = UnicodeAttribute()
    encoding = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    counts: MapAttribute = MapAttribute(default=dict)
    errors: ListAttribute = ListAttribute(default=list)
    warnings: ListAttribute = ListAttribute(default=list)
    errorReportKey = UnicodeAttribute(null=True)
    resultReportKey = UnicodeAttribute(null=True)
    chunksTotal = NumberAttribute(default=0)
    chunksDone = NumberAttribute(default=0)
    created = NumberAttribute(null=True)
    moved = NumberAttribute(null=True)
    reactivated = NumberAttribute(null=True)
    updated = NumberAttribute(null=True)
    deactivated = NumberAttribute(null=True)
    skipped = NumberAttribute(null=True)
    failed = NumberAttribute(null=True)
    partsDone = UnicodeSetAttribute(null=True)
    skipInvalidRows = BooleanAttribute(null=True)
    moveExisting = BooleanAttribute(null=True)
    confirmedBy = UnicodeAttribute(null=True)
    confirmedAt = UnicodeAttribute(null=True)
    completedAt = UnicodeAttribute(null=True)
    dataKey = UnicodeAttribute(null=True)
    resultPasswordsKey = UnicodeAttribute(null=True)
    passwordsUntil = UnicodeAttribute(null=True)
    passwordsClaimedBy = UnicodeAttribute(null=True)
    mode = UnicodeAttribute(null=True)  # None: create
    hold = UnicodeAttribute(null=True)  # JSON of the upload's hold
    allowMassDeactivation = BooleanAttribute(null=True)
    planReportKey = UnicodeAttribute(null=True)
    deactivationsUndoneAt = UnicodeAttribute(null=True)  # a sync's undo-deactivations, first asked for then
    deactivationsUndoneBy = UnicodeAttribute(null=True)
    ttl = NumberAttribute(null=True)
    by_facility = UploadsByFacility()


class AuditItem(Model):
    """One audit entry, filed under a facility (or agency:<id> / system); the sort key orders entries in time."""

    class Meta:
        table_name = "unbound-audit"

    scope = UnicodeAttribute(hash_key=True)
    entryId = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    targetType = UnicodeAttribute()
    targetId = UnicodeAttribute()
    agencyId = UnicodeAttribute(null=True)
    facilityId = UnicodeAttribute(null=True)
    details = UnicodeAttribute(null=True)  # JSON of ids and flags


class SignInAttemptItem(Model):
    """Failed learner sign-ins in a row for one (agency, login): the login only as the sha256 hex of its canonical
    form (never the typed text, which may be a password typed into the wrong box). Deleted by a success; TTL'd."""

    class Meta:
        table_name = "unbound-sign-in-attempts"

    agencyId = UnicodeAttribute(hash_key=True)
    loginKey = UnicodeAttribute(range_key=True)
    failures = NumberAttribute(default=0)
    lastFailureAt = NumberAttribute(null=True)  # epoch seconds, with milliseconds
    expiresAt = NumberAttribute(null=True)  # TTL: 24 h after the last failure


_MODELS: dict[type[Model], str] = {
    AgencyItem: "agencies_table",
    LocationItem: "locations_table",
    StaffItem: "staff_table",
    LearnerItem: "learners_table",
    UsernameItem: "usernames_table",
    UploadItem: "uploads_table",
    AuditItem: "audit_table",
    SignInAttemptItem: "sign_in_attempts_table",
}


@lru_cache(maxsize=1)
def bind_tables() -> None:
    """Point every model at its table from the settings; called by each data-access function before use."""
    settings = get_settings()
    for model, setting in _MODELS.items():
        model.Meta.table_name = getattr(settings, setting)
        model.Meta.region = settings.region
        model._connection = None


def rebind_tables() -> None:
    """Re-read table names (tests that change settings)."""
    bind_tables.cache_clear()
    bind_tables()
