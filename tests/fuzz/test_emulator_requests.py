"""Property tests: the emulator's parsers of what a host sends it (issue 10).

Every input gets the parser's typed error or a correct result, never another exception:
Contour HID OUT reports and the ASTM E1381 link (emulator/protocols/contour_hid.py,
e1381.py), the GATT writes the BLE peripherals receive (RACP of GLS and CGMS, CGMS SOCP and
Session Start Time, IDD RACP with and without E2E protection, the GLS clock write), and the
IDD Status Reader and Command Control Point writes (answered as the uploader reads them),
MiniMed/NGP messages the emulated Contour Next Link and pump receive (minimed600.py), and
any ComD command to the emulated 600-series pump (answered in frames the uploader reads),
and the Tandem pump's chunk joiner, framing, pairing challenges and signatures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from emulator.ble.ids_pump import IdsPump
from emulator.devices.minimed600_pump import Minimed600Pump
from emulator.generators.pump_history import generate_pump_history
from emulator.protocols import (
    cgms,
    contour_hid,
    e1381,
    gls,
    ids,
    minimed600,
    racp,
    tandem,
    tandem_auth,
)
from emulator.protocols import minimed600_constants as mc
from emulator.protocols.ble_time import parse_date_time
from emulator.protocols.e2e_crc import CrcError, with_crc
from uploader.protocols import ids as uploader_ids
from uploader.protocols import ngp as up_ngp

raw = st.binary(max_size=300)


@given(raw)
def test_contour_out_report_payload_stays_inside_the_report(report: bytes) -> None:
    payload = contour_hid.decode_out_report(report)
    assert len(payload) <= contour_hid.PAYLOAD_SIZE
    assert payload == report[4 : 4 + len(payload)]


@given(st.lists(st.binary(max_size=70), max_size=40))
def test_e1381_meter_answers_every_host_write_with_link_bytes(writes: list[bytes]) -> None:
    texts = ["1H|\\^&||||||||||P|1|\r", "2R|1|^^^Glucose|100|mg/dL^P||||202001010000\r", "3L|1\r"]
    sender = e1381.E1381Sender(lambda: list(texts), max_retries=3)
    for data in writes:
        answers = sender.receive(data)
        assert len(answers) == (1 if data else 0)
        for answer in answers:
            assert answer  # never an empty message: the host would wait forever
            assert len(answer) <= 3 + 7 + max(len(t) for t in texts)


def _check_racp(value: bytes, filters: dict[int, racp.FilterType]) -> None:
    try:
        request = racp.parse_request(value, filters)
    except racp.Rejected as rejected:
        response = rejected.response()
        assert response[:2] == bytes([racp.Op.RESPONSE_CODE, racp.Operator.NULL])
        assert response[3] != racp.ResponseCode.SUCCESS
        return
    assert request.op == value[0]
    if request.low is not None and request.high is not None:
        assert request.low <= request.high


@given(raw)
def test_gls_racp_write_is_parsed_or_rejected(value: bytes) -> None:
    _check_racp(value, gls.FILTERS)


@given(st.sampled_from([1, 2, 3, 4]), st.integers(0, 7), st.sampled_from([1, 2]), raw)
def test_gls_racp_shaped_write_is_parsed_or_rejected(
    op: int, operator: int, filter_type: int, operand: bytes
) -> None:
    _check_racp(bytes([op, operator, filter_type]) + operand[:14], gls.FILTERS)


@given(st.sampled_from([1, 3, 4]), st.integers(0, 7), st.just(1), st.binary(max_size=5))
def test_cgms_racp_write_is_parsed_or_rejected(
    op: int, operator: int, filter_type: int, operand: bytes
) -> None:
    _check_racp(bytes([op, operator, filter_type]) + operand, cgms.FILTERS)


@given(raw, st.booleans())
def test_cgms_socp_write_is_parsed_or_refused_for_its_crc(value: bytes, e2e: bool) -> None:
    try:
        request = cgms.parse_socp(value, e2e=e2e)
    except CrcError:
        assert e2e
        return
    payload = value[:-2] if e2e else value
    assert bytes([request.op]) + request.operand == (payload or b"\x00")


@given(st.binary(min_size=7, max_size=11), st.booleans())
def test_cgms_session_start_time_write_is_parsed_or_refused(value: bytes, e2e: bool) -> None:
    for candidate in (value, with_crc(value)):
        try:
            when, _zone, _dst = cgms.parse_session_start_time(candidate, e2e=e2e)
        except ValueError:  # CrcError is a ValueError: both become an ATT error
            continue
        assert isinstance(when, datetime)


@given(raw)
def test_gls_clock_write_is_a_time_or_out_of_range(value: bytes) -> None:
    try:
        when = parse_date_time(value[:7])
    except ValueError:
        return
    assert when.year == int.from_bytes(value[:2], "little")


@given(raw, st.booleans())
def test_ids_racp_write_is_parsed_or_rejected(value: bytes, e2e: bool) -> None:
    for candidate in (value, with_crc(value)):
        try:
            payload = ids.unprotect(candidate, e2e)
            request = ids.parse_racp(payload)
        except CrcError:
            assert e2e
            continue
        except ids.RacpRejected as rejected:
            refused = rejected.code
            assert refused != ids.RacpCode.SUCCESS
            continue
        assert request.op == payload[0]
        if request.low is not None and request.high is not None:
            assert request.low <= request.high


@given(st.sampled_from([0x33, 0x3C, 0x5A]), st.integers(0, 7), st.integers(0, 4), raw)
def test_ids_racp_shaped_write_is_parsed_or_rejected(
    op: int, operator: int, filter_type: int, operand: bytes
) -> None:
    code = ids.RacpCode.SUCCESS
    try:
        ids.parse_racp(bytes([op, operator, filter_type]) + operand[:9])
    except ids.RacpRejected as rejected:
        code = rejected.code
        assert code != ids.RacpCode.SUCCESS, "a rejection always carries a failure code"


@given(raw)
def test_minimed_envelope_is_decoded_or_refused(data: bytes) -> None:
    try:
        message = minimed600.decode_minimed(data)
    except minimed600.MessageError:
        return
    assert minimed600.minimed_complete(data)
    assert len(message.payload) == int.from_bytes(data[28:30], "little")


@given(raw)
def test_minimed_envelope_with_valid_checksum_is_decoded(data: bytes) -> None:
    payload = data[:200]
    message = minimed600.encode_minimed(data[0] if data else 0, len(data), payload)
    decoded = minimed600.decode_minimed(message + data)
    assert decoded.payload == payload


@given(raw)
def test_ngp_message_is_decoded_or_refused(data: bytes) -> None:
    for candidate in (data, minimed600.encode_ngp(data[0] if data else 0, data[1:200])):
        try:
            message = minimed600.decode_ngp(candidate)
        except minimed600.MessageError:
            continue
        assert len(message.payload) == candidate[1] - 2


@given(raw)
def test_join_and_transmit_requests_are_decoded_or_refused(payload: bytes) -> None:
    try:
        join = minimed600.decode_join_request(payload)
        assert join.sequence == payload[0]
    except minimed600.MessageError:
        assert len(payload) < 26
    try:
        transmit = minimed600.decode_transmit_request(payload)
        assert len(transmit.encrypted) == payload[10]
    except minimed600.MessageError:
        assert len(payload) < 11 or len(payload) < 11 + payload[10]


@given(raw, st.binary(min_size=16, max_size=16), st.integers(0, 0xFF))
def test_comd_message_decrypted_from_anything_is_decoded_or_refused(
    cipher: bytes, key: bytes, channel: int
) -> None:
    plain = minimed600.decrypt(key, channel, cipher)
    assert len(plain) == len(cipher)
    for candidate in (plain, minimed600.encode_comd(channel, len(cipher), plain)):
        try:
            message = minimed600.decode_comd(candidate)
        except minimed600.MessageError:
            continue
        assert message.parameters == candidate[3:-2]


_PUMP_HISTORY = generate_pump_history(
    5, timezone="Europe/Berlin", end=datetime(2026, 3, 15, tzinfo=UTC), days=1
)
PUMPS = {e2e: IdsPump(_PUMP_HISTORY, e2e=e2e) for e2e in (False, True)}  # never started


@given(
    st.one_of(
        raw,
        st.sampled_from([0x0303, 0x030C, 0x0330, 0x0356, 0x0F55]).map(
            lambda op: op.to_bytes(2, "little")
        ),
        st.binary(max_size=4).map(lambda b: b"\x5a\x0f" + b),
    ),
    st.booleans(),
)
def test_ids_control_point_writes_get_an_answer_the_uploader_reads(
    payload: bytes, e2e: bool
) -> None:
    pump = PUMPS[e2e]
    requested = int.from_bytes(payload[:2], "little") if len(payload) >= 2 else 0
    srcp = uploader_ids.parse_cp(pump._srcp_answer(payload), e2e)
    data, answer = pump._ccp_answer(payload)
    ccp = uploader_ids.parse_cp(answer, e2e)
    for item in data:
        uploader_ids.parse_cp(ids.protect(item, 0 if e2e else None), e2e)
    assert ccp.response_code()[0] == requested
    if srcp.op == uploader_ids.StatusReaderOp.RESPONSE_CODE:
        assert srcp.response_code()[0] == requested


_MINIMED_END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
MINIMED_PUMP = Minimed600Pump(
    generate_pump_history(
        5,
        timezone="Europe/Berlin",
        end=_MINIMED_END,
        days=1,
        time_source=lambda: _MINIMED_END,
    ),
    seed=5,
    timezone="Europe/Berlin",
)
PUMP_COMMANDS = [
    mc.HIGH_SPEED_MODE,
    mc.TIME_REQUEST,
    mc.READ_PUMP_STATUS_REQUEST,
    mc.READ_BASAL_PATTERN_REQUEST,
    mc.READ_BWZ_CARB_RATIOS_REQUEST,
    mc.READ_BWZ_SENSITIVITY_REQUEST,
    mc.READ_BWZ_TARGETS_REQUEST,
    mc.READ_HISTORY_INFO_REQUEST,
    mc.READ_HISTORY_REQUEST,
    mc.ACK_COMMAND,
    mc.MULTIPACKET_RESEND_PACKETS,
]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 0xFF),
            st.one_of(st.sampled_from(PUMP_COMMANDS), st.integers(0, 0xFFFF)),
            st.one_of(
                st.binary(max_size=12),
                st.builds(
                    lambda kind, full, low, high: bytes([kind, full]) + low + high,
                    st.sampled_from([mc.HISTORY_PUMP_DATA, mc.HISTORY_SENSOR_DATA, 7]),
                    st.integers(0, 3),
                    st.binary(min_size=4, max_size=4),
                    st.binary(min_size=4, max_size=4),
                ),
            ),
        ),
        max_size=5,
    )
)
def test_minimed_pump_answers_any_command_with_frames_the_uploader_reads(
    requests: list[tuple[int, int, bytes]],
) -> None:
    for sequence, command, parameters in requests:
        request = minimed600.decode_comd(minimed600.encode_comd(sequence, command, parameters))
        for answer in MINIMED_PUMP.answer(request):
            frame = up_ngp.decode_frame(answer)  # a whole frame with a good CRC
            assert minimed600.decode_comd(answer).command == frame.command


def _tandem_checks(message: tandem.Message, key: bytes) -> list[str]:
    """The steps of the pairing and signature checks that refused ``message``'s cargo."""
    refused = []
    checks = (
        tandem_auth.parse_central_challenge,
        lambda cargo: tandem_auth.check_pump_challenge("A" * 16, key, cargo),
        lambda cargo: tandem_auth.verify(message.opcode, message.transaction_id, cargo, key),
    )
    for check in checks:
        try:
            check(message.cargo)
        except tandem_auth.AuthError as error:
            refused.append(error.step)
    return refused


@given(st.lists(st.binary(max_size=24), max_size=12), st.binary(min_size=20, max_size=20))
def test_tandem_pump_joins_decodes_and_checks_any_host_writes(
    chunks: list[bytes], key: bytes
) -> None:
    joiner = tandem.Joiner()
    for chunk in chunks:
        try:
            joined = joiner.feed(chunk)
            message = None if joined is None else tandem.decode_message(joined)
        except tandem.FramingError as error:
            step = error.step
            assert step in ("chunk", "length", "crc")
            continue
        if joined is None or message is None:
            continue
        assert len(message.cargo) == joined[2]
        assert all(_tandem_checks(message, key))
