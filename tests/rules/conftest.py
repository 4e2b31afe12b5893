"""Small hand-built readings frames and plants for the rules tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rules.permit import Plant

HANOI = "Asia/Ho_Chi_Minh"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class Frames:
    """Builders for readings frames in the architecture.md shape."""

    utc = staticmethod(utc)

    @staticmethod
    def plant(**changes: Any) -> Plant:
        base: dict[str, Any] = {
            "id": "kim-bai", "cluster": "kim-bai", "name": "Kim Bai WWTP",
            "timezone": HANOI, "design_flow_m3_day": 1500, "regulation": "qcvn40-2011",
            "column": "B", "kq": 0.9, "interval": "5m",
            "stations": {"outlet": ["cod", "ph"]},
        }
        base.update(changes)
        return Plant.model_validate(base)

    @staticmethod
    def station(
        start: datetime,
        values: Mapping[str, Sequence[float]],
        *,
        station: str = "outlet",
        plant: str = "kim-bai",
        interval: timedelta = timedelta(minutes=5),
        status: Mapping[str, Sequence[int]] | None = None,
        times: Sequence[datetime] | None = None,
    ) -> pd.DataFrame:
        """One station's rows: `values[key][i]` at `start + i × interval` (or `times[i]`)."""
        n = max(len(v) for v in values.values())
        stamps = (pd.DatetimeIndex(times) if times is not None
                  else pd.date_range(start, periods=n, freq=interval))
        frame = pd.DataFrame({"time": stamps.tz_convert("UTC"), "plant": plant,
                              "station": station})
        for key, vals in values.items():
            frame[key] = np.asarray(vals, dtype=np.float64)
            codes = (status or {}).get(key)
            frame[f"{key}_status"] = (np.zeros(n, dtype=np.int64) if codes is None
                                      else np.asarray(codes, dtype=np.int64))
        return frame

    @staticmethod
    def combine(*frames: pd.DataFrame) -> pd.DataFrame:
        """Concatenate, fill missing status columns with 0, sort by time."""
        frame = pd.concat(frames, ignore_index=True)
        for col in list(frame.columns):
            if col.endswith("_status"):
                frame[col] = frame[col].fillna(0).astype(np.int64)
        return frame.sort_values("time", kind="stable").reset_index(drop=True)


@pytest.fixture
def frames() -> type[Frames]:
    return Frames
