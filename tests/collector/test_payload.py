"""The wire format: every accepted shape, and every bad-input class of SPEC with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collector.errors import PayloadError
from collector.payload import MAX_PAYLOAD_BYTES, encode_message, encode_record, parse_message

TOPIC = "quantrac/v1/kim-bai/kim-bai/outlet/data"
RECORD = {
    "ts": "2026-11-22T17:45:00+07:00",
    "seq": 1234,
    "values": {"flow_out": 61.5, "ph": 7.12, "cod": 45.2, "tss": 18, "nh4_n": 2.1},
    "status": {"cod": "01"},
}


def test_single_record_parses_to_a_typed_reading():
    (reading,) = parse_message(TOPIC, json.dumps(RECORD).encode())
    assert (reading.cluster, reading.plant, reading.station) == ("kim-bai", "kim-bai", "outlet")
    assert reading.ts == datetime(2026, 11, 22, 10, 45, tzinfo=UTC)
    assert reading.values["tss"] == 18.0 and isinstance(reading.values["tss"], float)
    assert reading.status == {"cod": 1}
    assert reading.seq == 1234


def test_array_form_and_epoch_milliseconds():
    records = [dict(RECORD, ts=1_763_804_700_000 + i * 300_000, seq=i) for i in range(3)]
    readings = parse_message(TOPIC, json.dumps(records).encode())
    assert [r.seq for r in readings] == [0, 1, 2]
    assert readings[1].ts.timestamp() - readings[0].ts.timestamp() == 300


def test_status_00_is_the_default_and_not_stored():
    (reading,) = parse_message(TOPIC, json.dumps(dict(RECORD, status={"cod": "00"})).encode())
    assert reading.status == {}


def test_encode_round_trip():
    ts = datetime(2026, 11, 22, 10, 45, tzinfo=UTC)
    payload = encode_message([encode_record(ts, {"cod": 1.5}, {"cod": "02"}, seq=7)])
    (reading,) = parse_message(TOPIC, payload)
    assert reading.values == {"cod": 1.5} and reading.status == {"cod": 2} and reading.seq == 7


BAD = [
    ("bad json", TOPIC, b'{"ts": ', "bad JSON"),
    ("not utf-8", TOPIC, b'\xff\xfe{"ts":1}', "not UTF-8"),
    ("unknown shape", TOPIC, json.dumps({"time": 1, "data": {}}).encode(), "unknown field"),
    ("scalar", TOPIC, b"42", "expected an object"),
    ("empty array", TOPIC, b"[]", "empty record array"),
    ("NaN", TOPIC, b'{"ts":"2026-11-22T17:45:00+07:00","values":{"cod":NaN}}', "NaN"),
    ("Infinity", TOPIC, b'{"ts":"2026-11-22T17:45:00+07:00","values":{"cod":Infinity}}',
     "Infinity"),
    ("huge number", TOPIC, b'{"ts":"2026-11-22T17:45:00+07:00","values":{"cod":1e999}}',
     "non-finite"),
    ("non-numeric", TOPIC, json.dumps(dict(RECORD, values={"cod": "45"})).encode(),
     "non-numeric"),
    ("boolean value", TOPIC, json.dumps(dict(RECORD, values={"cod": True})).encode(),
     "non-numeric"),
    ("empty values", TOPIC, json.dumps(dict(RECORD, values={})).encode(), "non-empty"),
    ("bad key", TOPIC, json.dumps(dict(RECORD, values={"COD;drop": 1})).encode(),
     "bad parameter key"),
    ("bad station id", "quantrac/v1/kim-bai/kim-bai/Out let/data", json.dumps(RECORD).encode(),
     "bad station id"),
    ("path traversal id", "quantrac/v1/kim-bai/../outlet/data", json.dumps(RECORD).encode(),
     "bad plant id"),
    ("wrong topic", "quantrac/v2/a/b/c/data", json.dumps(RECORD).encode(), "not a data topic"),
    ("bad time", TOPIC, json.dumps(dict(RECORD, ts="yesterday")).encode(), "not ISO 8601"),
    ("naive time", TOPIC, json.dumps(dict(RECORD, ts="2026-11-22T17:45:00")).encode(),
     "no UTC offset"),
    ("epoch seconds", TOPIC, json.dumps(dict(RECORD, ts=1_763_804_700)).encode(), "out of range"),
    ("missing ts", TOPIC, json.dumps({"values": {"cod": 1}}).encode(), "missing 'ts'"),
    ("bad status", TOPIC, json.dumps(dict(RECORD, status={"cod": "03"})).encode(),
     "bad status code"),
    ("status without value", TOPIC, json.dumps(dict(RECORD, status={"bod5": "01"})).encode(),
     "has no value"),
    ("negative seq", TOPIC, json.dumps(dict(RECORD, seq=-1)).encode(), "seq"),
    ("too large", TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1), "too large"),
    ("deep json", TOPIC, b"[" * 50 + b"]" * 50, "nested too deeply"),
]


@pytest.mark.parametrize(("name", "topic", "payload", "reason"), BAD, ids=[b[0] for b in BAD])
def test_every_bad_input_class_is_rejected_with_its_reason(name, topic, payload, reason):
    with pytest.raises(PayloadError) as caught:
        parse_message(topic, payload)
    assert reason in str(caught.value)


def test_one_bad_record_rejects_the_whole_message():
    records = [RECORD, dict(RECORD, values={"cod": "x"})]
    with pytest.raises(PayloadError, match="record 1"):
        parse_message(TOPIC, json.dumps(records).encode())
