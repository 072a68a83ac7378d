"""What a bench offers the pytest plugin: its devices and rig capabilities, from ``rig.toml``.

rig.toml is read and validated by ``hil.rig.config.load_rig`` (format in docs/bench.md);
this is the plugin's view of it: the device of each kind (its DEVICE url, serial for the
device lock, fixed passkey, the Bumble ``ble_transport`` when the bench's Bluetooth is not
the system's, and an emulator's ``control`` URL when a bench "device" is an emulator
process), its fixture ``port`` (whose display reader gives the pairing passkey when there is
no fixed one), and the rig capabilities markers ask for. A ``[can]`` fixture provides every
capability (each fixture port has the USB switches, supply, button, display reader and
attenuator, docs/bench.md); a rig without one provides none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from hil.rig.config import CanConfig, DeviceKind, RigConfigError, load_rig

DEVICE_KIND_NAMES: dict[str, str] = {
    "contour-usb": "a Contour USB glucose meter",
    "gls-meter": "a Bluetooth glucose meter (Glucose Service)",
    "cgm": "a Bluetooth CGM (CGM Service)",
    "ids-pump": "a Bluetooth insulin pump (Insulin Delivery Service)",
    "minimed-600": "a MiniMed 600-series pump through a Contour Next Link 2.4",
}
DEVICE_KINDS: dict[str, str] = {
    kind: DEVICE_KIND_NAMES.get(kind, kind) for kind in get_args(DeviceKind)
}
"""The device kinds markers may name (rig.toml's kinds)."""

RIG_CAPABILITIES: dict[str, str] = {
    "can": "a CAN-attached rig fixture",
    "power": "a bench supply standing in for the battery",
    "vbus": "VBUS switched per USB port",
    "usb-data": "USB data lines switched per port",
    "attenuation": "a BLE attenuator",
    "button": "button actuators",
    "display": "a display reader (pairing codes)",
}
"""Rig capabilities a test can ask for with ``@pytest.mark.rig(...)``."""


class RigFileError(Exception):
    """rig.toml cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class BenchDevice:
    name: str
    kind: str
    url: str
    serial: str
    firmware: str | None = None
    ble_transport: str | None = None
    passkey: int | None = None
    control: str | None = None
    port: int | None = None

    @property
    def lock_key(self) -> str:
        """What identifies the physical device: its serial number."""
        return self.serial


@dataclass(frozen=True)
class BenchRig:
    path: Path
    name: str
    devices: list[BenchDevice] = field(default_factory=list)
    capabilities: frozenset[str] = frozenset()
    can: CanConfig | None = None
    """The fixture's CAN bus (rig.toml's ``[can]``), None when the rig has no fixture."""

    def device_of_kind(self, kind: str) -> BenchDevice | None:
        return next((d for d in self.devices if d.kind == kind), None)


def load_bench(path: Path) -> BenchRig:
    """The plugin's view of the rig file ``path`` (raises ``RigFileError``)."""
    try:
        config = load_rig(path)
    except RigConfigError as error:
        raise RigFileError(str(error)) from None
    devices = [
        BenchDevice(
            name=name,
            kind=device.kind,
            url=device.url,
            serial=device.serial,
            firmware=device.firmware,
            ble_transport=device.ble_transport,
            passkey=device.passkey,
            control=device.control,
            port=device.port,
        )
        for name, device in config.devices.items()
    ]
    capabilities = frozenset(RIG_CAPABILITIES) if config.can is not None else frozenset()
    return BenchRig(
        path=path,
        name=config.name,
        devices=devices,
        capabilities=capabilities,
        can=config.can,
    )
