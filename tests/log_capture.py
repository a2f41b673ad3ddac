"""The service's log lines exactly as CloudWatch receives them: Powertools' JSON, one object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Logged:
    lines: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def messages(self) -> list[str]:
        return [str(record.get("message")) for record in self.records]

    def mentions(self, secret: str) -> bool:
        """Whether any line holds `secret`, as it is written or inside any decoded JSON value (escaping hides it)."""
        return any(secret in line for line in self.lines) or any(
            secret in value for record in self.records for value in _strings(record)
        )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    else:
        yield json.dumps(value)


@contextmanager
def cloudwatch_lines() -> Iterator[Logged]:
    """Every line the service's Logger formats while the block runs, as the Lambda runtime would ship it."""
    from intake.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    service = logging.getLogger(logger.service)
    service.addHandler(handler)
    logged = Logged()
    try:
        yield logged
    finally:
        service.removeHandler(handler)
        logged.lines = [line for line in stream.getvalue().splitlines() if line.strip()]
        for line in logged.lines:
            json.loads(line)  # every line is one JSON object, or CloudWatch's queries cannot read it
