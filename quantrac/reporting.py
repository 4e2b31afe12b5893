"""Wiring of `quantrac report`: load data, evaluate, gather alerts, hand all to `reports`."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from alerts.alert import Alert
from alerts.book import FILENAME, Book
from alerts.channels.email import EmailChannel
from alerts.settings import EmailChannelSettings
from quantrac.config import Config
from quantrac.sources import load_frame
from reports.errors import ReportsError
from reports.model import AlertRow, Report, build_report
from reports.output import write_report
from rules.evaluate import evaluate
from rules.limits import plant_limits
from rules.permit import Plant


def alert_row(alert: Alert) -> AlertRow:
    """An alert of the book as a report row (reports never import alerts)."""
    return AlertRow(
        id=alert.id, parameter=alert.parameter, kind=alert.kind, severity=alert.severity,
        state=alert.state, start=alert.started_at, end=alert.resolved_at,
        acked_by=alert.acked_by or "", acked_at=alert.acked_at, note=alert.ack_note or "",
        reason=alert.ack_reason,
    )


def alert_rows(config: Config, plant: Plant, start: datetime, end: datetime) -> list[AlertRow]:
    """Alert episodes of the plant that overlap the period, read from the alert book (if any)
    without starting an alert manager."""
    if not (config.state.dir / FILENAME).exists():
        return []
    book = Book(config.state.dir)
    try:
        return [alert_row(alert) for alert in book.episodes(plant.id, start, end)]
    finally:
        book.release()


def write_plant_report(
    config: Config,
    plant: Plant,
    start: datetime,
    end: datetime,
    csv_path: str | None,
    formats: list[str],
    lang: str,
    out: Path,
    frame: pd.DataFrame | None = None,
) -> list[Path]:
    """Build and write the report; returns the files written."""
    if frame is None:
        frame = load_frame(config, plant, start, end, csv_path)
    report = plant_report(config, plant, start, end, frame, lang, datetime.now(UTC))
    out.mkdir(parents=True, exist_ok=True)
    return write_report(report, formats, out)


def plant_report(
    config: Config, plant: Plant, start: datetime, end: datetime, frame: pd.DataFrame,
    lang: str, now: datetime,
) -> Report:
    """The report model of one plant over [start, end): its readings judged as the checks
    judge them, with its alert episodes."""
    result = evaluate(frame, plant, config.checks, start, end, min(now, end))
    limits = plant_limits(plant, start.astimezone(plant.zone).date())
    return build_report(
        frame, plant, result, limits, start, end,
        alerts=alert_rows(config, plant, start, end), lang=lang, generated_at=now,
        min_completeness=config.checks.min_valid_fraction,
        discharge_stations=config.checks.compliance_stations,
    )


def email_report(config: Config, plant: Plant, paths: list[Path]) -> None:
    """Mail the PDF of a scheduled report through the first e-mail channel of `[alerts]`."""
    channel = next(
        ((name, c) for name, c in config.alerts.channels.items()
         if isinstance(c, EmailChannelSettings)), None,
    )
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    if channel is None or not pdfs:
        raise ReportsError("email_pdf needs an e-mail channel in [alerts.channels] and a PDF")
    name, settings = channel
    msg = EmailMessage()
    msg["Subject"] = f"quantrac report — {plant.name} — {pdfs[0].stem}"
    msg["From"] = settings.sender
    msg["To"] = ", ".join(config.reports.email_to)
    msg.set_content(f"Compliance report for {plant.name} attached ({pdfs[0].name}).")
    for pdf in pdfs:
        msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                           filename=pdf.name)
    EmailChannel(name, settings).deliver(msg)


def scheduled_report(config: Config, plant: Plant, start: datetime, end: datetime) -> list[Path]:
    """After the daily/monthly check: write the closed period's report (and mail the PDF)."""
    out = config.reports.out_dir / plant.id
    paths = write_plant_report(config, plant, start, end, None, list(config.reports.formats),
                               config.reports.lang, out)
    if config.reports.email_pdf:
        email_report(config, plant, paths)
    return paths
