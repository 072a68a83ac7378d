"""An emulated Contour Next Link 2.4 paired with a MiniMed 600-series pump, on USB HID.

Specification: packetStructure.md (USB packet, MiniMed message, Open Connection, Read Info,
Link Key, NGP message, Join Network, Transmit Packet) and public descriptions of the
link's control layer; choices in ``emulator.protocols.minimed600_constants``.

The link is a Contour meter on the outside: the same HID reports (``'ABC'``, length,
payload; ``emulator.protocols.contour_hid``) and the same ASTM header frame
(``emulator.protocols.contour_records`` / ``e1381``). The host then switches it to remote
command mode (NAK -> EOT, ENQ -> ACK) and passthrough (``W|``, ``Q|``, ``1|`` each -> ACK),
after which it carries binary MiniMed messages. The link checks the host's HMAC, tells the
pairing (Read Info) and the packed link key, joins the pump's IEEE 802.15.4 network on the
channel the host asks for (only the pump's own channel answers), and relays Transmit Packets:
each SEND_MESSAGE is acknowledged at once (0x81), the pump's answers follow as
RECEIVE_MESSAGE (0x80), encrypted with the pump's key.

Faults (``Cnl24Faults``): the pump out of radio range (no join on any channel; no answer to
packets), a corrupted NGP CRC on the next N pump answers, a wrong link key held by the link
(the pump refuses what it cannot decrypt with a NAK sealed with its own key). Pulling the
cable is the USB backend's ``unplug`` (or an ``UnplugAfterBytes`` fault), as for the meter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from emulator.devices.contour_usb import ContourHidDevice
from emulator.devices.minimed600_pump import Minimed600Pump, PumpRadio
from emulator.faults import FaultPlan
from emulator.generators.pump_history import generate_pump_history
from emulator.model.clock import DeviceClock
from emulator.model.meter import MeterModel
from emulator.protocols import minimed600 as mm
from emulator.protocols import minimed600_constants as c
from emulator.protocols.contour_records import ContourIdentity, header_record
from emulator.protocols.e1381 import encode_frame
from emulator.timing import FAST, Timing

MINIMED_START = bytes([c.MINIMED_HEADER, c.DEVICE_TYPE_NGP])
"""How a binary MiniMed message starts ('Q|' also starts with 0x51)."""


@dataclass
class Cnl24Faults:
    """Link and radio faults; change them while the device runs."""

    pump_out_of_range: bool = False
    corrupt_crc_answers: int = 0
    """How many of the next pump answers (0x80 messages) go out with a wrong NGP CRC."""
    wrong_link_key: bool = False
    """The link holds (and hands out) a key the pump does not use."""


class ContourNextLink24(ContourHidDevice):
    """The link (USB HID) and, behind its radio, ``pump``."""

    def __init__(
        self,
        pump: Minimed600Pump,
        *,
        model_and_serial: str = c.DEFAULT_CNL_SERIAL,
        cnl_mac: int = c.DEFAULT_CNL_MAC,
        clock: DeviceClock | None = None,
        timing: Timing = FAST,
        faults: FaultPlan | None = None,
        link_faults: Cnl24Faults | None = None,
    ) -> None:
        self.pump = pump
        self.model_and_serial = model_and_serial
        self.cnl_mac = cnl_mac
        self.link_faults = link_faults or Cnl24Faults()
        self.meter = MeterModel(
            serial_number=model_and_serial,
            model_name=c.CNL_PRODUCT_NAME,
            firmware_version=c.CNL_FIRMWARE[0],
            clock=clock or DeviceClock(),
        )
        self.identity = ContourIdentity(
            product_code=c.CNL_PRODUCT_CODE,
            analog_version=c.CNL_FIRMWARE[1],
            agp_version=c.CNL_FIRMWARE[2],
            sku=pump.radio.serial,
            access_password=c.CNL_ACCESS_PASSWORD,
        )
        self._enumerate_as(
            c.CNL_VENDOR_ID,
            c.CNL_PRODUCT_ID,
            {1: "Ascensia Diabetes Care", 2: c.CNL_PRODUCT_NAME, 3: model_and_serial},
        )
        super().__init__(timing=timing, faults=faults)
        self.power_on()

    # ---- state -------------------------------------------------------------------------

    def power_on(self) -> None:
        self._pending = b""
        self.passthrough = False
        self.connected_minimed = False
        self.channel: int | None = None
        self.pump.high_speed = False

    @property
    def link_key(self) -> bytes:
        """The key the link holds (and hands out packed)."""
        key = self.pump.radio.link_key
        return bytes(b ^ 0xA5 for b in key) if self.link_faults.wrong_link_key else key

    # ---- USB ---------------------------------------------------------------------------

    def on_report(self, chunk: bytes) -> None:
        self._pending += chunk
        data = self._pending
        if data[:2] == MINIMED_START:
            if not mm.minimed_complete(data):
                return
        elif len(chunk) == c.HID_PAYLOAD_SIZE:
            return  # a full report: the message continues
        self._pending = b""
        for message in self._answer(data):
            self.send_message(message)

    # ---- ASTM control layer ------------------------------------------------------------

    def _answer(self, data: bytes) -> list[bytes]:
        if self.passthrough and data[:2] == MINIMED_START:
            return self._minimed(data)
        if data == c.DEVICE_INFO_REQUEST:
            header = header_record(self.meter, self.identity, 0)
            return [bytes([c.EOT]) + encode_frame(1, header, final=False), bytes([c.ENQ])]
        if data == bytes([c.NAK]):
            return [bytes([c.EOT])]
        if data == bytes([c.ENQ]):
            return [bytes([c.ACK])]
        if data == bytes([c.EOT]):
            self.passthrough = False
            return [bytes([c.ENQ])]
        if data in c.PASSTHROUGH_PREFIX:
            return [bytes([c.ACK])]
        if data == c.PASSTHROUGH_ON:
            self.passthrough = True
            return [bytes([c.ACK])]
        if data == c.PASSTHROUGH_OFF:
            self.passthrough = False
            self.connected_minimed = False
            self.channel = None
            return [bytes([c.ACK])]
        return [bytes([c.NAK])]

    # ---- MiniMed messages --------------------------------------------------------------

    def _minimed(self, data: bytes) -> list[bytes]:
        try:
            message = mm.decode_minimed(data)
        except mm.MessageError:
            return [bytes([c.NAK])]
        op, seq = message.operation, message.sequence
        if op == c.OPEN_CONNECTION:
            if message.payload != mm.hmac_for(self.model_and_serial):
                return [bytes([c.NAK])]
            self.connected_minimed = True
            return [mm.encode_minimed(op, seq, message.payload)]
        if not self.connected_minimed:
            return [bytes([c.NAK])]
        if op == c.CLOSE_CONNECTION:
            self.connected_minimed = False
            self.channel = None
            return [mm.encode_minimed(op, seq)]
        if op == c.READ_INFO:
            info = mm.read_info_payload(
                self.cnl_mac, self.pump.radio.mac, c.LINK_COUNTER, c.MODE_ENCRYPTED
            )
            return [mm.encode_minimed(op, seq, info)]
        if op == c.REQUEST_LINK_KEY:
            packed = mm.pack_link_key(self.link_key, self.model_and_serial)
            return [mm.encode_minimed(c.REQUEST_LINK_KEY_RESPONSE, seq, packed)]
        if op == c.SEND_MESSAGE:
            return self._ngp(seq, message.payload)
        return [bytes([c.NAK])]

    def _ngp(self, seq: int, payload: bytes) -> list[bytes]:
        try:
            message = mm.decode_ngp(payload)
        except mm.MessageError:
            return []  # the link drops a damaged NGP message; the host times out and resends
        out = [mm.encode_minimed(c.SEND_MESSAGE_RESPONSE, seq, mm.send_ack(message.command))]
        if message.command == c.NGP_JOIN_NETWORK:
            out.append(self._receive_message(seq, self._join(message.payload)))
        elif message.command == c.NGP_TRANSMIT_PACKET:
            out.extend(self._receive_message(seq, a) for a in self._transmit(message.payload))
        elif message.command == c.NGP_LEAVE_NETWORK:
            self.channel = None
        return out

    def _receive_message(self, seq: int, ngp_payload: bytes) -> bytes:
        corrupt = self.link_faults.corrupt_crc_answers > 0
        if corrupt:
            self.link_faults.corrupt_crc_answers -= 1
            self.faults.record("corrupt NGP CRC")
        ngp = mm.encode_ngp(c.NGP_COMMAND_RESPONSE, ngp_payload, corrupt_crc=corrupt)
        return mm.encode_minimed(c.RECEIVE_MESSAGE, seq, ngp)

    # ---- radio -------------------------------------------------------------------------

    def _join(self, payload: bytes) -> bytes:
        try:
            join = mm.decode_join_request(payload)
        except mm.MessageError:
            return c.NOT_JOINED_PAYLOAD
        radio = self.pump.radio
        if (
            self.link_faults.pump_out_of_range
            or join.channel != radio.channel
            or join.pump_mac != radio.mac
        ):
            if self.link_faults.pump_out_of_range:
                self.faults.record("pump out of radio range")
            self.channel = None
            return c.NOT_JOINED_PAYLOAD
        self.channel = join.channel
        return mm.join_network_joined(radio.serial_number, radio.mac, self.cnl_mac, join.channel)

    def _transmit(self, payload: bytes) -> list[bytes]:
        if self.channel is None:
            return []
        if self.link_faults.pump_out_of_range:
            self.faults.record("pump out of radio range")
            return []
        try:
            request = mm.decode_transmit_request(payload)
        except mm.MessageError:
            return []
        radio = self.pump.radio
        if request.pump_mac != radio.mac:
            return []
        plain = mm.decrypt(radio.link_key, self.channel, request.encrypted)
        try:
            comd = mm.decode_comd(plain)
        except mm.MessageError:
            # The pump cannot read it (another key): it refuses, sealed with its own key.
            self.faults.record("pump refused an undecryptable packet")
            answers = [mm.encode_comd(0, c.NAK_COMMAND, bytes([0, 0, c.NAK_WRONG_STATE]))]
        else:
            answers = self.pump.answer(comd)
        return [
            mm.transmit_response(
                radio.mac,
                self.cnl_mac,
                request.sequence,
                mm.encrypt(radio.link_key, self.channel, a),
            )
            for a in answers
        ]


def build_cnl_minimed(
    *,
    timezone: str,
    end: datetime,
    seed: int = 1,
    days: int = 90,
    clock_changes: bool = True,
    radio: PumpRadio | None = None,
    model_and_serial: str = c.DEFAULT_CNL_SERIAL,
    time_source: Callable[[], datetime] | None = None,
    timing: Timing = FAST,
    faults: FaultPlan | None = None,
    link_faults: Cnl24Faults | None = None,
    compress_history: bool = c.COMPRESS_HISTORY,
) -> ContourNextLink24:
    """A link paired with a 600-series pump holding ``days`` days of generated history up to
    ``end`` (aware) for a person in ``timezone`` (the IDS pump's generator, same seed, same
    person), with that person's sensor and linked-meter readings; the pump LZO1X-compresses
    its history sessions unless ``compress_history`` is False."""
    radio = radio or PumpRadio()
    model = generate_pump_history(
        seed,
        timezone=timezone,
        end=end,
        days=days,
        clock_changes=clock_changes,
        serial_number=radio.serial,
        model_name="MiniMed 640G",
        firmware_version="4.0",
        time_source=time_source,
    )
    pump = Minimed600Pump(
        model, seed=seed, timezone=timezone, radio=radio, compress_history=compress_history
    )
    return ContourNextLink24(
        pump,
        model_and_serial=model_and_serial,
        timing=timing,
        faults=faults,
        link_faults=link_faults,
    )
