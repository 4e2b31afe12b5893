"""InfluxDB line protocol for the SPEC schema (shared by the v1 and v2 stores)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from collector.payload import Reading

MEASUREMENT = "reading"
ALERT_MEASUREMENT = "alert"


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
    """Points of many readings; the escaped tag prefix is built once per station."""
    prefixes: dict[tuple[str, str, str], str] = {}
    lines = []
    for reading in readings:
        station = (reading.cluster, reading.plant, reading.station)
        prefix = prefixes.get(station)
        if prefix is None:
            prefix = prefixes[station] = _prefix(reading)
        lines.append(_line(prefix, reading))
    return lines


def _prefix(reading: Reading) -> str:
    return (
        f"{MEASUREMENT},cluster={escape_tag(reading.cluster)},plant={escape_tag(reading.plant)},"
        f"station={escape_tag(reading.station)} "
    )


def _line(prefix: str, reading: Reading) -> str:
    fields = [f"{key}={float(value)!r}" for key, value in sorted(reading.values.items())]
    if reading.status:
        fields += [f"{key}_status={code}i" for key, code in sorted(reading.status.items())]
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
