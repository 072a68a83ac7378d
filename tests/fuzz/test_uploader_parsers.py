"""Property tests: every uploader-side parser against arbitrary and near-valid input (issue 10).

For every input a parser returns a result or raises its typed error (bench/fuzz/targets.py
names them per parser), and its memory stays bounded however large the lengths the input
claims. Near-valid inputs (right checksums, right framing, random contents) reach past the
first check into the record layouts. Where the uploader both builds and reads a format
(its own requests, the HID and NGP framing), what it reads back is what was built.
Hypothesis profiles come from tests/fuzz/conftest.py (``ci`` by default).
"""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.fuzz.targets import TARGETS, Target, check
from uploader.errors import DeviceTimeout
from uploader.protocols import (
    astm_e1381,
    contour_hid,
    e2e_crc,
    ieee11073,
    minimed_history,
    minimed_link,
    ngp,
)

MEMORY_BOUND = 256 * 1024
"""Peak Python allocation allowed for one parse, above 64 times the input's size."""


def bounded_check(target: Target, data: bytes) -> None:
    """``check``, plus: the parse allocates at most ``MEMORY_BOUND`` beyond its input."""
    tracemalloc.start()
    try:
        check(target, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND + 64 * len(data), f"{target.name} allocated {peak} bytes"


@pytest.mark.parametrize("name", sorted(set(TARGETS) - {"usbip", "usbip_urb"}))
@given(data=st.binary(max_size=600))
def test_any_bytes_give_a_result_or_a_typed_error(name: str, data: bytes) -> None:
    bounded_check(TARGETS[name], data)


@given(data=st.binary(max_size=400))
def test_usbip_devlist_replies_give_devices_or_unreachable(data: bytes) -> None:
    reply = struct.pack(">HHI", 0x0111, 0x0005, 0) + data  # past the header: the device list
    check(TARGETS["usbip"], reply)
    check(TARGETS["usbip"], data)


_RET_SUBMIT = st.builds(
    lambda command, seqnum, status, actual, data: (
        struct.pack(">IIIIIiiiii8s", command, seqnum, 0, 0, 0, status, actual, 0, 0, 0, bytes(8))
        + data
    ),
    st.sampled_from([3, 4]) | st.integers(0, 2**32 - 1),
    st.sampled_from([1, 2]) | st.integers(0, 2**32 - 1),
    st.sampled_from([0, -32, -104, -108]) | st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 40) | st.integers(-(2**31), 2**31 - 1),
    st.binary(max_size=40),
)


@given(replies=st.lists(_RET_SUBMIT, max_size=3), tail=st.binary(max_size=20))
def test_usbip_urb_replies_give_data_within_the_length_or_a_usb_error(
    replies: list[bytes], tail: bytes
) -> None:
    check(TARGETS["usbip_urb"], b"".join(replies) + tail)


# --- near-valid inputs ------------------------------------------------------------------


def _with_crc(body: bytes) -> bytes:
    return e2e_crc.append_crc(body)


def _values(values: list[bytes]) -> bytes:
    return b"".join(bytes([len(v)]) + v for v in values)


@given(
    values=st.lists(
        st.tuples(st.integers(0, 11), st.binary(max_size=40), st.booleans()), max_size=8
    )
)
def test_gatt_values_with_good_e2e_crc(values: list[tuple[int, bytes, bool]]) -> None:
    for name in ("gls", "cgms"):
        built = [
            bytes([choice]) + (_with_crc(body) if protect else body)
            for choice, body, protect in values
        ]
        bounded_check(TARGETS[name], _values(built))


@given(
    e2e=st.booleans(),
    records=st.lists(
        st.tuples(
            st.sampled_from([0x000F, 0x0033, 0x003C, 0x005A, 0x0066, 0x0069, 0x0096, 0x00A5])
            | st.integers(0, 0xFFFF),
            st.integers(0, 8),
            st.binary(min_size=0, max_size=16),
        ),
        max_size=8,
    ),
)
def test_ids_history_runs_with_good_e2e_crc(
    e2e: bool, records: list[tuple[int, int, bytes]]
) -> None:
    """History records in order, multi-part pairs included, each with a valid E2E-CRC."""
    built = []
    for number, (event, offset, data) in enumerate(records):
        body = struct.pack("<HIH", event, number, offset) + data
        built.append(bytes([0]) + (_with_crc(body) if e2e else body))
    bounded_check(TARGETS["ids"], bytes([0x80 if e2e else 0]) + _values(built))


def _astm_frame(number: int, text: bytes, final: bool) -> bytes:
    body = bytes([0x30 + number]) + text + bytes([astm_e1381.ETX if final else astm_e1381.ETB])
    return b"\x02" + body + astm_e1381.frame_checksum(body).encode() + b"\r\n"


_FRAME_TEXT = st.binary(max_size=80).map(
    lambda b: bytes(c for c in b if c not in (0x02, 0x03, 0x17))
)


@given(number=st.integers(0, 7), text=_FRAME_TEXT, final=st.booleans())
def test_a_well_formed_frame_reads_back(number: int, text: bytes, final: bool) -> None:
    frame = astm_e1381.parse_frame(_astm_frame(number, text, final))
    assert (frame.number, frame.text, frame.final) == (number, text.decode("latin-1"), final)


@given(
    texts=st.lists(_FRAME_TEXT, min_size=1, max_size=6),
    noise=st.lists(st.binary(max_size=12), max_size=4),
)
def test_receiver_on_good_and_damaged_frames(texts: list[bytes], noise: list[bytes]) -> None:
    frames = [_astm_frame((i + 1) % 8, t, i == len(texts) - 1) for i, t in enumerate(texts)]
    messages = [b"\x05", *noise, *frames, b"\x04"]
    bounded_check(TARGETS["astm_e1381"], b"\x01" + _values(messages))


_FIELD = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=14)


@given(
    header=st.lists(_FIELD, min_size=0, max_size=15),
    results=st.lists(st.lists(_FIELD, max_size=10), max_size=4),
)
def test_contour_records_from_fields(header: list[str], results: list[list[str]]) -> None:
    lines = ["H|\\^&|" + "|".join(header)] + ["R|" + "|".join(r) for r in results]
    bounded_check(TARGETS["contour_records"], "\r".join(lines).encode("latin-1"))


@given(message=st.binary(max_size=300))
def test_contour_hid_reads_back_what_the_uploader_frames(message: bytes) -> None:
    class Loop:
        def __init__(self) -> None:
            self.reports: list[bytes] = []

        def write(self, data: bytes, timeout_ms: int) -> None:
            self.reports.append(data)

        def read(self, timeout_ms: int) -> bytes:
            if not self.reports:
                raise DeviceTimeout("empty")
            return self.reports.pop(0)

    loop = Loop()
    link = contour_hid.ContourHidLink(loop)
    link.send(message)
    if len(message) % contour_hid.PAYLOAD_SIZE == 0 and message:
        loop.reports.append(b"ABC\x00".ljust(64, b"\x00"))  # the meter's empty closing report
    assert link.receive() == message


@given(operation=st.integers(0, 255), sequence=st.integers(0, 2**32 - 1), payload=st.binary())
def test_minimed_messages_read_back(operation: int, sequence: int, payload: bytes) -> None:
    message = minimed_link.decode_message(minimed_link.encode_message(operation, sequence, payload))
    assert (message.operation, message.sequence, message.payload) == (operation, sequence, payload)


@given(command=st.integers(0, 255), payload=st.binary(max_size=250))
def test_ngp_messages_and_frames_read_back(command: int, payload: bytes) -> None:
    assert ngp.decode_ngp(ngp.encode_ngp(command, payload)) == ngp.NgpMessage(command, payload)
    frame = ngp.decode_frame(ngp.encode_frame(command, 0x0403, payload))
    assert (frame.sequence, frame.command, frame.parameters) == (command, 0x0403, payload)


@given(
    events=st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=20),
    tail=st.binary(max_size=8),
)
def test_history_blocks_with_good_crc(events: list[tuple[int, bytes]], tail: bytes) -> None:
    data = b"".join(
        bytes([kind, 0, 11 + len(body)]) + struct.pack(">II", 0x80000000, 0xFFFFF000) + body
        for kind, body in events
    )[: minimed_history.BLOCK_SIZE - 4 - len(tail)]
    data += tail
    block = data.ljust(minimed_history.BLOCK_SIZE - 4, b"\x00") + struct.pack(
        ">HH", len(data), ngp.crc16_ccitt(data)
    )
    assert minimed_history.block_data(block, 0) == data
    bounded_check(TARGETS["minimed_history"], b"\x04" + data)


@given(word=st.integers(0, 0xFFFF))
def test_every_sfloat_word_decodes(word: int) -> None:
    value = ieee11073.decode_sfloat(word.to_bytes(2, "little"))
    if value.special is None:
        assert value.value is not None
        assert abs(value.mantissa) < 0x800 and -8 <= value.exponent <= 7


# --- lengths that claim more than arrives ----------------------------------------------

HUGE_CLAIMS = {
    "minimed_link": [b"\x00Q" + bytes(27) + b"\xff\xff" + bytes(2)],
    "ngp": [b"\x00\x00\xff" + bytes(4), b"\x02" + bytes(21) + b"\xff"],
    "minimed_pump": [b"\x02\x01\xff", b"\x03" + bytes(2) + b"\xff"],
    "minimed_history": [
        b"\x01" + struct.pack(">IHHH", 0xFFFFFFFF, 0xFFFF, 0xFFFF, 0xFFFF),
        b"\x03" + struct.pack(">HBIIB", 0x0303, 2, 0xFFFFFFFF, 0xFFFFFFFF, 0),
        b"\x05\x01\xff\x00\x00",
    ],
    "ids": [b"\x00\x07\x09\x05\x00\xff\xff\xff\xff"],
    "usb_descriptors": [b"\x01\x09\x02\xff\xff\x01\x01\x00\x80\x32"],
    "contour_hid": [b"ABC\xff" + bytes(60)],
}


@pytest.mark.parametrize(("name", "data"), [(n, d) for n, ds in HUGE_CLAIMS.items() for d in ds])
def test_huge_length_claims_allocate_nothing_large(name: str, data: bytes) -> None:
    bounded_check(TARGETS[name], data)


def test_usbip_device_count_of_four_billion_reads_only_what_arrives() -> None:
    reply = struct.pack(">HHII", 0x0111, 0x0005, 0, 0xFFFFFFFF)
    tracemalloc.start()
    try:
        check(TARGETS["usbip"], reply)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
