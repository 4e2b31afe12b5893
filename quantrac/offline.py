"""Offline CSV (SPEC): `time,plant,station,<key>...,<key>_status...` → the readings frame."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from collector.errors import PayloadError
from collector.payload import KEY_PATTERN, STATUS_CODES, parse_time
from rules.frame import STATUS_SUFFIX, build_frame, is_status_column
from rules.topics import ID_PATTERN


class CsvError(Exception):
    """A CSV file that does not follow the SPEC layout; names the line and column."""


def read_csv(path: Path) -> pd.DataFrame:
    """Read and validate; every reject names the line and the reason."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvError(f"{path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration as exc:
            raise CsvError(f"{path}: empty file") from exc
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvError(f"{path}: unreadable header: {exc}") from exc
        keys, status_cols = _check_header(path, header)
        rows: list[dict[str, object]] = []
        try:
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                rows.append(_parse_row(path, line_no, header, row, keys, status_cols))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvError(f"{path}: line {reader.line_num}: {exc}") from exc
    return _to_frame(rows, keys, status_cols)


def _check_header(path: Path, header: list[str]) -> tuple[list[str], list[str]]:
    names = [h.strip() for h in header]
    if names[:3] != ["time", "plant", "station"]:
        raise CsvError(f"{path}: header must start with time,plant,station")
    if len(set(names)) != len(names):
        raise CsvError(f"{path}: duplicate column in header")
    keys = [n for n in names[3:] if not is_status_column(n)]
    status_cols = [n for n in names[3:] if is_status_column(n)]
    for name in keys:
        if not KEY_PATTERN.fullmatch(name):
            raise CsvError(f"{path}: bad parameter column {name[:40]!r}")
    for name in status_cols:
        if name[: -len(STATUS_SUFFIX)] not in keys:
            raise CsvError(f"{path}: status column {name[:40]!r} has no parameter column")
    return keys, status_cols


def _parse_row(
    path: Path, line_no: int, header: list[str], row: list[str], keys: list[str],
    status_cols: list[str],
) -> dict[str, object]:
    where = f"{path}: line {line_no}"
    if len(row) != len(header):
        raise CsvError(f"{where}: expected {len(header)} cells, got {len(row)}")
    cells = {h.strip(): c.strip() for h, c in zip(header, row, strict=True)}
    try:
        ts = parse_time(cells["time"])
    except PayloadError as exc:  # worded for the wire ('ts'); the CSV column is `time`
        reason = str(exc).replace("'ts'", "time")
        raise CsvError(f"{where}: {reason}") from exc
    for tag in ("plant", "station"):
        if not ID_PATTERN.fullmatch(cells[tag]):
            raise CsvError(f"{where}: bad {tag} id {cells[tag][:40]!r}")
    parsed: dict[str, object] = {"time": ts, "plant": cells["plant"], "station": cells["station"]}
    for key in keys:
        text = cells[key]
        if text == "":
            parsed[key] = math.nan
            continue
        try:
            value = float(text)
        except ValueError as exc:
            raise CsvError(f"{where}: {key} is not a number: {text[:40]!r}") from exc
        if not math.isfinite(value):
            raise CsvError(f"{where}: {key} is not finite")
        parsed[key] = value
    for col in status_cols:
        code = cells[col] or "00"
        if code not in STATUS_CODES:
            raise CsvError(f"{where}: {col} must be 00, 01 or 02, got {code[:10]!r}")
        parsed[col] = STATUS_CODES[code]
    return parsed


def _to_frame(
    rows: list[dict[str, object]], keys: list[str], status_cols: list[str]
) -> pd.DataFrame:
    return build_frame(
        [row["time"] for row in rows],
        [row["plant"] for row in rows],
        [row["station"] for row in rows],
        {key: [row[key] for row in rows] for key in keys},
        {col.removesuffix(STATUS_SUFFIX): [row[col] for row in rows] for col in status_cols},
    )
