"""SCIM 2.0 (RFC 7643/7644) for staff: an agency's directory (Entra ID, Okta) provisions its staff.

A SCIM client is an app client of the user pool bound to one agency (dal.scim). It acts as an administrator of that
agency (`ScimClient.actor`, an AgencyAdmin named `scim:<clientId>` in the audit trail) through admin_service, so the
grant rules are the API's own: it never reaches another agency, SystemAdmin or AgencyAdmin records, and it never
grants beyond its agency.

- **Users** are the staff records the client may manage (those of its agency whose grants are FacilityAdmin or
  Educator at facilities, or none); any other id answers 404. `id` = `userName` = the username, which never changes.
  The resource as the client sent it is kept on the record (`scim_record`), less the password; Intake's own fields
  (title, names, display names, email, active) are taken from it and, where changed through the API since, win.
- **Groups** are one per facility and role (FacilityAdmin, Educator): id `{facilityId}.{role}`. Membership is the
  grant: adding a member adds the grant, removing it removes the grant (the last one too). They are not created,
  renamed or deleted over SCIM.
- `active=false` (PATCH, PUT) and DELETE disable the record and the login at once (DELETE also hides it from SCIM:
  404 afterwards; the record and its audit trail stay). A client disabling staff who hold grants is limited to
  MAX_DEACTIVATION_PERCENT of the agency's active staff with grants within any hour (at least one): past it, the
  deactivation is held on the record, answered 409, until an AgencyAdmin releases or discards it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ConflictException,
    Context,
    Email,
    EnterpriseUser,
    ETag,
    Filter,
    ForbiddenException,
    Group,
    GroupMember,
    GroupMembership,
    InvalidFilterException,
    InvalidValueException,
    ListResponse,
    Meta,
    Mutability,
    MutabilityException,
    Name,
    NotFoundException,
    NotImplementedException,
    Pagination,
    Patch,
    PatchOp,
    PayloadTooLargeException,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    UniquenessException,
    User,
)
from scim2_models import Error as ScimErrorBody
from scim2_models.path import CompareOperator, Comparison

from intake import admin_service, audit, authz
from intake.admin_models import USERNAME_PATTERN, GrantChangeRequest
from intake.clock import utc_now
from intake.dal import directory
from intake.dal import scim as scim_store
from intake.dal import staff as staff_store
from intake.domain import Location, LocationKind, Role, StaffMember
from intake.errors import Conflict, NotFound, PermissionDenied, Unauthenticated
from intake.observability import logger
from intake.scim_holds import ScimRecord, now_text, record_of

StaffUser = User[EnterpriseUser]
SCIM_CONTENT_TYPE = "application/scim+json"
MAX_DEACTIVATION_PERCENT = 10
MAX_PAGE = 200
GROUP_ROLES = (Role.FACILITY_ADMIN, Role.EDUCATOR)
USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
# Entra's shapes (RFC 7644 read loosely): a remove carrying the members to remove as its value, a path filter that
# matches nothing yet adds the entry it describes; attributes no model declares are ignored rather than refused.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
_USERNAME = re.compile(USERNAME_PATTERN)
_UNKNOWN_CLIENT = "This app client is not bound to an agency: make one with `intake-admin scim-client create`"


class ScimHeld(ConflictException):
    """A deactivation the mass-deactivation guard held for an AgencyAdmin (409, no scimType)."""


@dataclass(frozen=True)
class ScimClient:
    """The app client behind a request and the agency it is bound to."""

    client_id: str
    agency_id: str

    @property
    def actor(self) -> StaffMember:
        """Whom admin_service sees: an administrator of the client's agency, named after the client."""
        return StaffMember(username=f"scim:{self.client_id}", role=Role.AGENCY_ADMIN, agency_id=self.agency_id)


def scim_client(client_id: str) -> ScimClient:
    """The client a token's client_id names, if it is bound to an agency; else 403."""
    if not client_id:
        raise Unauthenticated("A SCIM client's access token is needed")
    agency_id = scim_store.agency_of_client(client_id)
    if agency_id is None:
        raise PermissionDenied(_UNKNOWN_CLIENT)
    return ScimClient(client_id=client_id, agency_id=agency_id)


# ------------------------------------------------------------------ users: staff records <-> SCIM


def _split_display(display: str | None) -> tuple[str | None, str | None]:
    """A displayName as the record's display first and last names: the last word is the last name."""
    text = (display or "").strip()
    if not text:
        return None, None
    first, _, last = text.rpartition(" ")
    return (first.strip() or None, last) if first.strip() else (text, None)


def _joined(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _primary_email(user: StaffUser) -> str | None:
    emails = [e for e in user.emails or [] if e.value]
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    return str(chosen.value) if chosen else None


def staff_fields(user: StaffUser) -> dict[str, Any]:
    """The staff record's fields a SCIM user sets (its profile; `active` only when the user says it)."""
    name = user.name
    display_first, display_last = _split_display(user.display_name)
    fields: dict[str, Any] = {
        "title": _text(user.title),
        "first_name": _text(name.given_name if name else None),
        "last_name": _text(name.family_name if name else None),
        "display_first_name": display_first,
        "display_last_name": display_last,
        "email": _primary_email(user),
    }
    if user.active is not None:
        fields["active"] = bool(user.active)
    return fields


def _stored(user: StaffUser) -> dict[str, Any]:
    """A user as kept on the record: as sent, less what is the server's or secret."""
    kept = user.model_copy(deep=True)
    kept.password = None
    kept.groups = None
    kept.id = None
    kept.meta = None
    return kept.model_dump(scim_ctx=Context.DEFAULT)


def group_id(facility_id: str, role: Role) -> str:
    return f"{facility_id}.{role.value}"


def _location_url(base_url: str, kind: str, resource_id: str) -> str:
    return f"{base_url.rstrip('/')}/{kind}/{resource_id}"


def to_user(member: StaffMember, base_url: str, facilities: dict[str, Location] | None = None) -> StaffUser:
    """The SCIM user of a staff record: the resource kept for it, with Intake's own fields where they differ."""
    record = record_of(member)
    user = StaffUser.model_validate(record.resource, scim_policy=POLICY) if record.resource else StaffUser()
    user.id = member.username
    user.user_name = member.username
    sent = staff_fields(user)
    if (sent["first_name"], sent["last_name"]) != (member.first_name, member.last_name):
        name = user.name or Name()
        name.given_name, name.family_name = member.first_name, member.last_name
        name.formatted = None
        user.name = name
    if (sent["display_first_name"], sent["display_last_name"]) != (
        member.display_first_name,
        member.display_last_name,
    ):
        user.display_name = _joined(member.display_first_name, member.display_last_name)
    if sent["title"] != member.title:
        user.title = member.title
    if sent["email"] != member.email:
        user.emails = [Email(value=member.email, primary=True)] if member.email else None
    # `active` is the record's; a client that removed it sees none (the staff member stays as they were)
    if not record.resource or user.active is not None:
        user.active = member.active
    places = facilities if facilities is not None else {}
    user.groups = [
        GroupMembership(
            value=group_id(str(grant.facility_id), grant.role),
            display=_group_name(places.get(str(grant.facility_id)), str(grant.facility_id), grant.role),
            type="direct",
        )
        for grant in member.grants
        if grant.facility_id and grant.role in GROUP_ROLES
    ] or None
    user.meta = Meta(
        resource_type="User",
        created=_datetime(record.created),
        last_modified=_datetime(record.modified),
        location=_location_url(base_url, "Users", member.username),
        version=f'W/"{member.version}"',
    )
    return user


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def dump_user(user: StaffUser, params: dict[str, str] | None = None) -> dict[str, Any]:
    return user.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=_response_parameters(StaffUser, params)
    )


def _response_parameters(model: Any, params: dict[str, str] | None) -> ResponseParameters[Any] | None:
    params = params or {}
    attributes = params.get("attributes")
    excluded = params.get("excludedAttributes")
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[model].model_validate({"attributes": attributes, "excluded_attributes": excluded})
    except ValidationError as exc:
        raise InvalidValueException(
            detail="attributes and excludedAttributes name attributes, comma-separated"
        ) from exc


# ------------------------------------------------------------------ which staff a client sees


def _visible(client: ScimClient, member: StaffMember) -> bool:
    return (
        member.agency_id == client.agency_id
        and authz.can_manage_staff(client.actor, member)
        and not record_of(member).deleted
    )


def _member(client: ScimClient, user_id: str) -> StaffMember:
    member = staff_store.get_staff(user_id) if user_id else None
    if member is None or not _visible(client, member):
        raise NotFoundException(detail=f"No such User: {user_id}")
    return member


def _facilities(agency_id: str) -> dict[str, Location]:
    return {
        loc.location_id: loc
        for loc in directory.list_locations(agency_id)
        if loc.kind is LocationKind.FACILITY and loc.agency_id == agency_id
    }


def _page(params: dict[str, str]) -> tuple[int, int]:
    """startIndex (1-based; below 1 is 1) and count (0..MAX_PAGE; none: MAX_PAGE), RFC 7644 §3.4.2.4."""
    try:
        start = int(params.get("startIndex") or 1)
        count = int(params["count"]) if params.get("count") not in (None, "") else MAX_PAGE
    except ValueError as exc:
        raise InvalidValueException(detail="startIndex and count are integers") from exc
    return max(start, 1), min(max(count, 0), MAX_PAGE)


def _filtered(model: Any, resources: list[Any], expression: str | None) -> list[Any]:
    if not expression:
        return resources
    try:
        parsed = ScimFilter[model](expression)
        return [resource for resource in resources if parsed.match(resource)]
    except SCIMException:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidFilterException(detail=f"Cannot read the filter: {exc}") from exc


def _list(model: Any, resources: list[Any], params: dict[str, str]) -> dict[str, Any]:
    matched = _filtered(model, resources, params.get("filter"))
    start, count = _page(params)
    page = matched[start - 1 : start - 1 + count]
    listed = ListResponse[model](
        total_results=len(matched), start_index=start, items_per_page=len(page), resources=page or None
    )
    return listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=_response_parameters(model, params))


def _looked_up_username(expression: str | None) -> str | None:
    """The username of a filter that is exactly `userName eq "..."` (the look-up Okta and Entra make before each
    creation), so it reads one record instead of the table."""
    if not expression:
        return None
    try:
        node = ScimFilter[StaffUser](expression).ast
    except (SCIMException, ValueError, TypeError):
        return None  # _filtered says what is wrong with it
    if not isinstance(node, Comparison) or node.op is not CompareOperator.eq or node.attr_path.sub_attr:
        return None
    if node.attr_path.attr.lower() != "username" or node.attr_path.uri not in (None, USER_SCHEMA_URN):
        return None
    return node.value if isinstance(node.value, str) else None


def list_users(client: ScimClient, params: dict[str, str], base_url: str) -> dict[str, Any]:
    """GET /Users: the client's staff by username, filtered (any SCIM filter, e.g. `userName eq "x"`) and paged."""
    facilities = _facilities(client.agency_id)
    username = _looked_up_username(params.get("filter"))
    found = staff_store.get_staff(username) if username else None
    # an exact look-up reads one record; one in another letter case, or any other filter, reads them all
    candidates = [found] if found is not None else staff_store.list_staff()
    users = [to_user(member, base_url, facilities) for member in candidates if _visible(client, member)]
    return _list(StaffUser, users, params)


def search_params(payload: Any) -> dict[str, str]:
    """A POST .search body (RFC 7644 §3.4.3) as the query parameters of the GET it stands for."""
    with POLICY:
        request: SearchRequest[Any] = SearchRequest.model_validate(payload, scim_ctx=Context.SEARCH_REQUEST)
    params = {
        "filter": str(request.filter) if request.filter else None,
        "startIndex": str(request.start_index) if request.start_index else None,
        "count": str(request.count) if request.count is not None else None,
        "attributes": ",".join(str(a) for a in request.attributes) if request.attributes else None,
        "excludedAttributes": ",".join(str(a) for a in request.excluded_attributes)
        if request.excluded_attributes
        else None,
    }
    return {name: value for name, value in params.items() if value is not None}


def search_all() -> NoReturn:
    """POST /.search at the root (several resource types at once): not offered (RFC 7644 §3.4.3 answers 501)."""
    raise NotImplementedException(detail="Search /Users/.search or /Groups/.search: one resource type at a time")


def get_user(client: ScimClient, user_id: str, base_url: str) -> StaffUser:
    return to_user(_member(client, user_id), base_url, _facilities(client.agency_id))


def _parsed_user(payload: Any, context: Context) -> StaffUser:
    with POLICY:
        user = StaffUser.model_validate(payload, scim_ctx=context)
    return user


MAX_RECORD_CHARS = 64 * 1024  # a staff item stays far below DynamoDB's 400 KB


def _checked(record: ScimRecord) -> str:
    """The record as stored, if it is of a size a staff record keeps; else 413."""
    text = record.to_json()
    if len(text) > MAX_RECORD_CHARS:
        raise PayloadTooLargeException(detail=f"A user may have at most {MAX_RECORD_CHARS} characters of attributes")
    return text


def create_user(client: ScimClient, payload: Any, base_url: str) -> StaffUser:
    """POST /Users: a staff record of the client's agency with no grant (groups give them) and its login."""
    user = _parsed_user(payload, Context.RESOURCE_CREATION_REQUEST)
    username = str(user.user_name or "")
    if not _USERNAME.fullmatch(username):
        raise InvalidValueException(
            detail="userName: letters, digits and _ . @ + - (128 at most), a letter or digit first"
        )
    if staff_store.get_staff(username) is not None:
        raise UniquenessException(detail=f"userName {username} is taken")
    fields = staff_fields(user)
    active = fields.pop("active", True)
    now = now_text()
    record = ScimRecord(resource=_stored(user), created=now, modified=now)
    try:
        member = admin_service.provision_staff(
            client.actor,
            username,
            client.agency_id,
            fields,
            active=active,
            password=user.password or None,
            scim_record=_checked(record),
        )
    except Conflict as exc:
        raise UniquenessException(detail=exc.message) from exc
    return to_user(member, base_url, _facilities(client.agency_id))


def _staff_count_with_access(agency_id: str) -> int:
    return sum(
        1 for member in staff_store.list_staff() if member.agency_id == agency_id and member.active and member.grants
    )


def _deactivation_allowed(client: ScimClient, member: StaffMember) -> bool:
    """Whether the guard lets the client disable `member` now (and counts it). Staff without grants have no access
    to lose: never held."""
    if not member.grants:
        return True
    with_access = _staff_count_with_access(client.agency_id)

    def limit(counted_in_the_hour: int) -> int:
        # the agency's staff with access an hour ago: those still active and those disabled by SCIM since
        return max(1, (with_access + counted_in_the_hour) * MAX_DEACTIVATION_PERCENT // 100)

    return scim_store.count_deactivation(client.agency_id, utc_now().timestamp(), limit)


def _held_answer(client: ScimClient, member: StaffMember) -> ScimHeld:
    return ScimHeld(
        detail=(
            f"Held: disabling {member.username} would take this client's deactivations past "
            f"{MAX_DEACTIVATION_PERCENT}% of the agency's staff within the hour. An AgencyAdmin releases it "
            f"(POST /agencies/{client.agency_id}/scim-holds/release) or discards it; retry afterwards"
        )
    )


def _hold(client: ScimClient, member: StaffMember, *, delete: bool) -> ScimHeld:
    """Hold a deactivation on the record as it is (audited), and the 409 that says so."""
    held = record_of(member).changed(hold={"at": now_text(), "by": client.client_id, "delete": delete})
    admin_service.update_staff_record(
        client.actor, member.username, {"scim_record": held.to_json()}, expected_version=member.version
    )
    audit.record(
        client.actor.username,
        "SCIM_DEACTIVATION_HELD",
        "staff",
        member.username,
        scopes=list(member.facility_ids) or [audit.agency_scope(client.agency_id)],
        agency_id=client.agency_id,
        details={"delete": delete},
    )
    logger.warning("SCIM deactivation held", extra={"username": member.username, "agencyId": client.agency_id})
    return _held_answer(client, member)


def _write(
    client: ScimClient,
    member: StaffMember,
    fields: dict[str, Any],
    record: ScimRecord,
    *,
    delete: bool = False,
) -> StaffMember:
    """Write a user's changes; a deactivation passes the guard first (held: nothing is written, 409). One already
    held stays held, uncounted, until an AgencyAdmin releases or discards it."""
    disabling = fields.get("active") is False and member.active
    if disabling and record.hold:
        raise _held_answer(client, member)
    if disabling and not _deactivation_allowed(client, member):
        raise _hold(client, member, delete=delete)
    changes = dict(fields)
    changes["scim_record"] = _checked(record.changed(deleted=delete or record.deleted))
    return admin_service.update_staff_record(client.actor, member.username, changes, expected_version=member.version)


def replace_user(client: ScimClient, user_id: str, payload: Any, base_url: str) -> StaffUser:
    """PUT /Users/{id}: the user as sent replaces the kept one; userName cannot change."""
    member = _member(client, user_id)
    user = _parsed_user(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    if user.user_name and user.user_name != member.username:
        raise MutabilityException(detail="userName is the Intake username and never changes")
    user.user_name = member.username
    fields = staff_fields(user)
    changed = _write(client, member, fields, record_of(member).changed(resource=_stored(user)))
    return to_user(changed, base_url, _facilities(client.agency_id))


def patch_user(client: ScimClient, user_id: str, payload: Any, base_url: str) -> StaffUser:
    """PATCH /Users/{id}: add, replace and remove in RFC 7644's, Entra's and Okta's shapes."""
    member = _member(client, user_id)
    facilities = _facilities(client.agency_id)
    user = to_user(member, base_url, facilities)
    with POLICY:
        patch = PatchOp[StaffUser].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patch.patch(user)
    if user.user_name != member.username:
        raise MutabilityException(detail="userName is the Intake username and never changes")
    fields = staff_fields(user)
    fields.setdefault("active", member.active)
    changed = _write(client, member, fields, record_of(member).changed(resource=_stored(user)))
    return to_user(changed, base_url, facilities)


def delete_user(client: ScimClient, user_id: str) -> None:
    """DELETE /Users/{id}: disable the staff member (record and login) and hide them from SCIM; the record and its
    audit trail stay."""
    member = _member(client, user_id)
    _write(client, member, {"active": False}, record_of(member), delete=True)


# ------------------------------------------------------------------ groups: one per facility and role


def _group_name(facility: Location | None, facility_id: str, role: Role) -> str:
    return f"{facility.name if facility else facility_id} - {role.value}"


def _parse_group_id(group: str) -> tuple[str, Role] | None:
    facility_id, dot, role = group.rpartition(".")
    if not dot or role not in {r.value for r in GROUP_ROLES}:
        return None
    return facility_id, Role(role)


def _group(client: ScimClient, facility: Location, role: Role, staff: list[StaffMember], base_url: str) -> Group:
    members = [
        GroupMember(
            value=member.username,
            display=_joined(member.display_first_name, member.display_last_name) or member.username,
            type="User",
            ref=_location_url(base_url, "Users", member.username),
        )
        for member in staff
        if any(g.role is role and g.facility_id == facility.location_id for g in member.grants)
    ]
    return Group(
        id=group_id(facility.location_id, role),
        display_name=_group_name(facility, facility.location_id, role),
        members=members or None,
        meta=Meta(
            resource_type="Group", location=_location_url(base_url, "Groups", group_id(facility.location_id, role))
        ),
    )


def _visible_staff(client: ScimClient) -> list[StaffMember]:
    return [member for member in staff_store.list_staff() if _visible(client, member)]


def _groups(client: ScimClient, base_url: str) -> list[Group]:
    staff = _visible_staff(client)
    return [
        _group(client, facility, role, staff, base_url)
        for facility in sorted(_facilities(client.agency_id).values(), key=lambda f: f.location_id)
        for role in GROUP_ROLES
    ]


def list_groups(client: ScimClient, params: dict[str, str], base_url: str) -> dict[str, Any]:
    """GET /Groups: the agency's facility roles, filtered (e.g. `displayName eq "..."`) and paged."""
    return _list(Group, _groups(client, base_url), params)


def _facility_role(client: ScimClient, group: str) -> tuple[Location, Role]:
    parsed = _parse_group_id(group)
    facility = _facilities(client.agency_id).get(parsed[0]) if parsed else None
    if parsed is None or facility is None:
        raise NotFoundException(detail=f"No such Group: {group}")
    return facility, parsed[1]


def get_group(client: ScimClient, group: str, base_url: str) -> Group:
    facility, role = _facility_role(client, group)
    return _group(client, facility, role, _visible_staff(client), base_url)


def dump_group(group: Group, params: dict[str, str] | None = None) -> dict[str, Any]:
    return group.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=_response_parameters(Group, params)
    )


def _set_members(client: ScimClient, before: Group, after: Group, facility: Location, role: Role) -> None:
    """Add and remove grants so that the group's members are `after`'s (of the staff the client sees)."""
    if (after.display_name or before.display_name) != before.display_name:
        raise MutabilityException(detail="A group's displayName is its facility and role: it never changes")
    had = {str(m.value) for m in before.members or [] if m.value}
    wanted = {str(m.value) for m in after.members or [] if m.value}
    visible = {member.username for member in _visible_staff(client)}
    if unknown := sorted(wanted - had - visible):
        raise InvalidValueException(detail=f"Not Users of this client: {', '.join(unknown)}")
    grant = GrantChangeRequest(role=role, facilityId=facility.location_id)
    for username in sorted(wanted - had):
        admin_service.add_grant(client.actor, username, grant)
    for username in sorted(had - wanted):
        admin_service.remove_grant(client.actor, username, grant, allow_last=True)


def patch_group(client: ScimClient, group: str, payload: Any, base_url: str) -> Group:
    """PATCH /Groups/{id}: members added or removed (Entra's and Okta's shapes) add or remove the grant."""
    facility, role = _facility_role(client, group)
    before = _group(client, facility, role, _visible_staff(client), base_url)
    after = before.model_copy(deep=True)
    with POLICY:
        patch = PatchOp[Group].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patch.patch(after)
    _set_members(client, before, after, facility, role)
    return get_group(client, group, base_url)


def replace_group(client: ScimClient, group: str, payload: Any, base_url: str) -> Group:
    """PUT /Groups/{id}: the members sent become the group's (its displayName stays)."""
    facility, role = _facility_role(client, group)
    before = _group(client, facility, role, _visible_staff(client), base_url)
    with POLICY:
        after = Group.model_validate(payload, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    _set_members(client, before, after, facility, role)
    return get_group(client, group, base_url)


def create_group(client: ScimClient, payload: Any, base_url: str) -> NoReturn:
    """POST /Groups: never creates (groups are the agency's facilities and roles); 409 for one that exists."""
    with POLICY:
        wanted = Group.model_validate(payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    if any(g.display_name == wanted.display_name for g in _groups(client, base_url)):
        raise UniquenessException(
            detail=f"The group {wanted.display_name} exists: look it up with a displayName filter"
        )
    raise ForbiddenException(
        detail="Groups are the agency's facilities and roles, named '<facility name> - FacilityAdmin' or "
        "'<facility name> - Educator': they are not created over SCIM"
    )


def delete_group(client: ScimClient, group: str) -> NoReturn:
    _facility_role(client, group)
    raise ForbiddenException(detail="A facility's role is not deleted over SCIM: remove its members instead")


# ------------------------------------------------------------------ discovery


def service_provider_config(base_url: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_PAGE),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="OAuth Bearer Token",
                description="A Cognito access token of the agency's SCIM app client (client credentials, scope "
                f"{scim_store.SCIM_SCOPE})",
                primary=True,
            )
        ],
        pagination=Pagination(cursor=False, index=True, default_page_size=MAX_PAGE, max_page_size=MAX_PAGE),
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base_url.rstrip('/')}/ServiceProviderConfig"),
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _user_schema() -> Schema:
    """The core User schema as scim2-models describes it, but userName: it is the Intake username, immutable."""
    schema = User.to_schema()
    schema.attributes = [
        attribute.model_copy(update={"mutability": Mutability.immutable}) if attribute.name == "userName" else attribute
        for attribute in schema.attributes or []
    ]
    return schema


def schemas() -> list[Schema]:
    return [_user_schema(), EnterpriseUser.to_schema(), Group.to_schema()]


def resource_types() -> list[ResourceType]:
    return [ResourceType.from_resource(StaffUser), ResourceType.from_resource(Group)]


def _with_location(resource: Any, kind: str, base_url: str) -> dict[str, Any]:
    resource.meta = Meta(resource_type=kind, location=_location_url(base_url, f"{kind}s", str(resource.id)))
    return dict(resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _whole_list(found: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse of every resource found, on one page."""
    return {
        "schemas": [ListResponse.__schema__],
        "totalResults": len(found),
        "startIndex": 1,
        "itemsPerPage": len(found),
        "Resources": found,
    }


def list_schemas(base_url: str) -> dict[str, Any]:
    found = [_with_location(schema, "Schema", base_url) for schema in schemas()]
    return _whole_list(found)


def get_schema(schema_id: str, base_url: str) -> dict[str, Any]:
    for schema in schemas():
        if schema.id == schema_id:
            return _with_location(schema, "Schema", base_url)
    raise NotFoundException(detail=f"No such Schema: {schema_id}")


def list_resource_types(base_url: str) -> dict[str, Any]:
    found = [_with_location(rt, "ResourceType", base_url) for rt in resource_types()]
    return _whole_list(found)


def get_resource_type(type_id: str, base_url: str) -> dict[str, Any]:
    for resource_type in resource_types():
        if resource_type.id == type_id:
            return _with_location(resource_type, "ResourceType", base_url)
    raise NotFoundException(detail=f"No such ResourceType: {type_id}")


def error_body(error: SCIMException) -> dict[str, Any]:
    """The SCIM error body (urn:ietf:params:scim:api:messages:2.0:Error, status as a string) of an exception."""
    body: ScimErrorBody = error.to_error()
    return dict(body.model_dump())


# ------------------------------------------------------------------ SCIM clients (intake-admin, the local stack)


@dataclass(frozen=True)
class NewScimClient:
    agency_id: str
    client_id: str
    client_secret: str = field(repr=False)


def create_client(agency_id: str, actor: str) -> NewScimClient:
    """A new SCIM app client of the user pool (client credentials, scope intake/scim) bound to an agency; audited as
    `actor`'s. Not an API operation: whoever runs it holds AWS credentials for the stack."""
    if directory.get_agency(agency_id) is None:
        raise NotFound(f"No such agency: {agency_id}")
    client_id, secret = scim_store.create_app_client(f"intake-scim-{agency_id}")
    try:
        scim_store.bind_client(agency_id, client_id)
    except Exception:
        scim_store.delete_app_client(client_id)  # no client without an agency
        raise
    audit.record(
        actor,
        "SCIM_CLIENT_CREATED",
        "scimClient",
        client_id,
        scopes=[audit.agency_scope(agency_id)],
        agency_id=agency_id,
    )
    return NewScimClient(agency_id=agency_id, client_id=client_id, client_secret=secret)


def delete_client(agency_id: str, client_id: str, actor: str) -> None:
    """Unbind and delete an agency's SCIM app client (its tokens then reach nothing)."""
    if client_id not in scim_store.client_ids(agency_id):
        raise NotFound(f"{client_id} is not a SCIM client of {agency_id}")
    scim_store.unbind_client(agency_id, client_id)
    scim_store.delete_app_client(client_id)
    audit.record(
        actor,
        "SCIM_CLIENT_DELETED",
        "scimClient",
        client_id,
        scopes=[audit.agency_scope(agency_id)],
        agency_id=agency_id,
    )
