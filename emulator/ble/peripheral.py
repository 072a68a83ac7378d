"""What every emulated BLE medical peripheral shares: power, advertising, the pairing
display, the security gate, paced notifications and indications, faults on the link.

Written against the Bluetooth Core specification (GAP advertising, ATT/GATT, SMP) as Bumble
implements it, and the health profiles' security rules (see ``emulator.ble.security``). A
subclass supplies its services (``_services``) and the 16-bit UUID it advertises; this
class turns it into a connectable, bondable device on an ``Air``:

- it advertises the service UUID and its complete name (connectable, undirected, every
  20 ms) and advertises again after each disconnection;
- the Device Information Service (0x180A) with manufacturer, model number, serial number
  and firmware revision strings is readable by anyone;
- characteristics built with ``_secured_value`` and CCCDs from ``_secured_cccd`` answer ATT
  error 0x05 unless the link is encrypted with an authenticated key;
- ``notify``/``indicate`` wait the quirk's connection interval before each packet, so a
  slow link is slow where a real one is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bumble import att, gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.keys import MemoryKeyStore
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.transport.common import AsyncPipeSink

from emulator.ble.air import ADVERTISING_INTERVAL_MS, Air
from emulator.ble.link_cut import CuttableController
from emulator.ble.security import (
    DisplayPairingDelegate,
    LinkSecurity,
    PasskeyDisplay,
    pairing_config,
)
from emulator.ble.uuids import CLIENT_CHARACTERISTIC_CONFIGURATION
from emulator.faults import FaultPlan

logger = logging.getLogger(__name__)

CCCD_NOTIFY = 0x01
CCCD_INDICATE = 0x02

ReadHandler = Callable[[Connection], bytes]
WriteHandler = Callable[[Connection, bytes], Awaitable[None]]


class BlePeripheral:
    """Base of ``GlsMeter`` and ``CgmSensor``: one device on the air, at a fixed address."""

    advertised_service: UUID
    manufacturer = "diahil"

    def __init__(
        self,
        *,
        name: str,
        address: str,
        passkey: int | None,
        faults: FaultPlan | None,
        connection_interval_ms: float,
    ) -> None:
        if passkey is not None and not 0 <= passkey <= 999_999:
            raise ValueError(f"a passkey is 6 digits (0..999999), got {passkey}")
        self.name = name
        self.address = address
        self.passkey = passkey
        self.faults = faults if faults is not None else FaultPlan()
        self._interval_s = connection_interval_ms / 1000
        self._screen = PasskeyDisplay()
        self._keystore = MemoryKeyStore()
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._air: Air | None = None
        self._security: LinkSecurity | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How the device waits between packets (a test may record the pauses)."""

    # ---- identity, for the control endpoint and tests -------------------------------------

    @property
    def serial_number(self) -> str:
        raise NotImplementedError

    @property
    def model_number(self) -> str:
        raise NotImplementedError

    @property
    def firmware_revision(self) -> str:
        raise NotImplementedError

    def identity(self) -> dict[str, str]:
        return {
            "name": self.name,
            "address": self.address,
            "manufacturer": self.manufacturer,
            "model": self.model_number,
            "serial_number": self.serial_number,
            "firmware": self.firmware_revision,
        }

    # ---- the display ----------------------------------------------------------------------

    @property
    def display(self) -> str | None:
        """The 6-digit passkey on the device's display (zero-padded), or None."""
        return self._screen.shown

    async def wait_display(self, timeout: float = 5.0) -> str:
        """The passkey once the display shows one (waits up to ``timeout`` seconds)."""
        return await self._screen.wait(timeout)

    # ---- power ----------------------------------------------------------------------------

    @property
    def device(self) -> Device:
        if self._device is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._device

    @property
    def data_packets(self) -> int:
        """LE data packets that crossed the radio link since power-on (0 when off)."""
        controller = self._controller
        return controller.data_packets if isinstance(controller, CuttableController) else 0

    @property
    def running(self) -> bool:
        return self._device is not None

    async def start(self, air: Air) -> None:
        """Power on, on ``air``: serve the GATT database and advertise, connectable."""
        if self._device is not None:
            raise RuntimeError(f"{self.name} is already started")
        controller = air.cuttable_controller(self.name, self.address, self.faults)
        device = Device.with_hci(
            self.name, Address(self.address), controller, AsyncPipeSink(controller)
        )
        device.keystore = self._keystore
        self._device, self._controller, self._air = device, controller, air
        self._security = LinkSecurity(device, self._screen)
        device.pairing_config_factory = lambda connection: pairing_config(
            DisplayPairingDelegate(self._screen, self.passkey, self.faults.reject_pairing)
        )
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        device.add_services(
            [*self._services(), self._device_information(), *self._extra_services()]
        )
        await device.power_on()
        await device.start_advertising(
            advertising_data=self._advertising_data(),
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    async def stop(self) -> None:
        """Power off: drop every link, stop advertising, leave the air."""
        device, controller, air = self._device, self._controller, self._air
        if device is None or controller is None or air is None:
            return
        for task in list(self._tasks):
            task.cancel()
        await air.switch_off(device, controller)
        self._device = self._controller = self._air = self._security = None
        self._screen.clear()

    # ---- what subclasses provide --------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        raise NotImplementedError

    def _extra_services(self) -> list[gatt.Service]:
        return []

    def _on_link(self, connection: Connection) -> None:
        """A new link (subclasses add per-link state)."""

    def _on_link_lost(self, connection: Connection) -> None:
        """A link went down."""

    # ---- GATT building blocks -----------------------------------------------------------------

    def _device_information(self) -> gatt.Service:
        return DeviceInformationService(
            manufacturer_name=self.manufacturer,
            model_number=self.model_number,
            serial_number=self.serial_number,
            firmware_revision=self.firmware_revision,
        )

    def _advertising_data(self) -> bytes:
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),  # LE general discoverable, no BR/EDR
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        bytes(self.advertised_service),
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                ]
            )
        )

    async def _require(self, connection: Connection) -> None:
        if self._security is None:
            raise att.ATT_Error(att.ErrorCode.UNLIKELY_ERROR)
        await self._security.require(connection)

    def _secured_value(
        self, read: ReadHandler | None = None, write: WriteHandler | None = None
    ) -> gatt.CharacteristicValue[bytes]:
        """A characteristic value behind the security gate (0x05 unless authenticated);
        without ``read`` a read answers Read Not Permitted, without ``write`` a write
        answers Write Not Permitted."""

        async def on_read(connection: Connection) -> bytes:
            await self._require(connection)
            if read is None:
                raise att.ATT_Error(att.ErrorCode.READ_NOT_PERMITTED)
            return read(connection)

        async def on_write(connection: Connection, value: bytes) -> None:
            await self._require(connection)
            if write is None:
                raise att.ATT_Error(att.ErrorCode.WRITE_NOT_PERMITTED)
            await write(connection, bytes(value))

        return gatt.CharacteristicValue(read=on_read, write=on_write)

    def _secured_characteristic(
        self,
        uuid: UUID,
        properties: gatt.Characteristic.Properties,
        read: ReadHandler | None = None,
        write: WriteHandler | None = None,
    ) -> gatt.Characteristic[bytes]:
        """A characteristic behind the security gate, with a gated CCCD if it notifies or
        indicates (Bumble would otherwise add an open one)."""
        characteristic: gatt.Characteristic[bytes] = gatt.Characteristic(
            uuid,
            properties,
            gatt.Characteristic.Permissions.READABLE | gatt.Characteristic.Permissions.WRITEABLE,
            self._secured_value(read, write),
        )
        if properties & (gatt.Characteristic.NOTIFY | gatt.Characteristic.INDICATE):
            characteristic.descriptors = [self._secured_cccd(characteristic)]
        return characteristic

    def _secured_cccd(self, characteristic: gatt.Characteristic[bytes]) -> gatt.Descriptor:
        server = self.device.gatt_server

        def connection_of(bearer: att.Bearer) -> Connection:
            return bearer.connection if att.is_enhanced_bearer(bearer) else bearer

        async def on_read(bearer: att.Bearer) -> bytes:
            await self._require(connection_of(bearer))
            return server.read_cccd(bearer, characteristic)

        async def on_write(bearer: att.Bearer, value: bytes) -> None:
            await self._require(connection_of(bearer))
            server.write_cccd(bearer, characteristic, bytes(value))

        return gatt.Descriptor(
            CLIENT_CHARACTERISTIC_CONFIGURATION,
            gatt.Descriptor.Permissions.READABLE | gatt.Descriptor.Permissions.WRITEABLE,
            att.AttributeValueV2(read=on_read, write=on_write),
        )

    def subscribed(
        self, connection: Connection, characteristic: gatt.Characteristic[bytes], *, indicate: bool
    ) -> bool:
        """Has this link enabled indications (or notifications) on ``characteristic``?"""
        cccd = self.device.gatt_server.subscribers.get(connection, {}).get(characteristic.handle)
        bits = CCCD_INDICATE if indicate else CCCD_NOTIFY
        if cccd is None or len(cccd) != 2:
            return False
        return bool(struct.unpack("<H", cccd)[0] & bits)

    # ---- sending ------------------------------------------------------------------------------

    async def _pace(self) -> None:
        await self.sleep(self._interval_s)  # 0: still lets the other side's writes in

    async def notify(
        self, connection: Connection, characteristic: gatt.Characteristic[bytes], value: bytes
    ) -> None:
        await self._pace()
        await self.device.notify_subscriber(connection, characteristic, value)

    async def indicate(
        self,
        connection: Connection,
        characteristic: gatt.Characteristic[bytes],
        value: bytes,
        sending: Callable[[], None] | None = None,
    ) -> None:
        """Indicate ``value`` and wait for the confirmation; ``sending`` is called just
        before it goes out (a procedure ends there: the collector may answer at once)."""
        await self._pace()
        if sending is not None:
            sending()
        await self.device.indicate_subscriber(connection, characteristic, value)

    async def drop_link(self, connection: Connection) -> None:
        """The device ends the connection (a fault, or a failed pairing)."""
        with contextlib.suppress(Exception):
            await connection.disconnect()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coroutine`` in the background; its errors are logged, it ends with ``stop``."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is not None:
                logger.warning("%s: background task failed", self.name, exc_info=error)

        task.add_done_callback(done)
        return task

    # ---- links ----------------------------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        assert self._security is not None
        self._security.track(connection)

        def on_pairing_failure(reason: int) -> None:
            # A real meter gives up on a failed pairing and drops the link.
            self.spawn(self.drop_link(connection))

        def on_disconnection(reason: int) -> None:
            self._on_link_lost(connection)

        connection.on(Connection.EVENT_PAIRING_FAILURE, on_pairing_failure)
        connection.on(Connection.EVENT_DISCONNECTION, on_disconnection)
        self._on_link(connection)
