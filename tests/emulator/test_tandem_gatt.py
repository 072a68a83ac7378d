"""The emulated t:slim X2 on the air, read by a plain Bumble central that speaks the Tandem
framing itself (chunks, CRC-16/CCITT-FALSE via ``binascii.crc_hqx``, HMAC-SHA1): advertising,
the GATT database, pairing with the right and a wrong code, re-authentication on a new link,
status, history by sequence range, and the link faults."""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from bumble.core import UUID

from emulator.ble import Air
from emulator.ble.tslim_x2 import TslimX2
from emulator.devices.tslim_x2_pump import TslimX2Pump
from emulator.faults import CorruptE2ECrc, DisconnectAfterRecord, FaultPlan
from emulator.generators.pump_history import generate_pump_history

if TYPE_CHECKING:
    from tests.emulator.conftest import Central, Link

pytestmark = pytest.mark.anyio

END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
CODE = "ABCD-EFGH-JKLM-NPQR"
SERVICE = UUID.from_16_bits(0xFDFB)
STATUS = UUID("7B83FFF6-9F77-4E5C-8064-AAE2C24838B9")
HISTORY = UUID("7B83FFF8-9F77-4E5C-8064-AAE2C24838B9")
AUTH = UUID("7B83FFF9-9F77-4E5C-8064-AAE2C24838B9")
CONTROL = UUID("7B83FFFC-9F77-4E5C-8064-AAE2C24838B9")


@pytest.fixture(scope="module")
def pump_history() -> TslimX2Pump:
    model = generate_pump_history(5, timezone="Europe/Berlin", end=END, days=2)
    return TslimX2Pump(model, seed=5, timezone="Europe/Berlin")


@pytest.fixture
async def pump(air: Air, pump_history: TslimX2Pump) -> AsyncIterator[TslimX2]:
    device = TslimX2(pump_history, pairing_code=CODE)
    await device.start(air)
    yield device
    await device.stop()


def frame(opcode: int, txid: int, cargo: bytes) -> list[bytes]:
    body = bytes([opcode, txid, len(cargo)]) + cargo
    message = body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))
    parts = [message[i : i + 18] for i in range(0, len(message), 18)]
    return [bytes([len(parts) - 1 - n, txid]) + p for n, p in enumerate(parts)]


class Client:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.queues: dict[UUID, asyncio.Queue[bytes]] = {}
        self.txid = 0

    async def open(self) -> Client:
        for uuid in (STATUS, HISTORY, AUTH):
            self.queues[uuid] = await self.link.subscribe(uuid)
        return self

    async def send(self, uuid: UUID, opcode: int, cargo: bytes = b"") -> None:
        self.txid = (self.txid + 1) & 0xFF
        for part in frame(opcode, self.txid, cargo):
            await self.link.write(uuid, part)

    async def receive(self, uuid: UUID, *, check: bool = True) -> tuple[int, bytes, bool]:
        """(opcode, cargo, CRC right) of the next message notified on ``uuid``."""
        body = b""
        while True:
            part = await asyncio.wait_for(self.queues[uuid].get(), 5)
            body += part[2:]
            if part[0] == 0:
                break
        crc_ok = struct.unpack("<H", body[-2:])[0] == binascii.crc_hqx(body[:-2], 0xFFFF)
        assert body[2] == len(body) - 5
        if check:
            assert crc_ok
        return body[0], body[3:-2], crc_ok

    async def authenticate(self, code: str) -> bool:
        await self.send(AUTH, 16, struct.pack("<H", 7) + bytes(range(8)))
        opcode, cargo, _ = await self.receive(AUTH)
        assert opcode == 17 and len(cargo) == 30 and cargo[:2] == struct.pack("<H", 7)
        key = "".join(ch for ch in code if ch.isalnum()).encode()
        proof = hmac.new(key, cargo[22:30], hashlib.sha1).digest()
        await self.send(AUTH, 18, struct.pack("<H", 7) + proof)
        opcode, cargo, _ = await self.receive(AUTH)
        assert opcode == 19 and cargo[:2] == struct.pack("<H", 7)
        return cargo[2] == 1


async def connect(central: Central, pump: TslimX2) -> Client:
    return await Client(await central.connect(pump.address)).open()


async def test_advertises_the_pump_service_and_its_characteristics(
    pump: TslimX2, central: Central
) -> None:
    seen = dict(await central.scan(SERVICE))
    name = seen[pump.address]
    assert name is not None and name.startswith("tslim X2 ***")
    link = await central.connect(pump.address)
    for uuid in (STATUS, HISTORY, AUTH, CONTROL):
        assert link.has(uuid)


async def test_right_code_authenticates_and_status_is_answered(
    pump: TslimX2, central: Central
) -> None:
    client = await connect(central, pump)
    assert await client.authenticate(CODE)
    await client.send(STATUS, 32)
    opcode, cargo, _ = await client.receive(STATUS)
    assert opcode == 33 and struct.unpack("<HH", cargo) == (2, 1)
    await client.send(STATUS, 36)
    opcode, cargo, _ = await client.receive(STATUS)
    reservoir = struct.unpack_from("<H", cargo)[0]
    assert opcode == 37 and reservoir == int(pump.pump.model.reservoir_remaining)
    await client.send(STATUS, 58)
    opcode, cargo, _ = await client.receive(STATUS)
    assert struct.unpack("<III", cargo) == (len(pump.pump.entries), 1, len(pump.pump.entries))


async def test_wrong_code_is_refused_and_the_pump_keeps_its_data(
    pump: TslimX2, central: Central
) -> None:
    client = await connect(central, pump)
    assert not await client.authenticate("ABCD-EFGH-JKLM-NPQS")
    await client.send(STATUS, 58)
    await asyncio.wait_for(client.link.disconnected.wait(), 5)
    assert client.queues[STATUS].empty()


async def test_a_new_link_authenticates_with_the_same_code(pump: TslimX2, central: Central) -> None:
    first = await connect(central, pump)
    assert await first.authenticate(CODE)
    await first.link.disconnect()
    second = await connect(central, pump)
    assert await second.authenticate(CODE)
    assert pump.authentications == 2


async def test_after_pairing_another_phone_the_old_code_fails(
    pump: TslimX2, central: Central
) -> None:
    first = await connect(central, pump)
    assert await first.authenticate(CODE)
    await first.link.disconnect()
    pump.pair_another_phone("ZZZZ-YYYY-XXXX-WWWW")
    second = await connect(central, pump)
    assert not await second.authenticate(CODE)
    assert await second.authenticate("ZZZZ-YYYY-XXXX-WWWW")


async def history(client: Client, start: int, count: int) -> list[bytes]:
    await client.send(STATUS, 60, struct.pack("<IB", start, count))
    opcode, cargo, _ = await client.receive(STATUS)
    assert (opcode, cargo[0]) == (61, 0)
    entries: list[bytes] = []
    while len(entries) < count:
        opcode, cargo, _ = await client.receive(HISTORY)
        assert opcode == 0x81 and len(cargo) == 2 + 26 * cargo[0]
        entries += [cargo[2 + 26 * i : 28 + 26 * i] for i in range(cargo[0])]
    return entries


async def test_history_by_sequence_range(pump: TslimX2, central: Central) -> None:
    client = await connect(central, pump)
    assert await client.authenticate(CODE)
    entries = await history(client, 4, 7)
    assert [struct.unpack_from("<I", e, 6)[0] for e in entries] == list(range(10, 3, -1))
    assert entries == [e.raw for e in reversed(pump.pump.entries[3:10])]
    await client.send(STATUS, 60, struct.pack("<IB", len(pump.pump.entries) + 1, 3))
    opcode, cargo, _ = await client.receive(STATUS)
    assert opcode == 61 and cargo[0] != 0


async def test_disconnect_after_entry_n(pump: TslimX2, central: Central) -> None:
    pump.faults.add(DisconnectAfterRecord(4))
    client = await connect(central, pump)
    assert await client.authenticate(CODE)
    await client.send(STATUS, 60, struct.pack("<IB", 1, 20))
    await client.receive(STATUS)
    await asyncio.wait_for(client.link.disconnected.wait(), 5)
    got = 0
    while not client.queues[HISTORY].empty():
        part = client.queues[HISTORY].get_nowait()
        if part[0] == 0:
            got += 3
    assert 4 <= got < 20


async def test_corrupt_crc_on_the_stream(
    air: Air, pump_history: TslimX2Pump, central: Central
) -> None:
    device = TslimX2(
        pump_history, pairing_code=CODE, faults=FaultPlan().add(CorruptE2ECrc(record=2))
    )
    await device.start(air)
    try:
        client = await connect(central, device)
        assert await client.authenticate(CODE)
        await client.send(STATUS, 60, struct.pack("<IB", 1, 6))
        await client.receive(STATUS)
        _, _, first_ok = await client.receive(HISTORY, check=False)
        _, _, second_ok = await client.receive(HISTORY, check=False)
        assert (first_ok, second_ok) == (False, True)
    finally:
        await device.stop()


async def test_insulin_delivery_profiles(pump: TslimX2, central: Central) -> None:
    client = await connect(central, pump)
    assert await client.authenticate(CODE)
    await client.send(STATUS, 62)
    opcode, cargo, _ = await client.receive(STATUS)
    profiles = pump.pump.profiles()
    assert opcode == 63 and cargo[0] == len(profiles)
    assert list(cargo[1 : 1 + len(profiles)]) == [p.idp_id for p in profiles]
    first = profiles[0]
    await client.send(STATUS, 64, bytes([first.idp_id]))
    opcode, cargo, _ = await client.receive(STATUS)
    assert opcode == 65 and cargo[1:17].rstrip(b"\0").decode() == first.name
    assert cargo[17] == len(first.segments)
    await client.send(STATUS, 66, bytes([first.idp_id, 1]))
    opcode, cargo, _ = await client.receive(STATUS)
    start, basal = struct.unpack_from("<HH", cargo, 2)
    assert opcode == 67 and start == first.segments[1].start_minute
    assert basal == round(first.segments[1].basal * 1000)


async def test_status_requests_over_the_air(
    air: Air, pump_history: TslimX2Pump, central: Central
) -> None:
    fresh = TslimX2Pump(pump_history.model, seed=5, timezone="Europe/Berlin")
    device = TslimX2(fresh, pairing_code=CODE)
    await device.start(air)
    try:
        client = await connect(central, device)
        assert await client.authenticate(CODE)
        for request, response, size in ((38, 39, 12), (80, 81, 10), (56, 57, 9), (44, 45, 15)):
            await client.send(STATUS, request)
            opcode, cargo, _ = await client.receive(STATUS)
            assert (opcode, len(cargo)) == (response, size)
            assert (opcode, cargo) == fresh.answer(request, b"", 0)
        await client.send(STATUS, 0x90)  # CurrentBatteryV2 on an API 2.1 pump: a V1 answer
        assert (await client.receive(STATUS))[:2] == (53, bytes([80, 80]))
        await client.send(STATUS, 52)  # then CurrentBatteryV1: ErrorResponse BAD_OPCODE
        assert (await client.receive(STATUS))[:2] == (77, bytes([52, 6]))
    finally:
        await device.stop()
