"""The one Logger, Tracer and Metrics of the service; every handler and logic module uses these."""

from __future__ import annotations

import numbers
import os
import traceback
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any

import aws_xray_sdk  # the package alone: its global on/off switch, which Powertools' Tracer sets
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

# botocore carries every AWS call we make (boto3, PynamoDB 6, Powertools' idempotency); the full patch set would also
# import and patch sqlite3, http.client, requests, httpx... which we never use on Lambda.
TRACED_MODULES = ("botocore",)


def snapshotting() -> bool:
    """Whether this init is SnapStart's (template parameter SnapStart): it runs once per published version and is
    snapshotted, so a handler loads now what its first invocation would, into the snapshot (no client, connection or
    thread is made by that: those come on first use, after a restore)."""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"


@lru_cache(maxsize=1)
def _recorder() -> Any:
    # Importing aws_xray_sdk.core builds its recorder; outside Lambda that creates two botocore X-Ray clients
    # (~0.5 s), so it happens only where tracing is on: at init on Lambda, through the Tracer's patch.
    from aws_xray_sdk.core import patch, xray_recorder

    return xray_recorder, patch


class _Untraced(BaseSegment):
    """What a subsegment is while tracing is off: it records nothing."""

    def close(self, end_time: int | None = None) -> None:
        """Nothing to close."""

    def add_subsegment(self, subsegment: Any) -> None:
        """Nothing recorded."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Nothing recorded."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Nothing recorded."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Nothing recorded."""

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        """Nothing recorded."""


class XRayOnDemand(BaseProvider):
    """Powertools' X-Ray provider, imported the first time tracing is on rather than whenever a Tracer is built."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        """A subsegment of the current trace, or a no-op one while tracing is off."""
        if not aws_xray_sdk.global_sdk_config.sdk_enabled():
            yield _Untraced()
            return
        with _recorder()[0].in_subsegment(name=name, **kwargs) as subsegment:
            yield subsegment

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment, None]:
        """The async form of `in_subsegment`."""
        if not aws_xray_sdk.global_sdk_config.sdk_enabled():
            yield _Untraced()
            return
        async with _recorder()[0].in_subsegment_async(name=name, **kwargs) as subsegment:
            yield subsegment

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Annotate the current trace entity (indexed)."""
        if aws_xray_sdk.global_sdk_config.sdk_enabled():
            _recorder()[0].put_annotation(key=key, value=value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Attach metadata to the current trace entity."""
        if aws_xray_sdk.global_sdk_config.sdk_enabled():
            _recorder()[0].put_metadata(key=key, value=value, namespace=namespace)

    def patch(self, modules: Sequence[str]) -> None:
        """Instrument these libraries (the Tracer calls this only when tracing is on)."""
        _recorder()[1](modules)

    def patch_all(self) -> None:
        """Instrument the libraries we use."""
        self.patch(TRACED_MODULES)


logger = Logger()
tracer = Tracer(provider=XRayOnDemand(), patch_modules=TRACED_MODULES)
metrics = Metrics()
