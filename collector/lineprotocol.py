"""InfluxDB line protocol for the SPEC schema (shared by the v1 and v2 stores)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, KeysView, Mapping
from operator import itemgetter

from collector.payload import Reading
from rules.frame import STATUS_SUFFIX

MEASUREMENT = "reading"
ALERT_MEASUREMENT = "alert"
_TAG_SPECIAL = re.compile(r"[\\, =]")  # what escape_tag escapes


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


def reading_lines(readings: Iterable[Reading]) -> list[str]:
    """Points of many readings, byte for byte `reading_line` of each.

    A run of readings of one station with one key set shares a %-format template (escaped
    tag prefix, sorted value keys), built at the run's second reading (a one-reading message
    would not repay it); the values are then fetched in key order by one `itemgetter` call.
    """
    if type(readings) is list and len(readings) == 1:  # one-record message: no setup
        return [_line(_prefix(readings[0]), readings[0])]
    lines: list[str] = []
    append = lines.append
    prefixes: dict[tuple[str, str, str], str] = {}
    last_station: tuple[str, str, str] | None = None
    last_keys: KeysView[str] | None = None
    prefix = template = ""
    fetch: Callable[[Mapping[str, float]], tuple[float, ...]] = _fetch_none
    has_values = False
    for reading in readings:
        values = reading.values
        keys = values.keys()
        station = (reading.cluster, reading.plant, reading.station)
        if keys != last_keys or station != last_station:
            found = prefixes.get(station)
            if found is None:
                found = prefixes[station] = _prefix(reading)
            prefix, template = found, ""
            last_station, last_keys = station, keys
            fields = [f"{key}={float(value)!r}" for key, value in sorted(values.items())]
            if reading.status:
                fields += [f"{key}{STATUS_SUFFIX}={code}i"
                           for key, code in sorted(reading.status.items())]
            ts = reading.ts
            ns = int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
            append(f"{prefix}{','.join(fields)} {ns}")
            continue
        if not template:
            order = sorted(keys)
            template = "".join([
                prefix.replace("%", "%%"),
                ",".join([key.replace("%", "%%") + "=%r" for key in order]),
                "%s %d",
            ])
            fetch = _fetcher(order)
            has_values = bool(order)
        status = reading.status
        tail = ""
        if status:
            tail = ",".join([f"{key}{STATUS_SUFFIX}={code}i"
                             for key, code in sorted(status.items())])
            if has_values:
                tail = "," + tail
        ts = reading.ts
        ns = int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
        append(template % (*map(float, fetch(values)), tail, ns))
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


def _prefix(reading: Reading) -> str:
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
    ns = int(reading.ts.timestamp()) * 1_000_000_000 + reading.ts.microsecond * 1000
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
