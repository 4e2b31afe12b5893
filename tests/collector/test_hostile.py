"""Hostile input: property tests of the wire-format and CSV parsers (only PayloadError/CsvError,
always with a reason), and a fuzz run of the MQTT intake on a real broker and InfluxDB."""

from __future__ import annotations

import json
import math
import random
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.deadletter import DeadLetterStore
from collector.errors import PayloadError
from collector.influx1 import InfluxV1Store
from collector.intake import Intake
from collector.mqtt import MqttConnection
from collector.payload import MAX_PAYLOAD_BYTES, encode_message, encode_record, parse_message
from collector.settings import InfluxSettings, MqttSettings
from collector.spool import Spool
from quantrac.offline import CsvError, read_csv
from quantrac.stack import LocalStack
from rules.topics import ID_PATTERN, subscription
from tests.conftest import Publisher, wait_for

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GOOD_TOPIC = "quantrac/v1/kb/kim-bai/outlet/data"

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
)
json_doc = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
record_like = st.fixed_dictionaries(
    {"ts": st.one_of(st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
                     st.integers(), st.floats(), st.text(max_size=40)),
     "values": st.dictionaries(
         st.one_of(st.sampled_from(["cod", "ph", "tss", "flow_out"]), st.text(max_size=8)),
         st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(min_value=-(10**400), max_value=10**400), st.text(max_size=5),
                   st.booleans(), st.none()),
         max_size=5)},
    optional={"seq": st.one_of(st.integers(), st.text(max_size=3)),
              "status": st.dictionaries(st.sampled_from(["cod", "ph", "x"]),
                                        st.sampled_from(["00", "01", "02", "03", 1, None]),
                                        max_size=2),
              "extra": json_leaf},
)
topic_st = st.one_of(
    st.just(GOOD_TOPIC),
    st.builds(lambda a, b, c: f"quantrac/v1/{a}/{b}/{c}/data",
              st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)),
    st.text(max_size=80),
)


def _check_outcome(topic: str, payload: bytes) -> None:
    try:
        readings = parse_message(topic, payload)
    except PayloadError as exc:
        assert str(exc).strip(), "every reject needs a reason"
        return
    assert readings, "accepting a message means at least one reading"
    for r in readings:
        assert all(ID_PATTERN.fullmatch(x) for x in (r.cluster, r.plant, r.station))
        assert all(math.isfinite(v) for v in r.values.values())
        assert r.ts.tzinfo is not None


@FUZZ
@given(topic=topic_st, payload=st.binary(max_size=300))
def test_random_bytes_never_crash_the_parser(topic, payload):
    _check_outcome(topic, payload)


@FUZZ
@given(topic=topic_st, doc=json_doc)
def test_random_json_never_crashes_the_parser(topic, doc):
    _check_outcome(topic, json.dumps(doc).encode())


@FUZZ
@given(records=st.lists(record_like, min_size=1, max_size=3), as_array=st.booleans())
def test_record_shaped_json_is_accepted_or_rejected_with_a_reason(records, as_array):
    doc = records if as_array or len(records) > 1 else records[0]
    _check_outcome(GOOD_TOPIC, json.dumps(doc).encode())


@pytest.mark.parametrize(("payload", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"ts":1762000000000,"values":{"cod":1' + b"0" * 400 + b"}}", "out of range"),
    (b'{"ts":1762000000000,"values":{"cod":1e999}}', "non-finite"),
    (b'{"ts":1762000000000,"values":{"cod":Infinity}}', "Infinity is not allowed"),
    (b'{"ts":1762000000000,"seq":1' + b"0" * 5000 + b',"values":{"cod":1}}', "bad JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"x" * (MAX_PAYLOAD_BYTES + 1), "too large"),
])
def test_known_hostile_payloads_have_reasons(payload, reason):
    with pytest.raises(PayloadError, match=reason):
        parse_message(GOOD_TOPIC, payload)


# -- offline CSV -----------------------------------------------------------------------------
cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "nan", "inf", "-1e999", "1e999", "7.1", "00", "01", "02", "03",
                     "2026-11-01T00:00:00+07:00", "2026-11-01T00:00:00", "kim-bai", "outlet",
                     "Kim Bai", '"', "\x00", "1" * 400]),
)
header_name = st.one_of(st.sampled_from(["cod", "ph", "cod_status", "ph_status", "x_status",
                                         "time", "plant", "station", "COD", "1x"]),
                        st.text(max_size=6))


@FUZZ
@given(
    header=st.one_of(st.lists(header_name, max_size=6),
                     st.lists(header_name, max_size=4).map(
                         lambda rest: ["time", "plant", "station", *rest])),
    rows=st.lists(st.lists(cell, max_size=8), max_size=5),
    raw_tail=st.binary(max_size=20),
)
def test_random_csv_is_a_frame_or_a_csv_error_with_a_reason(header, rows, raw_tail):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass") + raw_tail)
        try:
            frame = read_csv(path)
        except CsvError as exc:
            assert str(exc).startswith(str(path)) and len(str(exc)) > len(str(path)) + 2
            return
    assert list(frame.columns[:3]) == ["time", "plant", "station"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]" or frame.empty


# -- the MQTT intake under fire (real broker + influxd, own servers) ------------------------
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _hostile_messages(plant: str) -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected words in the dead-letter reason)."""
    good_topic = f"quantrac/v1/{plant}/{plant}/outlet/data"
    rec = {"ts": T0.isoformat(), "values": {"cod": 1.0}}
    rng = random.Random(20261102)
    items: list[tuple[str, bytes, str]] = []
    for _ in range(20):
        items.append((good_topic, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))),
                      ""))
    items += [
        (good_topic, json.dumps([rec] * 6000).encode(), "too large"),  # > 256 KiB
        (good_topic, b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (good_topic, b'{"ts":"2026-11-02T00:00:00Z","values":{"cod":NaN}}', "NaN"),
        (good_topic, b'{"ts":"2026-11-02T00:00:00Z","values":{"cod":-Infinity}}', "Infinity"),
        (good_topic, b'{"ts":"2026-11-02T00:00:00Z","values":{"cod":1e400}}', "non-finite"),
        (good_topic, json.dumps({**rec, "values": {'cod" OR 1=1 --': 1}}).encode(),
         "bad parameter key"),
        (good_topic, json.dumps({**rec, "values": {"cod,plant=x tss=1": 1}}).encode(),
         "bad parameter key"),
        (good_topic, json.dumps({**rec, "values": {"cod": '1 |> drop()'}}).encode(),
         "non-numeric"),
        (f"quantrac/v1/{plant}/{plant}/outlet/data", b"", "bad JSON"),
    ]
    for cluster in ["nhà-máy", "ƙim", "x' OR '1'='1", 'a",b="c', "a,b=c d", "..", "%2e%2e",
                    "a\\b", "r|>drop()", "A" * 65, "a b", "🦆"]:
        items.append((f"quantrac/v1/{cluster}/{plant}/outlet/data", json.dumps(rec).encode(),
                      "bad cluster id"))
    items += [
        (f"quantrac/v1/{plant}/../outlet/data", json.dumps(rec).encode(), "bad plant id"),
        (f"quantrac/v1/{plant}/{plant}/$(rm -rf)/data", json.dumps(rec).encode(),
         "bad station id"),
    ]
    return items


@pytest.mark.integration
def test_fuzzed_intake_dead_letters_everything_hostile_and_keeps_storing(tmp_path, unique_id):
    plant = unique_id
    with LocalStack() as own:
        db = f"fuzz_{uuid.uuid4().hex[:6]}"
        own.create_database(db)
        store = InfluxV1Store(InfluxSettings(url=own.influx_url, database=db))
        spool = Spool(tmp_path, 50_000_000)
        dead = DeadLetterStore(tmp_path)
        stop = threading.Event()
        mqtt = MqttConnection(MqttSettings(url=own.mqtt_url, client_id=f"fz-{plant}"),
                              [subscription("data")], lambda m: intake.submit(m))
        intake = Intake(store, spool, dead, ack=mqtt.ack_all, retry_interval=0.2)
        thread = threading.Thread(target=intake.run, args=(stop,), daemon=True)
        thread.start()
        mqtt.start()
        pub = Publisher(own.mqtt_host, own.mqtt_port)
        try:
            hostile = _hostile_messages(plant)
            good_topic = f"quantrac/v1/{plant}/{plant}/outlet/data"
            good = [encode_record(T0 + timedelta(minutes=5 * i), {"cod": 40.0 + i}, seq=i)
                    for i in range(40)]
            # Interleave: good data must keep flowing between the hostile messages.
            for i, (topic, payload, _) in enumerate(hostile):
                pub.publish(topic, payload)
                if i % 2 == 0 and good:
                    pub.publish(good_topic, encode_message([good.pop()]))
            for record in good:
                pub.publish(good_topic, encode_message([record]))
            # Random bytes may by chance be valid: none can be (not JSON objects), so all go.
            assert wait_for(lambda: dead.count() == len(hostile), timeout=20), (
                dead.count(), len(hostile))
            assert wait_for(lambda: store.count(plant) == 40, timeout=20)
            letters = dead.latest(limit=len(hostile))
            assert all(letter.reason for letter in letters)
            by_topic: dict[str, list[str]] = {}
            for letter in letters:
                by_topic.setdefault(letter.topic, []).append(letter.reason)
            for topic, _payload, expected in hostile:
                if expected:
                    assert any(expected in r for r in by_topic[topic]), (topic, by_topic[topic])
            assert all(len(letter.payload) <= 64 * 1024 for letter in letters)
            assert thread.is_alive() and intake.stats.loop_errors == 0
            # Nothing hostile reached InfluxDB: only the good plant's series exist.
            assert store.stations() == ["outlet"]
            print(f"\nFIGURES hostile: hostile={len(hostile)} dead_letters={dead.count()} "
                  f"good_published=40 good_stored={store.count(plant)}")
        finally:
            pub.close()
            stop.set()
            thread.join(5)
            mqtt.stop()
            spool.close()
            dead.close()
