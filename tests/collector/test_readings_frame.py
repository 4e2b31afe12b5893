"""In-memory readings become the readings frame of docs/architecture.md (inline checks)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from collector.payload import Reading
from collector.service import readings_frame

T0 = datetime(2026, 11, 1, 3, 0, 0, 123456, tzinfo=UTC)


def test_columns_dtypes_statuses_and_order():
    frame = readings_frame([
        Reading("kb", "kb", "outlet", T0 + timedelta(minutes=5), {"cod": 50.0, "ph": 7.0},
                {"cod": 1}),
        Reading("kb", "kb", "inlet", T0, {"flow_in": 60.0}),
    ])
    assert list(frame.columns) == ["time", "plant", "station", "cod", "flow_in", "ph",
                                   "cod_status", "flow_in_status", "ph_status"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].iloc[0].to_pydatetime() == T0  # sorted, microseconds kept
    assert list(frame["station"]) == ["inlet", "outlet"]
    outlet = frame.iloc[1]
    assert outlet["cod"] == 50.0 and outlet["cod_status"] == 1 and outlet["ph_status"] == 0
    assert math.isnan(outlet["flow_in"]) and outlet["flow_in_status"] == 0
    assert str(frame["cod_status"].dtype) == "int64"
