"""The faults in force and the request log, shared by the middleware and the admin API.

``FaultRegistry.hits(method, path)`` counts the request against every fault that matches
it and returns the faults that hit it, in the order they were added. Counting and the
random draws happen under a lock, in request order, so a given sequence of requests meets
the same faults every run. ``RequestLog`` keeps the last ``capacity`` requests (method,
path without query, status, duration, faults applied): never bodies, headers or tokens.
"""

from __future__ import annotations

import builtins
import fnmatch
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mock_cloud.faults.spec import FaultSpec
from mock_cloud.ids import new_object_id
from mock_cloud.timestamps import format_utc_ms

LOG_CAPACITY = 10_000


@dataclass
class ActiveFault:
    """A fault in force and its counters."""

    id: str
    spec: FaultSpec
    rng: random.Random
    seen: int = 0
    hit: int = 0
    held: int = 0
    """Requests (with ``afterHandling``: answers, once handled) this fault has held."""
    removed: bool = False
    """Set when the fault is removed: requests it holds go on."""

    def matches(self, method: str, path: str) -> bool:
        """Whether the request is one this fault counts."""
        if self.spec.method is not None and self.spec.method != method:
            return False
        return self.spec.path is None or fnmatch.fnmatchcase(path, self.spec.path)

    def render(self) -> dict[str, Any]:
        """The fault as the admin API shows it."""
        return {
            "id": self.id,
            **self.spec.model_dump(exclude_none=True),
            "matched": self.seen,
            "hits": self.hit,
            "held": self.held,
        }


class FaultRegistry:
    """The faults in force."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[ActiveFault] = []

    def add(self, spec: FaultSpec) -> ActiveFault:
        """Put a fault in force."""
        fault = ActiveFault(id=new_object_id(), spec=spec, rng=random.Random(spec.seed))
        with self._lock:
            self._faults.append(fault)
        return fault

    def list(self) -> builtins.list[dict[str, Any]]:
        """The faults in force, oldest first."""
        with self._lock:
            return [fault.render() for fault in self._faults]

    def remove(self, fault_id: str) -> bool:
        """Remove one fault; whether it existed."""
        with self._lock:
            gone = [f for f in self._faults if f.id == fault_id]
            self._faults = [f for f in self._faults if f.id != fault_id]
        for fault in gone:
            fault.removed = True
        return bool(gone)

    def clear(self) -> int:
        """Remove every fault; returns how many there were."""
        with self._lock:
            gone, self._faults = self._faults, []
        for fault in gone:
            fault.removed = True
        return len(gone)

    def hits(self, method: str, path: str) -> builtins.list[ActiveFault]:
        """Count the request against the matching faults; the ones that hit it."""
        hitting: builtins.list[ActiveFault] = []
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                limit = fault.spec.limit
                if fault.seen < (fault.spec.nth or 1):
                    continue
                if limit is not None and fault.hit >= limit:
                    continue
                if fault.spec.rate is not None and fault.rng.random() >= fault.spec.rate:
                    continue
                fault.hit += 1
                hitting.append(fault)
        return hitting


@dataclass
class RequestLog:
    """The most recent requests, for tests and reproductions to inspect."""

    capacity: int = LOG_CAPACITY
    _entries: deque[dict[str, Any]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0

    def record(
        self,
        *,
        at: datetime,
        method: str,
        path: str,
        status: int | None,
        duration_ms: float,
        faults: list[str],
    ) -> None:
        """Add one request (``status`` None: the connection was dropped, nothing answered)."""
        with self._lock:
            self._sequence += 1
            self._entries.append(
                {
                    "sequence": self._sequence,
                    "time": format_utc_ms(at),
                    "method": method,
                    "path": path,
                    "status": status,
                    "durationMs": round(duration_ms, 3),
                    "faults": faults,
                }
            )
            while len(self._entries) > self.capacity:
                self._entries.popleft()

    def entries(self) -> list[dict[str, Any]]:
        """The logged requests, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self._entries.clear()
