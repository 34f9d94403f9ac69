"""Report preferences, scheduled exports and the email delivery ledger, in the one table.

| item | PK | SK |
| --- | --- | --- |
| report preferences | FIRM#{firm}#REPORTPREFS | USER#{user} |
| export schedule | FIRM#{firm}#EXPORTSCHEDULES | {target} |
| delivery (email sent once) | FIRM#{firm}#DELIVERY | {delivery key} |

The hourly fan-outs read one partition per firm (one Query), never a Scan.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from chalicelib.adapters.persistence.codec import dt_in, dt_out, int_in
from chalicelib.adapters.persistence.table import (
    AttributeEquals,
    ConditionFailed,
    ItemAbsent,
    KeyRange,
    Table,
)
from chalicelib.domain.reports import ExportSchedule, ReportFrequency, ReportPreferences
from chalicelib.ports import Clock

# A delivery record outlives any retry of the task that sent it by far; TTL removes it after that.
DELIVERY_RETENTION = timedelta(days=400)


def _all(table: Table, pk: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    start = None
    while True:
        page = table.query(pk, start_after=start, consistent=True)
        items += page.items
        if page.last_key is None:
            return items
        start = page.last_key


class TableReportPreferences:
    """``ReportPreferencesRepository`` on the table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def get(self, firm_id: str, user_id: str) -> ReportPreferences | None:
        item = self._table.get(f"FIRM#{firm_id}#REPORTPREFS", f"USER#{user_id}")
        return _preferences(item) if item else None

    def save(self, firm_id: str, user_id: str, preferences: ReportPreferences, actor: str) -> None:
        # Last write wins: a person's own preferences, changed by that person only.
        self._table.put(
            {
                "PK": f"FIRM#{firm_id}#REPORTPREFS",
                "SK": f"USER#{user_id}",
                "type": "report_preferences",
                "firm_id": firm_id,
                "user_id": user_id,
                "report_frequency": preferences.report_frequency.value,
                "report_hour": preferences.report_hour,
                "time_zone": preferences.time_zone,
                "updated_by": actor,
                "updated_at": dt_out(self._clock.now()),
            }
        )

    def of_firm(self, firm_id: str) -> list[tuple[str, ReportPreferences]]:
        return [
            (str(item["user_id"]), _preferences(item))
            for item in _all(self._table, f"FIRM#{firm_id}#REPORTPREFS")
        ]


def _preferences(item: dict[str, object]) -> ReportPreferences:
    return ReportPreferences(
        report_frequency=ReportFrequency(str(item["report_frequency"])),
        report_hour=int_in(item["report_hour"]),
        time_zone=str(item["time_zone"]),
    )


class TableExportSchedules:
    """``ExportScheduleRepository`` on the table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def of_firm(self, firm_id: str) -> list[ExportSchedule]:
        return [
            ExportSchedule(
                firm_id=firm_id,
                target=str(item["SK"]),
                frequency=ReportFrequency(str(item["frequency"])),
                hour=int_in(item["hour"]),
                version=int_in(item["version"]),
            )
            for item in _all(self._table, f"FIRM#{firm_id}#EXPORTSCHEDULES")
        ]

    def save(self, schedule: ExportSchedule, actor: str) -> None:
        self._table.put(
            {
                "PK": f"FIRM#{schedule.firm_id}#EXPORTSCHEDULES",
                "SK": schedule.target,
                "type": "export_schedule",
                "firm_id": schedule.firm_id,
                "frequency": schedule.frequency.value,
                "hour": schedule.hour,
                "version": schedule.version + 1,
                "updated_by": actor,
                "updated_at": dt_out(self._clock.now()),
            }
        )

    def delete(self, firm_id: str, target: str) -> None:
        self._table.delete(f"FIRM#{firm_id}#EXPORTSCHEDULES", target)


class TableDeliveryLedger:
    """``DeliveryLedger`` on the table: a claim is a conditional write, so two attempts never both send.

        attempt A                         attempt B (a retry, or a concurrent duplicate)
        ─────────                         ──────────────────────────────────────────────
        claim(key)  → item absent: ok
        send email                        claim(key) → claimed and fresh: refused, nothing sent
        mark_sent(key, message id)
                                          claim(key) → sent: refused, nothing sent

    A claim older than ``stale_before`` (its attempt died between claim and send) may be taken over:
    that is the only window in which an email could go out twice, and it is the width of one SES call.
    """

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def claim(self, key: str, firm_id: str, stale_before: datetime) -> bool:
        pk = f"FIRM#{firm_id}#DELIVERY"
        now = self._clock.now()
        item = {
            "PK": pk,
            "SK": key,
            "type": "delivery",
            "firm_id": firm_id,
            "state": "claimed",
            "claimed_at": dt_out(now),
            "expires_at_epoch": int((now + DELIVERY_RETENTION).timestamp()),
        }
        try:
            self._table.put(item, ItemAbsent())
            return True
        except ConditionFailed:
            pass
        current = self._table.get(pk, key)
        if current is None or current.get("state") != "claimed":
            return False
        claimed_at = dt_in(current.get("claimed_at"))
        if claimed_at is not None and claimed_at >= stale_before:
            return False
        try:
            # Take the stale claim over only if nobody else did meanwhile.
            self._table.put(item, AttributeEquals("claimed_at", current.get("claimed_at")))
        except ConditionFailed:
            return False
        return True

    def mark_sent(self, key: str, firm_id: str, message_id: str) -> None:
        now = self._clock.now()
        self._table.put(
            {
                "PK": f"FIRM#{firm_id}#DELIVERY",
                "SK": key,
                "type": "delivery",
                "firm_id": firm_id,
                "state": "sent",
                "message_id": message_id,
                "sent_at": dt_out(now),
                "expires_at_epoch": int((now + DELIVERY_RETENTION).timestamp()),
            }
        )

    def release(self, key: str, firm_id: str) -> None:
        with contextlib.suppress(ConditionFailed):
            self._table.delete(f"FIRM#{firm_id}#DELIVERY", key, AttributeEquals("state", "claimed"))

    def sent(self, key: str, firm_id: str) -> str | None:
        item = self._table.get(f"FIRM#{firm_id}#DELIVERY", key)
        if item is None or item.get("state") != "sent":
            return None
        return str(item["message_id"])

    def sent_keys(self, firm_id: str, prefix: str) -> list[str]:
        """Keys of deliveries sent under a prefix (tests and the devstack look at them)."""
        page = self._table.query(f"FIRM#{firm_id}#DELIVERY", KeyRange(prefix=prefix), consistent=True)
        return [str(item["SK"]) for item in page.items if item.get("state") == "sent"]
