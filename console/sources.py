"""What the console reads and changes, as small protocols; `quantrac.web` passes the real
objects: the alert manager over the state directory's alert book, the collector's check book
(results of the scheduled checks and the last-values cache), the readings store (one plant's
raw readings for the 24-hour chart) and the report and Circular 10 writers of the CLI.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import pandas as pd

from alerts.alert import Alert
from alerts.history import HistoryEntry
from rules.findings import Finding
from rules.permit import Plant
from rules.results import ClusterRow, TreatmentRow
from rules.summary import HourResult, LatestValue, Tally


class AlertSource(Protocol):
    """The alert book, through the same manager as `quantrac alerts` and MQTT acks."""

    def list_alerts(
        self, open_only: bool = False, plants: Collection[str] | None = None, limit: int = 500
    ) -> list[Alert]: ...

    def get(self, alert_id: str) -> Alert: ...

    def histories(self, alert_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]: ...

    def ack(
        self, alert_id: str, by: str, note: str | None, now: datetime, reason: str | None = None
    ) -> Alert: ...

    def change_marker(self) -> int: ...


class CheckResults(Protocol):
    """What the scheduled checks keep (`collector.checkbook.CheckBook`): the pages read these
    instead of scanning raw readings."""

    def latest_values(self, plants: Collection[str] | None = None, per_plant: bool = False
                      ) -> list[LatestValue]: ...

    def hour_results(self, plant: str, start: datetime, end: datetime,
                     parameter: str | None = None, stations: Collection[str] | None = None,
                     whole: bool = False) -> list[HourResult]: ...

    def notable_hours(self, plant: str, start: datetime, end: datetime,
                      stations: Collection[str], by: str) -> list[HourResult]: ...

    def day_tallies(self, plant: str, first: date, last: date) -> list[Tally]: ...

    def tallies(self, plants: Collection[str] | None, first: str, last: str,
                per: str = "series") -> list[Tally]: ...

    def day_treatment(self, plant: str, start: datetime, end: datetime
                      ) -> list[TreatmentRow]: ...

    def month_treatment(self, plants: Collection[str] | None, month: str
                        ) -> list[TreatmentRow]: ...

    def stored_findings(self, plant: str, start: datetime, end: datetime
                        ) -> list[Finding]: ...


class ClusterResults(Protocol):
    """The clusters' collection and treatment ledger kept by the scheduled checks (the check
    book): day rows and the rows of their months, since/until are plant-local days."""

    def cluster_rows(self, cluster: str, since: str, until: str) -> list[ClusterRow]: ...

    def whole_months(self, cluster: str) -> set[str]: ...


class ReadingSource(Protocol):
    """The readings store: one plant's readings frame (`rules.frame`) for a bounded range."""

    def read_frame(self, plant: str, start: datetime, end: datetime) -> pd.DataFrame: ...


@dataclass(frozen=True, slots=True)
class Document:
    """A file to download: its name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


class Documents(Protocol):
    """The month report (PDF/HTML/CSV) and the Circular 10 export, made by the same code as
    `quantrac report` and `quantrac export`."""

    def report(self, plant: Plant, start: datetime, end: datetime, fmt: str,
               lang: str) -> Document: ...

    def circular10(self, plant: Plant, start: datetime, end: datetime) -> Document: ...


@dataclass(frozen=True)
class Sources:
    """Everything the console reads, handed to `create_app` in one piece."""

    alerts: AlertSource
    results: CheckResults
    readings: ReadingSource
    documents: Documents
    clusters: ClusterResults | None = None
