"""A plant's status on the overview (SPEC data-status), the overview's query choices, and the
month arithmetic of the chronic rule's window: pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import QueryParams

from console.errors import BadRequest
from console.overview import read_choice
from console.status import months_back, plant_status
from rules.summary import LatestValue

NOW = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
STALE = timedelta(minutes=15)


def value(status: int = 0, age_min: float = 2) -> LatestValue:
    seen = NOW - timedelta(minutes=age_min)
    return LatestValue("kb", "outlet", "cod", 40.0, seen, status, seen)


@pytest.mark.parametrize(("kinds", "latest", "expected"), [
    ({"bypass", "exceedance"}, [value()], "bypass"),
    ({"below_minimum", "no_data"}, [value()], "exceedance"),
    ({"sensor_fault"}, [value()], "sensor_fault"),
    (set(), [value(), value(status=2)], "sensor_fault"),  # a device reporting an error now
    (set(), [value(status=1)], "compliant"),  # calibrating is no fault
    ({"no_data"}, [value()], "no_data"),
    (set(), [value(age_min=16)], "no_data"),  # silent longer than 3 intervals
    (set(), [], "unknown"),
    ({"treatment_shortfall"}, [value()], "compliant"),  # a day's ratio is not a live status
    ({"exceedance"}, [], "exceedance"),
])
def test_plant_status(kinds: set[str], latest: list[LatestValue], expected: str) -> None:
    assert plant_status(kinds, latest, NOW, STALE) == expected


def test_overview_choices_from_the_query() -> None:
    choice = read_choice_of("sort=over&dir=desc&status=exceedance&q=%20Kim%20&chronic=1")
    assert (choice.sort, choice.descending, choice.status, choice.text, choice.chronic) == (
        "over", True, "exceedance", "Kim", True)
    assert choice.active
    assert choice.sort_link("over") == "/?sort=over&dir=asc&status=exceedance&q=Kim&chronic=1"
    assert choice.sort_link("name").startswith("/?sort=name&dir=asc")
    assert not read_choice_of("sort=name").active
    for bad in ("sort=colour", "dir=up", "status=fine", "page=2"):
        with pytest.raises(BadRequest):
            read_choice_of(bad)


def read_choice_of(query: str):  # type: ignore[no-untyped-def]
    class Request:
        query_params = QueryParams(query)

    return read_choice(Request())  # type: ignore[arg-type]


@pytest.mark.parametrize(("month", "back", "expected"), [
    ("2026-10", 0, "2026-10"), ("2026-10", 5, "2026-05"), ("2026-03", 5, "2025-10"),
    ("2026-01", 12, "2025-01"),
])
def test_months_back(month: str, back: int, expected: str) -> None:
    assert months_back(month, back) == expected
