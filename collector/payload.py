"""The MQTT wire format of SPEC.md: records, validation and encoding (topics: rules/topics.py).

Pure functions only: bytes + topic in, a `Block` (the message's records column per key: what the
collector writes and judges) or typed `Reading`s out, or a `PayloadError` whose message is the
reason recorded in the dead-letter store.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import numpy as np

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
_ISO_OFFSET = re.compile(r"Z|[+-]\d\d:\d\d")


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


@dataclass(frozen=True, slots=True, eq=False)
class Block:
    """The validated records of one message, column per key: one station, records in message
    order. What the collector writes and judges, without an object per record (a `Reading`
    per record was most of the ingest's cost); `readings()` gives the same records one by one.
    """

    cluster: str
    plant: str
    station: str
    times: np.ndarray  # int64 ns since the epoch (UTC), one per record
    keys: tuple[str, ...]  # every parameter key of the message, sorted
    values: np.ndarray  # float64, records x keys; NaN where a record has no value for the key
    status: np.ndarray | None  # int64, records x keys: 1 calibrating, 2 device error, else 0;
    #                            None when every status is 00 (the common case)
    seq: tuple[int | None, ...]

    def __len__(self) -> int:
        return len(self.times)

    def column(self, key: str) -> np.ndarray:
        """The values of `key`, NaN where a record has none (all NaN if none has it)."""
        if key in self.keys:
            return self.values[:, self.keys.index(key)]
        return np.full(len(self.times), np.nan)

    def status_column(self, key: str) -> np.ndarray:
        """The status codes of `key` (0 where 00 or absent)."""
        if self.status is None or key not in self.keys:
            return np.zeros(len(self.times), dtype=np.int64)
        return self.status[:, self.keys.index(key)]

    def readings(self) -> list[Reading]:
        """The records as `Reading`s (UTC times), as `parse_message` gives them."""
        status = self.status.tolist() if self.status is not None else None
        readings: list[Reading] = []
        for index, (ns, row, seq) in enumerate(zip(self.times.tolist(), self.values.tolist(),
                                                    self.seq, strict=True)):
            reading = object.__new__(Reading)
            _SET_CLUSTER(reading, self.cluster)
            _SET_PLANT(reading, self.plant)
            _SET_STATION(reading, self.station)
            _SET_TS(reading, utc_time(ns))
            _SET_VALUES(reading, {key: value for key, value in zip(self.keys, row, strict=True)
                                  if value == value})  # NaN: no value
            _SET_STATUS(reading, {} if status is None else {
                key: code for key, code in zip(self.keys, status[index], strict=True) if code})
            _SET_SEQ(reading, seq)
            readings.append(reading)
        return readings


# Block's slot setters: a frozen dataclass's __init__ (object.__setattr__ per field) cost
# more than the rest of a one-record message's block.
_BLOCK_SETTERS = tuple(vars(Block)[name].__set__ for name in Block.__slots__)


def _new_block(*fields: Any) -> Block:
    """A Block from fields in declaration order, through its slot setters."""
    block = object.__new__(Block)
    for setter, value in zip(_BLOCK_SETTERS, fields, strict=True):
        setter(block, value)
    return block


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NS_PER_S = 1_000_000_000


def time_ns(ts: datetime) -> int:
    """An aware time as int ns since the epoch, as InfluxDB stores it (µs precision)."""
    return int(ts.timestamp()) * NS_PER_S + ts.microsecond * 1000


def utc_time(ns: int | np.integer) -> datetime:
    """A record's int ns time (whole µs, `time_ns`) as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=int(ns) // 1000)


def block_of(readings: Sequence[Reading]) -> Block:
    """The block of readings of one station (the slow path's records, and tests)."""
    if not readings:
        raise PayloadError("empty record array")
    first = readings[0]
    keys = tuple(sorted({key for reading in readings for key in reading.values}))
    column = {key: index for index, key in enumerate(keys)}
    values = np.full((len(readings), len(keys)), np.nan)
    status = np.zeros((len(readings), len(keys)), dtype=np.int64)
    for row, reading in enumerate(readings):
        for key, value in reading.values.items():
            values[row, column[key]] = value
        for key, code in reading.status.items():
            status[row, column[key]] = code
    return Block(first.cluster, first.plant, first.station,
                 np.array([time_ns(r.ts) for r in readings], dtype=np.int64), keys, values,
                 status if status.any() else None, tuple(r.seq for r in readings))


def parse_message(topic: str, payload: bytes) -> list[Reading]:
    """Validate one MQTT message (single record or array) into readings, all or nothing."""
    return parse_block(topic, payload).readings()


def parse_block(topic: str, payload: bytes) -> Block:
    """Validate one MQTT message (single record or array) into a block, all or nothing."""
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
    # An array (a backfill) whose first record's keys every record has, and no status, is
    # decoded into structs of those keys (`_keyed_block`): no dict per record.
    if text[:1] == "[":
        keyed = _keyed_decoder(_first_keys(text))
        if keyed is not None:
            try:
                block = _keyed_block(ids, keyed.decoder.decode(text), keyed)
            except msgspec.DecodeError:
                pass
            else:
                if block is not None:
                    return block
    try:
        wire = _WIRE_DECODER.decode(text)
    except msgspec.DecodeError:
        wire = None
    if wire is not None:
        block = _wire_block(ids, wire if isinstance(wire, list) else [wire])
        if block is not None:
            return block
    return block_of(_parse_text(ids, text))


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
    finiteness, codes) is `_wire_block`'s."""

    ts: str | int | float
    values: dict[str, float]
    seq: int | None = None
    status: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


_WIRE_DECODER = msgspec.json.Decoder(_WireRecord | list[_WireRecord])
_TS = attrgetter("ts")
_VALUES = attrgetter("values")
_SEQ = attrgetter("seq")
_STATUS = attrgetter("status")
# From this many records on, a message's ISO times are read at once (`_iso_times`); below
# it, one by one costs less than numpy's per-call overhead.
_VECTOR_TIMES = 8


def _wire_block(ids: Topic, records: list[_WireRecord]) -> Block | None:
    """The block of records msgspec decoded, or None if one needs a closer look (bad time,
    negative seq, empty values, a key that is not valid, a bad status): the caller then takes
    the full path, which names the reason. Whole columns at once where the records agree
    (one key set, one time layout); record by record where they do not."""
    count = len(records)
    if not count:
        return None
    head = _times_and_seqs(records)
    if head is None:
        return None
    times, seqs = head
    docs = list(map(_VALUES, records))
    first = docs[0]
    keys: set[str] = set()  # parameter keys already validated in this message
    # No finiteness check: msgspec refuses a number that does not fit a finite float.
    if not first or not _learn_keys(first, keys):
        return None
    shape = first.keys()
    if all(map(shape.__eq__, map(dict.keys, docs))):
        order = tuple(sorted(first))
        values = _row_grid(docs, itemgetter(*order), count, len(order))
    else:
        for doc in docs:
            if not doc or not (doc.keys() <= keys or _learn_keys(doc, keys)):
                return None
        order = tuple(sorted(keys))
        values = _value_grid(docs, order)
    statuses = list(map(_STATUS, records))
    status = None
    if statuses.count(msgspec.UNSET) != count:
        good, status = _status_grid(statuses, docs, order)
        if not good:
            return None
    return _new_block(ids.cluster, ids.plant, ids.station, times, order, values, status, seqs)


@dataclass(frozen=True, slots=True)
class _Keyed:
    """A decoder of record arrays whose values have exactly `order`'s keys (struct fields
    f0, f1... renamed to the keys) and the getter of a record's values in that order."""

    order: tuple[str, ...]
    decoder: msgspec.json.Decoder[Any]
    getter: Callable[[Any], Any]


# The first record's values object (no nested object in a valid one) and the keys in it.
_FIRST_VALUES = re.compile(r'"values"\s*:\s*\{([^{}]*)\}')
_OBJECT_KEY = re.compile(r'"([^"\\]*)"\s*:')


def _first_keys(text: str) -> tuple[str, ...]:
    """The sorted parameter keys of the first record's values, read off the text (a guess:
    `_keyed_block` checks every record); () if none is found."""
    found = _FIRST_VALUES.search(text, 0, 4096)
    if found is None:
        return ()
    return tuple(sorted(_OBJECT_KEY.findall(found.group(1))))


@functools.lru_cache(maxsize=256)
def _keyed_decoder(order: tuple[str, ...]) -> _Keyed | None:
    """The keyed decoder of `order` (cached: stations send the same few key sets), or None
    if a key is not valid or repeated."""
    if not order or len(set(order)) != len(order) or not _valid_keys("/".join(order),
                                                                     len(order)):
        return None
    fields = [f"f{index}" for index in range(len(order))]
    values = msgspec.defstruct(
        "_KeyedValues", [(name, float) for name in fields], forbid_unknown_fields=True,
        gc=False, rename=dict(zip(fields, order, strict=True)))
    record = msgspec.defstruct(
        "_KeyedRecord", [("ts", str | int | float), ("values", values),
                         ("seq", int | None, None),
                         ("status", dict[str, str] | msgspec.UnsetType, msgspec.UNSET)],
        forbid_unknown_fields=True, gc=False)
    decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
    return _Keyed(order, decoder, attrgetter(*fields))


def _keyed_block(ids: Topic, records: list[Any], keyed: _Keyed) -> Block | None:
    """The block of records `keyed.decoder` decoded (every record has exactly its keys), or
    None if one needs a closer look (a status, a bad time or seq): `_wire_block` then."""
    count = len(records)
    if not count or list(map(_STATUS, records)).count(msgspec.UNSET) != count:
        return None
    head = _times_and_seqs(records)
    if head is None:
        return None
    times, seqs = head
    values = _row_grid(map(_VALUES, records), keyed.getter, count, len(keyed.order))
    return _new_block(ids.cluster, ids.plant, ids.station, times, keyed.order, values, None,
                      seqs)


def _row_grid(
    docs: Iterable[Any], getter: Callable[[Any], Any], count: int, width: int
) -> np.ndarray:
    """records x `width` float64 of records that all have every key: `getter` gives a record's
    values in key order (a tuple, or the value itself when there is one key)."""
    items: Iterable[Any] = map(getter, docs)
    if width > 1:
        items = chain.from_iterable(items)
    return np.fromiter(items, dtype=np.float64, count=count * width).reshape(count, width)


def _times_and_seqs(records: list[Any]) -> tuple[np.ndarray, tuple[int | None, ...]] | None:
    """The records' times (int64 ns, UTC) and seqs, or None if a time or a seq is bad."""
    times = _wire_times(list(map(_TS, records)))
    if times is None:
        return None
    seqs = list(map(_SEQ, records))
    if seqs.count(None) != len(seqs) and any(s is not None and s < 0 for s in seqs):
        return None
    return times, tuple(seqs)


def _value_grid(docs: list[dict[str, float]], order: tuple[str, ...]) -> np.ndarray:
    """records x keys of records with different key sets, NaN where one has no value."""
    column = {key: index for index, key in enumerate(order)}
    values = np.full((len(docs), len(order)), np.nan)
    for row, doc in enumerate(docs):
        for key, value in doc.items():
            values[row, column[key]] = value
    return values


def _status_grid(
    statuses: list[dict[str, str] | msgspec.UnsetType], docs: list[dict[str, float]],
    order: tuple[str, ...],
) -> tuple[bool, np.ndarray | None]:
    """(False, None) if a code or its key is bad, else (True, records x keys codes or None if
    every code is 00)."""
    column = {key: index for index, key in enumerate(order)}
    grid = np.zeros((len(docs), len(order)), dtype=np.int64)
    flagged = False
    for row, (doc, values) in enumerate(zip(statuses, docs, strict=True)):
        if doc is msgspec.UNSET:
            continue
        found = _wire_status(doc, values)
        if found is None:
            return False, None
        for key, code in found.items():
            grid[row, column[key]] = code
            flagged = True
    return True, grid if flagged else None


def _wire_times(raw: list[str | int | float]) -> np.ndarray | None:
    """The records' times as int64 ns (UTC), or None if one is not a valid time."""
    kinds = set(map(type, raw))
    if kinds == {str} and len(raw) >= _VECTOR_TIMES:
        times = _iso_times(raw)  # type: ignore[arg-type]
        if times is not None:
            return times
    elif kinds == {int}:
        try:
            ms = np.array(raw, dtype=np.int64)
        except OverflowError:
            return None
        if ms.min() < _MIN_EPOCH_MS or ms.max() > _MAX_EPOCH_MS:
            return None
        return ms * 1_000_000  # what datetime.fromtimestamp(ms / 1000) gives, to the µs
    out: list[int] = []
    fromisoformat = datetime.fromisoformat
    for value in raw:
        if isinstance(value, str):
            if len(value) > 64:
                return None
            try:
                ts = fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            tz = ts.tzinfo
            if tz is None or not 2000 <= ts.year < 2100:
                return None
            if tz is not UTC:
                ts = ts.astimezone(UTC)
        elif _MIN_EPOCH_MS <= value <= _MAX_EPOCH_MS:
            ts = datetime.fromtimestamp(value / 1000, tz=UTC)
        else:
            return None
        out.append(time_ns(ts))
    return np.array(out, dtype=np.int64)


def _iso_times(texts: list[str]) -> np.ndarray | None:
    """ns (UTC) of ISO times that share one layout and one offset, read at once: 20YY-MM-DD
    T hh:mm:ss, an optional fraction of 1-6 digits, `Z` or ±hh:mm (what stations send).
    None when they do not (each is then read alone). The layout is checked on the joined text
    at once (every digit mapped to "0" by bytes.translate, then compared with the layout row
    repeated), numpy reads the local times (and refuses a day, hour... out of range, as
    `datetime.fromisoformat` does), the first text's offset applies to all."""
    first = texts[0]
    width = len(first)
    layout = _iso_layout(width, first[-1] == "Z")
    if layout is None:
        return None
    count = len(texts)
    try:
        # "\n" after each text: a valid text has none, so rows are texts only if all have
        # the layout's width.
        raw = ("\n".join(texts) + "\n").encode("ascii")
    except UnicodeEncodeError:
        return None
    mapped = raw.translate(_DIGITS_TO_ZERO)
    row = mapped[:width + 1]
    local = len(layout)
    if row[:local] != layout or mapped != row * count:
        return None  # not every row has the first one's layout (offset signs included)
    # Years 20YY and the first text's offset in every row: each column of those characters
    # (every row's character at one place) is one character repeated.
    stride = width + 1
    for place in (0, 1, *range(local + 1, width)):
        if raw[place::stride] != raw[place:place + 1] * count:
            return None
    if raw[0:2] != b"20":
        return None
    grid = np.frombuffer(raw, dtype=np.uint8).reshape(count, stride)
    try:
        local_ns = np.ascontiguousarray(grid[:, :local]).view(f"S{local}").ravel().astype(
            "datetime64[ns]").view(np.int64)
    except ValueError:  # month 13, 30 February, hour 24, second 60...
        return None
    # The offset: exactly `Z` or ±hh:mm (a fraction's digits must not hide in it), read by
    # datetime.fromisoformat as every text's.
    if not _ISO_OFFSET.fullmatch(first, local):
        return None
    try:
        offset = datetime.fromisoformat(first.replace("Z", "+00:00")).utcoffset()
    except ValueError:
        return None
    if offset is None:
        return None
    return local_ns - offset // timedelta(microseconds=1) * 1000 if offset else local_ns


_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)


@functools.lru_cache(maxsize=16)
def _iso_layout(width: int, zulu: bool) -> bytes | None:
    """For texts of `width` characters: the local part's layout, digits as "0" (what
    `_DIGITS_TO_ZERO` makes of a valid text); None if no layout of `_iso_times` has this
    width."""
    local = width - (1 if zulu else 6)
    fraction = local - 19
    if fraction < 0 or fraction == 1 or fraction > 7:
        return None
    return ("00dd-dd-ddTdd:dd:dd" + ("." + "d" * (fraction - 1) if fraction else "")).replace(
        "d", "0").encode()


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
    """Add the keys of `values` to `keys` if all are valid; False if one is not."""
    if not _valid_keys("/".join(values), len(values)):
        return False
    keys.update(values)
    return True


@functools.lru_cache(maxsize=1024)
def _valid_keys(joined: str, count: int) -> bool:
    """Whether `count` keys joined by "/" are all valid: one match, since a valid key has no
    "/" (with exactly count - 1 of them the pieces matched are the keys themselves). Cached:
    stations send the same few key sets again and again."""
    return joined.count("/") == count - 1 and _KEYS_PATTERN.fullmatch(joined) is not None


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
