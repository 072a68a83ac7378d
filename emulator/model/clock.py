"""A device's real-time clock: an offset from true time, drift in ppm, and resets.

Diabetes devices keep local wall-clock time with no zone. Their clocks drift (tens of ppm
is typical for a meter's crystal), users set them wrong or forget daylight saving time, and
a battery change can reset them to the firmware's epoch. This model reproduces all three
deterministically: the device time is computed from a *time source* (real time by default,
a frozen or stepped one in tests) instead of being kept in a running counter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

TimeSource = Callable[[], datetime]


def local_now() -> datetime:
    """The computer's local wall-clock time, naive (devices have no zone)."""
    return datetime.now().replace(microsecond=0)


class DeviceClock:
    """Device wall-clock time = true time + offset + drift accumulated since the last setting.

    ``time_source`` returns the *true* local time (naive). ``offset`` is how far the device
    was set away from true time at the last setting, and ``drift_ppm`` how fast it gains
    (positive) or loses (negative) time afterwards.
    """

    def __init__(
        self,
        offset: timedelta = timedelta(0),
        drift_ppm: float = 0.0,
        time_source: TimeSource = local_now,
    ) -> None:
        self._lock = threading.Lock()
        self._source = time_source
        self._offset = offset
        self.drift_ppm = drift_ppm
        self._set_at = time_source()

    def now(self) -> datetime:
        """The time the device displays now."""
        with self._lock:
            true_now = self._source()
            elapsed = (true_now - self._set_at).total_seconds()
            drift = timedelta(seconds=elapsed * self.drift_ppm / 1_000_000)
            return true_now + self._offset + drift

    def true_now(self) -> datetime:
        """True local time from the time source (what a device's own elapsed-time counter
        follows, whatever its displayed clock says)."""
        return self._source()

    @property
    def offset(self) -> timedelta:
        """How far the displayed time is from true time now (offset plus drift so far)."""
        return self.now() - self._source()

    def set(self, displayed: datetime) -> None:
        """The user sets the clock: from now on it shows ``displayed``, then drifts again."""
        with self._lock:
            true_now = self._source()
            self._offset = displayed - true_now
            self._set_at = true_now

    def reset(self, epoch: datetime = datetime(2000, 1, 1)) -> None:
        """A reset (battery out, firmware fault): the clock restarts at the firmware epoch."""
        self.set(epoch)
