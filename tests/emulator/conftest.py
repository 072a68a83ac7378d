"""Fixtures for the emulator's BLE tests: a stepped clock and a minimal Bumble central.

The central is plain Bumble (``Device`` and ``Peer``), not the uploader: the emulator is
tested with the smallest client that speaks the protocol, so its tests stay independent of
the host-side implementation. Test modules get it through fixtures and name its type only
under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta

import pytest
from bumble import att
from bumble.core import UUID
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address
from bumble.keys import MemoryKeyStore
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import TransportSink, TransportSource

from emulator.ble import Air
from emulator.ble.uuids import (
    GLUCOSE_MEASUREMENT,
    RECORD_ACCESS_CONTROL_POINT,
)

PasskeySource = Callable[[], Awaitable[int | None]]


class SteppedTime:
    """A time source that moves only when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def step(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class _Keyboard(PairingDelegate):
    """The collector's user: reads the code from ``source`` and types it."""

    def __init__(self, source: PasskeySource) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY)
        self._source = source

    async def get_number(self) -> int | None:
        return await self._source()


class Central:
    """A Bumble central with a keyboard (or, with ``keyboard=False``, nothing: Just Works)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.passkey: PasskeySource | None = None
        self.keyboard = True
        device.keystore = MemoryKeyStore()
        device.pairing_config_factory = self._pairing_config

    @classmethod
    async def open(
        cls, source: TransportSource, sink: TransportSink, address: str = "C0:FF:EE:00:00:01"
    ) -> Central:
        central = cls(Device.with_hci("test central", Address(address), source, sink))
        await central.device.power_on()
        return central

    def _pairing_config(self, connection: Connection) -> PairingConfig:
        if self.keyboard:
            delegate: PairingDelegate = _Keyboard(self._typed)
        else:
            delegate = PairingDelegate(PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
        return PairingConfig(
            sc=True,
            mitm=self.keyboard,
            bonding=True,
            delegate=delegate,
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )

    async def _typed(self) -> int | None:
        if self.passkey is None:
            raise AssertionError("the test gave the central no passkey source")
        return await self.passkey()

    async def forget_bonds(self) -> None:
        """Delete every stored key, as a user removing the device from the phone."""
        keystore = self.device.keystore
        assert keystore is not None
        for name, _ in await keystore.get_all():
            await keystore.delete(name)

    async def connect(self, address: str) -> Link:
        connection = await self.device.connect(Address(address), timeout=5)
        link = Link(connection)
        await link.discover()
        return link

    async def scan(self, service: UUID) -> list[tuple[str, str | None]]:
        """(address, name) of devices advertising ``service``, from one burst of scanning."""
        seen: dict[str, str | None] = {}
        found = asyncio.Event()

        def on_advertisement(advertisement: object) -> None:
            data = advertisement.data  # type: ignore[attr-defined]
            uuids = data.get(data.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS) or []
            if service in uuids:
                name = data.get(data.COMPLETE_LOCAL_NAME)
                address = advertisement.address.to_string(with_type_qualifier=False)  # type: ignore[attr-defined]
                seen[address] = name
                found.set()

        self.device.on(Device.EVENT_ADVERTISEMENT, on_advertisement)
        await self.device.start_scanning()
        try:
            await asyncio.wait_for(found.wait(), 5)
        finally:
            await self.device.stop_scanning()
            self.device.remove_listener(Device.EVENT_ADVERTISEMENT, on_advertisement)
        return list(seen.items())


class Link:
    """One connection of the central to a peripheral, with its discovered GATT database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.peer = Peer(connection)
        self.disconnected = asyncio.Event()
        connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self.disconnected.set())
        self._queues: dict[int, asyncio.Queue[bytes]] = {}

    async def discover(self) -> None:
        await self.peer.discover_services()
        await self.peer.discover_characteristics()

    def has(self, uuid: UUID) -> bool:
        return bool(self.peer.get_characteristics_by_uuid(uuid))

    def characteristic(self, uuid: UUID) -> CharacteristicProxy[bytes]:
        (found,) = self.peer.get_characteristics_by_uuid(uuid)
        return found

    async def pair(self) -> None:
        await self.connection.pair()

    async def encrypt(self) -> None:
        await self.connection.encrypt()

    async def read(self, uuid: UUID) -> bytes:
        return bytes(await self.characteristic(uuid).read_value())

    async def write(self, uuid: UUID, value: bytes) -> None:
        await self.characteristic(uuid).write_value(value, with_response=True)

    async def subscribe(self, uuid: UUID, *, indicate: bool = False) -> asyncio.Queue[bytes]:
        """Enable notifications (or indications); what arrives goes into the returned queue."""
        characteristic = self.characteristic(uuid)
        queue = self._queues.setdefault(characteristic.handle, asyncio.Queue())
        await characteristic.subscribe(lambda value: queue.put_nowait(bytes(value)), not indicate)
        return queue

    async def queue(self, uuid: UUID, *, indicate: bool = False) -> asyncio.Queue[bytes]:
        """The queue of a characteristic already subscribed to, or a new subscription."""
        queue = self._queues.get(self.characteristic(uuid).handle)
        return queue if queue is not None else await self.subscribe(uuid, indicate=indicate)

    async def racp_channel(
        self, measurement: UUID = GLUCOSE_MEASUREMENT, context: UUID | None = None
    ) -> RacpChannel:
        """Subscribe to record notifications (and contexts) and RACP indications."""
        records = await self.subscribe(measurement)
        if context is not None:
            await self.characteristic(context).subscribe(
                lambda value: records.put_nowait(b"ctx:" + bytes(value))
            )
        responses = await self.subscribe(RECORD_ACCESS_CONTROL_POINT, indicate=True)
        return RacpChannel(self, records, responses)

    @staticmethod
    async def error_of(action: Awaitable[object]) -> int:
        """The ATT error code ``action`` fails with (AssertionError if it succeeds)."""
        try:
            await action
        except att.ATT_Error as error:
            return int(error.error_code)
        raise AssertionError("expected an ATT error, the request succeeded")

    async def disconnect(self) -> None:
        if not self.disconnected.is_set():
            await self.connection.disconnect()
            await self.disconnected.wait()


class RacpChannel:
    """RACP on a link: write requests, collect the records and the response indications.

    Records and contexts (prefixed ``ctx:``) share one queue, in the order they arrive."""

    def __init__(
        self, link: Link, records: asyncio.Queue[bytes], responses: asyncio.Queue[bytes]
    ) -> None:
        self.link = link
        self.records = records
        self.responses = responses

    async def write(self, request: bytes) -> None:
        await self.link.write(RECORD_ACCESS_CONTROL_POINT, request)

    async def response(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.responses.get(), timeout)

    async def record(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.records.get(), timeout)

    def received(self) -> list[bytes]:
        """The records that arrived and were not read yet."""
        items = []
        while not self.records.empty():
            items.append(self.records.get_nowait())
        return items

    async def ask(self, request: bytes) -> tuple[list[bytes], bytes]:
        """Write ``request``; the records notified before its response, and the response."""
        await self.write(request)
        response = await self.response()
        return self.received(), response


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stepped_time() -> SteppedTime:
    return SteppedTime(datetime(2026, 3, 10, 12, 0))


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    radio = Air()
    yield radio
    await radio.close()


@pytest.fixture
async def central(air: Air) -> Central:
    source, sink = air.host_endpoint()
    return await Central.open(source, sink)


@pytest.fixture
def open_central() -> Callable[[TransportSource, TransportSink], Awaitable[Central]]:
    """Open a test central on any HCI (source, sink), e.g. a ``tcp-client:`` transport."""
    return Central.open


EmulatorProcess = tuple[subprocess.Popen[str], dict[str, str]]


@pytest.fixture
def emulator_process_with() -> Iterator[Callable[..., EmulatorProcess]]:
    """``emulator_process_with(*args)``: ``python -m emulator.cli *args`` started, and the
    lines it announced before ``ready`` (``key: value``); killed after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> EmulatorProcess:
        command = [sys.executable, "-m", "emulator.cli", *args]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        assert process.stdout is not None
        announced: dict[str, str] = {}
        for line in process.stdout:
            if line.strip() == "ready":
                return process, announced
            key, _, value = line.strip().partition(": ")
            announced[key] = value
        raise AssertionError(f"the emulator did not start: {process.communicate()[1]}")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)
