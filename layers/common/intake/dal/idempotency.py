"""Idempotency records: Powertools' DynamoDB persistence layer, bound to the settings' table on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, DynamoDBPersistenceLayer

from intake.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig


class SettingsPersistenceLayer(DynamoDBPersistenceLayer):
    """A DynamoDBPersistenceLayer that can be made at import time: it reads no settings and makes no client then.

    Powertools' constructor makes its boto3 client (which reads the region and endpoint from the environment) and
    takes the table name. Here both wait for the first call of the decorated function (`configure`, which the
    idempotency handler calls first on every call), so a module may define its persistence layer, config and
    decorated function once, at import, before the settings are known; the client is then Powertools' own.
    """

    def __init__(self) -> None:
        BasePersistenceLayer.__init__(self)
        self._bound = False

    def bind(self) -> Any:
        """Make the client and read the table name now (once); the DynamoDB client."""
        if not self._bound:
            DynamoDBPersistenceLayer.__init__(self, table_name=get_settings().idempotency_table)
            self._bound = True
        return self.client

    def unbind(self) -> None:
        """Forget the client, table and configuration (tests that restart moto or change the settings)."""
        self.__dict__.clear()  # what Powertools' constructor set (client, table_name, ...) goes too
        self.__init__()  # type: ignore[misc]

    def configure(
        self, config: IdempotencyConfig, function_name: str | None = None, key_prefix: str | None = None
    ) -> None:
        self.bind()
        super().configure(config, function_name, key_prefix)
