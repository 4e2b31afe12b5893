"""Fault-test fixtures: a private stack per test and the figures every fault test reports."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantrac.stack import LocalStack
from tests.conftest import Publisher


@pytest.fixture(scope="session")
def figures_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "reliability-figures.jsonl"


@pytest.fixture
def report_figures(figures_file: Path, request: pytest.FixtureRequest):
    """Record one figures line (published/stored/lost/duplicated...) for this test."""

    def report(fault: str, **figures: Any) -> dict[str, Any]:
        line = {"test": request.node.name, "fault": fault, **figures}
        with figures_file.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
        print(f"\nFIGURES {json.dumps(line)}")
        return line

    return report


@pytest.fixture
def own_stack() -> Iterator[LocalStack]:
    """Private servers: fault tests kill and restart them without touching the session's."""
    with LocalStack() as local:
        yield local


@pytest.fixture
def fault_db(own_stack: LocalStack) -> str:
    name = f"fault_{uuid.uuid4().hex[:8]}"
    own_stack.create_database(name)
    return name



@pytest.fixture
def publisher_factory() -> Iterator[Any]:
    """Plain QoS 1 publishers on a given (private) stack, closed after the test."""
    made: list[Publisher] = []

    def make(local: LocalStack) -> Publisher:
        pub = Publisher(local.mqtt_host, local.mqtt_port)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        with contextlib.suppress(Exception):
            pub.close()
