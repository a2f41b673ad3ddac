"""EventBridge schedules of the template, run locally: each `Type: Schedule` function every few seconds."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.local_api import lambda_context
from local.resources import FUNCTION_TYPE, FunctionConfig, LocalResources
from local.template import load_template

log = logging.getLogger("local.schedules")

# Deployed, the sweeper runs hourly; locally an expiry should show within a minute (INTAKE_SCHEDULE_SECONDS).
DEFAULT_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class Schedule:
    """One `Type: Schedule` event of a template function."""

    function: FunctionConfig
    name: str
    expression: str


def schedules_of(resources: LocalResources) -> list[Schedule]:
    """Every enabled schedule event of the template's functions."""
    found = []
    template = load_template(resources.template_path)
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != FUNCTION_TYPE or logical_id not in resources.functions:
            continue
        for name, event in resource.get("Properties", {}).get("Events", {}).items():
            properties = event.get("Properties", {})
            if event.get("Type") == "Schedule" and properties.get("Enabled", True):
                found.append(Schedule(resources.functions[logical_id], str(name), str(properties["Schedule"])))
    return found


def scheduled_event(schedule: Schedule, resources: LocalResources, now: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": resources.account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": resources.region,
        "resources": [f"arn:aws:events:{resources.region}:{resources.account_id}:rule/{schedule.name}"],
        "detail": {},
    }


def run_once(schedule: Schedule, resources: LocalResources) -> Any:
    """Invoke a scheduled function once, as EventBridge would; its answer."""
    module = importlib.import_module(schedule.function.module)
    handler = getattr(module, schedule.function.attribute)
    context = lambda_context(schedule.function, resources.region, resources.account_id)
    return handler(scheduled_event(schedule, resources, datetime.now(UTC)), context)


def start_schedules(resources: LocalResources, stop_event: threading.Event) -> list[threading.Thread]:
    """One daemon thread per schedule, invoking its function every INTAKE_SCHEDULE_SECONDS until stop_event is set."""
    interval = float(os.environ.get("INTAKE_SCHEDULE_SECONDS") or DEFAULT_INTERVAL_SECONDS)
    threads = []
    for schedule in schedules_of(resources):

        def loop(schedule: Schedule = schedule) -> None:
            while not stop_event.wait(interval):
                try:
                    run_once(schedule, resources)
                except Exception:
                    log.exception("%s (%s) failed", schedule.function.logical_id, schedule.expression)

        thread = threading.Thread(target=loop, name=f"schedule-{schedule.function.logical_id}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
