"""SCIM's own storage: which agency each SCIM app client is bound to, when SCIM disabled the agency's staff within
the last hour (the mass-deactivation guard's rolling window), and the app clients themselves in the user pool.

Both live on the agency's item: a client is bound by adding its id to `scimClientIds`, and a deactivation is counted
by writing the window's instants back conditional on the list as read, so two deactivations at once never both pass
the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from intake.dal.aws import client
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import AgencyItem, bind_tables
from intake.errors import NotFound, StorageUnavailable
from intake.settings import get_settings

SCIM_SCOPE = "intake/scim"


def bind_client(agency_id: str, client_id: str) -> None:
    """Bind an app client to an agency; NotFound if there is no such agency."""
    bind_tables()
    with storage_call("bind the SCIM client"):
        try:
            AgencyItem(agencyId=agency_id).update(
                actions=[AgencyItem.scimClientIds.add({client_id})], condition=AgencyItem.agencyId.exists()
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            raise NotFound("No such agency") from exc


def unbind_client(agency_id: str, client_id: str) -> None:
    """Forget an app client's binding (its tokens then reach no agency)."""
    bind_tables()
    with storage_call("unbind the SCIM client"):
        try:
            AgencyItem(agencyId=agency_id).update(
                actions=[AgencyItem.scimClientIds.delete({client_id})], condition=AgencyItem.agencyId.exists()
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            raise NotFound("No such agency") from exc


def agency_of_client(client_id: str) -> str | None:
    """The agency an app client is bound to, or None (agencies are tens of items: one filtered scan)."""
    if not client_id:
        return None
    bind_tables()
    with storage_call("read the SCIM client's agency"):
        found = [
            item.agencyId for item in AgencyItem.scan(filter_condition=AgencyItem.scimClientIds.contains(client_id))
        ]
    return found[0] if len(found) == 1 else None  # bound to two agencies would be a broken binding: no agency


def client_ids(agency_id: str) -> list[str]:
    """The app clients bound to an agency."""
    bind_tables()
    with storage_call("read the agency's SCIM clients"):
        try:
            item = AgencyItem.get(agency_id, consistent_read=True)
        except AgencyItem.DoesNotExist:
            return []
    return sorted(item.scimClientIds or ())


WINDOW_SECONDS = 3600
_COUNT_TRIES = 8  # a deactivation counted by another request between the read and the write: read again


def _window(agency_id: str) -> tuple[bool, list[float]]:
    """Whether the agency exists, and the instants its window holds (all of them, however old)."""
    try:
        item = AgencyItem.get(agency_id, consistent_read=True, attributes_to_get=["agencyId", "scimDeactivatedAt"])
    except AgencyItem.DoesNotExist:
        return False, []
    return True, [float(cast(float, at)) for at in item.scimDeactivatedAt or ()]  # PynamoDB types items as attributes


def count_deactivation(agency_id: str, now: float, limit: int | Callable[[int], int]) -> bool:
    """Count one more SCIM deactivation of the agency at `now` if fewer than `limit` were counted in the hour before
    it (True), else count nothing (False). The instants older than the hour are dropped in the same write, which is
    conditional on the list being as read: a concurrent count makes this one read and decide again.

    `limit` may be a function of how many were counted in that hour (the guard's base includes them): it is then
    worked out from the very list the write is conditional on, in the same read."""
    bind_tables()
    with storage_call("count the SCIM deactivation"):
        for _ in range(_COUNT_TRIES):
            exists, instants = _window(agency_id)
            if not exists:
                return False
            recent = [at for at in instants if at > now - WINDOW_SECONDS]
            if len(recent) >= (limit(len(recent)) if callable(limit) else limit):
                return False
            unchanged = (
                AgencyItem.scimDeactivatedAt == instants if instants else AgencyItem.scimDeactivatedAt.does_not_exist()
            )
            try:
                AgencyItem(agencyId=agency_id).update(
                    actions=[AgencyItem.scimDeactivatedAt.set(cast(Any, [*recent, now]))],
                    condition=AgencyItem.agencyId.exists() & unchanged,
                )
                return True
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
    return False  # counted over by others every time: held, the safe side


def create_app_client(name: str) -> tuple[str, str]:
    """A new app client of the staff user pool for the client-credentials grant with the SCIM scope only, its secret
    generated by Cognito: (client id, secret). Used by `intake-admin scim-client` and the local stack, never by the
    API."""
    try:
        created = client("cognito-idp").create_user_pool_client(
            UserPoolId=get_settings().user_pool_id,
            ClientName=name[:128],
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=[SCIM_SCOPE],
            SupportedIdentityProviders=["COGNITO"],
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            AccessTokenValidity=60,
            TokenValidityUnits={"AccessToken": "minutes"},
        )["UserPoolClient"]
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable("Could not create the SCIM app client right now; try again in a moment") from exc
    return str(created["ClientId"]), str(created["ClientSecret"])


def delete_app_client(client_id: str) -> None:
    """Delete an app client (its tokens stop being issued; those issued live until they expire)."""
    try:
        client("cognito-idp").delete_user_pool_client(UserPoolId=get_settings().user_pool_id, ClientId=client_id)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) == "ResourceNotFoundException":
            return
        raise StorageUnavailable("Could not delete the SCIM app client right now; try again in a moment") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Could not delete the SCIM app client right now; try again in a moment") from exc
