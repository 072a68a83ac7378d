"""A Bluetooth LE peripheral that answers as a recorded device did (``diahil replay``).

Built from an HCI capture (btsnoop or pcapng, ``emulator.replay.hci_capture``) of a host
talking to the device, read at the ATT level (``emulator.replay.att_recording``), it:

- advertises as the recorded device: its address and the advertising and scan response
  data the host received from it;
- serves the GATT database the host discovered (services, characteristics with their
  properties, descriptors; the recorded handles when the recording's database has no gaps,
  as Bumble numbers attributes in order);
- pairs with LE Secure Connections and a passkey it displays: the recorded passkey cannot
  be recovered from SMP (that is its point), so the replay is given a fixed one;
- answers the host's requests in the recorded order: a read with the recorded value, a
  write checked byte by byte against the recorded one, a recorded ATT error as that error,
  and after each, the notifications and indications the device sent next, and the link
  dropped where the device dropped it; a pairing the device refused is refused again.

The first request that differs from the recording (another attribute, another operation,
or other bytes) is the divergence: it is kept with the request number, the attribute
(recorded handle and UUID), the first differing byte and both values, and is answered
with ATT error 0x0E (Unlikely Error) as is every request after it, so the host fails at
that request. Connection handles, timing and discovery order need not match.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from bumble import att, gatt
from bumble.controller import Controller
from bumble.core import UUID
from bumble.device import Connection, Device, DeviceConfiguration
from bumble.hci import Address
from bumble.keys import MemoryKeyStore
from bumble.transport.common import AsyncPipeSink

from emulator.ble.air import ADVERTISING_INTERVAL_MS, Air
from emulator.ble.security import DisplayPairingDelegate, PasskeyDisplay, pairing_config
from emulator.replay.att_recording import CCCD, AttRecording, Exchange, Sent, att_recording
from emulator.replay.hci_capture import CaptureError, HciCapture, read_capture

logger = logging.getLogger(__name__)

REMOTE_USER_TERMINATED = 0x13
DISCONNECT_REASONS = frozenset({0x05, 0x13, 0x14, 0x15, 0x1A, 0x29, 0x3B})
"""The reasons HCI Disconnect accepts (Core Vol 4 Part E 7.1.6); others become 0x13."""
Operation = Literal["read", "write", "write-command"]


@dataclass(frozen=True)
class Divergence:
    """The first request of the host that the recording does not have."""

    request: int
    """Its number among the host's requests (reads and writes, from 1)."""
    attribute: str
    """The attribute the recording expected, ``handle 0x0018 (UUID 2a52)``."""
    offset: int | None
    """The first byte that differs, when both are writes to the same attribute."""
    expected: str
    got: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "attribute": self.attribute,
            "offset": self.offset,
            "expected": self.expected,
            "got": self.got,
            "message": self.message,
        }


def _first_difference(expected: bytes, got: bytes) -> int:
    for index, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return index
    return min(len(expected), len(got))


def _describe(kind: Operation, attribute: str) -> str:
    return {"read": "a read of", "write": "a write to", "write-command": "a write command to"}[
        kind
    ] + f" {attribute}"


class BleReplay:
    """One recorded device, replayed on an ``Air``."""

    def __init__(
        self,
        capture: HciCapture,
        recording: AttRecording,
        *,
        passkey: int,
        address: str | None = None,
        name: str = "replayed device",
    ) -> None:
        if not 0 <= passkey <= 999_999:
            raise ValueError(f"a passkey is 6 digits (0..999999), got {passkey}")
        if address is None:
            if not capture.connected_to:
                raise CaptureError(
                    "The capture has no connection to a device (no LE Connection Complete): "
                    "nothing to replay."
                )
            address = capture.connected_to[-1][0]
        if not recording.exchanges and not recording.pairing_refused:
            raise CaptureError("The capture has no ATT reads or writes of the device to replay.")
        peer = capture.advertising.get(address)
        self.address = address
        self.random_address = peer.random if peer else True
        self.advertising_data = peer.advertising_data if peer else b""
        self.scan_response = peer.scan_response if peer else b""
        self.name = name
        self.passkey = passkey
        self.recording = recording
        self.divergence: Divergence | None = None
        self.served = 0
        self.finished = asyncio.Event()
        """Set once every recorded request was answered, or at the divergence."""
        self._screen = PasskeyDisplay()
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._air: Air | None = None
        self._attributes: dict[int, gatt.Characteristic[bytes]] = {}
        self._long_read: tuple[int, bytes, int] | None = None
        """(handle, value, Read Blob requests still to come) after a value longer than
        one ATT PDU: the stack asks for the rest, and each part is the same recorded read."""
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_file(cls, path: Path, *, passkey: int, address: str | None = None) -> BleReplay:
        capture = read_capture(path)
        return cls(capture, att_recording(capture), passkey=passkey, address=address)

    @property
    def display(self) -> str | None:
        return self._screen.shown

    @property
    def total(self) -> int:
        return len(self.recording.exchanges)

    @property
    def complete(self) -> bool:
        return self.divergence is None and self.served == self.total

    def report(self) -> str:
        """One paragraph for the user: replayed completely, or where the host diverged."""
        if self.divergence is not None:
            return f"Divergence at request {self.divergence.request}: {self.divergence.message}"
        if self.complete and self.total == 0:
            return "The recorded device refused pairing; the replay refused it too."
        if self.complete:
            return f"Replayed all {self.total} recorded requests; the host matched every byte."
        return (
            f"The host stopped after {self.served} of {self.total} recorded requests "
            f"(next expected: {self._expected_text(self.recording.exchanges[self.served])})."
        )

    def _expected_text(self, exchange: Exchange) -> str:
        text = _describe(exchange.kind, self.recording.name(exchange.handle))
        return text + (f" of {exchange.value.hex()}" if exchange.kind != "read" else "")

    # ---- the GATT database ---------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        services = []
        for service in self.recording.services:
            characteristics = []
            for recorded in service.characteristics:
                characteristic: gatt.Characteristic[bytes] = gatt.Characteristic(
                    UUID(recorded.uuid),
                    gatt.Characteristic.Properties(recorded.properties),
                    gatt.Characteristic.Permissions.READABLE
                    | gatt.Characteristic.Permissions.WRITEABLE,
                    self._value(recorded.handle),
                )
                characteristic.descriptors = [
                    gatt.Descriptor(
                        UUID(d.uuid),
                        gatt.Descriptor.Permissions.READABLE
                        | gatt.Descriptor.Permissions.WRITEABLE,
                        self._descriptor(
                            d.handle, characteristic if d.uuid == f"{CCCD:04x}" else None
                        ),
                    )
                    for d in recorded.descriptors
                ]
                self._attributes[recorded.handle] = characteristic
                characteristics.append(characteristic)
            services.append(gatt.Service(UUID(service.uuid), characteristics))
        return services

    def _value(self, handle: int) -> gatt.CharacteristicValue[bytes]:
        async def on_read(connection: Connection) -> bytes:
            return self._answer(connection, "read", handle, b"")

        async def on_write(connection: Connection, value: bytes) -> None:
            kind: Operation = "write"  # Bumble does not say; a command differs only in reply
            self._answer(connection, kind, handle, bytes(value))

        return gatt.CharacteristicValue(read=on_read, write=on_write)

    def _descriptor(
        self, handle: int, cccd_of: gatt.Characteristic[bytes] | None
    ) -> att.AttributeValueV2[bytes]:
        def connection_of(bearer: att.Bearer) -> Connection:
            return bearer.connection if att.is_enhanced_bearer(bearer) else bearer

        async def on_read(bearer: att.Bearer) -> bytes:
            return self._answer(connection_of(bearer), "read", handle, b"")

        async def on_write(bearer: att.Bearer, value: bytes) -> None:
            self._answer(connection_of(bearer), "write", handle, bytes(value))
            if cccd_of is not None:
                self.device.gatt_server.write_cccd(bearer, cccd_of, bytes(value))

        return att.AttributeValueV2(read=on_read, write=on_write)

    # ---- answering -----------------------------------------------------------------------

    def _answer(self, connection: Connection, kind: Operation, handle: int, got: bytes) -> bytes:
        """The recorded answer to this request, or the divergence (raised as an ATT error)."""
        if self.divergence is not None:
            raise att.ATT_Error(att.ErrorCode.UNLIKELY_ERROR, handle)
        long_read, self._long_read = self._long_read, None
        if long_read is not None and kind == "read" and long_read[0] == handle:
            if long_read[2] > 1:
                self._long_read = (handle, long_read[1], long_read[2] - 1)
            return long_read[1]  # Bumble sends the part the Read Blob asked for
        number = self.served + 1
        name = self.recording.name
        if self.served >= self.total:
            self._diverged(
                number, name(handle), None, "", got.hex(),
                f"the host sent {_describe(kind, name(handle))} after the recording's last "
                f"request ({self.total}).",
            )  # fmt: skip
        expected = self.recording.exchanges[self.served]
        wanted = expected.kind if expected.kind != "write-command" else "write"
        if wanted != kind or self.recording.key(expected.handle) != self.recording.key(handle):
            self._diverged(
                number, name(expected.handle), None,
                expected.value.hex() if expected.kind != "read" else "", got.hex(),
                f"the recording has {self._expected_text(expected)}; the host sent "
                f"{_describe(kind, name(handle))}" + (f" of {got.hex()}." if got else "."),
            )  # fmt: skip
        if kind == "write" and got != expected.value:
            offset = _first_difference(expected.value, got)
            at = (
                f"byte {offset} is 0x{got[offset]:02X}, the recording has "
                f"0x{expected.value[offset]:02X}"
                if offset < min(len(got), len(expected.value))
                else f"the host wrote {len(got)} bytes, the recording has {len(expected.value)}"
            )
            self._diverged(
                number, name(handle), offset, expected.value.hex(), got.hex(),
                f"write to {name(handle)}: {at} (expected {expected.value.hex()}, "
                f"got {got.hex()}).",
            )  # fmt: skip
        self.served += 1
        if expected.then:
            self._spawn(self._send(connection, list(expected.then)))
        elif self.served == self.total:
            self.finished.set()
        if expected.error is not None:
            raise att.ATT_Error(expected.error, handle)
        part = connection.att_mtu - 1
        if kind == "read" and len(expected.value) >= part:
            self._long_read = (handle, expected.value, len(expected.value) // part)
        return expected.value if kind == "read" else b""

    def _diverged(
        self, number: int, attribute: str, offset: int | None, expected: str, got: str, text: str
    ) -> NoReturn:
        self.divergence = Divergence(number, attribute, offset, expected, got, text)
        logger.info("replay diverged at request %d: %s", number, text)
        self.finished.set()
        raise att.ATT_Error(att.ErrorCode.UNLIKELY_ERROR)

    async def _send(self, connection: Connection, sent: list[Sent]) -> None:
        await asyncio.sleep(0)  # the write's response goes out first
        for item in sent:
            if item.kind == "drop":  # the recorded device ended the link here
                reason = item.value[0] if item.value else REMOTE_USER_TERMINATED
                with contextlib.suppress(Exception):
                    await connection.disconnect(
                        reason=reason if reason in DISCONNECT_REASONS else REMOTE_USER_TERMINATED
                    )
                break
            characteristic = self._attributes.get(item.handle)
            if characteristic is None:
                logger.warning("recorded value on unknown handle 0x%04X not sent", item.handle)
            elif item.kind == "notify":
                await self.device.notify_subscriber(connection, characteristic, item.value)
            else:
                await self.device.indicate_subscriber(connection, characteristic, item.value)
        if self.served == self.total:
            self.finished.set()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.warning("replay could not send a recorded value: %s", finished.exception())

        task.add_done_callback(done)

    # ---- power ---------------------------------------------------------------------------

    @property
    def device(self) -> Device:
        if self._device is None:
            raise RuntimeError("the replay is not started")
        return self._device

    async def start(self, air: Air) -> None:
        """Power on, on ``air``: serve the recorded database and advertise as the device."""
        controller = air.controller(self.name, self.address)
        address = Address(
            self.address,
            Address.RANDOM_DEVICE_ADDRESS if self.random_address else Address.PUBLIC_DEVICE_ADDRESS,
        )
        config = DeviceConfiguration(
            name=self.name, address=address, gap_service_enabled=False, gatt_service_enabled=False
        )
        device = Device.from_config_with_hci(config, controller, AsyncPipeSink(controller))
        device.keystore = MemoryKeyStore()
        device.pairing_config_factory = lambda _connection: pairing_config(
            DisplayPairingDelegate(
                self._screen, self.passkey, lambda: self.recording.pairing_refused
            )
        )
        self._device, self._controller, self._air = device, controller, air
        device.add_services(self._services())
        await device.power_on()
        await device.start_advertising(
            advertising_data=self.advertising_data,
            scan_response_data=self.scan_response or None,
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    async def stop(self) -> None:
        device, air, controller = self._device, self._air, self._controller
        if device is None or air is None or controller is None:
            return
        for task in list(self._tasks):
            task.cancel()
        await air.switch_off(device, controller)
        self._device = self._controller = self._air = None
