"""Safe output file names: ids from config or data never choose where a file lands."""

from __future__ import annotations

import re
from pathlib import Path

from reports.errors import ReportsError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_part(text: str) -> str:
    """`text` reduced to `[A-Za-z0-9_-]` (runs of anything else become one `-`), ≤ 80 chars."""
    cleaned = _UNSAFE.sub("-", text).strip("-")
    if not cleaned:
        raise ReportsError(f"cannot make a file name from {text!r}")
    return cleaned[:80]


def safe_path(out_dir: Path, name: str) -> Path:
    """`out_dir / name`, refusing any name that is not a plain file name inside `out_dir`."""
    if not name or name != Path(name).name or name.startswith(".") or "\\" in name:
        raise ReportsError(f"unsafe file name {name!r}")
    path = out_dir / name
    if path.resolve().parent != out_dir.resolve():
        raise ReportsError(f"file name {name!r} leaves {out_dir}")
    return path


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")


def check_name(name: str) -> str:
    """`name` if it is a plain, portable file name (no separator, no leading dot, no `..`)."""
    if not _SAFE_NAME.match(name) or ".." in name:
        raise ReportsError(f"unsafe file name {name!r}")
    return name
