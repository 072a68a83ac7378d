"""The emulated Contour Next Link 2.4 and its paired MiniMed 600 pump, driven report by report
the way a host does (the uploader's own driver is tested end to end in tests/e2e)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from emulator.devices.cnl24 import Cnl24Faults, ContourNextLink24, build_cnl_minimed
from emulator.protocols import lzo1x_encode
from emulator.protocols import minimed600 as mm
from emulator.protocols import minimed600_constants as c
from emulator.usb import EmulatedUsbBackend
from emulator.usb.device import DeviceGone

END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TZ = "America/Chicago"


class Host:
    """A bare host: writes OUT reports, reads whole messages (test helper)."""

    def __init__(self, link: ContourNextLink24) -> None:
        self.link = link
        self.seq = 0
        self.ngp_seq = 1
        self.comd_seq = 0
        self.key = b""
        self.channel = 0

    def send(self, data: bytes) -> None:
        chunks = [data[i : i + 60] for i in range(0, len(data), 60)] or [b""]
        if len(chunks[-1]) == 60:
            chunks.append(b"")
        for chunk in chunks:
            self.link.write_out(0x01, (bytes(3) + bytes([len(chunk)]) + chunk).ljust(64, b"\0"))

    def read(self, timeout_ms: int = 200) -> bytes:
        message = b""
        while True:
            report = self.link.read_in(0x81, 64, timeout_ms)
            assert report[:3] == b"ABC"
            message += report[4 : 4 + report[3]]
            if report[3] < 60:
                return message

    def pending(self) -> bool:
        try:
            self.link.read_in(0x81, 64, 30)
        except Exception:
            return False
        return True

    def control(self, data: bytes) -> bytes:
        self.send(data)
        return self.read()

    def minimed(self, op: int, payload: bytes = b"") -> mm.MinimedMessage:
        self.seq += 1
        self.send(mm.encode_minimed(op, self.seq, payload))
        return mm.decode_minimed(self.read())

    def ngp(self, command: int, payload: bytes) -> None:
        self.seq += 1
        self.send(mm.encode_minimed(c.SEND_MESSAGE, self.seq, mm.encode_ngp(command, payload)))
        ack = mm.decode_minimed(self.read())
        assert ack.operation == c.SEND_MESSAGE_RESPONSE

    def receive(self) -> bytes:
        message = mm.decode_minimed(self.read())
        assert message.operation == c.RECEIVE_MESSAGE
        return mm.decode_ngp(message.payload).payload

    def join(self, channel: int, cnl_mac: int, pump_mac: int) -> bool:
        payload = bytes([1, channel, 0, 0, 0, 7, 7, 0, 0, 2]) + struct.pack(
            "<QQ", cnl_mac, pump_mac
        )
        self.ngp(c.NGP_JOIN_NETWORK, payload)
        answer = self.receive()
        if len(answer) > 40 and answer[16] == 0x82 and answer[33] == 0x42:
            self.channel = answer[41]
            return True
        return False

    def transmit(self, pump_mac: int, command: int, params: bytes = b"") -> None:
        if command == c.HIGH_SPEED_MODE:
            seq, mode = 0x80, c.MODE_ENCRYPTED
        else:
            self.comd_seq += 1
            seq, mode = self.comd_seq, c.MODE_ENCRYPTED | c.MODE_HIGH_SPEED
        self.ngp_seq += 1
        enc = mm.encrypt(self.key, self.channel, mm.encode_comd(seq, command, params))
        body = struct.pack("<Q", pump_mac) + bytes([self.ngp_seq, mode, len(enc)]) + enc
        self.ngp(c.NGP_TRANSMIT_PACKET, body)

    def answer(self) -> mm.ComdMessage:
        payload = self.receive()
        encrypted = payload[22 : 22 + payload[21]]
        return mm.decode_comd(mm.decrypt(self.key, self.channel, encrypted))


def unpack_key(packed: bytes, serial: str) -> bytes:
    """The public host-side rule (packetStructure.md / public drivers)."""
    pos, key = ord(serial[-1]) & 7, bytearray()
    for _ in range(16):
        key.append((~packed[pos] & 0xFF) if packed[pos + 1] & 1 else packed[pos])
        pos += 2 if (packed[pos + 1] >> 1) & 1 else 3
    return bytes(key)


@pytest.fixture(scope="module")
def history_link() -> ContourNextLink24:
    # Plain sessions: this side reads the blocks as they are (the LZO1X test is below).
    return build_cnl_minimed(
        timezone=TZ, end=END, seed=3, days=10, time_source=lambda: END, compress_history=False
    )


def plugged(link: ContourNextLink24) -> tuple[EmulatedUsbBackend, Host]:
    bus = EmulatedUsbBackend()
    bus.plug(link)
    link.configuration = 1
    return bus, Host(link)


def open_session(host: Host) -> tuple[int, int]:
    first, second = host.control(b"X"), host.read()
    assert first[0] == c.EOT and second == bytes([c.ENQ])
    assert b"6213-1234567" in first and b"^NG1234567H|" in first
    assert host.control(bytes([c.NAK])) == bytes([c.EOT])
    assert host.control(bytes([c.ENQ])) == bytes([c.ACK])
    for step in (b"W|", b"Q|", b"1|"):
        assert host.control(step) == bytes([c.ACK])
    opened = host.minimed(c.OPEN_CONNECTION, mm.hmac_for("6213-1234567"))
    assert opened.operation == c.OPEN_CONNECTION
    info = host.minimed(c.READ_INFO).payload
    cnl_mac, pump_mac = struct.unpack(">QQ", info[:16])
    assert info[18] & 1
    linked = host.minimed(c.REQUEST_LINK_KEY)
    assert linked.operation == c.REQUEST_LINK_KEY_RESPONSE and len(linked.payload) == 55
    host.key = unpack_key(linked.payload, "6213-1234567")
    return cnl_mac, pump_mac


def read_sessions(host: Host, pump_mac: int, data_type: int) -> tuple[int, list[bytes]]:
    """The history info's size and the sessions (command first) as the pump sent them."""
    params = bytes([data_type, c.HISTORY_FULL]) + struct.pack(">II", 0, 0) + bytes(2)
    host.transmit(pump_mac, c.READ_HISTORY_INFO_REQUEST, params)
    info = host.answer()
    size = struct.unpack(">I", info.parameters[1:5])[0]
    host.transmit(pump_mac, c.READ_HISTORY_REQUEST, params)
    sessions: list[bytes] = []
    while True:
        start = host.answer()
        if start.command == c.END_HISTORY_TRANSMISSION:
            assert host.answer().command == c.HIGH_SPEED_MODE
            break
        assert start.command == c.INITIATE_MULTIPACKET_TRANSFER
        total, _, _, count = struct.unpack(">IHHH", start.parameters[:10])
        host.transmit(pump_mac, c.ACK_COMMAND, struct.pack(">H", c.INITIATE_MULTIPACKET_TRANSFER))
        data = b"".join(host.answer().parameters[2:] for _ in range(count))
        assert (
            len(data) == total and struct.unpack(">H", data[:2])[0] == c.UNMERGED_HISTORY_RESPONSE
        )
        sessions.append(data)
        host.transmit(
            pump_mac, c.ACK_COMMAND, struct.pack(">H", c.MULTIPACKET_SEGMENT_TRANSMISSION)
        )
    return size, sessions


def read_history(host: Host, pump_mac: int, data_type: int) -> list[bytes]:
    size, sessions = read_sessions(host, pump_mac, data_type)
    blocks: list[bytes] = []
    for data in sessions:
        assert data[11] == c.HISTORY_FLAG_PLAIN
        payload = data[12:]
        for i in range(0, len(payload), 2048):
            block = payload[i : i + 2048]
            used, crc = struct.unpack(">HH", block[-4:])
            assert mm.crc16(block[:used]) == crc
            blocks.append(block[:used])
    assert len(blocks) * 2048 == size
    events = []
    for block in blocks:
        pos = 0
        while pos < len(block):
            events.append(block[pos : pos + block[pos + 2]])
            pos += block[pos + 2]
    return events


def test_whole_session_reads_the_ledger(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    cnl_mac, pump_mac = open_session(host)
    assert not host.join(0x14, cnl_mac, pump_mac)
    assert host.join(c.DEFAULT_CHANNEL, cnl_mac, pump_mac)
    host.transmit(pump_mac, c.HIGH_SPEED_MODE, bytes([c.HIGH_SPEED_ENABLE]))
    assert history_link.pump.high_speed
    host.transmit(pump_mac, c.TIME_REQUEST)
    time = host.answer()
    assert time.command == c.TIME_RESPONSE and time.parameters[0] == 1
    rtc, offset = struct.unpack(">II", time.parameters[1:9])
    shown = datetime(2000, 1, 1) + (datetime(2000, 1, 1, 0, 0, rtc % 60) - datetime(2000, 1, 1)) * 0
    shown = datetime.fromtimestamp(946684800 + rtc + offset - 2**32, UTC).replace(tzinfo=None)
    assert shown == history_link.pump.model.display(END)
    host.transmit(pump_mac, c.READ_PUMP_STATUS_REQUEST)
    status = host.answer()
    assert status.command == c.READ_PUMP_STATUS_RESPONSE and len(status.parameters) == 93
    host.transmit(pump_mac, c.READ_BASAL_PATTERN_REQUEST, bytes([1]))
    pattern = host.answer()
    template = history_link.pump.model.settings.basal(1)
    assert pattern.parameters[1] == len(template.blocks)
    host.transmit(pump_mac, c.READ_BWZ_CARB_RATIOS_REQUEST)
    ratios = host.answer().parameters
    assert struct.unpack(">H", ratios[:2])[0] == mm.crc16(ratios[2:])
    ledger = history_link.pump.model.ledger
    pump_events = read_history(host, pump_mac, c.HISTORY_PUMP_DATA)
    kinds = [e[0] for e in pump_events]
    programmed = sum(kinds.count(k) for k in (0x15, 0x16, 0x17))
    assert programmed == len(ledger.boluses) > 0
    assert kinds.count(c.EV_REWIND) == len(ledger.reservoir_changes)
    assert kinds.count(c.EV_BG_READING) == len(history_link.pump.bg_readings) > 0
    sensor_events = read_history(host, pump_mac, c.HISTORY_SENSOR_DATA)
    readings = sum(e[12] for e in sensor_events)
    assert readings == len(history_link.pump.sensor) > 0
    closed = host.minimed(c.CLOSE_CONNECTION)
    assert closed.operation == c.CLOSE_CONNECTION
    assert host.control(b"W|") == bytes([c.ACK])
    assert host.control(b"Q|") == bytes([c.ACK])
    assert host.control(b"0|") == bytes([c.ACK])
    assert host.control(bytes([c.EOT])) == bytes([c.ENQ])
    bus.unplug(history_link)


def test_wrong_hmac_is_refused(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    host.control(b"X")
    host.read()
    for step in (bytes([c.NAK]), bytes([c.ENQ]), b"W|", b"Q|", b"1|"):
        host.control(step)
    host.seq += 1
    host.send(mm.encode_minimed(c.OPEN_CONNECTION, host.seq, bytes(32)))
    assert host.read() == bytes([c.NAK])
    bus.unplug(history_link)


def test_pump_out_of_range_joins_no_channel(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    history_link.link_faults = Cnl24Faults(pump_out_of_range=True)
    try:
        cnl_mac, pump_mac = open_session(host)
        assert not any(host.join(ch, cnl_mac, pump_mac) for ch in c.RADIO_CHANNELS)
        assert "pump out of radio range" in history_link.faults.fired
    finally:
        history_link.link_faults = Cnl24Faults()
        bus.unplug(history_link)


def test_pump_leaving_range_mid_session_answers_nothing(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    cnl_mac, pump_mac = open_session(host)
    assert host.join(c.DEFAULT_CHANNEL, cnl_mac, pump_mac)
    history_link.link_faults.pump_out_of_range = True
    try:
        host.transmit(pump_mac, c.TIME_REQUEST)
        assert not host.pending()
    finally:
        history_link.link_faults = Cnl24Faults()
        bus.unplug(history_link)


def test_corrupted_crc_then_clean_answer(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    cnl_mac, pump_mac = open_session(host)
    assert host.join(c.DEFAULT_CHANNEL, cnl_mac, pump_mac)
    history_link.link_faults.corrupt_crc_answers = 1
    host.transmit(pump_mac, c.TIME_REQUEST)
    with pytest.raises(mm.MessageError, match="CRC"):
        host.receive()
    host.transmit(pump_mac, c.TIME_REQUEST)
    assert host.answer().command == c.TIME_RESPONSE
    bus.unplug(history_link)


def test_wrong_link_key_cannot_be_decrypted(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    history_link.link_faults = Cnl24Faults(wrong_link_key=True)
    try:
        cnl_mac, pump_mac = open_session(host)
        assert host.key != history_link.pump.radio.link_key
        assert host.join(c.DEFAULT_CHANNEL, cnl_mac, pump_mac)
        host.transmit(pump_mac, c.TIME_REQUEST)
        with pytest.raises(mm.MessageError, match="CRC"):
            host.answer()
    finally:
        history_link.link_faults = Cnl24Faults()
        bus.unplug(history_link)


def test_unplugged_link_fails_like_libusb(history_link: ContourNextLink24) -> None:
    bus, host = plugged(history_link)
    open_session(host)
    bus.unplug(history_link)
    with pytest.raises(DeviceGone):
        host.control(bytes([c.ENQ]))


def _local(raw: bytes) -> datetime:
    rtc, offset = struct.unpack(">II", raw[3:11])
    return datetime(2000, 1, 1) + (
        datetime.fromtimestamp(rtc + offset - 2**32, UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    )


def test_history_has_one_event_per_ledger_item(history_link: ContourNextLink24) -> None:
    pump = history_link.pump
    ledger = pump.model.ledger
    events = pump.history_events(c.HISTORY_PUMP_DATA)
    starts = [e for e in events if e[0] in (0x1D, 0x1B, 0x1E)]
    intervals = [*ledger.basal, pump.model.open_interval()]
    assert [_local(e) for e in starts] == [i.start_display for i in intervals if i is not None]
    programmed = [e for e in events if e[0] in (0x15, 0x16, 0x17)]
    assert [_local(e) for e in programmed] == [b.start_display for b in ledger.boluses]
    assert sum(e[0] == c.EV_USER_TIME_DATE_CHANGE for e in events) == len(ledger.clock_changes)
    assert sum(e[0] == c.EV_CANNULA_FILL_DELIVERED for e in events) == len(ledger.primes)
    assert sum(e[0] == c.EV_ALARM_NOTIFICATION for e in events) == len(ledger.alarms)
    sensor = pump.history_events(c.HISTORY_SENSOR_DATA)
    assert [_local(e) for e in sensor][-1] == pump.sensor[-1].display


def test_temp_basals_state_their_programmed_duration(history_link: ContourNextLink24) -> None:
    pump = history_link.pump
    temps: list[tuple[datetime, datetime]] = []
    for interval in pump.model.ledger.basal:
        planned = interval.temp_planned_end
        if interval.delivery != "temp" or planned is None:
            continue
        if temps and temps[-1][1] == planned:
            continue
        temps.append((interval.start, planned))
    events = pump.history_events(c.HISTORY_PUMP_DATA)
    programmed = [e for e in events if e[0] == c.EV_TEMP_BASAL_PROGRAMMED]
    complete = [e for e in events if e[0] == c.EV_TEMP_BASAL_COMPLETE]
    assert temps and len(programmed) == len(temps) >= len(complete) >= len(temps) - 1
    want = [round((end - start).total_seconds() / 60) for start, end in temps]
    assert [struct.unpack(">H", e[18:20])[0] for e in programmed] == want
    assert [struct.unpack(">H", e[18:20])[0] for e in complete] == want[: len(complete)]


def test_basal_patterns_never_set_are_empty_and_unknown_ones_refused(
    history_link: ContourNextLink24,
) -> None:
    pump = history_link.pump
    answer = pump.answer(mm.ComdMessage(1, c.READ_BASAL_PATTERN_REQUEST, bytes([8])))
    assert mm.decode_comd(answer[0]).parameters == bytes([8, 0])
    refused = mm.decode_comd(
        pump.answer(mm.ComdMessage(2, c.READ_BASAL_PATTERN_REQUEST, b"\x09"))[0]
    )
    assert refused.command == c.NAK_COMMAND and refused.parameters == bytes([0x01, 0x16, 0x09])


def test_the_pump_compresses_its_history_sessions_by_default() -> None:
    def sessions(link: ContourNextLink24) -> list[bytes]:
        bus, host = plugged(link)
        cnl_mac, pump_mac = open_session(host)
        assert host.join(c.DEFAULT_CHANNEL, cnl_mac, pump_mac)
        host.transmit(pump_mac, c.HIGH_SPEED_MODE, bytes([c.HIGH_SPEED_ENABLE]))
        _, out = read_sessions(host, pump_mac, c.HISTORY_PUMP_DATA)
        bus.unplug(link)
        return out

    def link(compress: bool = c.COMPRESS_HISTORY) -> ContourNextLink24:
        return build_cnl_minimed(
            timezone=TZ, end=END, seed=3, days=3, time_source=lambda: END, compress_history=compress
        )

    plain, packed = sessions(link(False)), sessions(link())
    assert c.COMPRESS_HISTORY and len(packed) == len(plain) > 0
    for p, z in zip(plain, packed, strict=True):
        assert (p[11], z[11]) == (c.HISTORY_FLAG_PLAIN, c.HISTORY_FLAG_LZO)
        assert z[:3] == p[:3] and z[7:11] == p[7:11] == len(p[12:]).to_bytes(4, "big")
        assert z[3:7] == len(z[12:]).to_bytes(4, "big") and len(z) < len(p)
        assert z[12:] == lzo1x_encode.compress(p[12:])
