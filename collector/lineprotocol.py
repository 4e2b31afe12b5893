"""InfluxDB line protocol for the SPEC schema (shared by the v1 and v2 stores)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from operator import attrgetter, itemgetter

import msgspec

from collector.payload import Block, Reading, time_ns
from rules.frame import STATUS_SUFFIX

MEASUREMENT = "reading"
ALERT_MEASUREMENT = "alert"
_TAG_SPECIAL = re.compile(r"[\\, =]")  # what escape_tag escapes
_VALUES = attrgetter("values")
_STATUS = attrgetter("status")
_TS = attrgetter("ts")
_FLOAT = frozenset({float})
_ENCODE = msgspec.json.Encoder().encode


def escape_tag(value: str) -> str:
    """Escape a tag key/value (commas, equals signs, spaces, backslashes)."""
    return (
        value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    )


def escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reading_line(reading: Reading) -> str:
    """One point: tags cluster/plant/station, a float per value, `<key>_status` ints, ns time."""
    return _line(_prefix(reading), reading)


def block_lines(block: Block) -> list[str]:
    """Points of a block's records, byte for byte `reading_line` of each of its readings."""
    return block_text(block).split("\n")


def block_text(block: Block) -> str:
    """`block_lines` as one text, a line per point: what the intake writes (splitting a
    block's text into lines was a sixth of its line-protocol cost; a rejected write is split
    into points only then).

    The common block (every record has every key, no status) is formatted whole from its
    columns (`_format_run`: a record without some key has NaN there, which it refuses); any
    other goes through its readings."""
    if block.status is None:
        text = _format_run(_prefix(block), block.keys, block.values.ravel().tolist(),
                           block.times.tolist())
        if text is not None:
            return text
    return "\n".join(reading_lines(block.readings()))


def reading_lines(readings: Iterable[Reading]) -> list[str]:
    """Points of many readings, byte for byte `reading_line` of each.

    Readings come in runs of one station with one key set (a backfill array, a batch of one
    plant's messages). A run's lines are made at once (`_run_lines`); a one-reading run
    costs no setup.
    """
    if type(readings) is not list:
        readings = list(readings)
    if len(readings) == 1:  # one-record message: no setup
        return [_line(_prefix(readings[0]), readings[0])]
    lines: list[str] = []
    prefixes: dict[tuple[str, str, str], str] = {}
    begin = 0
    count = len(readings)
    while begin < count:
        first = readings[begin]
        keys = first.values.keys()
        end = begin + 1
        while end < count:
            other = readings[end]
            if (other.station != first.station or other.plant != first.plant
                    or other.cluster != first.cluster or other.values.keys() != keys):
                break
            end += 1
        station = (first.cluster, first.plant, first.station)
        prefix = prefixes.get(station)
        if prefix is None:
            prefix = prefixes[station] = _prefix(first)
        if end - begin == 1:
            lines.append(_line(prefix, first))
        else:
            lines += _run_lines(prefix, sorted(keys), readings[begin:end])
        begin = end
    return lines


def _run_lines(prefix: str, order: list[str], run: list[Reading]) -> list[str]:
    """Lines of a run of one station's readings with the same keys (sorted: `order`): float
    values and no status are formatted whole (`_format_run`); anything else takes
    `_template_lines`."""
    fetch = _fetcher(order)
    values = list(map(fetch, map(_VALUES, run)))
    if order and not any(map(_STATUS, run)) and _FLOAT.issuperset(
            map(type, chain.from_iterable(values))):
        ns = list(map(time_ns, map(_TS, run)))
        text = _format_run(prefix, order, list(chain.from_iterable(values)), ns)
        if text is not None:
            return text.split("\n")
    return _template_lines(prefix, order, run, fetch)


def _format_run(
    prefix: str, order: Sequence[str], values: list[float], ns: list[int]
) -> str | None:
    """One text, a line per record, of records with every key of `order` (values row by
    row) and no status, or None when a value's text would differ from repr's, or is NaN.
    The values are encoded by one msgspec call, whose float text is repr's wherever it has
    no exponent and no leading "0.0000" and is not `null` (NaN; checked on the whole text),
    and laid into one %-template holding every line and its ns time (`ns`: ints)."""
    text = _ENCODE(values)
    if b"e" in text or b"l" in text or b"0.0000" in text:
        return None
    head = "".join([
        prefix.replace("%", "%%"),
        ",".join([key.replace("%", "%%") + "=%s" for key in order]),
        " ",
    ])
    # The times laid in by one msgspec call and one replace (no str per record).
    template = head + _ENCODE(ns)[1:-1].decode().replace(",", "\n" + head)
    return template % tuple(text[1:-1].decode().split(","))


def _template_lines(
    prefix: str, order: list[str], run: list[Reading],
    fetch: Callable[[Mapping[str, float]], tuple[float, ...]],
) -> list[str]:
    """Lines of a run, one %-template per reading (values by repr, status fields)."""
    template = "".join([
        prefix.replace("%", "%%"),
        ",".join([key.replace("%", "%%") + "=%r" for key in order]),
        "%s %d",
    ])
    lines: list[str] = []
    append = lines.append
    for reading in run:
        status = reading.status
        tail = ""
        if status:
            tail = ",".join([f"{key}{STATUS_SUFFIX}={code}i"
                             for key, code in sorted(status.items())])
            if order:
                tail = "," + tail
        append(template % (*map(float, fetch(reading.values)), tail, time_ns(reading.ts)))
    return lines


def _fetcher(order: list[str]) -> Callable[[Mapping[str, float]], tuple[float, ...]]:
    """The values of a mapping in `order`, as a tuple (itemgetter alone unpacks one key)."""
    if len(order) > 1:
        return itemgetter(*order)
    if order:
        key = order[0]
        return lambda values: (values[key],)
    return _fetch_none


def _fetch_none(values: Mapping[str, float]) -> tuple[float, ...]:
    return ()


def _prefix(reading: Reading | Block) -> str:
    if _TAG_SPECIAL.search(reading.cluster + reading.plant + reading.station) is None:
        return (
            f"{MEASUREMENT},cluster={reading.cluster},plant={reading.plant},"
            f"station={reading.station} "
        )
    return (
        f"{MEASUREMENT},cluster={escape_tag(reading.cluster)},plant={escape_tag(reading.plant)},"
        f"station={escape_tag(reading.station)} "
    )


def _line(prefix: str, reading: Reading) -> str:
    fields = [f"{key}={float(value)!r}" for key, value in sorted(reading.values.items())]
    if reading.status:
        fields += [f"{key}{STATUS_SUFFIX}={code}i" for key, code in sorted(reading.status.items())]
    ns = time_ns(reading.ts)
    return f"{prefix}{','.join(fields)} {ns}"


def point_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | int | str | bool],
    ns: int,
) -> str:
    """A generic point (used for the `alert` measurement)."""
    tag_text = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            parts.append(f"{escape_tag(key)}={'true' if value else 'false'}")
        elif isinstance(value, int):
            parts.append(f"{escape_tag(key)}={value}i")
        elif isinstance(value, float):
            parts.append(f"{escape_tag(key)}={value!r}")
        else:
            parts.append(f"{escape_tag(key)}={escape_string_field(value)}")
    return f"{escape_tag(measurement)}{tag_text} {','.join(parts)} {ns}"
