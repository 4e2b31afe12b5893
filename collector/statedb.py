"""The service's local state directory and its SQLite (WAL) databases."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from collector.errors import CollectorError


def prepare_state_dir(path: Path) -> Path:
    """Create the state dir with private permissions (0700); it holds secrets-adjacent data."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise CollectorError(f"cannot use state dir {path}: {exc.strerror}") from exc
    return path


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with `synchronous=FULL`: a committed row survives power loss."""
    prepare_state_dir(path.parent)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise CollectorError(f"cannot open {path}: {exc}") from exc
    os.chmod(path, 0o600)
    return conn
