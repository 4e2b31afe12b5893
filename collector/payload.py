"""The MQTT wire format of SPEC.md: records, validation and encoding (topics: rules/topics.py).

Pure functions only: bytes + topic in, typed `Reading`s out, or a `PayloadError` whose message is
the reason recorded in the dead-letter store.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from collector.errors import PayloadError
from rules.topics import Topic, TopicError, parse_data

MAX_PAYLOAD_BYTES = 256 * 1024
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
STATUS_CODES = {"00": 0, "01": 1, "02": 2}
# Epoch-millisecond timestamps outside this range are almost certainly seconds or garbage.
_MIN_EPOCH_MS = 946_684_800_000  # 2000-01-01
_MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01
_MAX_JSON_DEPTH = 8
_KEYS_PATTERN = re.compile(f"{KEY_PATTERN.pattern}(?:/{KEY_PATTERN.pattern})*")
_RECORD_FIELDS = frozenset({"ts", "seq", "values", "status"})


@dataclass(frozen=True, slots=True)
class Reading:
    """One validated record of one station: time (UTC), values and non-`00` statuses."""

    cluster: str
    plant: str
    station: str
    ts: datetime
    values: Mapping[str, float]
    status: Mapping[str, int] = field(default_factory=dict)
    seq: int | None = None

    def __post_init__(self) -> None:
        try:
            Topic(self.cluster, self.plant, self.station)
        except TopicError as exc:
            raise PayloadError(str(exc)) from exc
        if self.ts.tzinfo is None:
            raise PayloadError("reading time must be timezone-aware")
        for key, value in self.values.items():
            if not KEY_PATTERN.fullmatch(key):
                raise PayloadError(f"bad parameter key {key!r}")
            if not math.isfinite(value):
                raise PayloadError(f"non-finite value for {key!r}")
        for key, code in self.status.items():
            if code not in (1, 2):
                raise PayloadError(f"bad status {code!r} for {key!r}")


# The slot setters of Reading: building a validated Reading through them skips __post_init__
# (the checks it repeats were a third of the parse time) and frozen __setattr__.
_SET_CLUSTER = vars(Reading)["cluster"].__set__
_SET_PLANT = vars(Reading)["plant"].__set__
_SET_STATION = vars(Reading)["station"].__set__
_SET_TS = vars(Reading)["ts"].__set__
_SET_VALUES = vars(Reading)["values"].__set__
_SET_STATUS = vars(Reading)["status"].__set__
_SET_SEQ = vars(Reading)["seq"].__set__


def parse_topic(topic: str) -> Topic:
    """Split a data topic into its ids (rules.topics), or raise `PayloadError` with the reason."""
    try:
        return parse_data(topic)
    except TopicError as exc:
        raise PayloadError(str(exc)) from exc


def parse_message(topic: str, payload: bytes) -> list[Reading]:
    """Validate one MQTT message (single record or array) into readings, all or nothing."""
    ids = parse_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload too large: {len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    # The common case first: msgspec decodes and type-checks the fixed shape in one pass
    # (compiled); a message it refuses, or with anything doubtful in a record, goes through
    # the full path below, which finds the reason, so dead-letter reasons are unchanged.
    try:
        wire = _WIRE_DECODER.decode(text)
    except msgspec.DecodeError:
        wire = None
    if wire is not None:
        readings = _wire_readings(ids, wire if isinstance(wire, list) else [wire])
        if readings is not None:
            return readings
    return _parse_text(ids, text)


def _parse_text(ids: Topic, text: str) -> list[Reading]:
    """The full path: JSON to Python objects, every check with its reason."""
    try:
        if text.startswith("\ufeff"):  # as json.loads, which _DECODER.decode skips
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        doc = _DECODER.decode(text)
    except RecursionError as exc:
        raise PayloadError("JSON nested too deeply") from exc
    except ValueError as exc:
        raise PayloadError(f"bad JSON: {exc}") from exc
    records = doc if isinstance(doc, list) else [doc]
    if not records:
        raise PayloadError("empty record array")
    try:
        return _parse_records(ids, records)
    except PayloadError:
        # A valid message is 3 levels deep at most, so depth is only worth measuring when
        # the message is already rejected: name the JSON bomb for what it is.
        _check_depth(doc, 0)
        raise


class _WireRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A record's shape as SPEC fixes it, checked by msgspec while decoding: no other field,
    `values` numbers (ints become floats), `status` strings. The rest (ids, keys, time,
    finiteness, codes) is `_wire_readings`'s."""

    ts: str | int | float
    values: dict[str, float]
    seq: int | None = None
    status: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


_WIRE_DECODER = msgspec.json.Decoder(_WireRecord | list[_WireRecord])


def _wire_readings(ids: Topic, records: list[_WireRecord]) -> list[Reading] | None:
    """Readings of records msgspec decoded, or None at the first one that needs a closer
    look (bad time, negative seq, empty values, a new key that is not valid, a non-finite
    sum, a bad status): the caller then takes the full path, which names the reason."""
    if not records:
        return None
    cluster, plant, station = ids.cluster, ids.plant, ids.station
    keys: set[str] = set()  # parameter keys already validated in this message
    readings: list[Reading] = []
    append = readings.append
    new = object.__new__
    fromisoformat = datetime.fromisoformat
    fromtimestamp = datetime.fromtimestamp
    unset = msgspec.UNSET
    for record in records:
        raw = record.ts
        if isinstance(raw, str):
            if len(raw) > 64:
                return None
            try:
                ts = fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return None
            tz = ts.tzinfo
            if tz is None or not 2000 <= ts.year < 2100:
                return None
            if tz is not UTC:
                ts = ts.astimezone(UTC)
        elif _MIN_EPOCH_MS <= raw <= _MAX_EPOCH_MS:
            ts = fromtimestamp(raw / 1000, tz=UTC)
        else:
            return None
        seq = record.seq
        values = record.values
        # No finiteness check: msgspec refuses a number that does not fit a finite float.
        if (
            (seq is not None and seq < 0)
            or not values
            or not (values.keys() <= keys or _learn_keys(values, keys))
        ):
            return None
        status_doc = record.status
        if status_doc is unset:
            status: dict[str, int] = {}
        else:
            found = _wire_status(status_doc, values)
            if found is None:
                return None
            status = found
        reading = new(Reading)
        _SET_CLUSTER(reading, cluster)
        _SET_PLANT(reading, plant)
        _SET_STATION(reading, station)
        _SET_TS(reading, ts)
        _SET_VALUES(reading, values)
        _SET_STATUS(reading, status)
        _SET_SEQ(reading, seq)
        append(reading)
    return readings


def _wire_status(status_doc: dict[str, str], values: dict[str, float]) -> dict[str, int] | None:
    """The non-`00` statuses of a decoded record, or None if a key or a code is bad."""
    status: dict[str, int] = {}
    for key, code in status_doc.items():
        number = STATUS_CODES.get(code)
        if number is None or key not in values:
            return None
        if number:
            status[key] = number
    return status


def _parse_records(ids: Topic, records: list[Any]) -> list[Reading]:
    """The records of one message, in order; the first bad one raises its `PayloadError`."""
    keys: set[str] = set()  # parameter keys already validated in this message
    return [_parse_record(ids, record, index, keys) for index, record in enumerate(records)]


def _learn_keys(values: dict[str, Any], keys: set[str]) -> bool:
    """Add the keys of `values` to `keys` if all are valid; False if one is not.

    One match of the keys joined by "/": a valid key has no "/", so with exactly
    len - 1 of them the pieces the pattern matched are the keys themselves.
    """
    joined = "/".join(values)
    if joined.count("/") != len(values) - 1 or not _KEYS_PATTERN.fullmatch(joined):
        return False
    keys.update(values)
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


# json.loads builds a decoder per call when given parse_constant: half its time on one record.
# Never mutated; shared like the compiled patterns above.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _check_depth(doc: Any, depth: int) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise PayloadError("JSON nested too deeply")
    if isinstance(doc, list):
        for item in doc:
            _check_depth(item, depth + 1)
    elif isinstance(doc, dict):
        for item in doc.values():
            _check_depth(item, depth + 1)


def _parse_record(ids: Topic, record: Any, index: int, keys: set[str]) -> Reading:
    where = f"record {index}: "
    if not isinstance(record, dict):
        raise PayloadError(f"{where}expected an object, got {type(record).__name__}")
    unknown = set(record) - _RECORD_FIELDS
    if unknown:
        raise PayloadError(f"{where}unknown field(s) {sorted(unknown)}")
    if "ts" not in record:
        raise PayloadError(f"{where}missing 'ts'")
    ts = parse_time(record["ts"], where)
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
        except OverflowError as exc:  # an integer with hundreds of digits
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
        if not isinstance(code, str) or code not in STATUS_CODES:  # [] is not hashable
            raise PayloadError(f"{where}bad status code {str(code)[:10]!r} for {key!r}")
        if STATUS_CODES[code]:
            status[key] = STATUS_CODES[code]
    return _validated_reading(ids, ts, parsed, status, seq)


def _validated_reading(
    ids: Topic, ts: datetime, values: dict[str, float], status: dict[str, int], seq: int | None
) -> Reading:
    """A Reading from fields `_parse_record` has just validated, without checking them again
    (the per-record re-validation was a third of the intake's parse time)."""
    reading = object.__new__(Reading)
    _SET_CLUSTER(reading, ids.cluster)
    _SET_PLANT(reading, ids.plant)
    _SET_STATION(reading, ids.station)
    _SET_TS(reading, ts)
    _SET_VALUES(reading, values)
    _SET_STATUS(reading, status)
    _SET_SEQ(reading, seq)
    return reading


def parse_time(raw: Any, where: str = "") -> datetime:
    """ISO 8601 with an offset, or epoch milliseconds, to an aware UTC datetime."""
    if isinstance(raw, bool):
        raise PayloadError(f"{where}bad 'ts' type")
    if isinstance(raw, int | float):
        if not _MIN_EPOCH_MS <= raw <= _MAX_EPOCH_MS:  # also NaN, inf, 400-digit ints
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


def encode_record(
    ts: datetime,
    values: Mapping[str, float],
    status: Mapping[str, str] | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    """One wire record (a JSON-ready dict) as a station would send it."""
    record: dict[str, Any] = {"ts": ts.isoformat()}
    if seq is not None:
        record["seq"] = seq
    record["values"] = dict(values)
    if status:
        record["status"] = dict(status)
    return record


def encode_message(records: Iterable[Mapping[str, Any]]) -> bytes:
    """A wire message: one record as an object, several as an array (backfill)."""
    items = list(records)
    doc: Any = items[0] if len(items) == 1 else items
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
