"""Detection: from a DEVICE selector to the driver of the one device it names.

USB: enumerate through the pyusb backend and match vendor/product ids (and serial). Bluetooth:
scan through the chosen stack for devices advertising a supported service (and matching the
address or name). Zero or several matches are clear errors that list what was seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bumble.snoop import Snooper

from uploader.device_spec import BleSelector, DeviceSelector, UsbipSelector, UsbSelector
from uploader.drivers import detect_usb
from uploader.drivers.base import Driver
from uploader.drivers.cgms import CgmsDriver
from uploader.drivers.gls import GlsDriver
from uploader.drivers.ids_pump import IdsPumpDriver
from uploader.drivers.tslim_x2 import TandemCodeStore, TslimX2Driver
from uploader.errors import AmbiguousDevice, DeviceNotFound
from uploader.pairing import CodeProvider, PasskeyProvider
from uploader.transports.ble import Advertisement, BleStack, GattCapture, scan
from uploader.transports.bumble_central import HciEndpoint
from uploader.transports.usb import UsbBackend, default_backend
from uploader.transports.usbip import UsbipBackend

BLE_DRIVERS: dict[
    str, Callable[[BleStack, Advertisement, PasskeyProvider | None, float], Driver]
] = {
    GlsDriver.service: GlsDriver,
    CgmsDriver.service: CgmsDriver,
    IdsPumpDriver.service: IdsPumpDriver,
    TslimX2Driver.service: TslimX2Driver,
}
BLE_FAMILIES = (
    "Bluetooth glucose meters (GLS), continuous glucose monitors (CGMS), insulin pumps (IDS, "
    "Tandem t:slim X2)"
)


@dataclass
class DetectOptions:
    usb_backend: UsbBackend | None
    device_timeout_ms: int
    ble_transport: str | HciEndpoint | None
    ble_keystore: Path | None
    ble_scan_timeout_s: float
    passkey: PasskeyProvider | None
    usb_wrap: Callable[[UsbBackend], UsbBackend] | None = None
    """Wraps the chosen pyusb backend (a support bundle's capture of the USB exchange)."""
    ble_capture: GattCapture | None = None
    """Told every GATT read, write and notification (a support bundle's capture)."""
    ble_snooper: Snooper | None = None
    """Handed every HCI packet on the Bumble central (``--capture FILE``); the OS stack has none."""
    pairing_code: CodeProvider | None = None
    """The code a device shows that is not a 6-digit passkey (Tandem t:slim X2)."""
    tandem_codes: Path | None = None
    """Where the codes t:slim X2 pumps accepted are kept (a reconnect needs no new pairing)."""


async def detect(
    selector: DeviceSelector, options: DetectOptions
) -> tuple[Driver, BleStack | None]:
    """The driver for the device ``selector`` names, and the Bluetooth stack it needs closed."""
    if isinstance(selector, UsbSelector):
        backend: UsbBackend
        if isinstance(selector, UsbipSelector) and selector.address is not None:
            backend = UsbipBackend(selector.address)  # the URL names the transport
        elif options.usb_backend is not None:
            backend = options.usb_backend
        else:
            backend = default_backend()
        if options.usb_wrap is not None:
            backend = options.usb_wrap(backend)
        driver = await asyncio.to_thread(detect_usb, selector, backend, options.device_timeout_ms)
        return driver, None
    stack = BleStack.open(options.ble_transport, options.ble_keystore)
    stack.capture = options.ble_capture
    if stack.central is not None:
        stack.central.snooper = options.ble_snooper
    try:
        target = await find_ble(selector, stack, options.ble_scan_timeout_s)
    except BaseException:
        await stack.close()
        raise
    service = next(s for s in target.service_uuids if s in BLE_DRIVERS)
    timeout_s = options.device_timeout_ms / 1000
    if service == TslimX2Driver.service:
        codes = TandemCodeStore(options.tandem_codes)
        tslim = TslimX2Driver(stack, target, None, timeout_s, options.pairing_code, codes)
        return tslim, stack
    return BLE_DRIVERS[service](stack, target, options.passkey, timeout_s), stack


def _supported(ad: Advertisement) -> bool:
    return any(s in BLE_DRIVERS for s in ad.service_uuids)


async def find_ble(selector: BleSelector, stack: BleStack, timeout_s: float) -> Advertisement:
    named = selector.address is not None or selector.name is not None

    def wanted(ad: Advertisement) -> bool:
        return selector.matches(ad.address, ad.name)

    seen = await scan(stack, timeout_s, until=wanted if named else None)
    matches = [ad for ad in seen if wanted(ad) and _supported(ad)]
    if not matches:
        near = ", ".join(f"{ad.name or '?'} ({ad.address})" for ad in seen[:5]) or "nothing"
        raise DeviceNotFound(
            f"No {'device ' + str(selector)[4:] if named else 'supported device'} is advertising "
            f"through {stack.description} (seen: {near}; supported: {BLE_FAMILIES}).",
            hint="Wake the device and put it in pairing or sync mode, keep it near, and try again.",
        )
    if len(matches) > 1 and not named:
        listed = "; ".join(f"ble:{ad.address} ({ad.name or 'unnamed'})" for ad in matches)
        raise AmbiguousDevice(
            f"{len(matches)} supported devices are advertising: {listed}.",
            hint="Name one as ble:ADDRESS or ble:NAME.",
        )
    return matches[0]
