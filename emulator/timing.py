"""Timing modes for emulated devices: ``fast`` for CI, ``realistic`` for timeout testing.

In ``fast`` mode a device answers as soon as the host asks. In ``realistic`` mode it keeps
the pace of the real device: the host polls an interrupt IN endpoint once per ``bInterval``
(1 ms for a full-speed HID endpoint with bInterval 1), and the firmware takes a while to
answer each host message. Host timeouts then trigger exactly where they would on hardware.

The realistic figures below are assumptions from the USB specification (polling) and from
public descriptions of Contour meters (a transfer of a full memory takes tens of seconds);
measure a bench meter and correct them here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    name: str
    poll_interval_s: float
    """Minimum time between two IN reports on one endpoint."""
    response_delay_s: float
    """Firmware time from a host message to the first report of the answer."""


FAST = Timing("fast", poll_interval_s=0.0, response_delay_s=0.0)
REALISTIC = Timing("realistic", poll_interval_s=0.001, response_delay_s=0.015)

MODES = {FAST.name: FAST, REALISTIC.name: REALISTIC}


def timing_mode(name: str) -> Timing:
    """The timing mode called ``name`` (``fast`` or ``realistic``)."""
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(
            f"unknown timing mode {name!r}: choose one of {', '.join(sorted(MODES))}"
        ) from None
