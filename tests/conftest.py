"""Session fixtures: a real Mosquitto and a real influxd on free loopback ports.

They are started once per test session in temporary data dirs and stopped after; every test
gets its own InfluxDB database (and should use its own topic/cluster ids).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from quantrac.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(scope="session")
def _db_counter() -> Iterator[itertools.count[int]]:
    yield itertools.count(1)


@pytest.fixture
def influx_db(stack: LocalStack, _db_counter: itertools.count[int]) -> str:
    """A fresh, empty InfluxDB database for this test."""
    name = f"t{next(_db_counter)}_{uuid.uuid4().hex[:6]}"
    stack.create_database(name)
    return name


@pytest.fixture
def unique_id() -> str:
    """A fresh id usable as cluster/plant id, so topics never collide between tests."""
    return f"t{uuid.uuid4().hex[:10]}"
