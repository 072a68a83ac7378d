"""Scripted time for loops that wait (``diahil watch``): a clock and a sleep that never sleeps.

``ScriptedTime`` gives a loop its ``clock`` (aware UTC) and ``sleep``: each sleep moves the
clock forward by the time asked, at once, then runs what the test scheduled for that
moment (plug a device in, unplug it, break or heal the cloud). Devices, buses and the cloud
stay real; only waiting is taken out, so a test of an hourly schedule takes milliseconds::

    time = ScriptedTime(start)
    time.at_sleep(1, meter.plug)          # after the watcher's first poll
    watcher = Watcher(config, make_options, clock=time.now, sleep=time.sleep, ...)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class ScriptedTime:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = (start or datetime(2026, 3, 15, 16, 30, tzinfo=UTC)).astimezone(UTC)
        self.sleeps = 0
        self._actions: dict[int, list[Callable[[], object]]] = {}

    def now(self) -> datetime:
        return self.current

    def at_sleep(self, number: int, action: Callable[[], object]) -> None:
        """Run ``action`` during sleep number ``number`` (1 = the first), after the clock moved;
        an action returning an awaitable is awaited (on the loop the sleeping code runs on)."""
        self._actions.setdefault(number, []).append(action)

    def advance(self, by: timedelta) -> None:
        self.current += by

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.current += timedelta(seconds=seconds)
        for action in self._actions.pop(self.sleeps, []):
            outcome = action()
            if inspect.isawaitable(outcome):  # e.g. starting a BLE device on the loop we run on
                await outcome
