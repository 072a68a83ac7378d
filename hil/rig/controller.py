"""The rig host's side of the fixture protocol (``rig.dbc``, docs/bench.md) over python-can.

``RigController`` sends commands (supply, USB switches, attenuation, button, display read),
waits for each one's RIG_ACK (matched by sequence number and command id) within its deadline,
and keeps the latest heartbeat and per-port readback. Any python-can interface works: the
interface and channel come from rig.toml (``[can]``), or a test passes an open bus.

Errors are typed and say what to do: ``RigUnavailable`` (no bus, no heartbeat, no
acknowledgement), ``RigFault`` (the fixture reports a fault), ``RigCommandRejected`` (a
value out of range or a port the fixture does not have).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import can
from cantools.database.errors import EncodeError

from hil.rig.config import CanConfig
from hil.rig.dbc import (
    DISPLAY_DEADLINE_S,
    FaultCode,
    FixtureState,
    Result,
    decode_frame,
    rig_database,
)


class RigError(Exception):
    """A rig command failed; ``command`` names it (``usb port 1 data=off vbus=on``)."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class RigUnavailable(RigError):
    """The fixture cannot be reached: no CAN bus, no heartbeat or no acknowledgement."""


class RigFault(RigError):
    """The fixture reports a fault (its heartbeat's fault status, or a command's result)."""

    def __init__(
        self, message: str, code: FaultCode, port: int | None, command: str | None = None
    ) -> None:
        super().__init__(message, command)
        self.code = code
        self.port = port


class RigCommandRejected(RigError):
    """The command was refused: a value out of range or a port the fixture does not have."""


@dataclass(frozen=True)
class Heartbeat:
    counter: int
    state: FixtureState
    fault: FaultCode
    fault_port: int
    port_count: int
    protocol_version: int
    uptime_s: int
    received_at: float


@dataclass(frozen=True)
class PortStatus:
    """RIG_PORT_STATUS: what the fixture measures on one port."""

    port: int
    output_on: bool
    data_lines: bool
    vbus: bool
    voltage: float
    current_ma: float
    attenuation_db: float


def open_bus(config: CanConfig) -> can.BusABC:
    """A python-can bus for rig.toml's ``[can]``; RigUnavailable saying what to check."""
    kwargs: dict[str, Any] = dict(config.options)
    if config.bitrate is not None:
        kwargs["bitrate"] = config.bitrate
    try:
        return can.Bus(interface=config.interface, channel=config.channel, **kwargs)
    except (can.CanError, OSError, ValueError, ImportError) as exc:
        raise RigUnavailable(
            f"cannot open CAN interface {config.interface!r} channel {config.channel!r}: "
            f"{exc}. Check that the adapter is plugged in and up (for SocketCAN: "
            f"`ip link set {config.channel} up type can bitrate {config.bitrate or 500000}`) "
            "and that rig.toml's [can] names it."
        ) from exc


class RigController:
    """Commands to the bench fixture, each acknowledged or failed with a typed error."""

    def __init__(
        self,
        bus: can.BusABC,
        *,
        ack_timeout_s: float = 0.25,
        heartbeat_timeout_s: float = 0.5,
        display_timeout_s: float = DISPLAY_DEADLINE_S * 2,
        owns_bus: bool = False,
    ) -> None:
        self._bus = bus
        self._owns_bus = owns_bus
        self.ack_timeout_s = ack_timeout_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.display_timeout_s = display_timeout_s
        self._db = rig_database()
        self._seq = itertools.count(1)
        self._lock = threading.Condition()
        self._acks: dict[tuple[int, int], Result] = {}
        self._displays: dict[int, str | None] = {}
        self._heartbeat: Heartbeat | None = None
        self._ports: dict[int, PortStatus] = {}
        self._notifier = can.Notifier(bus, [self._on_message], timeout=0.05)

    @classmethod
    def open(cls, config: CanConfig) -> RigController:
        """A controller on the bus rig.toml names (closing it closes the bus)."""
        return cls(
            open_bus(config),
            ack_timeout_s=config.ack_timeout_s,
            heartbeat_timeout_s=config.heartbeat_timeout_s,
            owns_bus=True,
        )

    def close(self) -> None:
        self._notifier.stop()
        if self._owns_bus:
            self._bus.shutdown()

    def __enter__(self) -> RigController:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- receiving ----------------------------------------------------------------------

    def _on_message(self, message: can.Message) -> None:
        decoded = decode_frame(message.arbitration_id, bytes(message.data))
        if decoded is None:
            return  # frames of other nodes on a shared bus are not ours
        name, fields = decoded
        with self._lock:
            if name == "RIG_ACK":
                key = (int(fields["Seq"]), int(fields["CommandId"]))
                self._acks[key] = Result(int(fields["Result"]))
            elif name == "RIG_DISPLAY":
                digits = int(fields["Digits"])
                text = f"{int(fields['Value']):0{digits}d}" if digits else None
                self._displays[int(fields["Seq"])] = text
            elif name == "RIG_HEARTBEAT":
                self._heartbeat = Heartbeat(
                    counter=int(fields["Counter"]),
                    state=FixtureState(int(fields["State"])),
                    fault=FaultCode(int(fields["FaultCode"])),
                    fault_port=int(fields["FaultPort"]),
                    port_count=int(fields["PortCount"]),
                    protocol_version=int(fields["ProtocolVersion"]),
                    uptime_s=int(fields["UptimeS"]),
                    received_at=time.monotonic(),
                )
            elif name == "RIG_PORT_STATUS":
                port = int(fields["Port"])
                self._ports[port] = PortStatus(
                    port=port,
                    output_on=bool(fields["OutputOn"]),
                    data_lines=bool(fields["DataLines"]),
                    vbus=bool(fields["Vbus"]),
                    voltage=float(fields["VoltageReadback"]),
                    current_ma=float(fields["CurrentReadback"]),
                    attenuation_db=float(fields["Attenuation"]),
                )
            self._lock.notify_all()

    # ---- heartbeat and status -----------------------------------------------------------

    def heartbeat(self, timeout: float | None = None) -> Heartbeat:
        """A heartbeat no older than the heartbeat timeout (waits for one).

        RigUnavailable if none arrives; RigFault if the fixture reports a fault."""
        limit = self.heartbeat_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._lock:
            while True:
                beat = self._heartbeat
                if beat is not None and time.monotonic() - beat.received_at <= limit:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RigUnavailable(
                        f"no heartbeat from the rig fixture within {limit:g} s: check its "
                        "power, the CAN cabling and termination (120 ohm at both ends), and "
                        "the bitrate (500 kbit/s)"
                    )
                self._lock.wait(remaining)
        if beat.state is FixtureState.FAULT:
            raise _fault(beat.fault, beat.fault_port)
        return beat

    def port_status(self, port: int, timeout: float = 1.5) -> PortStatus:
        """The latest readback of ``port`` (waits up to ``timeout`` for the first one)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while port not in self._ports:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RigUnavailable(
                        f"no status from fixture port {port} within {timeout:g} s: is "
                        "anything wired to it?"
                    )
                self._lock.wait(remaining)
            return self._ports[port]

    # ---- commands -----------------------------------------------------------------------

    def set_supply(self, port: int, *, on: bool, voltage: float) -> None:
        """The bench supply on ``port`` (standing in for the battery): on/off and volts."""
        self._command(
            "RIG_SUPPLY_CMD",
            {"Port": port, "OutputOn": int(on), "Voltage": voltage},
            f"supply port {port} {'on' if on else 'off'} {voltage:g} V",
        )

    def set_battery_voltage(self, port: int, voltage: float) -> None:
        """Supply on at ``voltage`` (a battery at that voltage)."""
        self.set_supply(port, on=True, voltage=voltage)

    def power_off(self, port: int) -> None:
        """Supply off: the battery is out."""
        self.set_supply(port, on=False, voltage=0.0)

    def set_usb(self, port: int, *, data: bool, vbus: bool) -> None:
        """USB switches on ``port``: data lines and VBUS (data off, VBUS on: charge-only)."""
        self._command(
            "RIG_USB_CMD",
            {"Port": port, "DataLines": int(data), "Vbus": int(vbus)},
            f"usb port {port} data={'on' if data else 'off'} vbus={'on' if vbus else 'off'}",
        )

    def set_attenuation(self, port: int, db: float) -> None:
        """RF attenuation between ``port``'s device and the rig's BLE adapter."""
        self._command(
            "RIG_ATTENUATION_CMD",
            {"Port": port, "Attenuation": db},
            f"attenuate port {port} {db:g} dB",
        )

    def press(self, port: int, duration_ms: int, button: int = 0) -> None:
        """Press button ``button`` of ``port``'s device for ``duration_ms``."""
        self._command(
            "RIG_BUTTON_CMD",
            {"Port": port, "Button": button, "DurationMs": duration_ms},
            f"press port {port} button {button} for {duration_ms} ms",
        )

    def read_display(self, port: int) -> str | None:
        """What ``port``'s display shows, as digits (the pairing passkey), or None if blank."""
        seq = self._command(
            "RIG_DISPLAY_REQ", {"Port": port}, f"read display port {port}", self.display_timeout_s
        )
        with self._lock:
            return self._displays.pop(seq, None)

    def _command(
        self, name: str, values: dict[str, float], what: str, timeout: float | None = None
    ) -> int:
        spec = self._db.get_message_by_name(name)
        seq = next(self._seq) % 256
        try:
            data = spec.encode({"Seq": seq, **values})
        except EncodeError as exc:
            raise RigCommandRejected(
                f"{what}: out of the fixture's range ({exc}); see docs/bench.md for each "
                "signal's range",
                what,
            ) from None
        with self._lock:
            self._acks.pop((seq, spec.frame_id), None)
        try:
            self._bus.send(
                can.Message(arbitration_id=spec.frame_id, data=data, is_extended_id=False)
            )
        except can.CanError as exc:
            raise RigUnavailable(
                f"{what}: the CAN bus refused the frame ({exc}); check the adapter and cabling",
                what,
            ) from exc
        limit = self.ack_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._lock:
            while (seq, spec.frame_id) not in self._acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RigUnavailable(
                        f"{what}: the fixture did not acknowledge within {limit:g} s; "
                        "nothing is known to have changed. Check `diahil rig check` "
                        "(heartbeat, CAN cabling)",
                        what,
                    )
                self._lock.wait(remaining)
            result = self._acks.pop((seq, spec.frame_id))
        if result is Result.DONE:
            return seq
        if result is Result.FAULT:
            beat = self._heartbeat
            code = beat.fault if beat is not None else FaultCode.NONE
            raise _fault(code, values.get("Port"), what)
        if result is Result.UNKNOWN_PORT:
            raise RigCommandRejected(
                f"{what}: the fixture has no port {int(values['Port'])}; check the port "
                "mapping in rig.toml",
                what,
            )
        if result is Result.DISPLAY_UNREADABLE:
            raise RigFault(
                f"{what}: the display reader could not read the display; check the camera's "
                "aim and lighting (or the debug UART)",
                FaultCode.DISPLAY_READER,
                int(values["Port"]),
                what,
            )
        raise RigCommandRejected(f"{what}: the fixture answered {result.name.lower()}", what)


def _fault(code: FaultCode, port: float | None, command: str | None = None) -> RigFault:
    where = f" on port {int(port)}" if port else ""
    advice = {
        FaultCode.SUPPLY_OVERCURRENT: "the device draws too much: check it and its wiring",
        FaultCode.SUPPLY_UNDERVOLTAGE: "the bench supply cannot hold its voltage",
        FaultCode.OVER_TEMPERATURE: "let the fixture cool down",
        FaultCode.ATTENUATOR: "check the attenuator and its RF cables",
        FaultCode.ACTUATOR_JAMMED: "free the button actuator",
        FaultCode.DISPLAY_READER: "check the display reader",
    }.get(code, "see the fixture's log")
    prefix = f"{command}: " if command else ""
    return RigFault(
        f"{prefix}the rig fixture reports a fault{where}: {code.name.lower()} ({advice}); "
        "the fixture stays in fault until it is cleared on the fixture",
        code,
        int(port) if port else None,
        command,
    )
