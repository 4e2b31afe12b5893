"""Every word the console shows, per language: its own UI text (console/text/<lang>.toml) and
the shared vocabulary of alerts and reports (parameter names, kinds, severities, number and
date formats), reached through ONE function, `shared_vocabulary`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from reports.labels import Labels, format_limit, format_number, labels_for
from rules.limits import Limit
from rules.regulation import load_regulation

LANGS = ("vi", "en")
_DATETIME = {"vi": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}


class Vocabulary(Protocol):
    """What the console needs of the shared bilingual vocabulary."""

    lang: str

    def parameter(self, key: str) -> str: ...
    def station(self, key: str) -> str: ...
    def kind(self, key: str) -> str: ...
    def severity(self, key: str) -> str: ...
    def alert_state(self, key: str) -> str: ...
    def ack_reason(self, key: str) -> str: ...
    def event(self, key: str) -> str: ...
    def status(self, key: str) -> str: ...
    def number(self, value: float | None, digits: int = 2) -> str: ...
    def datetime(self, moment: datetime, zone: ZoneInfo) -> str: ...
    def limit(self, limit: Limit) -> str: ...
    def regulation(self, regulation_id: str) -> str: ...


def shared_vocabulary(lang: str, interim: Mapping[str, Mapping[str, str]]) -> Vocabulary:
    """The shared vocabulary of `lang`.

    PHASE 2: switch to `rules.vocabulary` (branch h13c, the one bilingual vocabulary) and
    delete `_InterimVocabulary` and the `[interim]` tables of console/text/*.toml. Until then
    the words come from reports.labels and the interim tables.
    """
    return _InterimVocabulary(labels_for(lang), interim)


class _InterimVocabulary:
    def __init__(self, labels: Labels, interim: Mapping[str, Mapping[str, str]]) -> None:
        self.lang = labels.lang
        self._labels = labels
        self._interim = interim

    def parameter(self, key: str) -> str:
        return self._labels.parameter(key)

    def station(self, key: str) -> str:
        return self._labels.station(key)

    def kind(self, key: str) -> str:
        return self._labels.kind(key)

    def severity(self, key: str) -> str:
        return self._labels.severity(key)

    def alert_state(self, key: str) -> str:
        return self._interim["alert_states"].get(key, key)

    def ack_reason(self, key: str) -> str:
        return self._interim["ack_reasons"].get(key, key)

    def event(self, key: str) -> str:
        return self._interim["events"].get(key, key)

    def status(self, key: str) -> str:
        return self._interim["statuses"].get(key, key)

    def number(self, value: float | None, digits: int = 2) -> str:
        """Like the permit writes it: no trailing zeros (vi 1.500,5; en 1,500.5)."""
        text = format_number(value, self.lang, digits)
        decimal = "," if self.lang == "vi" else "."
        if decimal in text:
            text = text.rstrip("0").rstrip(decimal)
        return text

    def datetime(self, moment: datetime, zone: ZoneInfo) -> str:
        return moment.astimezone(zone).strftime(_DATETIME[self.lang])

    def limit(self, limit: Limit) -> str:
        return format_limit(limit.min, limit.max, limit.unit, self.lang)

    def regulation(self, regulation_id: str) -> str:
        # The official designation is the title's part before its dash ("QCVN 40:2011/BTNMT").
        return load_regulation(regulation_id).title.split(" — ")[0]


class Words:
    """One language: `words("key", name=...)` is UI text; the vocabulary's methods are
    reachable on it too (`words.parameter("cod")`, `words.number(1500.5)`)."""

    def __init__(self, lang: str, ui: Mapping[str, str], vocabulary: Vocabulary) -> None:
        self.lang = lang
        self._ui = ui
        self.vocabulary = vocabulary

    def __call__(self, key: str, **values: Any) -> str:
        text = self._ui[key]
        return text.format(**values) if values else text

    def __getattr__(self, name: str) -> Any:
        return getattr(self.vocabulary, name)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._ui)


def load_words(lang: str) -> Words:
    """Read console/text/<lang>.toml and join it to the shared vocabulary."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use {', '.join(LANGS)})")
    text = resources.files("console").joinpath("text", f"{lang}.toml").read_text("utf-8")
    doc = tomllib.loads(text)
    return Words(lang, doc["ui"], shared_vocabulary(lang, doc["interim"]))
