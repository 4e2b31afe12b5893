"""The configuration reference, generated from the config models so it cannot drift.

`python -m quantrac.configdoc > docs/configuration.md`; a test fails when the file is stale.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from quantrac.config import Config

HEADER = """# Configuration reference

Generated from the config models by `python -m quantrac.configdoc` — do not edit by hand.
Unknown keys are rejected everywhere; a bad value exits 2 naming the field path.
Environment overrides (win over the file): `QUANTRAC_MQTT_URL`, `QUANTRAC_INFLUX_URL`,
`QUANTRAC_INFLUX_DB`, `QUANTRAC_INFLUX_TOKEN`, `QUANTRAC_STATE_DIR`, `QUANTRAC_WEB_LISTEN`.
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(a) for a in get_args(annotation))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "none"
    if annotation is Ellipsis:
        return "..."
    return getattr(annotation, "__name__", str(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += _models_in(arg)
    return found


def _default(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(section)"
    text = repr(value)
    if "SecretStr" in text:
        return "(secret)"
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def _section(path: str, model: type[BaseModel], seen: set[str], out: list[str]) -> None:
    if path in seen:
        return
    seen.add(path)
    doc = (model.__doc__ or "").strip().splitlines()
    out += ["", f"## `{path}`", ""]
    if doc:
        out += [doc[0], ""]
    out += ["| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = _type_name(field.annotation).replace("|", "\\|")
        out.append(f"| `{name}` | {kind} | {_default(field)} | {meaning} |")
        for sub in _models_in(field.annotation):
            nested.append((f"{path}.{name}", sub))
    for sub_path, sub in nested:
        _section(sub_path, sub, seen, out)


def render() -> str:
    out = [HEADER.rstrip()]
    seen: set[str] = set()
    for name, field in Config.model_fields.items():
        for model in _models_in(field.annotation):
            table = f"[[{name}]]" if get_origin(field.annotation) is list else f"[{name}]"
            _section(table, model, seen, out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
