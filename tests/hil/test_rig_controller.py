"""The rig protocol (rig.dbc) between the controller and the emulated fixture over python-can:
acknowledgements, readback, heartbeat, display digits, and each typed error."""

from __future__ import annotations

from collections.abc import Iterator

import can
import cantools
import pytest

from hil.rig.config import CanConfig
from hil.rig.controller import (
    RigCommandRejected,
    RigController,
    RigFault,
    RigUnavailable,
    open_bus,
)
from hil.rig.dbc import DBC_PATH, FaultCode
from hil.rig.emulated import EmulatedRig, PortTarget, virtual_rig


class Screen(PortTarget):
    def __init__(self, shown: str | None) -> None:
        super().__init__()
        self.shown = shown

    def display(self) -> str | None:
        return self.shown


@pytest.fixture
def rig() -> Iterator[tuple[EmulatedRig, RigController]]:
    fixture, controller = virtual_rig({1: PortTarget(), 2: Screen("004711")})
    yield fixture, controller
    controller.close()
    fixture.close()


def test_the_dbc_names_every_message_with_its_cycle() -> None:
    db = cantools.database.load_file(DBC_PATH)
    assert isinstance(db, cantools.database.can.Database)
    names = {m.name: m for m in db.messages}
    assert set(names) == {
        "RIG_HEARTBEAT",
        "RIG_SUPPLY_CMD",
        "RIG_USB_CMD",
        "RIG_ATTENUATION_CMD",
        "RIG_BUTTON_CMD",
        "RIG_DISPLAY_REQ",
        "RIG_ACK",
        "RIG_DISPLAY",
        "RIG_PORT_STATUS",
    }
    assert names["RIG_HEARTBEAT"].cycle_time == 100
    assert names["RIG_PORT_STATUS"].cycle_time == 1000
    assert names["RIG_SUPPLY_CMD"].get_signal_by_name("Voltage").unit == "V"


def test_commands_are_acknowledged_and_read_back(rig: tuple[EmulatedRig, RigController]) -> None:
    fixture, controller = rig
    beat = controller.heartbeat()
    assert (beat.port_count, beat.fault) == (8, FaultCode.NONE)
    controller.set_usb(1, data=False, vbus=True)
    controller.set_battery_voltage(1, 3.35)
    controller.set_attenuation(1, 20.5)
    controller.press(1, 1500, button=2)
    status = controller.port_status(1)
    assert (status.data_lines, status.vbus, status.output_on) == (False, True, True)
    assert status.voltage == pytest.approx(3.35)
    assert status.attenuation_db == 20.5
    assert fixture.ports[1].presses == [(2, 1500)]
    controller.power_off(1)
    assert controller.port_status(1).output_on is False


def test_the_display_is_read_as_digits_with_leading_zeros(
    rig: tuple[EmulatedRig, RigController],
) -> None:
    _, controller = rig
    assert controller.read_display(2) == "004711"
    assert controller.read_display(1) is None  # nothing shown


def test_out_of_range_values_are_refused_before_sending(
    rig: tuple[EmulatedRig, RigController],
) -> None:
    _, controller = rig
    with pytest.raises(RigCommandRejected, match=r"supply port 1 on 7 V: out of the fixture's"):
        controller.set_battery_voltage(1, 7.0)
    with pytest.raises(RigCommandRejected, match="usb port 9"):
        controller.set_usb(9, data=True, vbus=True)


def test_a_fixture_fault_shows_in_the_heartbeat_and_fails_commands(
    rig: tuple[EmulatedRig, RigController],
) -> None:
    fixture, controller = rig
    fixture.inject_fault(FaultCode.SUPPLY_OVERCURRENT, port=1)
    with pytest.raises(RigFault, match=r"supply port 1 on 3\.9 V: .*supply_overcurrent") as error:
        controller.set_battery_voltage(1, 3.9)
    assert (error.value.code, error.value.port) == (FaultCode.SUPPLY_OVERCURRENT, 1)
    with pytest.raises(RigFault, match="fault on port 1"):
        controller.heartbeat(timeout=1.0)
    controller.set_usb(2, data=True, vbus=True)  # the other ports still work
    fixture.clear_fault()


def test_a_silent_fixture_is_unavailable_with_what_to_check(
    rig: tuple[EmulatedRig, RigController],
) -> None:
    fixture, controller = rig
    fixture.close()
    with pytest.raises(RigUnavailable, match=r"did not acknowledge within 0\.25 s"):
        controller.set_usb(1, data=True, vbus=True)
    quiet = RigController(can.Bus(interface="virtual", channel="nobody-here"), owns_bus=True)
    with quiet, pytest.raises(RigUnavailable, match=r"no heartbeat .* termination"):
        quiet.heartbeat(timeout=0.3)


def test_a_bus_that_cannot_open_names_the_interface() -> None:
    config = CanConfig(interface="socketcan", channel="can-does-not-exist")
    with pytest.raises(RigUnavailable, match=r"cannot open CAN interface 'socketcan' channel"):
        open_bus(config)
