"""The calendar helpers of rules/windows.py that every package shares."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from rules.windows import month_span, next_month


def test_month_span_is_the_local_month_and_refuses_other_text() -> None:
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    first, after = month_span("2026-12", zone)
    assert (first.isoformat(), after.isoformat()) == ("2026-12-01T00:00:00+07:00",
                                                      "2027-01-01T00:00:00+07:00")
    assert next_month(date(2026, 2, 1)) == date(2026, 3, 1)
    with pytest.raises(ValueError):
        month_span("2026-13", zone)
