"""Every word the console shows, per language: its own UI text (console/text/<lang>.toml) and
the one shared vocabulary of alerts, reports and the console (`rules.vocabulary`: parameter
names, kinds, severities, alert states and events, reasons, number and date formats).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from rules.vocabulary import LANGS, Vocabulary


class Words:
    """One language: `words("key", name=...)` is UI text; the shared vocabulary's methods are
    reachable on it too (`words.parameter("cod")`, `words.format_decimal(1500.5)`)."""

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

    def age(self, seconds: float) -> str:
        """How long ago, as a person says it: "vừa xong", "5 phút trước", "3 giờ trước"."""
        if seconds < 60:
            return self("age_now")
        for limit, unit, key in ((3600, 60, "age_minutes"), (86400, 3600, "age_hours")):
            if seconds < limit:
                return self(key, n=int(seconds // unit))
        return self("age_days", n=int(seconds // 86400))


def load_words(lang: str) -> Words:
    """Read console/text/<lang>.toml and join it to the shared vocabulary."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use {', '.join(LANGS)})")
    text = resources.files("console").joinpath("text", f"{lang}.toml").read_text("utf-8")
    return Words(lang, tomllib.loads(text)["ui"], Vocabulary.for_lang(lang))
