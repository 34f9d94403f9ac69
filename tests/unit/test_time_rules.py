"""Days are the user's own days in their zone, right across DST; Windows zone names mean their IANA zones."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.timeutil import day_bounds, iso_ms, local_day, utc_ms, zone

PROPERTY = settings(max_examples=200, deadline=None)

ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "America/St_Johns")
# Zones whose clocks jump at midnight, so a day can start at 01:00 or see 00:00 twice.
MIDNIGHT_ZONES = ("America/Havana", "America/Santiago")
WINDOWS_NAMES = {
    "Eastern Standard Time": "America/New_York",
    "GMT Standard Time": "Europe/London",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "India Standard Time": "Asia/Kolkata",
    "Newfoundland Standard Time": "America/St_Johns",
}

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31, 23, 59, 59), timezones=st.just(UTC)
)
any_zone = st.sampled_from((*ZONES, *MIDNIGHT_ZONES, *WINDOWS_NAMES))


def hours(bounds: tuple[datetime, datetime]) -> float:
    start, end = bounds
    return (end - start).total_seconds() / 3600


@pytest.mark.parametrize(
    ("zone_name", "day", "expected_hours"),
    [
        ("America/New_York", date(2024, 3, 10), 23),
        ("America/New_York", date(2024, 7, 1), 24),
        ("America/New_York", date(2024, 11, 3), 25),
        ("Europe/London", date(2024, 3, 31), 23),
        ("Europe/London", date(2024, 10, 27), 25),
        ("Australia/Sydney", date(2024, 4, 7), 25),
        ("Australia/Sydney", date(2024, 10, 6), 23),
        ("Asia/Kolkata", date(2024, 3, 10), 24),
        ("Asia/Kolkata", date(2024, 10, 27), 24),
        ("America/St_Johns", date(2024, 3, 10), 23),
        ("America/St_Johns", date(2024, 11, 3), 25),
        ("America/Santiago", date(2024, 4, 6), 25),
        ("America/Santiago", date(2024, 9, 8), 23),
    ],
)
def test_a_day_lasts_23_24_or_25_hours_exactly_on_the_transition_days(
    zone_name: str, day: date, expected_hours: int
) -> None:
    assert hours(day_bounds(day, zone_name)) == expected_hours


@pytest.mark.parametrize(
    ("zone_name", "day", "start", "end"),
    [
        ("America/New_York", date(2024, 3, 10), datetime(2024, 3, 10, 5), datetime(2024, 3, 11, 4)),
        ("Europe/London", date(2024, 10, 27), datetime(2024, 10, 26, 23), datetime(2024, 10, 28, 0)),
        ("Australia/Sydney", date(2024, 10, 6), datetime(2024, 10, 5, 14), datetime(2024, 10, 6, 13)),
        ("Asia/Kolkata", date(2024, 3, 10), datetime(2024, 3, 9, 18, 30), datetime(2024, 3, 10, 18, 30)),
        ("America/St_Johns", date(2024, 3, 10), datetime(2024, 3, 10, 3, 30), datetime(2024, 3, 11, 2, 30)),
        # Clocks jump from 00:00 to 01:00: the day starts at the jump.
        ("America/Santiago", date(2024, 9, 8), datetime(2024, 9, 8, 4), datetime(2024, 9, 9, 3)),
    ],
)
def test_a_day_starts_and_ends_at_the_utc_instants_of_local_midnight(
    zone_name: str, day: date, start: datetime, end: datetime
) -> None:
    assert day_bounds(day, zone_name) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


@PROPERTY
@given(days, any_zone)
def test_consecutive_days_tile_time_without_gaps_or_overlaps(day: date, zone_name: str) -> None:
    start, end = day_bounds(day, zone_name)
    next_start, _ = day_bounds(day + timedelta(days=1), zone_name)
    assert end == next_start
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert hours((start, end)) in (23, 24, 25)


@PROPERTY
@given(instants, any_zone)
def test_every_instant_lies_within_the_bounds_of_the_local_day_it_falls_on(
    moment: datetime, zone_name: str
) -> None:
    start, end = day_bounds(local_day(moment, zone_name), zone_name)
    assert start <= moment < end


@PROPERTY
@given(days, st.integers(0, 25 * 3_600_000), any_zone)
def test_every_instant_within_a_days_bounds_falls_on_that_day(day: date, ms: int, zone_name: str) -> None:
    start, end = day_bounds(day, zone_name)
    moment = start + timedelta(milliseconds=ms % ((end - start) // timedelta(milliseconds=1)))
    assert local_day(moment, zone_name) == day
    assert local_day(start, zone_name) == day
    assert local_day(end - timedelta(microseconds=1), zone_name) == day
    assert local_day(end, zone_name) == day + timedelta(days=1)


@pytest.mark.parametrize(("windows_name", "iana_name"), sorted(WINDOWS_NAMES.items()))
def test_a_windows_zone_name_means_its_iana_zone(windows_name: str, iana_name: str) -> None:
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert moment.astimezone(zone(windows_name)).utcoffset() == moment.astimezone(zone(iana_name)).utcoffset()


@PROPERTY
@given(instants, days, st.sampled_from(sorted(WINDOWS_NAMES.items())))
def test_windows_zone_names_give_the_same_days_and_bounds_as_their_iana_names(
    moment: datetime, day: date, names: tuple[str, str]
) -> None:
    windows_name, iana_name = names
    assert local_day(moment, windows_name) == local_day(moment, iana_name)
    assert day_bounds(day, windows_name) == day_bounds(day, iana_name)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "Eastern Standard Time Zone", "../etc/passwd"])
def test_an_unknown_zone_name_is_refused_as_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput):
        zone(name)


def test_times_are_normalised_to_utc_milliseconds_and_naive_times_are_refused() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert utc_ms(datetime(2026, 3, 9, 9, 30, 0, 123_999, tzinfo=eastern)) == datetime(
        2026, 3, 9, 14, 30, 0, 123_000, tzinfo=UTC
    )
    assert iso_ms(datetime(2026, 3, 9, 14, 30, tzinfo=UTC)) == "2026-03-09T14:30:00.000Z"
    with pytest.raises(InvalidInput):
        utc_ms(datetime(2026, 3, 9, 14, 30))
