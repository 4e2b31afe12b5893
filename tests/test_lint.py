"""House style is enforced, not hoped for: ruff and mypy stay clean (STYLE.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["collector", "rules", "alerts", "reports", "simulator", "quantrac", "console"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_is_clean():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean():
    result = _run("mypy", *PACKAGES)
    assert result.returncode == 0, result.stdout[-3000:]
