"""Pay periods: weekly, bi-weekly, twice monthly (1st-15th, 16th-end) and monthly, from an interval and a
start date, tiling the calendar without gaps or overlaps through month ends and leap years."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.contractors.pay_periods import (
    PayPeriod,
    PayPeriodInterval,
    PayPeriodSchedule,
    period_containing,
    period_starting,
    require_schedulable,
    upcoming_periods,
    validate_schedule,
)
from chalicelib.domain.errors import InvalidInput

PROPERTY = settings(max_examples=300, deadline=None)
WEEKLY = PayPeriodSchedule(PayPeriodInterval.WEEKLY, date(2026, 1, 5))  # a Monday
BI_WEEKLY = PayPeriodSchedule(PayPeriodInterval.BI_WEEKLY, date(2026, 1, 5))
TWICE = PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(2024, 1, 1))
MONTHLY = PayPeriodSchedule(PayPeriodInterval.MONTHLY, date(2024, 1, 1))


def test_the_four_intervals_carry_the_seeds_names() -> None:
    assert [i.value for i in PayPeriodInterval] == [
        "weekly",
        "bi_weekly",
        "twice_monthly_standard",
        "monthly",
    ]


def test_a_weekly_period_is_seven_days_from_the_start_weekday() -> None:
    assert period_containing(WEEKLY, date(2026, 3, 11)) == PayPeriod(date(2026, 3, 9), date(2026, 3, 15))


def test_a_bi_weekly_period_is_fourteen_days() -> None:
    assert period_containing(BI_WEEKLY, date(2026, 3, 11)) == PayPeriod(date(2026, 3, 2), date(2026, 3, 15))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 2, 15), PayPeriod(date(2024, 2, 1), date(2024, 2, 15))),
        (date(2024, 2, 16), PayPeriod(date(2024, 2, 16), date(2024, 2, 29))),  # leap year
        (date(2025, 2, 20), PayPeriod(date(2025, 2, 16), date(2025, 2, 28))),
        (date(2025, 4, 30), PayPeriod(date(2025, 4, 16), date(2025, 4, 30))),
        (date(2025, 12, 31), PayPeriod(date(2025, 12, 16), date(2025, 12, 31))),
    ],
)
def test_twice_monthly_runs_the_1st_to_15th_and_the_16th_to_the_month_end(
    day: date, expected: PayPeriod
) -> None:
    assert period_containing(TWICE, day) == expected


def test_twice_monthly_must_start_on_a_1st_or_a_16th() -> None:
    with pytest.raises(InvalidInput, match="1st or a 16th"):
        validate_schedule(PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(2026, 1, 15)))
    validate_schedule(PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(2026, 1, 16)))


def test_monthly_runs_from_the_start_day_to_the_day_before_it_next_month() -> None:
    schedule = PayPeriodSchedule(PayPeriodInterval.MONTHLY, date(2026, 1, 10))
    assert period_containing(schedule, date(2026, 3, 9)) == PayPeriod(date(2026, 2, 10), date(2026, 3, 9))


def test_monthly_from_the_31st_falls_back_to_shorter_months_last_day() -> None:
    schedule = PayPeriodSchedule(PayPeriodInterval.MONTHLY, date(2024, 1, 31))
    starts = [p.start for p in upcoming_periods(schedule, date(2024, 1, 31), 4)]
    assert starts == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_a_day_before_the_first_period_has_none() -> None:
    with pytest.raises(InvalidInput, match="before the first pay period"):
        period_containing(WEEKLY, date(2026, 1, 4))


def test_upcoming_periods_start_with_the_current_one_or_the_first_if_it_has_not_begun() -> None:
    current, following = upcoming_periods(TWICE, date(2026, 3, 9), 2)
    assert (current.start, following.start) == (date(2026, 3, 1), date(2026, 3, 16))
    assert upcoming_periods(WEEKLY, date(2025, 12, 1), 1)[0].start == WEEKLY.start_date
    with pytest.raises(InvalidInput):
        upcoming_periods(WEEKLY, date(2026, 3, 9), 0)


def test_only_a_real_period_start_names_a_period() -> None:
    assert period_starting(TWICE, date(2026, 3, 16)).end == date(2026, 3, 31)
    with pytest.raises(InvalidInput, match="no pay period starts"):
        period_starting(TWICE, date(2026, 3, 17))


def test_an_invoice_is_scheduled_on_a_real_period_that_has_not_ended() -> None:
    today = date(2026, 3, 9)
    require_schedulable(TWICE, PayPeriod(date(2026, 3, 1), date(2026, 3, 15)), today)
    with pytest.raises(InvalidInput, match="is over"):
        require_schedulable(TWICE, PayPeriod(date(2026, 2, 16), date(2026, 2, 28)), today)
    with pytest.raises(InvalidInput, match="ends"):
        require_schedulable(TWICE, PayPeriod(date(2026, 3, 1), date(2026, 3, 14)), today)


SCHEDULES = st.builds(
    PayPeriodSchedule,
    st.sampled_from(list(PayPeriodInterval)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
).map(
    lambda s: (
        PayPeriodSchedule(s.interval, s.start_date.replace(day=1 if s.start_date.day <= 15 else 16))
        if s.interval is PayPeriodInterval.TWICE_MONTHLY
        else s
    )
)


@PROPERTY
@given(SCHEDULES, st.integers(min_value=0, max_value=3000), st.integers(min_value=2, max_value=60))
def test_pay_periods_tile_the_calendar_without_gaps_or_overlaps(
    schedule: PayPeriodSchedule, offset: int, count: int
) -> None:
    periods = upcoming_periods(schedule, schedule.start_date + timedelta(days=offset), count)
    for period in periods:
        assert period.start <= period.end
    for earlier, later in pairwise(periods):
        assert later.start == earlier.end + timedelta(days=1)


@PROPERTY
@given(SCHEDULES, st.integers(min_value=0, max_value=5000))
def test_every_day_from_the_start_falls_in_exactly_the_period_that_contains_it(
    schedule: PayPeriodSchedule, offset: int
) -> None:
    day = schedule.start_date + timedelta(days=offset)
    period = period_containing(schedule, day)
    assert period.contains(day)
    assert period_containing(schedule, period.start) == period == period_containing(schedule, period.end)
    assert period.start >= schedule.start_date
    if period.start > schedule.start_date:
        assert period_containing(schedule, period.start - timedelta(days=1)).end == period.start - timedelta(
            days=1
        )


@PROPERTY
@given(SCHEDULES, st.integers(min_value=0, max_value=5000))
def test_period_lengths_match_their_interval(schedule: PayPeriodSchedule, offset: int) -> None:
    period = period_containing(schedule, schedule.start_date + timedelta(days=offset))
    if schedule.interval is PayPeriodInterval.WEEKLY:
        assert period.days == 7
    elif schedule.interval is PayPeriodInterval.BI_WEEKLY:
        assert period.days == 14
    elif schedule.interval is PayPeriodInterval.TWICE_MONTHLY:
        month_end = calendar.monthrange(period.start.year, period.start.month)[1]
        assert (period.start.day, period.end.day) in ((1, 15), (16, month_end))
    else:
        assert 28 <= period.days <= 31


@PROPERTY
@given(st.integers(min_value=1990, max_value=2100))
def test_february_twice_monthly_ends_on_the_28th_or_in_leap_years_the_29th(year: int) -> None:
    since_1990 = PayPeriodSchedule(PayPeriodInterval.TWICE_MONTHLY, date(1990, 1, 1))
    period = period_containing(since_1990, date(year, 2, 20))
    assert period.end == date(year, 2, 29 if calendar.isleap(year) else 28)
