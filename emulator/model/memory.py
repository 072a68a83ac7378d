"""Record memory with a fixed capacity that wraps: the oldest records are lost first.

Meters and pumps keep their history in a ring buffer (a Contour Next USB holds 2,000
results, for example). When it is full, storing a new record overwrites the oldest one.
The memory's contents at any moment are the device's *ledger*: exactly what an upload can
still read, and what the cloud must end up holding.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecordMemory(Generic[T]):
    """A ring buffer of records, oldest first. ``overwritten`` counts records lost to wrap."""

    def __init__(self, capacity: int, records: Iterable[T] = ()) -> None:
        if capacity < 1:
            raise ValueError(f"memory capacity must be at least 1 record, got {capacity}")
        self.capacity = capacity
        self._records: deque[T] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.overwritten = 0
        self.extend(records)

    def append(self, record: T) -> None:
        with self._lock:
            if len(self._records) == self.capacity:
                self.overwritten += 1
            self._records.append(record)

    def extend(self, records: Iterable[T]) -> None:
        for record in records:
            self.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def snapshot(self) -> list[T]:
        """The records held now, oldest first (a copy: the device keeps running)."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        return len(self._records)
