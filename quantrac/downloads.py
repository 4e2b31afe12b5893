"""The console's downloads: a plant's report for a period (PDF, HTML, or the CSV tables in one
zip) and its Circular 10 files (one zip), made by the same code as `quantrac report` and
`quantrac export` from the same store.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from console.sources import Document
from quantrac.config import Config
from quantrac.reporting import write_plant_report
from quantrac.sources import load_frame
from reports.circular10 import export_circular10
from reports.filenames import safe_part
from rules.permit import Plant

_MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
_ZIP = "application/zip"


class ReportDownloads:
    """`console.sources.Documents` over the config's store and report settings."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def report(self, plant: Plant, start: datetime, end: datetime, fmt: str,
               lang: str) -> Document:
        """The report in `fmt` (html, pdf, csv: the tables zipped)."""
        with tempfile.TemporaryDirectory(prefix="quantrac-report-") as tmp:
            paths = write_plant_report(self._config, plant, start, end, None, [fmt], lang,
                                       Path(tmp))
            if fmt in _MEDIA:
                (path,) = paths
                return Document(path.name, _MEDIA[fmt], path.read_bytes())
            stem = paths[0].name.rsplit("_", 1)[0]
            return Document(f"{stem}_csv.zip", _ZIP, _zipped(paths))

    def circular10(self, plant: Plant, start: datetime, end: datetime) -> Document:
        """The plant's readings of [start, end) as Circular 10 files, zipped."""
        frame = load_frame(self._config, plant, start, end, None)
        with tempfile.TemporaryDirectory(prefix="quantrac-export-") as tmp:
            paths = export_circular10(frame, plant, start, end, Path(tmp),
                                      self._config.reports.circular10)
            local = start.astimezone(plant.zone)
            name = f"{safe_part(plant.id)}_{local:%Y-%m}_circular10.zip"
            return Document(name, _ZIP, _zipped(paths))


def _zipped(paths: Sequence[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, path.name)
    return buffer.getvalue()
