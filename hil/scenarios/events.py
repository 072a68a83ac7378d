"""Scenario events: what happens to a device between runs (readings, clocks, time).

Meters (Contour, GLS): new readings, and the clock moved, reset to the firmware epoch, set
right, or set to local time elsewhere (``emulator.model.clock.DeviceClock``). A CGM's
readings grow as its manual time passes. An IDS pump's history grows by its own model
(``PumpModel.set_clock``, ``bolus``, ``advance``): each clock change is a time-change
record the uploader must bootstrap through, as a real pump reports it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hil.scenarios.model import Event
from hil.scenarios.placement import Placed

FIRMWARE_EPOCH = datetime(2000, 1, 1)


def apply_event(placed: Placed, event: Event, now: datetime) -> None:
    """Make ``event`` happen to ``placed`` (``now``: the scenario's true time, aware)."""
    kind = event.kind
    if placed.spec.kind == "ids-pump":
        _pump_event(placed, event)
        return
    if kind == "time-passes":
        if placed.cgm_time is not None:
            placed.cgm_time.advance(timedelta(minutes=event.minutes))
        return
    model = placed.usb.model if placed.usb is not None else placed.ble_device().peripheral.model
    if kind == "measure":
        if placed.spec.kind == "cgm":
            raise ValueError("measure is for meters; a CGM measures as time passes")
        for value in event.values:
            model.measure(value)
    elif kind == "set-clock":
        model.clock.set(model.clock.now() + timedelta(minutes=event.shift_minutes))
    elif kind == "clock-reset":
        model.clock.reset(FIRMWARE_EPOCH)
    elif kind == "travel":
        assert event.to_timezone is not None
        there = now.astimezone(ZoneInfo(event.to_timezone)).utcoffset()
        here = now.astimezone(ZoneInfo(placed.timezone)).utcoffset()
        assert there is not None and here is not None
        model.clock.set(model.clock.now() + (there - here))
    elif kind == "fix-clock":
        model.clock.set(model.clock.true_now())
    elif kind == "bolus":
        raise ValueError("bolus is for an ids-pump")


def _pump_event(placed: Placed, event: Event) -> None:
    model = placed.ble_device().peripheral.model
    change = model.now + timedelta(minutes=1)
    if event.kind == "set-clock":
        model.set_clock(change, model.display(change) + timedelta(minutes=event.shift_minutes))
    elif event.kind == "clock-reset":
        model.set_clock(change, FIRMWARE_EPOCH)
    elif event.kind == "travel":
        assert event.to_timezone is not None
        shown = change.astimezone(ZoneInfo(event.to_timezone)).replace(tzinfo=None)
        model.set_clock(change, shown)
    elif event.kind == "fix-clock":
        shown = change.astimezone(ZoneInfo(placed.timezone)).replace(tzinfo=None)
        model.set_clock(change, shown)
    elif event.kind == "bolus":
        model.bolus(change, fast=event.units)
    elif event.kind == "time-passes":
        model.advance(model.now + timedelta(minutes=event.minutes))
        return
    else:
        raise ValueError(f"{event.kind} is not for an ids-pump")
    model.advance(change + timedelta(minutes=30))
