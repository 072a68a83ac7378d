"""Round-trip properties: what the emulator encodes, the uploader decodes to the same values.

Both packages implement their side of each format independently from the specifications
(they share no code); these properties check the two readings agree on everything either
can produce: GLS and CGMS measurements, RACP requests and responses, IDS history events
(multi-part ones joined), Contour header and result records, MiniMed envelopes, NGP
messages and pump (ComD) frames both ways, AES-CFB both ways, and the USB/IP device record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from emulator.generators.meter_history import generate_meter_history
from emulator.generators.pump_history import generate_pump_history
from emulator.model.cgm import CgmRecord
from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading
from emulator.protocols import cgms as emu_cgms
from emulator.protocols import contour_records as emu_records
from emulator.protocols import gls as emu_gls
from emulator.protocols import ids as emu_ids
from emulator.protocols import minimed600 as emu_mm
from emulator.protocols import racp as emu_racp
from emulator.protocols import tandem as emu_tandem
from emulator.usbip import wire
from uploader.protocols import cgms as up_cgms
from uploader.protocols import contour_records as up_records
from uploader.protocols import gls as up_gls
from uploader.protocols import ids as up_ids
from uploader.protocols import minimed_link as up_link
from uploader.protocols import ngp as up_ngp
from uploader.protocols import racp as up_racp
from uploader.protocols import tandem as up_tandem
from uploader.transports import usbip as up_usbip

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0)
)
mantissas = st.integers(-2045, 2045)  # SFLOAT without its special values


@given(st.integers(0, 0xFFFF), times, st.integers(0, 2045), st.booleans(), st.booleans())
def test_gls_measurement(sequence: int, when: datetime, mg_dl: int, mmol: bool, low: bool) -> None:
    unit = GlucoseUnit.MMOL_L if mmol else GlucoseUnit.MG_DL
    reading = MeterReading(when, mg_dl)
    measured = up_gls.parse_measurement(emu_gls.measurement_of(sequence, reading, unit))
    assert measured.sequence == sequence
    assert measured.user_facing_time == when
    (mantissa, _exponent), _ = emu_gls.concentration_of(reading, unit)
    if mmol:
        assert measured.units == "mmol/L"
        assert measured.concentration == round(mantissa / 10, 6)
    else:
        assert (measured.units, measured.concentration) == ("mg/dL", mg_dl)
    status = emu_gls.Status.RESULT_TOO_LOW if low else None
    raw = emu_gls.encode_measurement(sequence, when, concentration=None, status=status)
    parsed = up_gls.parse_measurement(raw)
    assert parsed.concentration is None
    assert parsed.status == (int(status) if status is not None else 0)


@given(
    st.integers(0, 2045),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFF),
    st.none() | st.integers(-2045, 2045).map(lambda m: m / 10),
    st.none() | st.integers(0, 100).map(float),
    st.booleans(),
)
def test_cgms_measurement(
    mg_dl: int, offset: int, status: int, trend: float | None, quality: float | None, e2e: bool
) -> None:
    record = CgmRecord(datetime(2024, 1, 1), 60, offset, mg_dl, trend, quality, status)
    value = emu_cgms.measurement_of(record, e2e=e2e)
    (measured,) = up_cgms.parse_measurements(value, e2e)
    assert measured.glucose_mg_dl == mg_dl
    assert measured.time_offset_minutes == offset
    assert measured.status == status
    assert measured.trend == trend
    assert measured.quality == quality


@given(
    st.sampled_from([up_racp.OpCode.REPORT_RECORDS, up_racp.OpCode.REPORT_NUMBER]),
    st.sampled_from(
        [
            up_racp.Operator.LESS_OR_EQUAL,
            up_racp.Operator.GREATER_OR_EQUAL,
            up_racp.Operator.WITHIN_RANGE,
            up_racp.Operator.ALL,
            up_racp.Operator.LAST,
        ]
    ),
    st.one_of(
        st.tuples(
            st.just(emu_gls.FILTER_SEQUENCE_NUMBER), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)
        ),
        st.tuples(st.just(emu_gls.FILTER_USER_FACING_TIME), times, times),
    ),
)
def test_racp_request_from_the_uploader_is_what_the_meter_parses(
    op: up_racp.OpCode, operator: up_racp.Operator, operands: tuple[int, object, object]
) -> None:
    filter_type, low, high = operands
    if operator in (up_racp.Operator.ALL, up_racp.Operator.LAST):
        request = emu_racp.parse_request(up_racp.request(op, operator), emu_gls.FILTERS)
        assert (int(request.op), int(request.operator)) == (int(op), int(operator))
        return
    if operator is up_racp.Operator.WITHIN_RANGE:
        low, high = sorted((low, high))  # type: ignore[type-var]
        value = up_racp.request(op, operator, filter_type, low, high)  # type: ignore[arg-type]
        parsed = emu_racp.parse_request(value, emu_gls.FILTERS)
        assert (parsed.low, parsed.high) == (low, high)
    else:
        value = up_racp.request(op, operator, filter_type, low)  # type: ignore[arg-type]
        parsed = emu_racp.parse_request(value, emu_gls.FILTERS)
        assert low in (parsed.low, parsed.high)
    assert (int(parsed.op), int(parsed.operator)) == (int(op), int(operator))
    assert parsed.filter_type == filter_type


@given(st.integers(0, 0xFFFF), st.integers(1, 4), st.sampled_from(list(emu_racp.ResponseCode)))
def test_racp_responses_from_the_meter_are_what_the_uploader_reads(
    count: int, op: int, code: emu_racp.ResponseCode
) -> None:
    assert up_racp.parse_response(emu_racp.number_response(count)).number_of_records == count
    response = up_racp.parse_response(emu_racp.response_code(op, code))
    assert (response.request_op, response.code) == (op, code)


@given(st.integers(0, 2**16), st.integers(1, 2), st.booleans())
def test_ids_history_events_of_a_generated_pump(seed: int, days: int, e2e: bool) -> None:
    end = datetime(2024, 3, 31, 12, tzinfo=UTC)
    pump = generate_pump_history(seed, timezone="Europe/Berlin", end=end, days=days)
    values = [emu_ids.encode_event(event, e2e=e2e) for event in pump.history]
    records = [up_ids.parse_history(value, e2e) for value in values]
    assert [r.record_number for r in records] == [e.record_number for e in pump.history]
    assert [r.relative_offset_s for r in records] == [e.relative_offset for e in pump.history]
    joined = up_ids.join_events(records)
    assert joined.incomplete is None
    numbers = {event.record for event in joined.events}  # each event's (first) record
    assert numbers <= {e.record_number for e in pump.history}
    assert len(joined.events) >= len(pump.history) / 2


@given(st.integers(0, 2**16), st.integers(1, 3), st.sampled_from(list(GlucoseUnit)))
def test_contour_records_of_a_generated_meter(seed: int, days: int, unit: GlucoseUnit) -> None:
    meter = MeterModel("7390012", "Contour Next USB", "5.1.2", unit=unit)
    readings = generate_meter_history(seed, datetime(2024, 5, 1, 12), days=days)
    for reading in readings:
        meter.memory.append(reading)
    texts = emu_records.transfer_records(meter, emu_records.ContourIdentity())
    header = up_records.parse_header(texts[0].rstrip("\r"))
    assert header.serial_number == "7390012"
    assert header.result_count == len(readings)
    results = [up_records.parse_record(text.rstrip("\r"), header.delimiters) for text in texts[1:]]
    glucose = [r for r in results if isinstance(r, up_records.ContourResult)]
    assert [r.device_time for r in glucose] == [r.device_time for r in readings]
    if unit is GlucoseUnit.MG_DL:
        assert [float(r.value_text) for r in glucose] == [r.value_mg_dl for r in readings]


@given(st.integers(0, 0xFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=300))
def test_minimed_envelope_both_ways(operation: int, sequence: int, payload: bytes) -> None:
    decoded = up_link.decode_message(emu_mm.encode_minimed(operation, sequence, payload))
    assert (decoded.operation, decoded.sequence, decoded.payload) == (operation, sequence, payload)
    back = emu_mm.decode_minimed(up_link.encode_message(operation, sequence, payload))
    assert (back.operation, back.sequence, back.payload) == (operation, sequence, payload)


@given(st.integers(0, 0xFF), st.binary(max_size=200))
def test_ngp_message_both_ways(command: int, payload: bytes) -> None:
    decoded = up_ngp.decode_ngp(emu_mm.encode_ngp(command, payload))
    assert (decoded.command, decoded.payload) == (command, payload)
    back = emu_mm.decode_ngp(up_ngp.encode_ngp(command, payload))
    assert (back.command, back.payload) == (command, payload)


@given(
    st.integers(0, 0xFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=200),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 0xFF),
)
def test_pump_frame_encrypted_both_ways(
    sequence: int, command: int, parameters: bytes, key: bytes, channel: int
) -> None:
    cipher = emu_mm.encrypt(key, channel, emu_mm.encode_comd(sequence, command, parameters))
    frame = up_ngp.decode_frame(up_ngp.decrypt(key, channel, cipher))
    assert (frame.sequence, frame.command, frame.parameters) == (sequence, command, parameters)
    cipher = up_ngp.encrypt(key, channel, up_ngp.encode_frame(sequence, command, parameters))
    comd = emu_mm.decode_comd(emu_mm.decrypt(key, channel, cipher))
    assert (comd.sequence, comd.command, comd.parameters) == (sequence, command, parameters)


@given(
    st.from_regex(r"[0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True),
    st.tuples(*[st.integers(0, 0xFFFFFFFF)] * 3),
    st.tuples(*[st.integers(0, 0xFFFF)] * 2),
    st.lists(st.tuples(*[st.integers(0, 0xFF)] * 3), max_size=4),
)
def test_usbip_device_record(
    busid: str,
    numbers: tuple[int, int, int],
    ids: tuple[int, int],
    interfaces: list[tuple[int, int, int]],
) -> None:
    exported = wire.ExportedDevice(
        f"/sys/devices/usbip/{busid}",
        busid,
        *numbers,
        *ids,
        0x0100,
        0,
        0,
        0,
        1,
        1,
        tuple(interfaces),
    )
    device, count = up_usbip._unpack_device(exported.pack())
    assert (device.busid, device.busnum, device.devnum, device.speed) == (busid, *numbers)
    assert (device.vendor_id, device.product_id) == ids
    assert count == len(interfaces)


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.binary(max_size=255))
def test_tandem_message_both_ways(opcode: int, transaction_id: int, cargo: bytes) -> None:
    joiner = up_tandem.Joiner()
    frames = [
        joiner.feed(c)
        for c in emu_tandem.chunks(
            emu_tandem.encode_message(opcode, transaction_id, cargo), transaction_id
        )
    ]
    decoded = next(f for f in frames if f is not None)  # the joiner decodes the whole message
    assert (decoded.opcode, decoded.transaction_id, decoded.cargo) == (
        opcode,
        transaction_id,
        cargo,
    )
    emulator_side = emu_tandem.Joiner()
    message = up_tandem.Message(opcode, transaction_id, cargo)
    joined = [emulator_side.feed(c) for c in up_tandem.packets(message)]
    back = emu_tandem.decode_message(next(j for j in joined if j is not None))
    assert (back.opcode, back.transaction_id, back.cargo) == (opcode, transaction_id, cargo)
