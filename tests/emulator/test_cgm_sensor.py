"""The emulated CGM on the air, read by a plain Bumble central: security, the CGMS values,
RACP by time offset, SOCP sessions, E2E-CRC (and its corruption), faults, quirks."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from emulator.ble import Air, CgmQuirks, CgmSensor
from emulator.ble.uuids import (
    CGM_FEATURE,
    CGM_MEASUREMENT,
    CGM_SESSION_RUN_TIME,
    CGM_SESSION_START_TIME,
    CGM_SPECIFIC_OPS_CONTROL_POINT,
    CGM_STATUS,
    RECORD_ACCESS_CONTROL_POINT,
)
from emulator.devices.ble import build_cgm_model
from emulator.faults import CorruptE2ECrc, DropIndication, FaultPlan
from emulator.generators.cgm_history import CgmHistoryProfile
from emulator.model.clock import DeviceClock
from emulator.protocols import cgms
from emulator.protocols.e2e_crc import crc16, with_crc

if TYPE_CHECKING:
    from tests.emulator.conftest import Central, Link, RacpChannel, SteppedTime

pytestmark = pytest.mark.anyio

RACP = RECORD_ACCESS_CONTROL_POINT
SOCP = CGM_SPECIFIC_OPS_CONTROL_POINT
ADDRESS = "F0:F0:F0:F0:F0:02"
SUCCESS = bytes.fromhex("06000101")
QUIET = CgmHistoryProfile(signal_losses_per_day=0)

SensorFactory = Callable[..., Awaitable[CgmSensor]]


@pytest.fixture
async def start_sensor(air: Air, stepped_time: SteppedTime) -> AsyncIterator[SensorFactory]:
    """Start a CGM whose session began a day ago (no signal losses unless told)."""
    started: list[CgmSensor] = []

    async def start(profile: CgmHistoryProfile = QUIET, **options: Any) -> CgmSensor:
        model = build_cgm_model(
            seed=4,
            days=1,
            clock=DeviceClock(time_source=stepped_time),
            profile=profile,
            time_zone_minutes=60,
            dst_minutes=0,
        )
        sensor = CgmSensor(model, **options)
        await sensor.start(air)
        started.append(sensor)
        return sensor

    yield start
    for sensor in started:
        await sensor.stop()


async def pair(central: Central, sensor: CgmSensor) -> Link:
    async def shown() -> int:
        return int(await sensor.wait_display())

    central.passkey = shown
    link = await central.connect(sensor.address)
    await link.pair()
    return link


async def racp_of(central: Central, sensor: CgmSensor) -> RacpChannel:
    return await (await pair(central, sensor)).racp_channel(CGM_MEASUREMENT)


def offsets(values: list[bytes]) -> list[int]:
    return [struct.unpack_from("<H", value, 4)[0] for value in values]


def crc_ok(value: bytes) -> bool:
    (sent,) = struct.unpack("<H", value[-2:])
    return crc16(value[:-2]) == int(sent)


async def socp(link: Link, request: bytes) -> bytes:
    """Write a SOCP request (indications must be on) and wait for its response."""
    queue = await link.queue(SOCP, indicate=True)
    await link.write(SOCP, request)
    return await queue.get()


async def test_unpaired_access_is_refused(start_sensor: SensorFactory, central: Central) -> None:
    await start_sensor()
    link = await central.connect(ADDRESS)
    for uuid in (CGM_FEATURE, CGM_STATUS, CGM_SESSION_START_TIME, CGM_SESSION_RUN_TIME):
        assert await link.error_of(link.read(uuid)) == 0x05, uuid
    assert await link.error_of(link.write(RACP, bytes([1, 1]))) == 0x05
    assert await link.error_of(link.write(SOCP, bytes([26]))) == 0x05
    assert await link.error_of(link.subscribe(CGM_MEASUREMENT)) == 0x05
    assert await link.error_of(link.subscribe(SOCP, indicate=True)) == 0x05


@pytest.mark.parametrize("e2e", [False, True])
async def test_the_cgms_values(
    start_sensor: SensorFactory, central: Central, stepped_time: SteppedTime, e2e: bool
) -> None:
    sensor = await start_sensor(e2e_crc=e2e)
    link = await pair(central, sensor)
    assert await link.read(CGM_FEATURE) == cgms.encode_feature(e2e=e2e)
    assert await link.read(CGM_STATUS) == cgms.encode_status(24 * 60, 0, e2e=e2e)
    assert await link.read(CGM_SESSION_RUN_TIME) == cgms.encode_run_time(336, e2e=e2e)
    start = stepped_time.now - timedelta(days=1)
    assert await link.read(CGM_SESSION_START_TIME) == cgms.encode_session_start_time(
        start, 60, 0, e2e=e2e
    )
    for value in (await link.read(CGM_STATUS), await link.read(CGM_SESSION_START_TIME)):
        assert crc_ok(value) is e2e


@pytest.mark.parametrize("e2e", [False, True])
async def test_a_report_sends_the_ledger_by_time_offset(
    start_sensor: SensorFactory, central: Central, e2e: bool
) -> None:
    sensor = await start_sensor(e2e_crc=e2e)
    racp = await racp_of(central, sensor)
    received, response = await racp.ask(bytes([1, 1]))
    ledger = sensor.records()
    assert received == [cgms.measurement_of(r, e2e=e2e) for r in ledger]
    assert response == SUCCESS
    assert offsets(received) == list(range(120, 24 * 60 + 1, 5))
    assert all(crc_ok(value) for value in received) is e2e


async def test_racp_by_time_offset(start_sensor: SensorFactory, central: Central) -> None:
    sensor = await start_sensor()
    racp = await racp_of(central, sensor)
    cases: list[tuple[bytes, list[int]]] = [
        (bytes.fromhex("0103017800"), list(range(120, 1441, 5))),
        (bytes.fromhex("01040178006801"), list(range(120, 361, 5))),
        (bytes([1, 2, 1]) + struct.pack("<H", 131), [120, 125, 130]),
        (bytes([1, 3, 1]) + struct.pack("<H", 1431), [1435, 1440]),
        (bytes([1, 5]), [120]),
        (bytes([1, 6]), [1440]),
    ]
    for request, expected in cases:
        received, response = await racp.ask(request)
        assert (offsets(received), response) == (expected, SUCCESS), request.hex()
    assert await racp.ask(bytes([4, 1])) == ([], b"\x05\x00" + struct.pack("<H", 265))
    assert await racp.ask(bytes([1, 3, 1]) + struct.pack("<H", 2000)) == (
        [],
        bytes.fromhex("06000106"),
    )
    assert await racp.ask(bytes([1, 3, 2]) + bytes(7)) == ([], bytes.fromhex("06000109"))
    assert await racp.ask(bytes([2, 1])) == ([], bytes.fromhex("06000202"))  # no delete


async def test_racp_busy_and_unconfigured_use_the_cgms_error_codes(
    start_sensor: SensorFactory, central: Central
) -> None:
    sensor = await start_sensor(quirks=CgmQuirks(connection_interval_ms=5))
    link = await pair(central, sensor)
    await link.subscribe(CGM_MEASUREMENT)
    assert await link.error_of(link.write(RACP, bytes([1, 1]))) == 0xFD
    racp = await link.racp_channel(CGM_MEASUREMENT)
    await racp.write(bytes([1, 1]))
    assert await link.error_of(racp.write(bytes([4, 1]))) == 0xFE
    await racp.write(bytes([3, 0]))  # abort is allowed while a report runs
    assert await racp.response() == bytes.fromhex("06000301")


async def test_socp_stops_and_starts_sessions(
    start_sensor: SensorFactory, central: Central, stepped_time: SteppedTime
) -> None:
    sensor = await start_sensor()
    link = await pair(central, sensor)
    assert await link.error_of(link.write(SOCP, bytes([27]))) == 0xFD  # indications off
    assert await socp(link, bytes([26])) == bytes.fromhex("1c1a04")  # already running
    assert await socp(link, bytes([27])) == bytes.fromhex("1c1b01")
    status = await link.read(CGM_STATUS)
    assert status[2] & cgms.Status.SESSION_STOPPED
    assert await socp(link, bytes([26])) == bytes.fromhex("1c1a01")
    assert sensor.records() == []  # a new session starts empty
    stepped_time.step(hours=2, minutes=5)
    racp = await link.racp_channel(CGM_MEASUREMENT)
    received, _ = await racp.ask(bytes([1, 1]))
    assert offsets(received) == [120, 125]
    assert await link.read(CGM_SESSION_START_TIME) == cgms.encode_session_start_time(
        stepped_time.now - timedelta(hours=2, minutes=5), 60, 0, e2e=False
    )


async def test_socp_other_op_codes(start_sensor: SensorFactory, central: Central) -> None:
    sensor = await start_sensor()
    link = await pair(central, sensor)
    assert await socp(link, bytes([2])) == bytes.fromhex("0305")
    assert await socp(link, bytes([1, 15])) == bytes.fromhex("1c0101")
    assert await socp(link, bytes([2])) == bytes.fromhex("030f")
    assert await socp(link, bytes([1])) == bytes.fromhex("1c0103")  # operand missing
    assert await socp(link, bytes([4]) + bytes(10)) == bytes.fromhex("1c0402")
    assert await socp(link, bytes([42])) == bytes.fromhex("1c2a02")
    assert sensor.communication_interval_minutes == 15


async def test_e2e_crc_on_written_values(
    start_sensor: SensorFactory, central: Central, stepped_time: SteppedTime
) -> None:
    sensor = await start_sensor(e2e_crc=True)
    link = await pair(central, sensor)
    await link.subscribe(SOCP, indicate=True)
    assert await link.error_of(link.write(SOCP, bytes([27]))) == 0x80  # missing CRC
    assert await link.error_of(link.write(SOCP, with_crc(bytes([27]), corrupt=True))) == 0x81
    assert await socp(link, with_crc(bytes([27]))) == with_crc(bytes.fromhex("1c1b01"))
    collector_now = stepped_time.now + timedelta(minutes=2)
    written = cgms.encode_session_start_time(collector_now, -300, 60, e2e=True)
    bad = written[:-2] + bytes([written[-2] ^ 1, written[-1]])
    assert await link.error_of(link.write(CGM_SESSION_START_TIME, bad)) == 0x81
    assert await link.error_of(link.write(CGM_SESSION_START_TIME, written[:-2])) == 0x80
    await link.write(CGM_SESSION_START_TIME, written)
    assert sensor.model.utc_offset_minutes == -240
    start = collector_now - timedelta(days=1)
    assert sensor.records()[0].session_start == start
    assert await link.read(CGM_SESSION_START_TIME) == cgms.encode_session_start_time(
        start, -300, 60, e2e=True
    )


async def test_a_corrupted_e2e_crc_can_be_produced(
    start_sensor: SensorFactory, central: Central
) -> None:
    faults = FaultPlan().add(CorruptE2ECrc(record=2))
    sensor = await start_sensor(e2e_crc=True, faults=faults)
    racp = await racp_of(central, sensor)
    received, _ = await racp.ask(bytes.fromhex("01040178008200"))
    assert [crc_ok(value) for value in received] == [True, False, True]
    assert received[1][:-2] == cgms.measurement_of(sensor.records()[1], e2e=True)[:-2]
    assert faults.fired == ["corrupted the E2E-CRC of record 2"]
    faults.clear()
    faults.add(CorruptE2ECrc())  # every record, every time
    received, _ = await racp.ask(bytes.fromhex("01040178008200"))
    assert not any(crc_ok(value) for value in received)


async def test_a_dropped_socp_indication(start_sensor: SensorFactory, central: Central) -> None:
    faults = FaultPlan().add(DropIndication("socp"))
    sensor = await start_sensor(faults=faults)
    link = await pair(central, sensor)
    queue = await link.subscribe(SOCP, indicate=True)
    await link.write(SOCP, bytes([27]))
    assert not sensor.model.session_running  # done, but never told
    assert await socp(link, bytes([2])) == bytes.fromhex("0305")
    assert queue.empty()
    assert faults.fired == ["dropped the socp response indication"]


async def test_reversed_quirk_reports_newest_first(
    start_sensor: SensorFactory, central: Central
) -> None:
    sensor = await start_sensor(quirks=CgmQuirks(reversed_sequence=True))
    racp = await racp_of(central, sensor)
    received, _ = await racp.ask(bytes.fromhex("01040178008200"))
    assert offsets(received) == [130, 125, 120]


async def test_a_session_restart_seen_over_the_air(
    start_sensor: SensorFactory, central: Central, stepped_time: SteppedTime
) -> None:
    sensor = await start_sensor()
    racp = await racp_of(central, sensor)
    stepped_time.step(days=13)  # the 14-day session ends, the user starts a new sensor
    stepped_time.step(hours=4)
    received, response = await racp.ask(bytes([1, 1]))
    (old, new) = sensor.model.sessions()
    assert new.started > old.ends
    assert received == [cgms.measurement_of(r, e2e=False) for r in sensor.records()]
    assert offsets(received)[0] == 120 and response == SUCCESS
    assert {r.session_start for r in sensor.records()} == {new.local_start}
    last = datetime.min
    for record in sensor.records():
        assert record.device_time > last
        last = record.device_time


async def test_a_second_socp_request_while_one_runs_is_refused(
    start_sensor: SensorFactory, central: Central
) -> None:
    sensor = await start_sensor(quirks=CgmQuirks(connection_interval_ms=20))
    link = await pair(central, sensor)
    queue = await link.subscribe(SOCP, indicate=True)
    await link.write(SOCP, bytes([2]))
    assert await link.error_of(link.write(SOCP, bytes([2]))) == 0xFE
    assert await queue.get() == bytes.fromhex("0305")
    assert await socp(link, bytes([2])) == bytes.fromhex("0305")  # free again once answered
