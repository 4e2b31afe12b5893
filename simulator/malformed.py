"""Bad inputs, one per class that SPEC.md sends to the dead-letter store.

Each is what a misbehaving datalogger would plausibly send, so the collector's validation is
exercised with realistic garbage rather than random bytes.
"""

from __future__ import annotations

import json
from datetime import datetime

from collector.payload import MAX_PAYLOAD_BYTES, encode_message, encode_record
from rules.topics import Topic, build


def malformed_messages(topic: Topic, ts: datetime) -> list[tuple[str, str, bytes]]:
    """(class, topic, payload) for every bad-input class, stamped at `ts` (aware, local)."""
    stamp = ts.isoformat()
    good = {"cod": 48.2, "tss": 19.0}
    bad_topic = build("data", topic.cluster, topic.plant, "Outlet 2")  # capital, space: bad id
    return [
        ("bad-json", topic.name, f'{{"ts": "{stamp}", "values": {{"cod": 48.'.encode()),
        (
            "unknown-shape",
            topic.name,
            json.dumps({"time": stamp, "readings": [{"name": "cod", "value": 48.2}]}).encode(),
        ),
        ("nan-inf", topic.name, f'{{"ts": "{stamp}", "values": {{"cod": NaN}}}}'.encode()),
        (
            "non-numeric",
            topic.name,
            json.dumps({"ts": stamp, "values": {"cod": "48.2 mg/L"}}).encode(),
        ),
        ("bad-id", bad_topic, encode_message([encode_record(ts, good)])),
        (
            "bad-time",
            topic.name,
            json.dumps({"ts": ts.strftime("%d/%m/%Y %H:%M"), "values": good}).encode(),
        ),
        ("too-large", topic.name, _too_large(ts)),
    ]


def _too_large(ts: datetime) -> bytes:
    """A well-formed array of valid records that is just over the size limit."""
    record = encode_record(ts, {"cod": 48.2, "tss": 19.0, "nh4_n": 2.1, "ph": 7.21})
    size = len(encode_message([record]))
    count = MAX_PAYLOAD_BYTES // size + 2
    return encode_message([record] * count)
