"""The emulated t:slim X2's status answers come from its pump model at the model's present:
the bolus being delivered, the basal rate running, insulin on board, the reservoir, the
battery (V1/V2 as pumpX2's CurrentBatteryBuilder describes), the latest CGM reading, CGM
status and the home screen mirror."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from emulator.devices.tslim_x2_pump import TslimX2Pump
from emulator.model.pump import PumpModel, TbrKind
from emulator.protocols import tandem_history as h

T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 00:00 on the pump (UTC-5)
NOW = T0 + timedelta(hours=10, minutes=40)
ZONE = "America/New_York"


def model() -> PumpModel:
    m = PumpModel(
        serial_number="90412345",
        model_name="t:slim X2",
        firmware_version="7.4",
        start=T0,
        display_offset=timedelta(hours=-5),
        time_source=lambda: NOW,
    )
    m.bolus(T0 + timedelta(hours=8), fast=3.0, meal=True)
    m.start_temp_basal(T0 + timedelta(hours=10), kind=TbrKind.RELATIVE, value=50, minutes=120)
    m.bolus(T0 + timedelta(hours=10, minutes=30), fast=1.0, extended=2.0, minutes=60)
    m.advance(NOW)
    return m


@pytest.fixture(scope="module")
def busy() -> TslimX2Pump:
    """A pump 40 minutes into a temp rate, with a combination bolus running."""
    return TslimX2Pump(model(), seed=7, timezone=ZONE, battery_percent=64)


def ask(pump: TslimX2Pump, opcode: int) -> tuple[int, bytes]:
    answer = pump.answer(opcode, b"", 1234)
    assert answer is not None
    return answer


def test_bolus_status_shows_the_bolus_being_delivered(busy: TslimX2Pump) -> None:
    opcode, cargo = ask(busy, 44)
    status, bolus_id, timestamp, requested, source, types = struct.unpack("<BH2xIIBB", cargo)
    started = busy.model.display(T0 + timedelta(hours=10, minutes=30))
    assert (opcode, status, bolus_id) == (45, 1, 2)  # DELIVERING, the second bolus
    assert timestamp == h.pump_seconds(started)
    assert (requested, source, types) == (3000, 1, 1 | 4)  # GUI, FOOD1 + EXTENDED


def test_bolus_status_is_empty_when_no_bolus_runs() -> None:
    quiet = model()
    quiet.advance(NOW + timedelta(hours=2))
    pump = TslimX2Pump(quiet, seed=7, timezone=ZONE)
    assert ask(pump, 44) == (45, bytes(15))


def test_basal_status_and_home_screen_show_the_temp_rate(busy: TslimX2Pump) -> None:
    opcode, cargo = ask(busy, 40)
    profile, current, modified = struct.unpack("<IIB", cargo)
    assert opcode == 41 and current * 2 == profile > 0 and modified == 1
    opcode, cargo = ask(busy, 56)
    assert opcode == 57 and len(cargo) == 9
    assert (cargo[4], cargo[5]) == (0, 2)  # bolus icon shown, TEMP_RATE


def test_insulin_on_board_decays_over_the_insulin_duration(busy: TslimX2Pump) -> None:
    # 3 U 160 minutes ago and the running bolus's 1 U fast part 10 minutes ago, over 300 min
    want = 3.0 * 140 / 300 + 1.0 * 290 / 300
    opcode, cargo = ask(busy, 38)
    iob, left, total = struct.unpack("<III", cargo)
    assert opcode == 39 and iob == total == round(want * 1000) and left == 290 * 60
    opcode, cargo = ask(busy, 108)
    assert opcode == 109 and struct.unpack("<IIIIB", cargo) == (iob, left, iob, 0, 0)


def test_reservoir_and_api_version(busy: TslimX2Pump) -> None:
    opcode, cargo = ask(busy, 36)
    assert opcode == 37
    assert struct.unpack("<HBB", cargo) == (int(busy.model.reservoir_remaining), 0, 20)
    assert ask(busy, 32) == (33, struct.pack("<HH", 2, 1))


def test_battery_v1_and_v2_as_pumpx2_describes() -> None:
    old = TslimX2Pump(model(), seed=7, timezone=ZONE, battery_percent=64)
    assert ask(old, 52) == (53, bytes([64, 64]))
    assert ask(old, 0x90) == (53, bytes([64, 64]))  # a V1 answer on an API 2.1 pump
    assert ask(old, 52) == (77, bytes([52, 6]))  # then V1 is refused: BAD_OPCODE
    new = TslimX2Pump(model(), seed=7, timezone=ZONE, battery_percent=64, api_version=(2, 5))
    assert ask(new, 0x90) == (0x91, bytes([64, 64, 0]) + bytes(8))
    assert ask(new, 52) == (53, bytes([64, 64]))
    assert ask(new, 32) == (33, struct.pack("<HH", 2, 5))


def test_cgm_answers_carry_the_latest_reading(busy: TslimX2Pump) -> None:
    last = busy.sensor[-1]
    assert NOW - last.at <= timedelta(minutes=5)
    opcode, cargo = ask(busy, 34)
    timestamp, mg_dl, status, trend = struct.unpack("<IHBb", cargo)
    assert (opcode, timestamp, mg_dl, status) == (35, h.pump_seconds(last.display), last.mg_dl, 1)
    before = busy.sensor[-2]
    assert trend == round((last.mg_dl - before.mg_dl) / 5)
    opcode, cargo = ask(busy, 80)
    session, calibrated, started, battery = struct.unpack("<BIIB", cargo)
    assert (opcode, session, calibrated, battery) == (81, 2, 0, 3)  # ACTIVE, OK
    assert h.pump_seconds(busy.sensor[0].display) <= started <= timestamp
    opcode, cargo = ask(busy, 56)
    assert cargo[8] == 1 and cargo[0] != 0  # CGM shown, with a trend arrow


def test_cgm_answers_without_a_recent_reading() -> None:
    m = model()
    pump = TslimX2Pump(m, seed=7, timezone=ZONE)
    m.advance(NOW + timedelta(hours=1))  # the pump has heard nothing from the sensor since
    _, cargo = ask(pump, 34)
    assert struct.unpack("<IHBb", cargo)[1:] == (0, 4, 0)  # UNAVAILABLE
    _, cargo = ask(pump, 80)
    assert cargo[0] == 0  # SESSION_STOPPED
    _, cargo = ask(pump, 56)
    assert (cargo[0], cargo[8]) == (0, 0)


def test_unknown_or_malformed_requests_are_not_answered(busy: TslimX2Pump) -> None:
    assert busy.answer(200, b"", 0) is None
    assert busy.answer(40, b"\x01", 0) is None
    assert busy.answer(0x90, b"\x01", 0) is None
