"""An emulated rig fixture: the fixture side of ``rig.dbc`` (docs/bench.md) on python-can.

``EmulatedRig`` listens on a python-can bus (the ``virtual`` interface in one process,
``udp_multicast`` across processes), acknowledges every command as the real fixture must,
sends its heartbeat and per-port readback on their cycles, and applies each command to what
is wired to the port:

- a USB device (``UsbDeviceTarget``): data lines and VBUS on: plugged in; data lines off with
  VBUS on: a charge-only cable (the emulated bus's ``plug_charge_only``: nothing enumerates);
  both off: unplugged (open handles fail with ENODEV, as libusb's do);
- a Bluetooth peripheral (``BlePeripheralTarget``): attenuation at ``LINK_LOSS_DB`` or more
  drops its link and hides it (``Air.set_attenuation``); the display read returns the
  passkey the device shows while pairing;
- either: the bench supply drives the device model's battery (``Battery.set_voltage``); off,
  or at a critical level, the device shuts down (USB: drops off the bus; BLE: stops), and
  comes back when the voltage does.

Button presses are acknowledged and recorded (``presses``); a press of a second or more wakes
a Bluetooth device that is off (it advertises again).
A fault (``inject_fault``) shows in the heartbeat and fails the commands on that port, as a
real fixture's overcurrent trip or jammed actuator would.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import can

from emulator.ble.air import LINK_LOSS_DB
from emulator.ble.peripheral import BlePeripheral
from emulator.model.battery import Battery
from emulator.usb import EmulatedUsbBackend
from emulator.usb.device import VirtualUsbDevice
from hil.ble import BleWorld
from hil.rig.controller import RigController
from hil.rig.dbc import (
    HEARTBEAT_PERIOD_S,
    PORT_STATUS_PERIOD_S,
    FaultCode,
    FixtureState,
    Result,
    decode_frame,
    rig_database,
)

PROTOCOL_VERSION = 1

#: How long a button must be held to wake an emulated Bluetooth device that is off.
WAKE_PRESS_MS = 1000


@dataclass
class PortTarget:
    """A fixture port and its switches; with nothing wired, only the relays click."""

    output_on: bool = True
    voltage: float = 3.9
    data_lines: bool = True
    vbus: bool = True
    attenuation_db: float = 0.0
    presses: list[tuple[int, int]] = field(default_factory=list)

    def apply_usb(self, data: bool, vbus: bool) -> None:
        self.data_lines, self.vbus = data, vbus

    def apply_supply(self, on: bool, voltage: float) -> None:
        self.output_on, self.voltage = on, voltage

    def apply_attenuation(self, db: float) -> None:
        self.attenuation_db = db

    def press(self, button: int, duration_ms: int) -> None:
        self.presses.append((button, duration_ms))

    def display(self) -> str | None:
        return None

    def current_ma(self) -> float:
        return 0.0


def _battery_of(model: Any) -> Battery | None:
    battery = getattr(model, "battery", None)
    return battery if isinstance(battery, Battery) else None


class UsbDeviceTarget(PortTarget):
    """A USB device on the emulated bus, behind the port's data and VBUS switches."""

    def __init__(
        self, bus: EmulatedUsbBackend, device: VirtualUsbDevice, model: Any = None
    ) -> None:
        super().__init__()
        self.bus, self.device = bus, device
        self.battery = _battery_of(model)
        if self.battery is not None:
            self.voltage = self.battery.voltage
        self._state = "plugged" if device.connected else "out"

    def _powered(self) -> bool:
        return self.battery is None or self.battery.powered

    def _reconcile(self) -> None:
        if self.data_lines and self.vbus and self._powered():
            wanted = "plugged"
        elif self.vbus and not self.data_lines:
            wanted = "charging"
        else:
            wanted = "out"
        if wanted == self._state:
            return
        if self._state != "out":
            self.bus.unplug(self.device)
        if wanted == "plugged":
            self.bus.plug(self.device)
        elif wanted == "charging":
            self.bus.plug_charge_only(self.device)
        self._state = wanted

    def apply_usb(self, data: bool, vbus: bool) -> None:
        super().apply_usb(data, vbus)
        self._reconcile()

    def apply_supply(self, on: bool, voltage: float) -> None:
        super().apply_supply(on, voltage)
        if self.battery is not None:
            self.battery.set_voltage(voltage)
            self.battery.supplied = on
        self._reconcile()

    def current_ma(self) -> float:
        return 45.0 if self._state == "plugged" else 0.0


class BlePeripheralTarget(PortTarget):
    """A Bluetooth peripheral on the test's radio, behind the port's attenuator and supply."""

    def __init__(self, world: BleWorld, peripheral: BlePeripheral) -> None:
        super().__init__()
        self.world, self.peripheral = world, peripheral
        self.battery = _battery_of(getattr(peripheral, "model", None))
        if self.battery is not None:
            self.voltage = self.battery.voltage

    def _attenuate(self) -> None:
        if not self.peripheral.running:
            return

        async def apply() -> None:
            self.world.air.set_attenuation(self.peripheral.address, self.attenuation_db)

        self.world.run(apply())

    def apply_attenuation(self, db: float) -> None:
        super().apply_attenuation(db)
        self._attenuate()

    def apply_supply(self, on: bool, voltage: float) -> None:
        super().apply_supply(on, voltage)
        if self.battery is not None:
            self.battery.set_voltage(voltage)
            self.battery.supplied = on
        powered = on if self.battery is None else self.battery.powered
        if not powered and self.peripheral.running:
            self.world.run(self.peripheral.stop())
        elif powered and not self.peripheral.running:
            self.world.run(self.peripheral.start(self.world.air))
            self._attenuate()

    def press(self, button: int, duration_ms: int) -> None:
        """A press of ``WAKE_PRESS_MS`` or longer wakes a device that was off (it advertises
        again), as holding a meter's or sensor's button does; the battery must allow it."""
        super().press(button, duration_ms)
        powered = self.output_on if self.battery is None else self.battery.powered
        if duration_ms >= WAKE_PRESS_MS and powered and not self.peripheral.running:
            self.world.run(self.peripheral.start(self.world.air))
            self._attenuate()

    def display(self) -> str | None:
        return self.peripheral.display

    def current_ma(self) -> float:
        return 8.0 if self.peripheral.running else 0.0


class EmulatedRig:
    """The fixture on ``bus``: ports 1..``port_count``, those in ``ports`` wired to devices."""

    def __init__(
        self,
        bus: can.BusABC,
        ports: dict[int, PortTarget] | None = None,
        *,
        port_count: int = 8,
        heartbeat_period_s: float = HEARTBEAT_PERIOD_S,
        status_period_s: float = PORT_STATUS_PERIOD_S,
        owns_bus: bool = True,
    ) -> None:
        self._bus = bus
        self._owns_bus = owns_bus
        self.ports: dict[int, PortTarget] = dict(ports or {})
        self.port_count = port_count
        self._db = rig_database()
        self._lock = threading.RLock()
        self._fault: tuple[FaultCode, int] | None = None
        self._counter = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._heartbeat_period_s = heartbeat_period_s
        self._status_period_s = status_period_s
        self.heartbeats_enabled = True
        #: What failed applying a command (the fixture answered FAULT).
        self.errors: list[str] = []
        self._notifier = can.Notifier(bus, [self._on_message], timeout=0.05)
        self._cycle = threading.Thread(target=self._run_cycles, name="rig-fixture", daemon=True)
        self._cycle.start()

    def wire(self, port: int, target: PortTarget) -> None:
        """Wire ``target`` to ``port`` (its readback is sent at once, as on any change)."""
        with self._lock:
            self.ports[port] = target
        self._send_status(port)

    def inject_fault(self, code: FaultCode, port: int = 0) -> None:
        """The fixture trips (``port`` 0: the whole fixture)."""
        with self._lock:
            self._fault = (code, port)

    def clear_fault(self) -> None:
        with self._lock:
            self._fault = None

    def close(self) -> None:
        self._stop.set()
        self._cycle.join(timeout=2)
        self._notifier.stop()
        if self._owns_bus:
            self._bus.shutdown()

    def __enter__(self) -> EmulatedRig:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- sending --------------------------------------------------------------------------

    def _send(self, name: str, values: dict[str, float]) -> None:
        spec = self._db.get_message_by_name(name)
        frame = can.Message(
            arbitration_id=spec.frame_id, data=spec.encode(values), is_extended_id=False
        )
        # A real fixture drops a frame the bus refuses; the host then times out.
        with contextlib.suppress(can.CanError):
            self._bus.send(frame)

    def _send_heartbeat(self) -> None:
        with self._lock:
            fault = self._fault
            self._counter = (self._counter + 1) % 256
            counter = self._counter
        self._send(
            "RIG_HEARTBEAT",
            {
                "Counter": counter,
                "State": int(FixtureState.FAULT if fault else FixtureState.OK),
                "FaultCode": int(fault[0]) if fault else 0,
                "FaultPort": fault[1] if fault else 0,
                "PortCount": self.port_count,
                "ProtocolVersion": PROTOCOL_VERSION,
                "UptimeS": int(time.monotonic() - self._started),
            },
        )

    def _send_status(self, port: int) -> None:
        with self._lock:
            target = self.ports.get(port)
            if target is None:
                return
            self._send(
                "RIG_PORT_STATUS",
                {
                    "Port": port,
                    "OutputOn": int(target.output_on),
                    "DataLines": int(target.data_lines),
                    "Vbus": int(target.vbus),
                    "VoltageReadback": target.voltage if target.output_on else 0.0,
                    "CurrentReadback": target.current_ma(),
                    "Attenuation": target.attenuation_db,
                },
            )

    def _run_cycles(self) -> None:
        next_status = 0.0
        while not self._stop.is_set():
            if self.heartbeats_enabled:
                self._send_heartbeat()
            now = time.monotonic()
            if now >= next_status:
                next_status = now + self._status_period_s
                for port in sorted(self.ports):
                    self._send_status(port)
            self._stop.wait(self._heartbeat_period_s)

    # ---- receiving ------------------------------------------------------------------------

    def _on_message(self, message: can.Message) -> None:
        decoded = decode_frame(message.arbitration_id, bytes(message.data))
        if decoded is None or not decoded[0].endswith(("_CMD", "_REQ")):
            return  # not a command (or malformed: no acknowledgement)
        name, fields = decoded
        frame_id = self._db.get_message_by_name(name).frame_id
        seq, port = int(fields["Seq"]), int(fields["Port"])
        try:
            result = self._apply(name, port, fields, seq)
        except Exception as exc:  # what is wired failed: the fixture answers FAULT
            self.errors.append(f"{name} port {port}: {exc!r}")
            result = Result.FAULT
        if result is Result.DONE and name != "RIG_DISPLAY_REQ":
            self._send_status(port)  # before the ack: the host's readback is current on ack
        elif result is Result.FAULT:
            self._send_heartbeat()  # before the ack: the host knows which fault
        self._send("RIG_ACK", {"Seq": seq, "CommandId": frame_id, "Result": int(result)})

    def _apply(self, name: str, port: int, fields: dict[str, float], seq: int) -> Result:
        with self._lock:
            if not 1 <= port <= self.port_count:
                return Result.UNKNOWN_PORT
            if self._fault is not None and self._fault[1] in (0, port):
                return Result.FAULT
            target = self.ports.setdefault(port, PortTarget())
            if name == "RIG_SUPPLY_CMD":
                target.apply_supply(bool(fields["OutputOn"]), float(fields["Voltage"]))
            elif name == "RIG_USB_CMD":
                target.apply_usb(bool(fields["DataLines"]), bool(fields["Vbus"]))
            elif name == "RIG_ATTENUATION_CMD":
                target.apply_attenuation(float(fields["Attenuation"]))
            elif name == "RIG_BUTTON_CMD":
                target.press(int(fields["Button"]), int(fields["DurationMs"]))
            elif name == "RIG_DISPLAY_REQ":
                shown = target.display()
                self._send(
                    "RIG_DISPLAY",
                    {
                        "Seq": seq,
                        "Port": port,
                        "Digits": len(shown) if shown else 0,
                        "Value": int(shown) if shown else 0,
                    },
                )
            return Result.DONE


def virtual_rig(
    ports: dict[int, PortTarget] | None = None, channel: str | None = None
) -> tuple[EmulatedRig, RigController]:
    """An emulated fixture and a controller on a fresh python-can ``virtual`` channel (in
    this process). Close both (controller first) when done."""
    channel = channel or f"diahil-rig-{uuid.uuid4().hex[:12]}"
    rig = EmulatedRig(can.Bus(interface="virtual", channel=channel), ports)
    controller = RigController(can.Bus(interface="virtual", channel=channel), owns_bus=True)
    return rig, controller


__all__ = [
    "LINK_LOSS_DB",
    "BlePeripheralTarget",
    "EmulatedRig",
    "PortTarget",
    "UsbDeviceTarget",
    "virtual_rig",
]
