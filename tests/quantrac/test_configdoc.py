"""The configuration reference is generated from the models and must not drift."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from quantrac.configdoc import render
from quantrac.logformat import JsonFormatter

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_up_to_date():
    assert DOC.read_text() == render(), "run: python -m quantrac.configdoc > docs/configuration.md"


def test_reference_names_every_section_and_fixed_key():
    text = render()
    for section in ("[mqtt]", "[influx]", "[state]", "[[plants]]", "[checks]", "[alerts]",
                    "[reports]", "[service]", "[web]"):
        assert f"## `{section}`" in text
    for key in ("design_flow_m3_day", "kq", "interval", "regulation", "column", "timezone"):
        assert f"| `{key}` |" in text


def test_json_log_lines_carry_context():
    record = logging.LogRecord("quantrac.collector", logging.WARNING, __file__, 1,
                               "dead letter: %s", ("bad JSON",), None)
    record.plant = "kim-bai"
    record.topic = "quantrac/v1/kim-bai/kim-bai/outlet/data"
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "dead letter: bad JSON"
    assert doc["level"] == "WARNING" and doc["plant"] == "kim-bai"
    assert doc["topic"].endswith("/data")
