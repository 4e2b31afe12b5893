"""The daily job hands the closed day to the report hook; the wiring writes the report and
mails the PDF through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.influx1 import InfluxV1Store
from collector.payload import Reading
from quantrac.config import parse_config
from quantrac.offline import read_csv
from quantrac.reporting import scheduled_report

pytestmark = pytest.mark.integration

CSV = "time,plant,station,flow_in,flow_out,cod,ph\n" + "".join(
    f"{(datetime(2026, 11, 19, 17, 0, tzinfo=UTC) + timedelta(minutes=5 * i)).isoformat()},"
    f"kb,outlet,,60,{50 + i % 5},7.1\n"
    for i in range(288)
)


def test_scheduled_report_is_written_and_mailed(tmp_path, stack, influx_db):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    from quantrac.stack import free_port

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = parse_config({
            "influx": {"url": stack.influx_url, "database": influx_db},
            "state": {"dir": str(tmp_path / "state")},
            "plants": [{"id": "kb", "cluster": "kb", "name": "Kim Bai WWTP",
                        "design_flow_m3_day": 1500, "kq": 0.9,
                        "stations": {"outlet": ["flow_out", "cod", "ph"]}}],
            "alerts": {"channels": {"mail": {
                "type": "email", "host": "127.0.0.1", "port": port, "starttls": False,
                "sender": "quantrac@example.org", "to": ["ops@example.org"]}}},
            "reports": {"out_dir": str(tmp_path / "reports"), "email_pdf": True,
                        "email_to": ["regulator@example.org"], "formats": ["html", "pdf"]},
        })
        csv_path = tmp_path / "day.csv"
        csv_path.write_text(CSV)
        plant = config.plants[0]
        start = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # 2026-11-20 00:00 in Hanoi
        frame = read_csv(csv_path)
        store = InfluxV1Store(config.influx)
        store.write([
            Reading("kb", "kb", "outlet", row.time.to_pydatetime(),
                    {"flow_out": row.flow_out, "cod": row.cod, "ph": row.ph})
            for row in frame.itertuples()
        ])
        assert store.count("kb") == 288
        paths = scheduled_report(config, plant, start, start + timedelta(days=1))
    finally:
        controller.stop()
    assert sorted(p.suffix for p in paths) == [".html", ".pdf"]
    assert all(p.parent == tmp_path / "reports" / "kb" for p in paths)
    assert len(received) == 1
    assert b"application/pdf" in received[0] and b"regulator@example.org" in received[0]
