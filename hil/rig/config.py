"""``rig.toml``: what a bench rig has, parsed with tomllib and validated with pydantic.

A rig is a host with devices under test, a CAN-attached fixture (docs/bench.md specifies it)
and a cloud. ``rig.toml`` names them::

    name = "bench-3"

    [can]
    interface = "socketcan"   # any python-can interface: socketcan, pcan, kvaser, virtual, ...
    channel = "can0"
    bitrate = 500000           # optional; the fixture's bus runs at 500 kbit/s

    [cloud]
    url = "https://int-api.tidepool.org"

    [devices.meter]
    kind = "contour-usb"
    url = "usb:1a79:7410:7390-2336773"   # the uploader's DEVICE argument
    serial = "7390-2336773"
    port = 1                              # the fixture port it is wired to

Every table rejects keys it does not know, so a typo gets an error naming the key
(``devices.meter.seriall``) instead of being ignored.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

#: The fixture's ports (docs/bench.md): each has USB data and VBUS switches, a bench-supply
#: output, a button actuator, a display reader and a BLE attenuator channel.
FIXTURE_PORTS = 8

DeviceKind = Literal["contour-usb", "gls-meter", "cgm", "ids-pump", "minimed-600"]

#: The transport each device kind uses (its URL must match).
KIND_TRANSPORT: dict[str, str] = {
    "contour-usb": "usb",
    "minimed-600": "usb",
    "gls-meter": "ble",
    "cgm": "ble",
    "ids-pump": "ble",
}

_USB_URL = re.compile(r"^usb(:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:\S+)?)?$")
_USBIP_URL = re.compile(r"^usbip://\S+/\d+-\d+(\.\d+)*$")
_BLE_URL = re.compile(r"^ble(:([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})?$")


class RigConfigError(Exception):
    """rig.toml could not be read or is not valid; the message names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanConfig(_Strict):
    """The CAN bus the fixture sits on: a python-can interface and channel."""

    interface: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    bitrate: int | None = Field(default=None, gt=0)
    #: Extra keyword arguments for ``can.Bus`` (interface-specific, e.g. ``receive_own_messages``).
    options: dict[str, Any] = Field(default_factory=dict)
    #: How long a command waits for the fixture's acknowledgement.
    ack_timeout_s: float = Field(default=0.25, gt=0)
    #: How long without a heartbeat before the fixture counts as gone.
    heartbeat_timeout_s: float = Field(default=0.5, gt=0)


class CloudConfig(_Strict):
    """The cloud the bench uploads to."""

    url: str = Field(pattern=r"^https?://\S+$")


class DeviceConfig(_Strict):
    """One device under test on the bench."""

    kind: DeviceKind
    #: How the uploader reaches it: ``usb:VID:PID:SERIAL``, ``usbip://HOST:PORT/BUSID`` or
    #: ``ble:ADDRESS`` (the uploader's DEVICE argument).
    url: str
    serial: str = Field(min_length=1)
    #: The fixture port it is wired to (USB switches, supply, button, display, attenuator).
    port: Annotated[int, Field(ge=1, le=FIXTURE_PORTS)] | None = None
    #: Firmware the bench expects (checked against what the device reports, if given).
    firmware: str | None = None
    #: A fixed pairing passkey; None: the fixture reads it off the device's display.
    passkey: Annotated[int, Field(ge=0, le=999_999)] | None = None
    #: Bluetooth through a Bumble transport (``usb:0``, ``tcp-client:HOST:PORT``); None: the
    #: system's Bluetooth stack. (Used by the pytest plugin, hil/targets_plugin.py.)
    ble_transport: str | None = Field(default=None, min_length=1)
    #: An emulator's control endpoint (``http://HOST:PORT``: display, ledger) when the bench
    #: "device" is an emulator process; the plugin then reads codes and the ledger there.
    control: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @field_validator("url")
    @classmethod
    def _url_shape(cls, url: str) -> str:
        if _USB_URL.match(url) or _USBIP_URL.match(url) or _BLE_URL.match(url):
            return url
        raise ValueError(
            f"expected usb:VID:PID[:SERIAL], usbip://HOST:PORT/BUSID or ble:ADDRESS, got {url!r}"
        )

    @property
    def transport(self) -> str:
        """``usb`` (pyusb, also over USB/IP) or ``ble``."""
        return "ble" if self.url.startswith("ble") else "usb"


class RigConfig(_Strict):
    """A bench rig: its CAN fixture, its cloud and its devices (by name)."""

    name: str = "rig"
    can: CanConfig | None = None
    cloud: CloudConfig | None = None
    devices: dict[str, DeviceConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RigConfig:
        ports: dict[int, str] = {}
        for name, device in self.devices.items():
            wanted = KIND_TRANSPORT[device.kind]
            if device.transport != wanted:
                raise ValueError(
                    f"devices.{name}.url: a {device.kind} is reached over {wanted}, "
                    f"got {device.url!r}"
                )
            if device.port is not None:
                if device.port in ports:
                    raise ValueError(
                        f"devices.{name}.port: port {device.port} is already "
                        f"devices.{ports[device.port]}'s"
                    )
                ports[device.port] = name
        return self

    def device(self, name: str) -> DeviceConfig:
        """The device called ``name``; KeyError naming the ones there are."""
        try:
            return self.devices[name]
        except KeyError:
            raise KeyError(
                f"no device {name!r} in the rig (it has: {', '.join(self.devices) or 'none'})"
            ) from None

    def of_kind(self, kind: str) -> list[tuple[str, DeviceConfig]]:
        """The devices of ``kind``, by name."""
        return [(name, d) for name, d in self.devices.items() if d.kind == kind]


def _describe(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: not a valid rig file:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        kind = item["type"]
        if kind == "extra_forbidden":
            message = "unknown key (a typo?)"
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        if kind == "value_error" and message.startswith("devices."):
            lines.append(f"  {message}")
        else:
            lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_rig(text: str, path: Path = Path("rig.toml")) -> RigConfig:
    """Parse rig.toml text; RigConfigError naming the line (syntax) or the key (content)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RigConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return RigConfig.model_validate(data)
    except ValidationError as exc:
        raise RigConfigError(_describe(exc, path)) from None


def load_rig(path: str | Path) -> RigConfig:
    """Read and validate a rig.toml; RigConfigError (clear message) for anything wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RigConfigError(
            f"{path}: no such rig file (see docs/bench.md and examples/rig.toml)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RigConfigError(f"{path}: cannot read the rig file: {exc}") from None
    return parse_rig(text, path)
