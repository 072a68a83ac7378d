"""The emulated IDS insulin pump on the air, read by a plain Bumble central.

Security, the status values, the IDD RACP (every operator, the reference-time filter, number,
abort, delete refused, busy and CCCD errors), the Command Control Point reads of the
settings, the Status Reader, E2E protection (values protected, writes checked) and faults.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from emulator.ble import Air
from emulator.ble.ids_pump import IdsPump
from emulator.ble.uuids import (
    CURRENT_TIME,
    IDD_ANNUNCIATION_STATUS,
    IDD_COMMAND_CONTROL_POINT,
    IDD_COMMAND_DATA,
    IDD_FEATURES,
    IDD_HISTORY_DATA,
    IDD_RECORD_ACCESS_CONTROL_POINT,
    IDD_STATUS,
    IDD_STATUS_CHANGED,
    IDD_STATUS_READER_CONTROL_POINT,
)
from emulator.faults import CorruptE2ECrc, DisconnectAfterRecord, DropIndication, FaultPlan
from emulator.generators.pump_history import generate_pump_history
from emulator.model.pump import Annunciation, PumpModel
from emulator.protocols import ids
from emulator.protocols.ble_time import current_time
from emulator.protocols.e2e_crc import crc16, with_crc

if TYPE_CHECKING:
    from tests.emulator.conftest import Central, Link

pytestmark = pytest.mark.anyio

END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
RACP = IDD_RECORD_ACCESS_CONTROL_POINT
CCP = IDD_COMMAND_CONTROL_POINT
SRCP = IDD_STATUS_READER_CONTROL_POINT


def small_pump(days: int = 3) -> PumpModel:
    return generate_pump_history(5, timezone="Europe/Berlin", end=END, days=days)


PumpFactory = Callable[..., Awaitable[IdsPump]]


@pytest.fixture
async def start_pump(air: Air) -> AsyncIterator[PumpFactory]:
    started: list[IdsPump] = []

    async def start(model: PumpModel | None = None, **options: Any) -> IdsPump:
        pump = IdsPump(model or small_pump(), **options)
        await pump.start(air)
        started.append(pump)
        return pump

    yield start
    for pump in started:
        await pump.stop()


async def pair(central: Central, pump: IdsPump) -> Link:
    async def shown() -> int:
        return int(await pump.wait_display())

    central.passkey = shown
    link = await central.connect(pump.address)
    await link.pair()
    return link


class Racp:
    """The IDD RACP on a link: history notifications and response indications."""

    def __init__(self, link: Link, events: asyncio.Queue[bytes], answers: asyncio.Queue[bytes]):
        self.link, self.events, self.answers = link, events, answers

    @classmethod
    async def open(cls, link: Link) -> Racp:
        events = await link.queue(IDD_HISTORY_DATA)
        answers = await link.queue(RACP, indicate=True)
        return cls(link, events, answers)

    async def ask(self, request: bytes) -> tuple[list[bytes], bytes]:
        await self.link.write(RACP, request)
        answer = await asyncio.wait_for(self.answers.get(), 5)
        got = []
        while not self.events.empty():
            got.append(self.events.get_nowait())
        return got, answer


def numbers(values: list[bytes]) -> list[int]:
    return [struct.unpack_from("<I", v, 2)[0] for v in values]


# ---- security and values ------------------------------------------------------------------


async def test_insulin_data_needs_an_authenticated_link(
    start_pump: PumpFactory, central: Central
) -> None:
    pump = await start_pump()
    link = await central.connect(pump.address)
    for uuid in (IDD_STATUS, IDD_FEATURES, IDD_ANNUNCIATION_STATUS, IDD_STATUS_CHANGED):
        assert await link.error_of(link.read(uuid)) == 0x05
    assert await link.error_of(link.write(RACP, bytes.fromhex("3333"))) == 0x05
    assert await link.error_of(link.subscribe(IDD_HISTORY_DATA)) == 0x05


async def test_status_features_and_annunciation_after_pairing(
    start_pump: PumpFactory, central: Central
) -> None:
    model = small_pump()
    model.annunciate(model.now, Annunciation.OCCLUSION)
    pump = await start_pump(model)
    link = await pair(central, pump)
    assert await link.read(IDD_FEATURES) == ids.encode_features(e2e=False)
    status = await link.read(IDD_STATUS)
    assert status[:2] == bytes([0x55, 0x96])  # run, ready
    assert status == ids.encode_status(
        model.therapy_state, model.operational_state, model.reservoir_remaining, True
    )
    annunciation = await link.read(IDD_ANNUNCIATION_STATUS)
    assert annunciation[0] == 0x01 and struct.unpack_from("<H", annunciation, 3)[0] == 0x003C
    assert await link.read(IDD_STATUS_CHANGED) == struct.pack("<H", 0x80)


# ---- IDD RACP --------------------------------------------------------------------------------


async def test_racp_reports_every_event_as_the_model_holds_it(
    start_pump: PumpFactory, central: Central
) -> None:
    pump = await start_pump()
    racp = await Racp.open(await pair(central, pump))
    events = pump.model.events()
    _, answer = await racp.ask(bytes.fromhex("5a33"))
    assert answer == ids.racp_number(len(events))
    got, answer = await racp.ask(bytes.fromhex("3333"))
    assert answer == bytes.fromhex("0f0f33f0")
    assert got == [ids.encode_event(e, e2e=False) for e in events]
    # Incremental: >= a record number.
    got, _ = await racp.ask(bytes([0x33, 0x55, 0x0F]) + struct.pack("<I", len(events) - 4))
    assert numbers(got) == [len(events) - 4 + i for i in range(5)]
    got, _ = await racp.ask(bytes([0x33, 0x5A, 0x0F]) + struct.pack("<II", 3, 5))
    assert numbers(got) == [3, 4, 5]
    got, _ = await racp.ask(bytes([0x33, 0x3C, 0x0F]) + struct.pack("<I", 2))
    assert numbers(got) == [1, 2]
    got, _ = await racp.ask(bytes.fromhex("3366"))
    assert numbers(got) == [1]
    # The newest reference time event, and all reference time events up to a record.
    newest_reference = max(e.record_number for e in events if e.is_reference_time)
    got, _ = await racp.ask(bytes.fromhex("336933"))
    assert numbers(got) == [newest_reference]
    got, _ = await racp.ask(bytes.fromhex("3369"))
    assert numbers(got) == [len(events)]
    _, answer = await racp.ask(bytes([0x33, 0x55, 0x0F]) + struct.pack("<I", len(events) + 1))
    assert answer == bytes.fromhex("0f0f3306")  # no records found: an answer, not an error


async def test_racp_refusals(start_pump: PumpFactory, central: Central) -> None:
    pump = await start_pump()
    link = await pair(central, pump)
    # History notifications off: the CCCD is improperly configured.
    await link.subscribe(RACP, indicate=True)
    assert await link.error_of(link.write(RACP, bytes.fromhex("3333"))) == 0xFD
    racp = await Racp.open(link)
    for request, code in (
        ("3c33", 0x02),  # delete: the pump keeps its history
        ("330f", 0x03),  # null operator
        ("3377", 0x04),  # unknown operator
        ("335599", 0x09),  # unknown filter type
        ("33550f0100", 0x05),  # short operand
        ("3333ff", 0x09),
    ):
        _, answer = await racp.ask(bytes.fromhex(request))
        assert answer == bytes([0x0F, 0x0F, int(request[:2], 16), code]), request


async def test_busy_racp_and_abort(start_pump: PumpFactory, central: Central) -> None:
    pump = await start_pump(small_pump(days=5), connection_interval_ms=2)
    racp = await Racp.open(await pair(central, pump))
    await racp.link.write(RACP, bytes.fromhex("3333"))
    await asyncio.wait_for(racp.events.get(), 5)
    assert await racp.link.error_of(racp.link.write(RACP, bytes.fromhex("5a33"))) == 0xFE
    await racp.link.write(RACP, bytes.fromhex("550f"))
    answer = await asyncio.wait_for(racp.answers.get(), 5)
    assert answer == bytes.fromhex("0f0f55f0")
    assert racp.events.qsize() < len(pump.model.events())


# ---- settings and status reader --------------------------------------------------------------


async def test_settings_are_read_through_the_command_control_point(
    start_pump: PumpFactory, central: Central
) -> None:
    pump = await start_pump()
    link = await pair(central, pump)
    assert await link.error_of(link.write(CCP, bytes.fromhex("aa0f01"))) == 0xFD
    data = await link.subscribe(IDD_COMMAND_DATA)
    answers = await link.subscribe(CCP, indicate=True)
    settings = pump.model.settings

    async def ask(request: str) -> tuple[list[bytes], bytes]:
        await link.write(CCP, bytes.fromhex(request))
        answer = await asyncio.wait_for(answers.get(), 5)
        got = []
        while not data.empty():
            got.append(data.get_nowait())
        return got, answer

    for number, template in enumerate(settings.basal_templates, start=1):
        got, answer = await ask(f"aa0f{number:02x}")
        assert got == ids.template_responses(ids.CcpOp.READ_BASAL_TEMPLATE_RESPONSE, template)
        assert answer == bytes.fromhex("550faa0f0f")
    got, _ = await ask("b81201")
    assert got == ids.template_responses(
        ids.CcpOp.READ_ISF_TEMPLATE_RESPONSE, settings.isf_templates[0]
    )
    got, _ = await ask("ed1201")
    assert got == ids.template_responses(
        ids.CcpOp.READ_I2CHO_TEMPLATE_RESPONSE, settings.icr_templates[0]
    )
    got, _ = await ask("281401")
    assert got == ids.template_responses(
        ids.CcpOp.READ_TARGET_TEMPLATE_RESPONSE, settings.target_templates[0]
    )
    got, _ = await ask("4812")
    assert got == [ids.activated_templates(pump.model.active_template)]
    assert await ask("aa0f09") == ([], bytes.fromhex("550faa0f73"))
    assert await ask("4b11003301d000d00000") == ([], bytes.fromhex("550f4b1170"))


async def test_status_reader(start_pump: PumpFactory, central: Central) -> None:
    pump = await start_pump()
    link = await pair(central, pump)
    answers = await link.subscribe(SRCP, indicate=True)

    async def ask(request: str) -> bytes:
        await link.write(SRCP, bytes.fromhex(request))
        return await asyncio.wait_for(answers.get(), 5)

    model = pump.model
    assert await ask("6503") == ids.active_basal_delivery(
        model.active_template, model.current_rate()
    )
    bolus, basal = model.today_totals()
    assert await ask("9503") == ids.total_daily_insulin(bolus, basal)
    assert await ask("3003") == bytes.fromhex("3f0300")
    assert await ask("0c038000") == bytes.fromhex("03030c030f")
    assert await link.read(IDD_STATUS_CHANGED) == bytes(2)
    assert await ask("f303") == bytes.fromhex("0303f30370")


# ---- E2E protection and faults ----------------------------------------------------------------


async def test_e2e_protection(start_pump: PumpFactory, central: Central) -> None:
    faults = FaultPlan().add(CorruptE2ECrc(record=2, times=1))
    pump = await start_pump(e2e=True, faults=faults)
    link = await pair(central, pump)
    features = await link.read(IDD_FEATURES)
    assert features[4] & 0x01 and struct.unpack_from("<H", features)[0] == crc16(features[2:])
    status = await link.read(IDD_STATUS)
    assert len(status) == 8 and struct.unpack_from("<H", status, 6)[0] == crc16(status[:6])
    racp = await Racp.open(link)
    assert await link.error_of(link.write(RACP, bytes.fromhex("3333"))) == 0x80
    assert await link.error_of(link.write(RACP, bytes.fromhex("33330100"))) == 0x81
    got, answer = await racp.ask(with_crc(bytes.fromhex("333301")))
    assert answer[:4] == bytes.fromhex("0f0f33f0") and len(answer) == 7
    events = pump.model.events()
    good = [ids.encode_event(e, e2e=True) for e in events]
    assert got[0] == good[0] and got[2:] == good[2:]
    assert got[1] != good[1] and got[1][:-2] == good[1][:-2]  # record 2: a wrong CRC
    assert pump.faults.fired == ["corrupted the E2E-CRC of record 2"]


async def test_disconnect_after_record_then_resume_by_record_number(
    start_pump: PumpFactory, central: Central
) -> None:
    pump = await start_pump(faults=FaultPlan().add(DisconnectAfterRecord(10)))
    link = await pair(central, pump)
    racp = await Racp.open(link)
    await link.write(RACP, bytes.fromhex("3333"))
    await asyncio.wait_for(link.disconnected.wait(), 5)
    got = [racp.events.get_nowait() for _ in range(racp.events.qsize())]
    assert numbers(got) == list(range(1, 11))
    link = await central.connect(pump.address)
    await link.encrypt()  # bonded: no passkey this time
    racp = await Racp.open(link)
    got, answer = await racp.ask(bytes([0x33, 0x55, 0x0F]) + struct.pack("<I", 11))
    assert answer == bytes.fromhex("0f0f33f0")
    assert numbers(got) == list(range(11, len(pump.model.events()) + 1))


async def test_a_dropped_racp_indication_and_the_pump_clock(
    start_pump: PumpFactory, central: Central
) -> None:
    pump = await start_pump(faults=FaultPlan().add(DropIndication("racp")))
    link = await pair(central, pump)
    assert await link.read(CURRENT_TIME) == current_time(pump.model.clock_now())
    racp = await Racp.open(link)
    await link.write(RACP, bytes.fromhex("5a33"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(racp.answers.get(), 0.3)
    assert pump.faults.fired == ["dropped the racp response indication"]
    # The procedure is over all the same: the next request is answered.
    _, answer = await racp.ask(bytes.fromhex("5a33"))
    assert answer == ids.racp_number(len(pump.model.events()))
