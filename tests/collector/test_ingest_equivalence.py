"""The optimised ingest path (`parse_message`, `reading_lines`) against a reference copy of the
straightforward implementation it replaced: same readings or the same dead-letter reason, and
byte-identical line protocol, on generated valid and invalid messages."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.errors import PayloadError
from collector.lineprotocol import escape_tag, reading_line, reading_lines
from collector.payload import (
    KEY_PATTERN,
    MAX_PAYLOAD_BYTES,
    STATUS_CODES,
    Reading,
    parse_message,
)
from rules.topics import ID_PATTERN, PREFIX

# -- the reference: the implementation before the hot-path work, kept verbatim but for the
# -- one fix (an unhashable status code was a TypeError, now a "bad status code" reason) ------

_MIN_EPOCH_MS = 946_684_800_000
_MAX_EPOCH_MS = 4_102_444_800_000
_MAX_JSON_DEPTH = 8


def ref_parse_message(topic: str, payload: bytes) -> list[Reading]:
    ids = ref_parse_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload too large: {len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        doc = json.loads(text, parse_constant=_ref_reject_constant)
    except RecursionError as exc:
        raise PayloadError("JSON nested too deeply") from exc
    except ValueError as exc:
        raise PayloadError(f"bad JSON: {exc}") from exc
    records = doc if isinstance(doc, list) else [doc]
    if not records:
        raise PayloadError("empty record array")
    keys: set[str] = set()
    try:
        return [_ref_record(ids, record, index, keys) for index, record in enumerate(records)]
    except PayloadError:
        _ref_check_depth(doc, 0)
        raise


def ref_parse_topic(topic: str) -> tuple[str, str, str]:
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != PREFIX or parts[5] != "data":
        raise PayloadError(f"not a data topic: {topic[:200]!r}")
    for name, value in zip(("cluster", "plant", "station"), parts[2:5], strict=True):
        if not ID_PATTERN.fullmatch(value):
            raise PayloadError(f"bad {name} id {value!r} (must match {ID_PATTERN.pattern})")
    return parts[2], parts[3], parts[4]


def _ref_reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _ref_check_depth(doc: Any, depth: int) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise PayloadError("JSON nested too deeply")
    if isinstance(doc, list):
        for item in doc:
            _ref_check_depth(item, depth + 1)
    elif isinstance(doc, dict):
        for item in doc.values():
            _ref_check_depth(item, depth + 1)


def _ref_record(ids: tuple[str, str, str], record: Any, index: int, keys: set[str]) -> Reading:
    where = f"record {index}: "
    if not isinstance(record, dict):
        raise PayloadError(f"{where}expected an object, got {type(record).__name__}")
    unknown = set(record) - {"ts", "seq", "values", "status"}
    if unknown:
        raise PayloadError(f"{where}unknown field(s) {sorted(unknown)}")
    if "ts" not in record:
        raise PayloadError(f"{where}missing 'ts'")
    ts = ref_parse_time(record["ts"], where)
    seq = record.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise PayloadError(f"{where}'seq' must be a non-negative integer")
    values = record.get("values")
    if not isinstance(values, dict) or not values:
        raise PayloadError(f"{where}'values' must be a non-empty object")
    parsed: dict[str, float] = {}
    for key, value in values.items():
        if key not in keys:
            if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
                raise PayloadError(f"{where}bad parameter key {str(key)[:80]!r}")
            keys.add(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PayloadError(f"{where}non-numeric value for {key!r}")
        try:
            number = float(value)
        except OverflowError as exc:
            raise PayloadError(f"{where}value for {key!r} out of range") from exc
        if not math.isfinite(number):
            raise PayloadError(f"{where}non-finite value for {key!r}")
        parsed[key] = number
    status_doc = record.get("status", {})
    if not isinstance(status_doc, dict):
        raise PayloadError(f"{where}'status' must be an object")
    status: dict[str, int] = {}
    for key, code in status_doc.items():
        if key not in parsed:
            raise PayloadError(f"{where}status for {str(key)[:80]!r} which has no value")
        if not isinstance(code, str) or code not in STATUS_CODES:  # the fix: was a TypeError
            raise PayloadError(f"{where}bad status code {str(code)[:10]!r} for {key!r}")
        if STATUS_CODES[code]:
            status[key] = STATUS_CODES[code]
    reading = object.__new__(Reading)
    for name, field_value in (("cluster", ids[0]), ("plant", ids[1]), ("station", ids[2]),
                              ("ts", ts), ("values", parsed), ("status", status), ("seq", seq)):
        object.__setattr__(reading, name, field_value)
    return reading


def ref_parse_time(raw: Any, where: str = "") -> datetime:
    if isinstance(raw, bool):
        raise PayloadError(f"{where}bad 'ts' type")
    if isinstance(raw, int | float):
        if not _MIN_EPOCH_MS <= raw <= _MAX_EPOCH_MS:
            raise PayloadError(f"{where}epoch-millisecond 'ts' out of range: {raw!r}")
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    if not isinstance(raw, str) or len(raw) > 64:
        raise PayloadError(f"{where}bad 'ts' type")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"{where}bad 'ts' {raw!r}: not ISO 8601") from exc
    if ts.tzinfo is None:
        raise PayloadError(f"{where}'ts' {raw!r} has no UTC offset")
    if not 2000 <= ts.year < 2100:
        raise PayloadError(f"{where}'ts' {raw!r} out of range")
    return ts.astimezone(UTC)


def ref_reading_lines(readings: list[Reading]) -> list[str]:
    lines = []
    for reading in readings:
        prefix = (
            f"reading,cluster={escape_tag(reading.cluster)},plant={escape_tag(reading.plant)},"
            f"station={escape_tag(reading.station)} "
        )
        fields = [f"{key}={float(value)!r}" for key, value in sorted(reading.values.items())]
        if reading.status:
            fields += [f"{key}_status={code}i" for key, code in sorted(reading.status.items())]
        ns = int(reading.ts.timestamp()) * 1_000_000_000 + reading.ts.microsecond * 1000
        lines.append(f"{prefix}{','.join(fields)} {ns}")
    return lines


# -- generated messages: mostly valid records, each field sometimes broken ----------------------

EQUIV = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOPIC = "quantrac/v1/kb/kim-bai/outlet/data"
KEYS = ["cod", "ph", "tss", "flow_out", "nh4_n", "temperature"]
ODD_KEYS = ["cod/ph", "ph/", "/x", "Cod", "a" * 65, "a" * 64]  # the last one is valid

aware_times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(0)),
                               timezone(timedelta(hours=-3, minutes=-30))]),
)
good_ts = st.one_of(
    aware_times.map(datetime.isoformat),
    aware_times.map(lambda t: t.astimezone(UTC).isoformat().replace("+00:00", "Z")),
    st.integers(min_value=_MIN_EPOCH_MS - 10, max_value=_MAX_EPOCH_MS + 10),
    st.floats(min_value=_MIN_EPOCH_MS, max_value=_MAX_EPOCH_MS),
)
bad_ts = st.one_of(
    st.datetimes().map(datetime.isoformat), st.text(max_size=70), st.booleans(), st.none(),
    st.integers(), st.floats(), st.just([]), st.just("2026-11-22T10:45Z:00"),
    st.just("2026-11-22 10:45:00.123456+07:00"), st.just("x" * 65),
)
good_number = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                        st.integers(min_value=-(10**20), max_value=10**20))
bad_number = st.one_of(st.integers(min_value=-(10**400), max_value=10**400), st.booleans(),
                       st.none(), st.text(max_size=4), st.just(1e308), st.just([1.0]))
key = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), st.text(max_size=6),
                st.just("a" * 65), st.sampled_from(ODD_KEYS))
values_st = st.dictionaries(key, st.one_of(good_number, good_number, good_number, bad_number),
                            max_size=6)
status_st = st.one_of(
    st.dictionaries(st.sampled_from([*KEYS, "x"]),
                    st.sampled_from(["00", "01", "02", "02", "03", 1, None, [], {}, True]),
                    max_size=3),
    st.none(), st.just([]), st.just("01"),
)
record_st = st.one_of(
    st.fixed_dictionaries(
        {"ts": st.one_of(good_ts, good_ts, good_ts, bad_ts), "values": values_st},
        optional={"seq": st.one_of(st.integers(min_value=-2, max_value=10**6), st.none(),
                                   st.booleans(), st.floats(max_value=5), st.text(max_size=2)),
                  "status": status_st, "extra": st.none()},
    ),
    st.none(), st.integers(), st.lists(st.integers(), max_size=2),
)


def _messages(records: list[Any]) -> st.SearchStrategy[bytes]:
    return st.sampled_from([json.dumps(records).encode(),
                            json.dumps(records[0]).encode() if records else b"{}"])


def _outcome(parse: Any, topic: str, payload: bytes) -> tuple[str, Any]:
    try:
        return "readings", parse(topic, payload)
    except PayloadError as exc:
        return "reject", str(exc)


def _assert_same(topic: str, payload: bytes) -> None:
    expected = _outcome(ref_parse_message, topic, payload)
    got = _outcome(parse_message, topic, payload)
    assert got == expected
    if got[0] == "readings":
        for new, ref in zip(got[1], expected[1], strict=True):
            # Key order inside a reading is no contract (messages come as blocks, keys sorted;
            # line protocol and frames sort them): the same mapping, value types included.
            assert {k: type(v) for k, v in new.values.items()} == {
                k: type(v) for k, v in ref.values.items()}
            assert new.ts.tzinfo is UTC and new.ts.utcoffset() == timedelta(0)
            assert type(new.seq) is type(ref.seq)
        assert reading_lines(got[1]) == ref_reading_lines(expected[1])


@EQUIV
@given(st.lists(record_st, max_size=6).flatmap(_messages))
def test_parse_message_matches_the_reference_on_generated_records(payload: bytes) -> None:
    _assert_same(TOPIC, payload)


@EQUIV
@given(st.lists(st.fixed_dictionaries({"ts": good_ts, "values": st.dictionaries(
           st.sampled_from(KEYS * 4 + ODD_KEYS), good_number, min_size=1, max_size=6)},
           optional={"seq": st.integers(min_value=0, max_value=10**9),
                     "status": st.dictionaries(st.sampled_from(KEYS[:2]),
                                               st.sampled_from(["00", "01", "02"]))}),
           min_size=1, max_size=8).flatmap(_messages))
def test_mostly_valid_messages_give_the_reference_readings_and_lines(payload: bytes) -> None:
    _assert_same(TOPIC, payload)


@EQUIV
@given(st.one_of(
    st.just(TOPIC),
    st.builds(lambda a, b, c: f"quantrac/v1/{a}/{b}/{c}/data",
              st.from_regex(ID_PATTERN, fullmatch=True) | st.text(max_size=5),
              st.from_regex(ID_PATTERN, fullmatch=True) | st.text(max_size=5),
              st.from_regex(ID_PATTERN, fullmatch=True) | st.sampled_from(["", "a/b", "A"])),
    st.text(max_size=40),
), st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode),
             st.just(b'\xef\xbb\xbf{"ts":1,"values":{"cod":1}}'),
             st.just('\ufeff{"ts":1}'.encode()), st.just(b"[" * 30 + b"]" * 30),
             st.just(b'{"ts":"2026-11-22T17:45:00Z","values":{"cod":NaN}}'),
             st.just(b'{"ts":"2026-11-22T17:45:00Z","values":{"cod":-Infinity}}'),
             st.just(b'{"ts":"2026-11-22T17:45:00Z","values":{"cod":1e999}}'),
             st.just(b'{"ts":"2026-11-22T17:45:00Z","values":{"cod":1}} x')))
def test_topics_and_raw_bytes_give_the_reference_outcome(topic: str, payload: bytes) -> None:
    _assert_same(topic, payload)


def test_unhashable_status_code_is_a_reason_not_a_crash() -> None:
    payload = b'{"ts":"2026-11-22T17:45:00Z","values":{"cod":1},"status":{"cod":[]}}'
    assert _outcome(parse_message, TOPIC, payload) == (
        "reject", "record 0: bad status code '[]' for 'cod'")


LINE_CASES = [
    ("int values are written as floats", [{"cod": 5, "ph": 7}], [{}]),
    ("status with and without values", [{"cod": 1.5}, {"cod": 2.5}], [{"cod": 2}, {}]),
    ("key set changes mid-run", [{"cod": 1.0, "ph": 7.0}, {"ph": 7.0, "cod": 1.0}, {"tss": 3.0}],
     [{}, {"ph": 1}, {}]),
    ("one key", [{"cod": 1e-7}, {"cod": 1e22}, {"cod": -0.0}], [{}, {}, {"cod": 1}]),
    ("no values, only statuses", [{}, {}], [{"cod": 1}, {"cod": 2, "ph": 1}]),
    ("many keys, unsorted", [dict.fromkeys(reversed(KEYS), 0.1)] * 3, [{}, {"ph": 2}, {}]),
]


def test_reading_lines_are_reading_line_byte_for_byte() -> None:
    base = datetime(2026, 11, 22, 10, 45, 0, 123456, tzinfo=UTC)
    for name, values, statuses in LINE_CASES:
        for station in ("outlet", "inlet"):
            readings = [
                Reading("kb", "kim-bai", station, base + timedelta(seconds=i), v, s, seq=i)
                for i, (v, s) in enumerate(zip(values, statuses, strict=True))
            ]
            readings += [Reading("kb", "other", station, base.astimezone(
                timezone(timedelta(hours=7))), values[0])]
            expected = [reading_line(r) for r in readings]
            assert reading_lines(readings) == expected == ref_reading_lines(readings), name


# -- texts where a compiled decoder could differ from the json module ----------------------

_R = '{"ts":"2026-11-22T17:45:00+07:00",'  # a record's opening, up to its values
RAW_TEXTS = [
    _R + '"values":{"cod":-0,"ph":1E2,"tss":1e-400,"nh4_n":-1e-400}}',
    _R + '"values":{"cod":123456789012345678901234567890,"ph":9007199254740993}}',
    _R + '"values":{"cod":' + "9" * 309 + "}}",  # an int past float range
    _R + '"values":{"cod":1e308,"ph":1e308}}',  # finite each, the sum is not
    '{"ts":"2026-11-22T17:45:00Z","ts":"2026-11-22T18:45:00Z","values":{"cod":1,"cod":2}}',
    _R + '"values":{"cod":"x","cod":1}}',  # the last duplicate wins, as in json
    _R + '"values":{"cod":1,"cod":"x"}}',
    _R + '"values":{"cod":1},"seq":null}',
    _R + '"values":{"cod":1},"status":null}',
    _R + '"values":{"cod":1},"seq":1.0}',
    _R + '"values":{"cod":1},"seq":' + "9" * 30 + "}",
    _R + '"values":{"cod":1},"seq":-1}',
    _R + '"values":{"cod":1},"status":{"cod":"00","ph":"00"}}',
    _R + '"values":{"cod":1,"ph":7},"status":{"ph":"02","cod":"00"}}',
    _R + '"values":{"\\u0063od":1}}',
    '{"ts":"\\ud800","values":{"cod":1}}',
    '{"ts":"2026-11-22T17:45:00+07:00\\u0000","values":{"cod":1}}',
    '{"ts":"2026-11-22t17:45:00z","values":{"cod":1}}',
    '{"ts":"2026-11-22T17:45:00.123456789+07:00","values":{"cod":1}}',
    '{"ts":"2026-11-22T23:59:60Z","values":{"cod":1}}',
    '{"ts":1764000000000.5,"values":{"cod":1}}',
    '{"ts":true,"values":{"cod":1}}',
    '{"ts":' + "9" * 30 + ',"values":{"cod":1}}',
    ' \t\n[ ' + _R + ' "values" : { "cod" : 1 } } ]\r\n',
    "[" + _R + '"values":{"cod":1}},[]]',
    "[" + _R + '"values":{"cod":1}},' + _R + '"values":{}}]',
    "[" + _R + '"values":{"cod":1}},' + _R + '"values":{"Cod":1}}]',
    "[[" + _R + '"values":{"cod":1}}]]',
    _R + '"values":{"cod":1},"extra":null}',
    _R + '"values":{"cod":1}',
    "[]", "{}", "null", "1", '"x"', "",
]


def test_texts_a_compiled_decoder_might_read_differently_give_the_reference_outcome() -> None:
    for text in RAW_TEXTS:
        _assert_same(TOPIC, text.encode())


# -- line protocol runs: the run formatter against one line per reading -----------------------

typical = st.one_of(st.floats(min_value=-1e5, max_value=1e5).map(lambda v: round(v, 3)),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0.0, -0.0, 1e-5, 1e-4, 0.0001234, 10.00001, 1e15, 1e16,
                                     9999999999999998.0, 1e22, 5e-324]),
                    st.integers(min_value=-5, max_value=5))


@EQUIV
@given(st.lists(st.tuples(st.sampled_from(["outlet", "inlet"]),
                          st.dictionaries(st.sampled_from(KEYS[:3]), typical, min_size=0,
                                          max_size=3),
                          st.sampled_from([{}, {}, {}, {"cod": 1}, {"ph": 2}]),
                          st.integers(min_value=-10**6, max_value=10**6)),
                min_size=1, max_size=30))
def test_reading_lines_of_generated_runs_are_the_reference_lines(
    items: list[tuple[str, dict[str, float], dict[str, int], int]]
) -> None:
    base = datetime(2026, 11, 22, 10, 45, 0, 123456, tzinfo=UTC)
    readings = [Reading("kb", "kim-bai", station, base + timedelta(microseconds=shift * 997),
                        values, status)
                for station, values, status, shift in items]
    assert reading_lines(readings) == ref_reading_lines(readings)
