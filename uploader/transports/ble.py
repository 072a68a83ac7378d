"""Bluetooth LE transport over bleak: scan, connect and pair, GATT reads/writes/notifications.

The uploader reaches Bluetooth devices only through bleak, on one of two stacks:

- the operating system's (BlueZ, WinRT, CoreBluetooth), for real devices; on Linux a BlueZ
  pairing agent asks the passkey provider for the code (``uploader.transports.bluez_agent``);
- the project's bleak backend on a Bumble central (``uploader.transports.bleak_bumble``),
  for an HCI dongle on a bench, an emulator process (``tcp-client:...``) or an in-process
  emulated radio handed in by the test harness.

bleak's and the stacks' errors are translated once, here, into the uploader's error types.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError

from uploader.errors import (
    BluetoothUnavailable,
    DeviceAccessDenied,
    DeviceCommunicationError,
    DeviceDisconnected,
    DeviceTimeout,
    PairingFailed,
    UploaderError,
)
from uploader.pairing import PasskeyProvider
from uploader.transports.bleak_bumble import BumbleClient, BumblePairingError, BumbleScanner
from uploader.transports.bumble_central import BumbleCentral, HciEndpoint

INSUFFICIENT_AUTHENTICATION = 0x05
INSUFFICIENT_ENCRYPTION = 0x0F
_BLUEZ_AUTH_ERRORS = (
    "org.bluez.Error.AuthenticationFailed",
    "org.bluez.Error.AuthenticationCanceled",
    "org.bluez.Error.AuthenticationRejected",
    "org.bluez.Error.AuthenticationTimeout",
)


class GattError(DeviceCommunicationError):
    """The device answered a GATT request with an ATT error code."""

    def __init__(self, att_code: int, message: str) -> None:
        super().__init__(message)
        self.att_code = att_code


GattCapture = Callable[[str, str, bytes | None], None]
"""Told each GATT operation (``read``, ``write``, ``notify``), its characteristic and bytes."""


class BleStack:
    """Which stack bleak uses; ``close`` releases it. ``capture``, if set, is told every GATT
    operation of the links opened through it (support bundles)."""

    def __init__(self, central: BumbleCentral | None = None) -> None:
        self.central = central
        self.capture: GattCapture | None = None

    @classmethod
    def open(cls, transport: str | HciEndpoint | None, keystore_path: Path | None) -> BleStack:
        """The OS stack for ``None``; otherwise a Bumble central on that HCI transport."""
        if transport is None:
            return cls()
        return cls(BumbleCentral(transport, keystore_path=keystore_path))

    @property
    def description(self) -> str:
        return self.central.description if self.central else "the system's Bluetooth"

    def scanner_kwargs(self) -> dict[str, Any]:
        if self.central is None:
            return {}
        return {"backend": BumbleScanner, "central": self.central}

    def client_kwargs(self) -> dict[str, Any]:
        if self.central is None:
            return {}
        return {"backend": BumbleClient, "central": self.central}

    async def close(self) -> None:
        if self.central is not None:
            await self.central.close()


@dataclass(frozen=True)
class Advertisement:
    address: str
    name: str | None
    rssi: int | None
    service_uuids: tuple[str, ...]
    device: BLEDevice = field(repr=False, compare=False)


def _unavailable(stack: BleStack, exc: BaseException) -> BluetoothUnavailable:
    return BluetoothUnavailable(f"Bluetooth is not available through {stack.description} ({exc}).")


async def scan(
    stack: BleStack,
    timeout_s: float,
    service_uuids: list[str] | None = None,
    until: Callable[[Advertisement], bool] | None = None,
) -> list[Advertisement]:
    """Devices advertising within ``timeout_s`` (with one of ``service_uuids``, if given),
    strongest first; ``until`` ends the scan early at the first advertisement it accepts."""
    enough = asyncio.Event()

    def seen(device: BLEDevice, adv: Any) -> None:
        found = Advertisement(device.address, adv.local_name or device.name, adv.rssi, (), device)
        if until is not None and until(found):
            enough.set()

    try:
        scanner = BleakScanner(seen, service_uuids=service_uuids, **stack.scanner_kwargs())
        await scanner.start()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enough.wait(), timeout_s)
        finally:
            await scanner.stop()
    except (BleakError, OSError) as exc:
        raise _unavailable(stack, exc) from exc
    except Exception as exc:  # a stack that cannot start (no adapter, no D-Bus, dongle gone)
        if type(exc).__module__.startswith(("bumble", "dbus_fast")):
            raise _unavailable(stack, exc) from exc
        raise
    return sorted(
        (
            Advertisement(
                address=device.address,
                name=adv.local_name or device.name,
                rssi=adv.rssi,
                service_uuids=tuple(adv.service_uuids),
                device=device,
            )
            for device, adv in scanner.discovered_devices_and_advertisement_data.values()
        ),
        key=lambda a: -(a.rssi or -999),
    )


def translate(error: BaseException, doing: str) -> UploaderError:
    """The uploader error for a bleak error raised while ``doing`` something."""
    if isinstance(error, UploaderError):
        return error
    if isinstance(error, BumblePairingError) and isinstance(error.reason, UploaderError):
        return error.reason
    if isinstance(error, BumblePairingError) or (
        isinstance(error, BleakDBusError) and error.dbus_error in _BLUEZ_AUTH_ERRORS
    ):
        return PairingFailed(f"Pairing with the device failed ({error}).")
    if isinstance(error, BleakGATTProtocolError):
        if error.code in (INSUFFICIENT_AUTHENTICATION, INSUFFICIENT_ENCRYPTION):
            return DeviceAccessDenied(
                f"The device refused access while {doing}: the link is not paired "
                "(ATT insufficient authentication).",
                hint="Pair with the device (the upload does it when given the passkey) and retry.",
            )
        return GattError(
            error.code,
            f"The device answered with ATT error 0x{error.code:02X} while {doing} ({error}).",
        )
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return DeviceTimeout(f"The device did not answer in time while {doing}.")
    return DeviceDisconnected(f"The Bluetooth link failed while {doing} ({error}).")


class BleLink:
    """A connected (and, if needed, paired) device, with notifications as queues."""

    def __init__(self, client: BleakClient, label: str, capture: GattCapture | None = None) -> None:
        self.client = client
        self.label = label
        self.capture = capture
        self.disconnected = asyncio.Event()
        self._events: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    @classmethod
    async def open(
        cls,
        stack: BleStack,
        target: Advertisement,
        passkey: PasskeyProvider | None,
        timeout_s: float = 20.0,
    ) -> BleLink:
        label = f"{target.name or 'the device'} ({target.address})"
        agent = None
        if stack.central is not None:
            stack.central.passkey_provider = passkey
            stack.central.peer_label = label
        elif passkey is not None and sys.platform.startswith("linux"):
            from uploader.transports.bluez_agent import register_agent

            try:
                agent = await register_agent(passkey)
            except Exception as exc:  # no system bus, BlueZ not running, agent refused
                raise BluetoothUnavailable(
                    f"BlueZ could not take a pairing agent, so the device's code cannot be "
                    f"entered ({exc})."
                ) from exc
        link: BleLink | None = None

        def on_disconnect(_client: BleakClient) -> None:
            if link is not None:
                link.disconnected.set()

        client = BleakClient(
            target.device,
            disconnected_callback=on_disconnect,
            timeout=timeout_s,
            pair=passkey is not None,
            **stack.client_kwargs(),
        )
        try:
            await client.connect()
        except Exception as exc:
            raise translate(exc, f"connecting to {label}") from exc
        finally:
            if agent is not None:
                await agent.close()
        link = cls(client, label, stack.capture)
        return link

    def has(self, uuid: str) -> bool:
        return self.client.services.get_characteristic(uuid) is not None

    async def read(self, uuid: str) -> bytes:
        try:
            value = bytes(await self.client.read_gatt_char(uuid))
        except Exception as exc:
            raise translate(exc, f"reading {_short(uuid)}") from exc
        if self.capture is not None:
            self.capture("read", uuid, value)
        return value

    async def write(self, uuid: str, data: bytes, response: bool = True) -> None:
        if self.capture is not None:
            self.capture("write", uuid, bytes(data))
        try:
            await self.client.write_gatt_char(uuid, data, response=response)
        except Exception as exc:
            raise translate(exc, f"writing {_short(uuid)}") from exc

    async def subscribe(self, uuid: str) -> None:
        """Deliver ``uuid``'s notifications/indications to ``next_event``, in arrival order."""
        events = self._events
        capture = self.capture

        def notified(_characteristic: Any, data: bytearray) -> None:
            if capture is not None:
                capture("notify", uuid, bytes(data))
            events.put_nowait((uuid, bytes(data)))

        try:
            await self.client.start_notify(uuid, notified)
        except Exception as exc:
            raise translate(exc, f"subscribing to {_short(uuid)}") from exc

    async def next_event(self, timeout_s: float, doing: str) -> tuple[str, bytes]:
        """The next (characteristic, value) notified, in order; clear errors on silence or loss."""
        queue = self._events
        if not queue.empty():
            return queue.get_nowait()
        if self.disconnected.is_set():
            raise DeviceDisconnected(f"The device disconnected while {doing}.")
        getter = asyncio.ensure_future(queue.get())
        lost = asyncio.ensure_future(self.disconnected.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, lost}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        if lost in done:
            raise DeviceDisconnected(f"The device disconnected while {doing}.")
        raise DeviceTimeout(f"The device sent nothing for {timeout_s:.0f} s while {doing}.")

    async def close(self) -> None:
        """Disconnect; never fails."""
        with contextlib.suppress(Exception):
            await self.client.disconnect()


def _short(uuid: str) -> str:
    return f"0x{uuid[4:8].upper()}" if uuid.endswith("-0000-1000-8000-00805f9b34fb") else uuid
