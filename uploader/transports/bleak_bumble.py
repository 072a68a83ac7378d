"""A bleak backend on a Bumble central: plain bleak code reaches Bumble's Bluetooth stack.

``BleakScanner(backend=BumbleScanner, central=central)`` and
``BleakClient(device, backend=BumbleClient, central=central, pair=True)`` behave as with
the operating system's stack, but the radio is whatever the ``BumbleCentral`` is attached
to: an in-process emulated link, an emulator process over TCP, or an HCI dongle. bleak has
no pairing-agent API, so this backend takes the central's passkey provider, and reports a
failed pairing as ``BumblePairingError`` (a ``BleakError``).

Implements bleak's ``BaseBleakScanner`` and ``BaseBleakClient`` contracts (bleak 3.1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import hci
from bumble.att import ATT_Error
from bumble.core import UUID, AdvertisingData, BaseBumbleError
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import Characteristic

from uploader.transports.bumble_central import BumbleCentral

_PROPERTIES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}
_SERVICE_LISTS = (
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


class BumblePairingError(BleakError):
    """Pairing failed: wrong passkey, refused by the device, or no passkey available.
    ``reason`` is the passkey provider's own error, when it was the one that failed."""

    def __init__(self, message: str, reason: Exception | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def _cancelled_by_us() -> bool:
    """True when the running task itself is being cancelled (a timeout, Ctrl-C); False when
    a ``CancelledError`` came from Bumble aborting a wait because the link dropped
    (``Connection.cancel_on_disconnection``), which is a disconnection, not a cancel."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def uuid_string(uuid: UUID) -> str:
    """A Bumble UUID in bleak's form: lower-case 128-bit with dashes."""
    return str(uuid.to_hex_str("-")).lower() if len(uuid.uuid_bytes) == 16 else _expand(uuid)


def _expand(uuid: UUID) -> str:
    short = int.from_bytes(uuid.uuid_bytes, "little")
    return f"{short:08x}-0000-1000-8000-00805f9b34fb"


def _central(kwargs: dict[str, Any]) -> BumbleCentral:
    central = kwargs.get("central")
    if not isinstance(central, BumbleCentral):
        raise BleakError("the Bumble backend needs central=BumbleCentral(...)")
    return central


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = _central(kwargs)
        self._active = scanning_mode != "passive"
        self._listening = False

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        uuids: list[str] = []
        for kind in _SERVICE_LISTS:
            listed = data.get(kind)
            if isinstance(listed, list):
                uuids += [uuid_string(u) for u in listed if isinstance(u, UUID)]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME
        )
        local_name = name if isinstance(name, str) else None
        manufacturer: dict[int, bytes] = {}
        for raw in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA, raw=True):
            manufacturer[int.from_bytes(raw[:2], "little")] = bytes(raw[2:])
        tx_power = data.get(AdvertisingData.TX_POWER_LEVEL)
        advertisement_data = AdvertisementData(
            local_name=local_name,
            manufacturer_data=manufacturer,
            service_data={},
            service_uuids=uuids,
            tx_power=tx_power if isinstance(tx_power, int) else None,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = advertisement.address.to_string(with_type_qualifier=False)
        device = self.create_or_update_device(
            str(advertisement.address),
            address,
            local_name,
            advertisement.address,
            advertisement_data,
        )
        self.call_detection_callbacks(device, advertisement_data)

    async def start(self) -> None:
        self.seen_devices = {}
        device = await self._central.device()
        device.on("advertisement", self._on_advertisement)
        self._listening = True
        await device.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        if not self._listening:
            return
        self._listening = False
        device = await self._central.device()
        device.remove_listener("advertisement", self._on_advertisement)
        await device.stop_scanning()


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._central = _central(kwargs)
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._target: hci.Address | None = details if isinstance(details, hci.Address) else None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        device = await self._central.device()
        target = self._target or hci.Address(self.address)
        try:
            self._connection = await device.connect(target, timeout=self._timeout)
        except BaseBumbleError as exc:
            raise BleakDeviceNotFoundError(self.address, f"could not connect: {exc}") from exc
        self._connection.on("disconnection", self._on_disconnection)
        try:
            await self._secure(pair)
            self._peer = Peer(self._connection)
            await self._peer.request_mtu(247)
            await self._peer.discover_services()
            self.services = await self._collect_services(self._peer)
        except asyncio.CancelledError as exc:
            await self.disconnect()
            if _cancelled_by_us():
                raise
            raise BleakError(f"the link dropped while connecting ({exc})") from None
        except BaseException:
            # A half-open link keeps a peripheral connected and silent: always drop it.
            await self.disconnect()
            raise

    async def _secure(self, pair: bool) -> None:
        connection = self._connection
        assert connection is not None
        if await self._central.is_bonded(str(connection.peer_address)):
            try:
                await connection.encrypt()
                return
            except BaseBumbleError:
                # The peer lost its bond (reset, re-paired elsewhere): pair afresh if allowed.
                await self._central.forget(str(connection.peer_address))
                if not pair:
                    raise BumblePairingError("the device no longer knows this bond") from None
        if pair:
            await self.pair()

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _collect_services(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            bleak_service = BleakGATTService(service, service.handle, uuid_string(service.uuid))
            collection.add_service(bleak_service)
            await service.discover_characteristics()
            for characteristic in service.characteristics:
                properties = [
                    n for flag, n in _PROPERTIES.items() if characteristic.properties & flag
                ]
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    uuid_string(characteristic.uuid),
                    properties,  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in await characteristic.discover_descriptors():
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor,
                            descriptor.handle,
                            uuid_string(descriptor.type),
                            bleak_characteristic,
                        )
                    )
        return collection

    async def disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._peer = None
        if connection is not None:
            with contextlib.suppress(BaseBumbleError):  # already gone
                await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        connection = self._require()
        self._central.passkey_error = None
        try:
            await connection.pair()
        except BaseBumbleError as exc:
            reason = self._central.passkey_error
            raise BumblePairingError(f"pairing failed: {reason or exc}", reason) from exc
        if not connection.authenticated and self._central.passkey_provider is not None:
            raise BumblePairingError("pairing did not authenticate the link")

    async def unpair(self) -> None:
        if self._target is not None:
            await self._central.forget(str(self._target))
        await self.disconnect()

    def _require(self) -> Connection:
        if self._connection is None:
            raise BleakError(f"not connected to {self.address}")
        return self._connection

    async def _gatt(self, operation: Any) -> Any:
        self._require()
        try:
            return await operation
        except ATT_Error as exc:
            raise BleakGATTProtocolError(int(exc.error_code)) from exc
        except BaseBumbleError as exc:
            raise BleakError(f"GATT operation failed: {exc}") from exc
        except asyncio.CancelledError as exc:
            if _cancelled_by_us():
                raise
            raise BleakError(f"the link dropped during a GATT operation ({exc})") from None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._gatt(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._gatt(descriptor.obj.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        await self._gatt(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._gatt(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = deliver
        await self._gatt(
            characteristic.obj.subscribe(
                deliver, prefer_notify="notify" in characteristic.properties
            )
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        deliver = self._subscriptions.pop(characteristic.handle, None)
        if self._connection is not None:
            await self._gatt(characteristic.obj.unsubscribe(deliver))
