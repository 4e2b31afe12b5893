"""Fixtures of the report tests: the sample plant's report in both languages."""

from __future__ import annotations

import pytest

from reports.model import Report
from tests.reports.sample_plant import make_report


@pytest.fixture(scope="module")
def report_vi() -> Report:
    return make_report("vi")


@pytest.fixture(scope="module")
def report_en() -> Report:
    return make_report("en")
