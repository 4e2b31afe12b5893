"""Recently computed values kept a few seconds (per console process): many readers of the same
page or chart within seconds cost one computation. The data behind them changes at most once
a minute (scheduled checks) or once a second (last values), so seconds old is current enough.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most `size` values, each kept `keep_s` seconds, the least recently used dropped."""

    def __init__(self, keep_s: float, size: int) -> None:
        self._keep_s = keep_s
        self._size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The kept value of `key`, or `make()` (outside the lock: two readers of a new key
        may both compute it; neither waits for the other)."""
        now = time.monotonic()
        with self._lock:
            kept = self._values.get(key)
            if kept is not None and now - kept[0] < self._keep_s:
                self._values.move_to_end(key)
                return kept[1]
        value = make()
        with self._lock:
            self._values[key] = (now, value)
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value
