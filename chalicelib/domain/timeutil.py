"""Time rules: UTC with millisecond precision everywhere; days are the user's own days in their zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tzlocal.windows_tz import win_tz

from chalicelib.domain.errors import InvalidInput

# Windows zone names (Outlook, Graph calendar, EWS) map to IANA through CLDR's windowsZones.xml
# (territory 001), as tzlocal ships it: 140-odd names, kept current by a library release, not by us.
WINDOWS_TO_IANA: dict[str, str] = dict(win_tz)


def zone(name: str) -> ZoneInfo:
    """An IANA zone, accepting Windows names too."""
    try:
        return ZoneInfo(WINDOWS_TO_IANA.get(name, name))
    except (KeyError, ValueError) as error:
        raise InvalidInput(f"'{name}' is not a time zone") from error


def utc_ms(moment: datetime) -> datetime:
    """Normalise to UTC with millisecond precision; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise InvalidInput("times must carry a UTC offset")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def day_bounds(day: date, zone_name: str) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and ends for someone in ``zone_name`` (23-25 h around DST)."""
    tz = zone(zone_name)
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def local_day(moment: datetime, zone_name: str) -> date:
    """The user's calendar day a UTC instant falls on."""
    return moment.astimezone(zone(zone_name)).date()


def iso_ms(moment: datetime) -> str:
    """Sortable ISO text, UTC, milliseconds: 2026-03-09T14:30:00.000Z."""
    return utc_ms(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
