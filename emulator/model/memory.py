"""Record memory with a fixed capacity that wraps: the oldest records are lost first.

Meters and pumps keep their history in a ring buffer (a Contour Next USB holds 2,000
results, for example). When it is full, storing a new record overwrites the oldest one.
The memory's contents at any moment are the device's *ledger*: exactly what an upload can
still read, and what the cloud must end up holding.

Every stored record gets a number, 1 for the first record the memory ever held, then 2,
3...: the record numbers (sequence numbers) that protocols such as the Bluetooth Glucose
Service report. A record keeps its number when older ones wrap away or are deleted, and
numbers are never reused, not even after the memory is cleared.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecordMemory(Generic[T]):
    """A ring buffer of records, oldest first. ``overwritten`` counts records lost to wrap."""

    def __init__(self, capacity: int, records: Iterable[T] = ()) -> None:
        if capacity < 1:
            raise ValueError(f"memory capacity must be at least 1 record, got {capacity}")
        self.capacity = capacity
        self._records: deque[tuple[int, T]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._stored = 0
        self.overwritten = 0
        self.extend(records)

    def append(self, record: T) -> int:
        """Store ``record``; returns the number it got."""
        with self._lock:
            if len(self._records) == self.capacity:
                self.overwritten += 1
            self._stored += 1
            self._records.append((self._stored, record))
            return self._stored

    def extend(self, records: Iterable[T]) -> None:
        for record in records:
            self.append(record)

    def clear(self) -> None:
        """Erase the records (numbering carries on, as on meters that clear their memory)."""
        with self._lock:
            self._records.clear()

    def reset(self) -> None:
        """A factory reset: erase the records and number the next one 1 again."""
        with self._lock:
            self._records.clear()
            self._stored = 0

    def delete(self, numbers: Collection[int]) -> int:
        """Delete the records with these numbers; returns how many were deleted."""
        wanted = set(numbers)
        with self._lock:
            kept = [(n, r) for n, r in self._records if n not in wanted]
            deleted = len(self._records) - len(kept)
            self._records = deque(kept, maxlen=self.capacity)
            return deleted

    def snapshot(self) -> list[T]:
        """The records held now, oldest first (a copy: the device keeps running)."""
        with self._lock:
            return [record for _, record in self._records]

    def numbered(self) -> list[tuple[int, T]]:
        """The records held now with their numbers, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        return len(self._records)
