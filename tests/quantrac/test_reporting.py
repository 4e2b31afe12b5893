"""The report's alert rows come from the alert book, read directly (no alert manager), typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.alert import Alert
from alerts.book import Book
from quantrac.config import Config, parse_config
from quantrac.reporting import alert_rows
from reports.model import AlertRow

T0 = datetime(2026, 10, 2, 3, 0, tzinfo=UTC)
START = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)  # October 2026 in Hanoi
END = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)


def _config(state: Path) -> Config:
    return parse_config({
        "influx": {"url": "http://127.0.0.1:1", "database": "unused"},
        "state": {"dir": str(state)},
        "plants": [{"id": "kb", "cluster": "kb", "name": "Kim Bai WWTP",
                    "design_flow_m3_day": 1500, "stations": {"outlet": ["cod"]}}],
    })


def _alert(plant: str, start: datetime, resolved: datetime | None, **extra: object) -> Alert:
    return Alert(
        id="", cluster="kb", plant=plant, station="outlet", parameter="cod", kind="exceedance",
        state="resolved" if resolved else "firing", severity="major", basis="hourly_mean",
        value=200.0, limit=135.0, ratio=1.48, started_at=start, last_end=start, opened_at=start,
        last_breach_at=start, resolved_at=resolved, **extra,  # type: ignore[arg-type]
    )


def test_no_book_no_rows(tmp_path: Path) -> None:
    config = _config(tmp_path / "state")
    assert alert_rows(config, config.plants[0], START, END) == []
    assert not (tmp_path / "state" / "alerts.sqlite").exists()  # reading creates nothing


def test_rows_overlapping_the_period_oldest_first(tmp_path: Path) -> None:
    config = _config(tmp_path / "state")
    book = Book(config.state.dir)
    hour = timedelta(hours=1)
    with book.transaction() as conn:
        for alert in (
            _alert("kb", T0 + 5 * hour, None),  # still firing
            _alert("kb", T0, T0 + hour, acked_by="Lan", acked_at=T0 + hour / 2,
                   ack_note="đã kiểm tra"),
            _alert("kb", START - 3 * hour, START - hour),  # ended before the period
            _alert("kb", END, END + hour),  # starts as the period ends
            _alert("other", T0, T0 + hour),  # another plant
            _alert("kb", START - hour, START + hour),  # spans the period's start
        ):
            book.save(conn, alert)
    book.release()
    rows = alert_rows(config, config.plants[0], START, END)
    assert [r.start for r in rows] == [START - hour, T0, T0 + 5 * hour]
    acked = rows[1]
    assert acked == AlertRow(id=acked.id, parameter="cod", kind="exceedance", severity="major",
                             state="resolved", start=T0, end=T0 + hour, acked_by="Lan",
                             acked_at=T0 + hour / 2, note="đã kiểm tra", reason=None)
    assert rows[2].end is None and rows[2].acked_by == "" and rows[2].note == ""
