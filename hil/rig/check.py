"""``diahil rig check``: is everything rig.toml names there and answering?

Checks, in order, and reports each item as present or missing with what to do:

- the CAN fixture: the bus opens, a heartbeat arrives, no fault is reported, and it has the
  ports rig.toml wires devices to (each port's readback: supply, data lines, VBUS);
- each device on its URL: ``usb:VID:PID[:SERIAL]`` enumerates on USB with rig.toml's serial,
  ``usbip://HOST:PORT/BUSID`` is exported by that server, ``ble:ADDRESS`` is advertising;
- the cloud answers HTTP.

The probes (USB backend, Bluetooth scan, CAN bus, HTTP transport) are the real ones by default
and can be given, so the same check runs against an emulated rig in tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import can
import httpx

from hil.rig.config import CanConfig, DeviceConfig, RigConfig
from hil.rig.controller import RigController, RigError, open_bus
from uploader.errors import UploaderError


@dataclass(frozen=True)
class CheckItem:
    """One thing the rig should have: present (``ok``) or not, and what was found or to do."""

    what: str
    ok: bool
    detail: str


@dataclass
class RigCheckReport:
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def missing(self) -> list[CheckItem]:
        return [item for item in self.items if not item.ok]

    def render(self) -> str:
        lines = [f"{'ok     ' if i.ok else 'MISSING'} {i.what}: {i.detail}" for i in self.items]
        if self.ok:
            lines.append(f"All {len(self.items)} items present.")
        else:
            names = ", ".join(item.what for item in self.missing)
            lines.append(f"{len(self.missing)} of {len(self.items)} missing: {names}")
        return "\n".join(lines)


BleScan = Callable[[float], set[str]]
"""Scan for ``seconds``; the addresses (upper case) that advertised."""


@dataclass
class Probes:
    """How the check reaches the world (None: the real thing)."""

    usb_backend: Any = None
    ble_scan: BleScan | None = None
    open_can: Callable[[CanConfig], can.BusABC] = open_bus
    http_transport: httpx.BaseTransport | None = None
    ble_transport: str | None = None  # a Bumble HCI transport for the default scan


def check_rig(
    config: RigConfig, probes: Probes | None = None, *, scan_seconds: float = 5.0
) -> RigCheckReport:
    """Check every item of ``config``; never raises for a missing item."""
    probes = probes or Probes()
    report = RigCheckReport()
    ports: dict[int, str] = {}
    if config.can is None:
        report.items.append(
            CheckItem("CAN fixture", True, "none in rig.toml (rig faults will be skipped)")
        )
    else:
        report.items.append(_check_can(config.can, probes, config, ports))
    report.items.extend(_check_devices(config, probes, ports, scan_seconds))
    if config.cloud is not None:
        report.items.append(_check_cloud(config.cloud.url, probes))
    return report


def _check_can(
    can_config: CanConfig, probes: Probes, config: RigConfig, ports: dict[int, str]
) -> CheckItem:
    what = f"CAN fixture ({can_config.interface}:{can_config.channel})"
    try:
        bus = probes.open_can(can_config)
    except RigError as exc:
        return CheckItem(what, False, str(exc))
    controller = RigController(
        bus,
        ack_timeout_s=can_config.ack_timeout_s,
        heartbeat_timeout_s=can_config.heartbeat_timeout_s,
        owns_bus=True,
    )
    with controller:
        try:
            beat = controller.heartbeat()
        except RigError as exc:
            return CheckItem(what, False, str(exc))
        wanted = sorted({d.port for d in config.devices.values() if d.port is not None})
        beyond = [p for p in wanted if p > beat.port_count]
        if beyond:
            return CheckItem(
                what,
                False,
                f"the fixture has {beat.port_count} ports, rig.toml wires devices to port(s) "
                f"{', '.join(map(str, beyond))}: fix the port mapping",
            )
        for port in wanted:
            try:
                status = controller.port_status(port)
            except RigError as exc:
                ports[port] = f"no readback ({exc})"
                continue
            ports[port] = (
                f"port {port}: supply {'on' if status.output_on else 'OFF'} "
                f"{status.voltage:.2f} V, data lines {'on' if status.data_lines else 'OFF'}, "
                f"VBUS {'on' if status.vbus else 'OFF'}, {status.attenuation_db:g} dB"
            )
    return CheckItem(
        what,
        True,
        f"heartbeat ok, {beat.port_count} ports, protocol {beat.protocol_version}, "
        f"up {beat.uptime_s} s",
    )


def _check_devices(
    config: RigConfig, probes: Probes, ports: dict[int, str], scan_seconds: float
) -> list[CheckItem]:
    items: list[CheckItem] = []
    ble = {n: d for n, d in config.devices.items() if d.url.startswith("ble")}
    advertising: set[str] | None = None
    scan_error: str | None = None
    if ble:
        try:
            advertising = (probes.ble_scan or _default_scan(probes))(scan_seconds)
        except (UploaderError, OSError) as exc:
            scan_error = str(exc)
    for name, device in config.devices.items():
        what = f"device {name} ({device.kind}, {device.url})"
        wiring = f" [{ports[device.port]}]" if device.port in ports else ""
        if device.url.startswith("ble"):
            found, detail = _ble_present(device, advertising, scan_error, scan_seconds)
        elif device.url.startswith("usbip://"):
            found, detail = _usbip_present(device)
        else:
            found, detail = _usb_present(device, probes)
        if not found and device.port is not None:
            detail += f"; it should be on fixture port {device.port}"
        items.append(CheckItem(what, found, detail + wiring))
    return items


def _usb_present(device: DeviceConfig, probes: Probes) -> tuple[bool, str]:
    from uploader.transports.usb import default_backend, find_devices

    parts = device.url.split(":")
    vid = int(parts[1], 16) if len(parts) > 1 else None
    pid = int(parts[2], 16) if len(parts) > 2 else None
    serial = parts[3] if len(parts) > 3 else device.serial
    try:
        backend = probes.usb_backend or default_backend()
        found = find_devices(
            backend, lambda v, p: (vid is None or v == vid) and (pid is None or p == pid)
        )
    except UploaderError as exc:
        return False, str(exc)
    for info in found:
        if info.serial_number == serial:
            return True, f"on USB bus {info.bus} address {info.address}, serial {serial}"
    others = ", ".join(sorted(str(i.serial_number) for i in found)) or "none"
    return False, (
        f"not on USB (serial {serial}; devices of that kind present: {others}). Plug it in "
        "with a data cable (a charge-only cable or switched-off data lines show nothing)"
    )


def _usbip_present(device: DeviceConfig) -> tuple[bool, str]:
    from uploader.transports.usbip import list_exported, parse_usbip_url

    try:
        address = parse_usbip_url(device.url)
        exported = list_exported(address.host, address.port, timeout_s=3.0)
    except (UploaderError, OSError) as exc:
        return False, f"the USB/IP server does not answer: {exc}"
    busids = [d.busid for d in exported]
    if address.busid in busids:
        return True, f"exported by {address.host}:{address.port} as {address.busid}"
    return False, (
        f"{address.host}:{address.port} does not export {address.busid} (it exports: "
        f"{', '.join(busids) or 'nothing'}); bind it there with `usbip bind -b BUSID`"
    )


def _ble_present(
    device: DeviceConfig, advertising: set[str] | None, error: str | None, seconds: float
) -> tuple[bool, str]:
    if advertising is None:
        return False, f"cannot scan for it: {error}"
    address = device.url.partition(":")[2].upper()
    if not address:
        return False, "no address in its URL: give ble:ADDRESS"
    if address in advertising:
        return True, f"advertising (serial {device.serial} expected)"
    return False, (
        f"not advertising within {seconds:g} s: wake it (press its button), bring it in "
        "range (attenuation 0 dB), check its battery or bench supply"
    )


def _default_scan(probes: Probes) -> BleScan:
    def scan(seconds: float) -> set[str]:
        from uploader.transports.ble import BleStack
        from uploader.transports.ble import scan as ble_scan

        async def run() -> set[str]:
            stack = BleStack.open(probes.ble_transport, None)
            try:
                return {a.address.upper() for a in await ble_scan(stack, seconds)}
            finally:
                await stack.close()

        return asyncio.run(run())

    return scan


def _check_cloud(url: str, probes: Probes) -> CheckItem:
    what = f"cloud ({url})"
    try:
        with httpx.Client(transport=probes.http_transport, timeout=5.0) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return CheckItem(
            what, False, f"does not answer ({exc.__class__.__name__}: {exc}); check the URL"
        )
    if response.status_code >= 500:
        return CheckItem(what, False, f"answers {response.status_code}: the server is failing")
    return CheckItem(what, True, f"answers HTTP {response.status_code}")
