"""Real-device oddities the BLE emulators can show, all off by default.

- ``reversed_sequence``: some meters send their records in reverse. Interpretation (see
  docs/protocols/gls.md): a multi-record RACP report goes out newest first; each record
  keeps its own sequence number (or time offset), and "first"/"last" still mean oldest and
  newest. A collector that assumes ascending order, or stops at the first record it has
  seen, loses data.
- ``date_time_characteristic`` (meters): Roche meters expose Date Time (0x2A08) instead of
  Current Time (0x2A2B); the emulator puts it where Current Time would be (in the Current
  Time Service 0x1805), readable, and writable by an authenticated collector.
- ``connection_interval_ms``: a real link carries a notification per connection event;
  the device waits this long before each notification or indication it sends (0: as fast
  as the in-process link goes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GlsQuirks:
    reversed_sequence: bool = False
    date_time_characteristic: bool = False
    connection_interval_ms: float = 0.0

    def __post_init__(self) -> None:
        _check_interval(self.connection_interval_ms)


@dataclass(frozen=True)
class CgmQuirks:
    reversed_sequence: bool = False
    connection_interval_ms: float = 0.0

    def __post_init__(self) -> None:
        _check_interval(self.connection_interval_ms)


def _check_interval(ms: float) -> None:
    if not 0 <= ms <= 4000:
        raise ValueError(f"connection interval must be 0..4000 ms, got {ms}")
