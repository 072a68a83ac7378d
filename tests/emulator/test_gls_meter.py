"""The emulated GLS meter on the air, read by a plain Bumble central.

Security (refused before pairing, passkey pairing, bonds), RACP on the air (every operator,
number, delete, abort, 0x80/0x81), faults, quirks and the meter clock.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from bumble.core import UUID, ProtocolError

from emulator.ble import Air, GlsMeter, GlsQuirks
from emulator.ble.uuids import (
    CURRENT_TIME,
    DATE_TIME,
    GLUCOSE_FEATURE,
    GLUCOSE_MEASUREMENT,
    GLUCOSE_MEASUREMENT_CONTEXT,
    GLUCOSE_SERVICE,
    RECORD_ACCESS_CONTROL_POINT,
)
from emulator.faults import DisconnectAfterRecord, DropIndication, FaultPlan, RejectPairing
from emulator.generators.meter_history import generate_meter_history
from emulator.model.clock import DeviceClock
from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag
from emulator.protocols import gls
from emulator.protocols.ble_time import current_time, date_time

if TYPE_CHECKING:
    from tests.emulator.conftest import Central, Link, RacpChannel, SteppedTime

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 8, 0)
RACP = RECORD_ACCESS_CONTROL_POINT
ADDRESS = "F0:F0:F0:F0:F0:01"
SERIAL = UUID.from_16_bits(0x2A25)
MANUFACTURER = UUID.from_16_bits(0x2A29)
MODEL_NUMBER = UUID.from_16_bits(0x2A24)
FIRMWARE = UUID.from_16_bits(0x2A26)
SUCCESS = bytes.fromhex("06000101")
NO_RECORDS = bytes.fromhex("06000106")


def ten_readings() -> list[MeterReading]:
    """Ten results six hours apart: #2 before a meal, #4 after one, #6 LO, #8 control."""
    flags = {
        1: frozenset({ReadingFlag.BEFORE_MEAL}),
        3: frozenset({ReadingFlag.AFTER_MEAL}),
        7: frozenset({ReadingFlag.CONTROL}),
    }
    return [
        MeterReading(
            T0 + timedelta(hours=6 * i), 10 if i == 5 else 90 + 7 * i, flags.get(i, frozenset())
        )
        for i in range(10)
    ]


MeterFactory = Callable[..., Awaitable[GlsMeter]]


@pytest.fixture
async def start_meter(air: Air, stepped_time: SteppedTime) -> AsyncIterator[MeterFactory]:
    """Start a meter (ten known readings unless told otherwise) on the test's air."""
    started: list[GlsMeter] = []

    async def start(readings: list[MeterReading] | None = None, **options: Any) -> GlsMeter:
        model = MeterModel(
            "GLS-TEST-1", "Test Meter", "2.1", clock=DeviceClock(time_source=stepped_time)
        )
        model.load_history(ten_readings() if readings is None else readings)
        meter = GlsMeter(model, **options)
        await meter.start(air)
        started.append(meter)
        return meter

    yield start
    for meter in started:
        await meter.stop()


async def pair(central: Central, meter: GlsMeter) -> Link:
    """Connect and pair, typing the code the meter shows."""

    async def shown() -> int:
        return int(await meter.wait_display())

    central.passkey = shown
    link = await central.connect(meter.address)
    await link.pair()
    return link


async def racp_of(central: Central, meter: GlsMeter) -> RacpChannel:
    link = await pair(central, meter)
    return await link.racp_channel(GLUCOSE_MEASUREMENT, GLUCOSE_MEASUREMENT_CONTEXT)


def sequences(values: list[bytes]) -> list[int]:
    """Sequence numbers of the measurements among ``values`` (contexts skipped)."""
    return [struct.unpack_from("<H", v, 1)[0] for v in values if not v.startswith(b"ctx:")]


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def when(moment: datetime) -> bytes:
    return date_time(moment)


# ---- security ----------------------------------------------------------------------------


async def test_unpaired_access_to_glucose_data_is_refused(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    link = await central.connect(ADDRESS)
    assert await link.error_of(link.write(RACP, bytes([1, 1]))) == 0x05
    assert await link.error_of(link.read(GLUCOSE_FEATURE)) == 0x05
    assert await link.error_of(link.subscribe(RACP, indicate=True)) == 0x05
    assert await link.error_of(link.subscribe(GLUCOSE_MEASUREMENT)) == 0x05
    assert await link.error_of(link.subscribe(GLUCOSE_MEASUREMENT_CONTEXT)) == 0x05
    # Identity and clock stay readable, as on real meters.
    assert await link.read(SERIAL) == b"GLS-TEST-1"
    assert await link.read(MANUFACTURER) == b"diahil"
    assert await link.read(MODEL_NUMBER) == b"Test Meter"
    assert await link.read(FIRMWARE) == b"2.1"
    assert await link.read(CURRENT_TIME) == current_time(meter.model.clock.now())


async def test_pairing_with_the_displayed_passkey(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter(passkey=123456)
    typed: list[str] = []

    async def user_reads_the_display() -> int:
        typed.append(await meter.wait_display())
        return int(typed[-1])

    central.passkey = user_reads_the_display
    assert meter.display is None
    link = await central.connect(ADDRESS)
    await link.pair()
    assert typed == ["123456"]
    assert meter.display is None  # the screen clears once paired
    assert await link.read(GLUCOSE_FEATURE) == gls.encode_feature()


async def test_each_pairing_shows_a_fresh_random_code(
    start_meter: MeterFactory, central: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = iter([42, 777777])
    monkeypatch.setattr("emulator.ble.security.secrets.randbelow", lambda n: next(codes))
    meter = await start_meter()
    shown: list[str] = []

    async def user_reads_the_display() -> int:
        shown.append(await meter.wait_display())
        return int(shown[-1])

    central.passkey = user_reads_the_display
    for _ in range(2):
        link = await central.connect(ADDRESS)
        await link.pair()
        await link.disconnect()
        await central.forget_bonds()
    assert shown == ["000042", "777777"]


async def test_a_wrong_passkey_fails_and_grants_nothing(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()

    async def mistyped() -> int:
        return (int(await meter.wait_display()) + 1) % 1_000_000

    central.passkey = mistyped
    link = await central.connect(ADDRESS)
    with pytest.raises(ProtocolError) as failure:
        await link.pair()
    assert failure.value.error_name == "CONFIRM_VALUE_FAILED"
    await asyncio.wait_for(link.disconnected.wait(), 5)  # the meter drops the link
    assert meter.display is None
    again = await central.connect(ADDRESS)
    assert await again.error_of(again.read(GLUCOSE_FEATURE)) == 0x05


async def test_a_bonded_collector_reconnects_without_a_passkey(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    link = await pair(central, meter)
    await link.disconnect()

    async def nobody_types() -> int:
        raise AssertionError("a bonded reconnect must not ask for a passkey")

    central.passkey = nobody_types
    again = await central.connect(ADDRESS)
    await again.encrypt()
    assert await again.read(GLUCOSE_FEATURE) == gls.encode_feature()
    assert meter.display is None


async def test_just_works_pairing_is_not_authenticated_enough(
    start_meter: MeterFactory, central: Central
) -> None:
    await start_meter()
    central.keyboard = False  # no keyboard: Just Works, no MITM protection
    link = await central.connect(ADDRESS)
    await link.pair()
    assert link.connection.is_encrypted
    assert await link.error_of(link.read(GLUCOSE_FEATURE)) == 0x05


async def test_the_meter_advertises_the_glucose_service_and_its_name(
    start_meter: MeterFactory, central: Central
) -> None:
    await start_meter(name="Meter 7")
    assert await central.scan(GLUCOSE_SERVICE) == [(ADDRESS, "Meter 7")]


# ---- RACP --------------------------------------------------------------------------------


async def test_a_report_streams_every_record_then_success(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    received, response = await racp.ask(bytes([1, 1]))
    expected: list[bytes] = []
    for sequence, reading in meter.records():
        expected.append(gls.measurement_of(sequence, reading, GlucoseUnit.MG_DL))
        context = gls.context_of(sequence, reading)
        if context is not None:
            expected.append(b"ctx:" + context)
    assert received == expected
    assert response == SUCCESS
    assert sequences(received) == list(range(1, 11))
    assert sum(v.startswith(b"ctx:") for v in received) == 2  # before and after meal


async def test_every_operator_and_filter_on_the_air(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    times = [reading.device_time for _, reading in meter.records()]
    cases: list[tuple[bytes, list[int]]] = [
        (bytes([1, 1]), list(range(1, 11))),
        (bytes([1, 2, 1]) + u16(3), [1, 2, 3]),
        (bytes([1, 3, 1]) + u16(8), [8, 9, 10]),
        (bytes([1, 4, 1]) + u16(4) + u16(6), [4, 5, 6]),
        (bytes([1, 5]), [1]),
        (bytes([1, 6]), [10]),
        (bytes([1, 2, 2]) + when(times[1]), [1, 2]),
        (bytes([1, 3, 2]) + when(times[8] - timedelta(minutes=1)), [9, 10]),
        (bytes([1, 4, 2]) + when(times[2]) + when(times[4]), [3, 4, 5]),
    ]
    for request, expected in cases:
        received, response = await racp.ask(request)
        assert (sequences(received), response) == (expected, SUCCESS), request.hex()


async def test_number_of_records_and_no_records_found(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    assert await racp.ask(bytes([4, 1])) == ([], bytes.fromhex("05000a00"))
    assert await racp.ask(bytes([4, 3, 1]) + u16(7)) == ([], bytes.fromhex("05000400"))
    assert await racp.ask(bytes([4, 3, 1]) + u16(99)) == ([], bytes.fromhex("05000000"))
    # Nothing after sequence 99: an answer, not an error, and the link carries on.
    assert await racp.ask(bytes([1, 3, 1]) + u16(99)) == ([], NO_RECORDS)
    later = T0 + timedelta(days=30)
    assert await racp.ask(bytes([1, 3, 2]) + when(later)) == ([], NO_RECORDS)
    assert (await racp.ask(bytes([1, 6])))[1] == SUCCESS


async def test_malformed_requests_get_their_response_codes(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    for request, response in (
        (bytes([1, 0]), "06000103"),  # null operator: invalid operator
        (bytes([1, 9]), "06000104"),  # operator not supported
        (bytes([1, 3, 7]) + u16(1), "06000109"),  # filter type 7: operand not supported
        (bytes([1, 3, 1, 1]), "06000105"),  # short operand: invalid operand
        (bytes([1, 4, 1]) + u16(6) + u16(4), "06000105"),  # range upside down
        (bytes([1, 1, 0]), "06000105"),  # "all" takes no operand
        (bytes([9, 1]), "06000902"),  # op code not supported
        (bytes([3, 1]), "06000303"),  # abort with an operator
    ):
        assert await racp.ask(request) == ([], bytes.fromhex(response)), request.hex()


async def test_delete_where_the_meter_allows_it(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    assert await racp.ask(bytes([2, 2, 1]) + u16(3)) == ([], bytes.fromhex("06000201"))
    assert [sequence for sequence, _ in meter.records()] == list(range(4, 11))
    assert len(meter.model.ledger()) == 7
    received, _ = await racp.ask(bytes([1, 5]))
    assert sequences(received) == [4]  # records keep their numbers
    assert await racp.ask(bytes([2, 2, 1]) + u16(3)) == ([], bytes.fromhex("06000206"))
    assert await racp.ask(bytes([2, 1])) == ([], bytes.fromhex("06000201"))
    assert meter.records() == []
    assert await racp.ask(bytes([1, 1])) == ([], NO_RECORDS)


async def test_delete_on_a_meter_that_keeps_its_memory(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter(allow_delete=False)
    racp = await racp_of(central, meter)
    assert await racp.ask(bytes([2, 1])) == ([], bytes.fromhex("06000202"))
    assert len(meter.records()) == 10


async def test_racp_needs_its_indications_on(start_meter: MeterFactory, central: Central) -> None:
    meter = await start_meter()
    link = await pair(central, meter)
    await link.subscribe(GLUCOSE_MEASUREMENT)
    assert await link.error_of(link.write(RACP, bytes([1, 1]))) == 0x81


async def test_a_second_request_while_one_runs_is_refused(
    start_meter: MeterFactory, central: Central
) -> None:
    # A 20 ms connection interval keeps the first report running long enough.
    meter = await start_meter(quirks=GlsQuirks(connection_interval_ms=20))
    racp = await racp_of(central, meter)
    await racp.write(bytes([1, 1]))
    assert await racp.link.error_of(racp.write(bytes([4, 1]))) == 0x80
    assert await racp.response() == SUCCESS
    assert sequences(racp.received()) == list(range(1, 11))


async def test_abort_stops_a_report_mid_transfer(
    start_meter: MeterFactory, central: Central
) -> None:
    history = generate_meter_history(3, T0, count=300)
    meter = await start_meter(readings=history)
    racp = await racp_of(central, meter)
    await racp.write(bytes([1, 1]))
    for _ in range(5):
        await racp.record()
    await racp.write(bytes([3, 0]))
    assert await racp.response() == bytes.fromhex("06000301")
    got = 5 + len(sequences(racp.received()))
    assert 5 <= got < 300
    # The aborted report never answers: the next response is the next request's.
    assert await racp.ask(bytes([4, 1])) == ([], bytes.fromhex("05002c01"))


async def test_abort_with_nothing_running_succeeds(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter()
    racp = await racp_of(central, meter)
    assert await racp.ask(bytes([3, 0])) == ([], bytes.fromhex("06000301"))


# ---- faults ------------------------------------------------------------------------------


async def test_disconnect_after_record_n(start_meter: MeterFactory, central: Central) -> None:
    faults = FaultPlan().add(DisconnectAfterRecord(3))
    meter = await start_meter(faults=faults)
    racp = await racp_of(central, meter)
    await racp.write(bytes([1, 1]))
    await asyncio.wait_for(racp.link.disconnected.wait(), 5)
    assert sequences(racp.received()) == [1, 2, 3]
    assert racp.responses.empty()
    assert faults.fired == ["disconnected after record 3"]
    # Once only: the next session reads everything.
    link = await central.connect(ADDRESS)
    await link.encrypt()  # bonded
    again = await link.racp_channel(GLUCOSE_MEASUREMENT)
    received, response = await again.ask(bytes([1, 1]))
    assert (len(received), response) == (10, SUCCESS)


async def test_a_dropped_racp_indication(start_meter: MeterFactory, central: Central) -> None:
    faults = FaultPlan().add(DropIndication("racp"))
    meter = await start_meter(faults=faults)
    racp = await racp_of(central, meter)
    await racp.write(bytes([1, 6]))
    # The report's response never comes: the first response is the next request's.
    assert await racp.ask(bytes([4, 1])) == (
        [gls.measurement_of(10, meter.records()[-1][1], GlucoseUnit.MG_DL)],
        bytes.fromhex("05000a00"),
    )
    assert faults.fired == ["dropped the racp response indication"]


async def test_a_rejected_pairing(start_meter: MeterFactory, central: Central) -> None:
    faults = FaultPlan().add(RejectPairing())
    meter = await start_meter(faults=faults)

    async def shown() -> int:
        return int(await meter.wait_display())

    central.passkey = shown
    link = await central.connect(ADDRESS)
    with pytest.raises(ProtocolError) as failure:
        await link.pair()
    assert failure.value.error_name == "PAIRING_NOT_SUPPORTED"
    assert faults.fired == ["rejected a pairing request"]
    assert meter.display is None
    await asyncio.wait_for(link.disconnected.wait(), 5)
    paired = await pair(central, meter)  # once only: the user tries again
    assert await paired.read(GLUCOSE_FEATURE) == gls.encode_feature()


# ---- quirks and clock --------------------------------------------------------------------


async def test_reversed_sequence_quirk_reports_newest_first(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter(quirks=GlsQuirks(reversed_sequence=True))
    racp = await racp_of(central, meter)
    received, _ = await racp.ask(bytes([1, 1]))
    assert sequences(received) == list(range(10, 0, -1))
    # Contexts still follow their own measurement.
    index = received.index(b"ctx:" + gls.encode_context(4, meal=gls.Meal.POSTPRANDIAL))
    assert sequences([received[index - 1]]) == [4]
    received, _ = await racp.ask(bytes([1, 5]))
    assert sequences(received) == [1]  # "first" is still the oldest


async def test_date_time_quirk_replaces_current_time(
    start_meter: MeterFactory, central: Central, stepped_time: SteppedTime
) -> None:
    meter = await start_meter(quirks=GlsQuirks(date_time_characteristic=True))
    link = await pair(central, meter)
    assert not link.has(CURRENT_TIME)
    assert await link.read(DATE_TIME) == date_time(stepped_time.now)
    await link.write(DATE_TIME, date_time(datetime(2026, 3, 10, 13, 30)))
    assert meter.model.clock.now() == datetime(2026, 3, 10, 13, 30)


async def test_a_collector_sets_the_meter_clock(
    start_meter: MeterFactory, central: Central, stepped_time: SteppedTime
) -> None:
    meter = await start_meter()
    link = await central.connect(ADDRESS)
    later = datetime(2026, 3, 10, 12, 5, 0)
    assert await link.error_of(link.write(CURRENT_TIME, current_time(later))) == 0x05
    await link.disconnect()
    link = await pair(central, meter)
    assert not link.has(DATE_TIME)
    await link.write(CURRENT_TIME, current_time(later))
    stepped_time.step(seconds=10)
    assert await link.read(CURRENT_TIME) == current_time(later + timedelta(seconds=10), 1)


async def test_slow_notifications_wait_a_connection_interval_each(
    start_meter: MeterFactory, central: Central
) -> None:
    meter = await start_meter(quirks=GlsQuirks(connection_interval_ms=45))
    pauses: list[float] = []

    async def record(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    meter.sleep = record
    racp = await racp_of(central, meter)
    received, _ = await racp.ask(bytes([1, 1]))
    # One pause per notification (10 measurements, 2 contexts) and one for the response.
    assert pauses == [0.045] * (len(received) + 1)


async def test_switched_off_and_on_the_meter_keeps_bonds_and_records(
    start_meter: MeterFactory, central: Central, air: Air
) -> None:
    meter = await start_meter()
    link = await pair(central, meter)
    await meter.stop()
    await asyncio.wait_for(link.disconnected.wait(), 5)
    assert not meter.running
    await meter.start(air)
    again = await central.connect(ADDRESS)
    await again.encrypt()  # the bond survived the power cycle
    racp = await again.racp_channel(GLUCOSE_MEASUREMENT)
    received, response = await racp.ask(bytes([1, 1]))
    assert (sequences(received), response) == (list(range(1, 11)), SUCCESS)
