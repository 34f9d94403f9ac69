"""Fires the app's schedules in the devstack: on their cron, and on demand from the console or CLI.

EventBridge never fires in moto, so the devstack reads the schedules Chalice registered
(``app.event_sources``), works out the next time of each cron in UTC, and calls the handler with the
same event EventBridge would send.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice
from chalice.app import Cron, Rate, ScheduledEventConfig
from croniter import croniter

logger = logging.getLogger("devstack.schedules")

_AWS_WEEKDAYS = {"1": "0", "2": "1", "3": "2", "4": "3", "5": "4", "6": "5", "7": "6"}


def aws_cron_to_croniter(expression: Cron) -> str:
    """AWS cron has six fields (with year) and '?'; croniter wants five. AWS weekdays run 1=SUN..7=SAT."""
    weekday = str(expression.day_of_week)
    if weekday not in {"?", "*"} and weekday.isdigit():
        weekday = _AWS_WEEKDAYS.get(weekday, weekday)
    fields = [expression.minutes, expression.hours, expression.day_of_month, expression.month, weekday]
    return " ".join("*" if str(part) == "?" else str(part) for part in fields)


def scheduled_event(
    name: str, at: datetime, region: str = "us-east-1", account: str = "123456789012"
) -> dict[str, Any]:
    """The event EventBridge sends a scheduled Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/matterline-{name}"],
        "detail": {},
    }


@dataclass
class Schedule:
    """One registered schedule and when it last ran."""

    name: str
    handler: Any
    expression: str
    last_run: datetime | None = None
    last_result: Any = None
    last_error: str | None = None

    def next_run(self, after: datetime) -> datetime:
        if self.expression.startswith("rate:"):
            seconds = int(self.expression.split(":", 1)[1])
            return datetime.fromtimestamp((int(after.timestamp()) // seconds + 1) * seconds, UTC)
        return croniter(self.expression, after).get_next(datetime)


class Scheduler:
    """A background thread that fires due schedules; ``fire(name)`` runs one now."""

    def __init__(self, app: Chalice) -> None:
        self.schedules: dict[str, Schedule] = {}
        for source in app.event_sources:
            if not isinstance(source, ScheduledEventConfig):
                continue
            expression = source.schedule_expression
            if isinstance(expression, Cron):
                text = aws_cron_to_croniter(expression)
            elif isinstance(expression, Rate):
                unit = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}[expression.unit]
                text = f"rate:{expression.value * unit}"
            else:
                continue
            self.schedules[source.name] = Schedule(source.name, app.handler_map[source.name], text)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire(self, name: str, at: datetime | None = None) -> Any:
        """Run one schedule now, as EventBridge would; returns what the handler returned."""
        schedule = self.schedules[name]
        at = at or datetime.now(UTC)
        try:
            schedule.last_result = schedule.handler(scheduled_event(name, at), None)
            schedule.last_error = None
        except Exception as error:
            schedule.last_error = f"{type(error).__name__}: {error}"
            logger.exception("schedule %s failed", name)
            raise
        finally:
            schedule.last_run = at
        return schedule.last_result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="devstack-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        started = datetime.now(UTC)
        due = {name: schedule.next_run(started) for name, schedule in self.schedules.items()}
        while not self._stop.wait(1.0):
            now = datetime.now(UTC)
            for name, when in due.items():
                if now >= when:
                    # fire() logs a failure; the loop keeps the other schedules going.
                    with contextlib.suppress(Exception):
                        self.fire(name, when)
                    due[name] = self.schedules[name].next_run(now)
