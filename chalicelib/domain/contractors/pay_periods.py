"""Pay periods: the four intervals the contractor module supports, from an interval and a start date.

- ``weekly``: seven days from the start date, then the next seven...
- ``bi_weekly``: fourteen days at a time.
- ``twice_monthly_standard``: the 1st to the 15th and the 16th to the last day of the month. The start date
  must be a 1st or a 16th.
- ``monthly``: from the start date's day of the month to the day before it in the next month. A start on
  the 29th-31st falls back to the last day of shorter months (Jan 31, Feb 28, Mar 31, Apr 30...), so
  periods still follow each other without a gap or an overlap.

Periods are inclusive of both ends and tile the calendar from the start date on: every later day falls in
exactly one period. Days before the start date have no pay period.

Public API:

- ``PayPeriodInterval``, ``PayPeriodSchedule``, ``PayPeriod``.
- ``validate_schedule(schedule) -> None``
- ``period_containing(schedule, day) -> PayPeriod``
- ``upcoming_periods(schedule, today, count) -> tuple[PayPeriod, ...]``: the current period and the next ones.
- ``period_starting(schedule, start) -> PayPeriod``: the period that starts on a day (or ``InvalidInput``).
- ``require_schedulable(schedule, period, today) -> None``: a real period of the schedule, not over yet.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput

MAX_UPCOMING = 104


class PayPeriodInterval(StrEnum):
    WEEKLY = "weekly"
    BI_WEEKLY = "bi_weekly"
    TWICE_MONTHLY = "twice_monthly_standard"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class PayPeriodSchedule:
    """The firm's pay periods: an interval and the first period's start."""

    interval: PayPeriodInterval
    start_date: date


@dataclass(frozen=True)
class PayPeriod:
    """One pay period, both ends included."""

    start: date
    end: date

    @property
    def key(self) -> str:
        """How records name the period: its start, ISO."""
        return self.start.isoformat()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def validate_schedule(schedule: PayPeriodSchedule) -> None:
    """Twice-monthly schedules start on a 1st or a 16th; every other start date is fine."""
    if schedule.interval is PayPeriodInterval.TWICE_MONTHLY and schedule.start_date.day not in (1, 16):
        message = "twice-monthly pay periods run 1st-15th and 16th-end of month: start on a 1st or a 16th"
        raise InvalidInput(message, field_errors=[FieldError("start_date", message)])


def period_containing(schedule: PayPeriodSchedule, day: date) -> PayPeriod:
    """The pay period ``day`` falls in."""
    validate_schedule(schedule)
    if day < schedule.start_date:
        raise InvalidInput(
            f"{day.isoformat()} is before the first pay period, which starts "
            f"{schedule.start_date.isoformat()}"
        )
    interval = schedule.interval
    if interval in (PayPeriodInterval.WEEKLY, PayPeriodInterval.BI_WEEKLY):
        length = 7 if interval is PayPeriodInterval.WEEKLY else 14
        index = (day - schedule.start_date).days // length
        start = schedule.start_date + timedelta(days=index * length)
        return PayPeriod(start, start + timedelta(days=length - 1))
    if interval is PayPeriodInterval.TWICE_MONTHLY:
        if day.day <= 15:
            return PayPeriod(day.replace(day=1), day.replace(day=15))
        return PayPeriod(day.replace(day=16), day.replace(day=_month_length(day.year, day.month)))
    return _monthly_period(schedule.start_date.day, day)


def upcoming_periods(schedule: PayPeriodSchedule, today: date, count: int) -> tuple[PayPeriod, ...]:
    """The current pay period (or the first one, if it has not begun) and the ones after it."""
    if not 1 <= count <= MAX_UPCOMING:
        raise InvalidInput(f"ask for 1 to {MAX_UPCOMING} pay periods")
    current = period_containing(schedule, max(today, schedule.start_date))
    periods = [current]
    while len(periods) < count:
        periods.append(period_containing(schedule, periods[-1].end + timedelta(days=1)))
    return tuple(periods)


def period_starting(schedule: PayPeriodSchedule, start: date) -> PayPeriod:
    """The pay period that begins on ``start``; a day that starts no period is refused."""
    period = period_containing(schedule, start)
    if period.start != start:
        raise InvalidInput(
            f"no pay period starts on {start.isoformat()}; "
            f"the one around it starts {period.start.isoformat()}",
            field_errors=[FieldError("pay_period", "choose a pay period from the list")],
        )
    return period


def require_schedulable(schedule: PayPeriodSchedule, period: PayPeriod, today: date) -> None:
    """An invoice is scheduled on a real period of the firm's schedule that has not ended yet."""
    real = period_starting(schedule, period.start)
    if real != period:
        raise InvalidInput(
            f"the pay period starting {period.start.isoformat()} ends {real.end.isoformat()}",
            field_errors=[FieldError("pay_period", "choose a pay period from the list")],
        )
    if period.end < today:
        raise InvalidInput(
            f"the pay period {period.start.isoformat()} to {period.end.isoformat()} is over; "
            "choose the current or a later one",
            field_errors=[FieldError("pay_period", "choose the current or a later pay period")],
        )


def _month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _anchored(year: int, month: int, anchor_day: int) -> date:
    """The anchor day in a month, or the month's last day when the month is shorter."""
    return date(year, month, min(anchor_day, _month_length(year, month)))


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _monthly_period(anchor_day: int, day: date) -> PayPeriod:
    start = _anchored(day.year, day.month, anchor_day)
    if day < start:
        year, month = _shift_month(day.year, day.month, -1)
        start = _anchored(year, month, anchor_day)
    year, month = _shift_month(start.year, start.month, 1)
    next_start = _anchored(year, month, anchor_day)
    return PayPeriod(start, next_start - timedelta(days=1))
