"""The block path (`parse_block`, `block_lines`: records column per key, times of a message read
at once) against the reference parse and line protocol of the record-by-record path: the same
records or the same dead-letter reason, byte-identical lines, on long generated arrays."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.errors import PayloadError
from collector.lineprotocol import block_lines, reading_lines
from collector.payload import (
    _WIRE_DECODER,
    Block,
    Reading,
    _first_keys,
    _iso_times,
    _keyed_block,
    _keyed_decoder,
    _wire_block,
    block_of,
    parse_block,
    parse_topic,
    time_ns,
)
from tests.collector.test_ingest_equivalence import (
    KEYS,
    TOPIC,
    ref_parse_message,
    ref_reading_lines,
)

EQUIV = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ZONES = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30)),
         timezone(timedelta(hours=23, minutes=59))]


def _outcome(topic: str, payload: bytes) -> tuple[str, Any]:
    try:
        return "block", parse_block(topic, payload)
    except PayloadError as exc:
        return "reject", str(exc)


def _assert_same(payload: bytes) -> None:
    """parse_block gives the reference's records (as a block and as readings) or its reason,
    and block_lines the reference's lines."""
    try:
        expected: Any = ref_parse_message(TOPIC, payload)
    except PayloadError as exc:
        assert _outcome(TOPIC, payload) == ("reject", str(exc))
        return
    kind, block = _outcome(TOPIC, payload)
    assert kind == "block", block
    assert block.times.tolist() == [time_ns(r.ts) for r in expected]
    assert block.seq == tuple(r.seq for r in expected)
    assert list(block.keys) == sorted({k for r in expected for k in r.values})
    for row, reading in enumerate(expected):
        present = {k: v for k, v in zip(block.keys, block.values[row].tolist(), strict=True)
                   if not math.isnan(v)}
        assert present == reading.values
        codes = (block.status[row].tolist() if block.status is not None
                 else [0] * len(block.keys))
        assert {k: c for k, c in zip(block.keys, codes, strict=True) if c} == reading.status
    assert block.readings() == expected
    assert block_lines(block) == ref_reading_lines(expected)


# -- times as stations write them, in long arrays (read at once), with every layout twist ----

def _iso(moment: datetime, zone: timezone, digits: int, zulu: bool) -> str:
    text = moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    if zulu and zone is UTC:
        return text + "Z"
    offset = zone.utcoffset(None)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return text + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


moments = st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2100, 1, 2),
                       timezones=st.just(UTC))


@st.composite
def iso_runs(draw: st.DrawFn) -> list[str]:
    """A run of times in one layout (the common case), sometimes with one text bent: another
    offset, width, separator, a digit out of range, a non-ASCII character."""
    zone = draw(st.sampled_from(ZONES))
    digits = draw(st.sampled_from([0, 0, 1, 3, 6]))
    zulu = draw(st.booleans())
    start = draw(moments)
    step = timedelta(seconds=draw(st.sampled_from([1, 60, 300, 86_399])),
                     microseconds=draw(st.sampled_from([0, 0, 1, 999_999])))
    texts = [_iso(start + k * step, zone, digits, zulu) for k in range(draw(st.integers(8, 40)))]
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(texts) - 1))
        bend = draw(st.sampled_from([
            lambda t: t[:-6] + "+08:00" if t[-6] in "+-" else t[:-1] + "+00:00",
            lambda t: t.replace("T", " "), lambda t: t.replace("T", "t"),
            lambda t: t[:5] + "13" + t[7:], lambda t: t[:8] + "31" + t[10:],
            lambda t: t[:8] + "29" + t[10:], lambda t: t[:11] + "24" + t[13:],
            lambda t: t[:17] + "60" + t[19:], lambda t: t[:2] + "٠" + t[3:],
            lambda t: t + "0", lambda t: t[:-1], lambda t: t[:19] + ".5" + t[19:],
            lambda t: t[:-3] + t[-2:] if t[-1] != "Z" else t[:-1] + "z",
            lambda t: "21" + t[2:], lambda t: "19" + t[2:],
            lambda t: t[:-6] + {"+": "-", "-": "+"}[t[-6]] + t[-5:] if t[-6] in "+-" else t,
            lambda t: t[:10] + "\n" + t[11:], lambda t: t[:-1] + "\n" + t[-1],
        ]))
        texts[at] = bend(texts[at])
    return texts


def _ref_ns(text: str) -> int | None:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None or not 2000 <= ts.year < 2100:
        return None
    return time_ns(ts.astimezone(UTC))


@EQUIV
@given(iso_runs())
def test_times_read_at_once_are_fromisoformats_or_left_to_it(texts: list[str]) -> None:
    got = _iso_times(texts)
    expected = [_ref_ns(text) for text in texts]
    if got is not None:
        assert got.tolist() == expected
    uniform = len({len(t) for t in texts}) == 1 and len({t[-6:] for t in texts}) == 1 \
        and all(t[10] == "T" and t.isascii() for t in texts)
    if None not in expected and uniform:
        assert got is not None  # what stations send is read at once, not one by one


def test_station_times_are_read_at_once() -> None:
    base = datetime(2026, 11, 22, 10, 45, tzinfo=UTC)
    for zone, digits, zulu in [(ZONES[1], 0, False), (UTC, 0, True), (UTC, 3, False),
                               (ZONES[2], 6, False)]:
        texts = [_iso(base + timedelta(minutes=5 * k, microseconds=k), zone, digits, zulu)
                 for k in range(100)]
        got = _iso_times(texts)
        assert got is not None and got.tolist() == [_ref_ns(t) for t in texts], texts[0]


# -- whole messages: long arrays through parse_block and block_lines --------------------------

values_st = st.fixed_dictionaries({}, optional={
    key: st.one_of(st.floats(-1e5, 1e5).map(lambda v: round(v, 3)),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.integers(-10**6, 10**6), st.sampled_from([0.0, -0.0, 1e-5, 1e22]))
    for key in KEYS[:4]})


@st.composite
def arrays(draw: st.DrawFn) -> bytes:
    """Arrays of 1-60 records: mostly one key set and station times, sometimes a record
    without a key, with a status, a seq, epoch milliseconds, or a bad field."""
    zone = draw(st.sampled_from(ZONES))
    digits = draw(st.sampled_from([0, 3]))
    start = draw(moments.filter(lambda m: 2001 <= m.year <= 2098))
    full = draw(values_st.filter(bool))
    epoch = draw(st.sampled_from(["iso", "iso", "ms", "mixed"]))
    records: list[dict[str, Any]] = []
    for k in range(draw(st.integers(1, 60))):
        moment = start + timedelta(seconds=300 * k)
        ts: Any = _iso(moment, zone, digits, False)
        if epoch == "ms" or (epoch == "mixed" and k % 3 == 0):
            ts = int(moment.timestamp() * 1000)
        record: dict[str, Any] = {"ts": ts, "values": dict(full)}
        if draw(st.integers(0, 9)) == 0:
            record["values"] = draw(values_st)
        if draw(st.integers(0, 9)) == 0:
            record["status"] = {draw(st.sampled_from(KEYS[:4])): draw(
                st.sampled_from(["00", "01", "02", "03"]))}
        if draw(st.integers(0, 4)) == 0:
            record["seq"] = draw(st.integers(-1, 10**6))
        if draw(st.integers(0, 30)) == 0:
            record[draw(st.sampled_from(["ts", "values"]))] = draw(
                st.sampled_from([None, "x", 1.5, [], {}, 10**20]))
        records.append(record)
    doc: Any = records[0] if len(records) == 1 and draw(st.booleans()) else records
    return json.dumps(doc).encode()


@EQUIV
@given(arrays())
def test_blocks_hold_the_reference_records_and_lines(payload: bytes) -> None:
    _assert_same(payload)


def test_a_block_of_readings_and_back() -> None:
    base = datetime(2026, 11, 22, 3, 0, 0, 250_000, tzinfo=UTC)
    readings = [
        Reading("kb", "kim-bai", "outlet", base, {"cod": 40.0, "ph": 7.0}),
        Reading("kb", "kim-bai", "outlet", base + timedelta(minutes=5), {"cod": 41.0},
                {"cod": 1}, seq=3),
    ]
    block = block_of(readings)
    assert isinstance(block, Block) and len(block) == 2
    assert block.keys == ("cod", "ph")
    assert np.isnan(block.column("ph")[1]) and block.column("tss").shape == (2,)
    assert block.status_column("cod").tolist() == [0, 1]
    assert block.readings() == readings
    assert block_lines(block) == reading_lines(readings) == ref_reading_lines(readings)


def test_odd_layouts_are_left_to_fromisoformat() -> None:
    """Valid ISO times outside the one layout (offset without a colon, a fraction that runs
    into it, lower-case separators, a space) are read one by one, never misread at once."""
    for text in ["2026-11-22T10:00:00.12+0700", "2026-11-22T10:00:00.1+07:00",
                 "2026-11-22t10:00:00+07:00", "2026-11-22 10:00:00+07:00",
                 "2026-11-22T10:00:00.1234567+07:00", "2026-11-22T10:00+07:00:00"]:
        texts = [text] * 10
        got = _iso_times(texts)
        assert got is None or got.tolist() == [_ref_ns(t) for t in texts], text
        payload = json.dumps([{"ts": t, "values": {"cod": 1.0}} for t in texts]).encode()
        _assert_same(payload)


# -- arrays decoded into structs of their first record's keys (`_keyed_block`) ---------------

def _generic(payload: bytes) -> Block | None:
    records = _WIRE_DECODER.decode(payload)
    return _wire_block(parse_topic(TOPIC), records if isinstance(records, list) else [records])


@EQUIV
@given(arrays())
def test_keyed_blocks_are_the_generic_blocks(payload: bytes) -> None:
    """Whenever the keyed decoder takes an array, its block is the generic decoder's, field
    for field (and the generic one's is the reference's: the test above)."""
    text = payload.decode()
    keyed = _keyed_decoder(_first_keys(text)) if text.startswith("[") else None
    if keyed is None:
        return
    try:
        block = _keyed_block(parse_topic(TOPIC), keyed.decoder.decode(text), keyed)
    except msgspec.DecodeError:
        return
    if block is None:
        return
    generic = _generic(payload)
    assert generic is not None
    assert block.keys == generic.keys and block.seq == generic.seq
    assert block.times.tolist() == generic.times.tolist()
    assert block.values.tobytes() == generic.values.tobytes()
    assert block.status is None and generic.status is None


def test_keyed_decoding_takes_the_common_array_and_leaves_the_rest() -> None:
    """The common backfill goes through the keyed decoder; an array whose later records have
    another key set, a status, keys that are not valid or repeated, or Python keywords as keys
    is still parsed exactly as the reference parses it."""
    base = datetime(2026, 11, 22, 3, tzinfo=UTC)

    def array(*values: dict[str, Any], **extra: Any) -> bytes:
        return json.dumps([{"ts": (base + timedelta(minutes=k)).isoformat(), "values": v,
                            **extra} for k, v in enumerate(values)]).encode()

    common = array(*[{"ph": 7.0 + k / 10, "cod": 40 + k} for k in range(20)])
    keyed = _keyed_decoder(_first_keys(common.decode()))
    assert keyed is not None and keyed.order == ("cod", "ph")
    assert _keyed_block(parse_topic(TOPIC), keyed.decoder.decode(common), keyed) is not None
    for payload in [
        common,
        array({"cod": 1.0, "ph": 7.0}, {"cod": 2.0}),  # a key missing later
        array({"cod": 1.0}, {"cod": 2.0, "ph": 7.0}),  # a key more later
        array({"cod": 1.0}, {"cod": 2.0}, status={"cod": "01"}),
        array({"if": 1.0, "class": 2.0}, {"if": 3.0, "class": 4.0}),
        array({"Cod": 1.0}, {"Cod": 2.0}),
        b'[{"ts":"2026-11-22T03:00:00+00:00","values":{"cod":1,"cod":2}}]',
        b'[{"ts":"2026-11-22T03:00:00+00:00","values":{"cod":1.5,"ph":1e400}}]',
        b'[ { "ts" : "2026-11-22T03:00:00+00:00" , "values" : { "cod" : 1 , "ph" : 7 } } ]',
        b'[{"ts":"2026-11-22T03:00:00+00:00","values":{"c\\u006fd":1}}]',
    ]:
        _assert_same(payload)
    assert _keyed_decoder(("cod", "cod")) is None and _keyed_decoder(("Cod",)) is None
    assert _keyed_decoder(()) is None
