"""A matter shows a closing day exactly while it is closed, whichever way its status changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.matters import Matter, MatterStatus, validate_matter, with_status

TODAY = date(2026, 3, 9)
OPEN = Matter("f", "m-1", "2026-0001", "Acme v. Widgetco", "c-1", opened_on=date(2026, 1, 5))


def test_closing_keeps_the_day_it_closed_or_takes_today() -> None:
    assert with_status(OPEN, MatterStatus.CLOSED, TODAY).closed_on == TODAY
    closed_earlier = replace(OPEN, status=MatterStatus.CLOSED, closed_on=date(2026, 2, 1))
    assert with_status(closed_earlier, MatterStatus.CLOSED, TODAY).closed_on == date(2026, 2, 1)


@pytest.mark.parametrize("status", [MatterStatus.OPEN, MatterStatus.PENDING])
def test_any_other_status_reopens_the_matter_and_drops_the_closing_day(status: MatterStatus) -> None:
    closed = with_status(OPEN, MatterStatus.CLOSED, TODAY)
    reopened = with_status(closed, status, TODAY)
    assert (reopened.status, reopened.closed_on) == (status, None)
    validate_matter(reopened)


def test_an_open_matter_with_a_closing_day_is_refused_on_that_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_matter(replace(OPEN, closed_on=TODAY))
    assert [e.field for e in refused.value.field_errors] == ["closed_on"]
