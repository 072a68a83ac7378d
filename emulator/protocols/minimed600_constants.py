"""MiniMed 600-series through a Contour Next Link 2.4: every number the emulator uses, in one place.

Specification: ../shared/specs/tidepool-uploader/lib/drivers/medtronic600/docs/packetStructure.md
(message layouts, operations, NGP commands, radio channels, mode flags, the pump commands and
their responses) and public descriptions of the protocol (the Tidepool uploader's 600-series
driver and history parser, 600SeriesAndroidUploader, decoding-contour-next-link), used as
sources of facts only. docs/protocols/minimed600.md lists the same choices for readers.

Two kinds of constant live here:

- FACTS: values a public source gives (named ``..._FACT`` groups or commented "documented").
- CHOICES: where no public source says what a real link or pump does, the emulator's choice,
  each marked ``CHOICE``. A real capture that disagrees corrects the value here, and only here.
"""

from __future__ import annotations

from datetime import UTC, datetime

# ---- Contour Next Link 2.4 on USB (documented) ------------------------------------------------
CNL_VENDOR_ID = 0x1A79
CNL_PRODUCT_ID = 0x6210
CNL_PRODUCT_NAME = "Bayer Contour Next Link 2.4"
CNL_PRODUCT_CODE = "Bayer6210"
HID_REPORT_SIZE = 64
HID_PAYLOAD_SIZE = 60

# ASCII control characters of the ASTM control layer (documented).
STX, EOT, ENQ, ACK, NAK = 0x02, 0x04, 0x05, 0x06, 0x15
DEVICE_INFO_REQUEST = b"X"
PASSTHROUGH_PREFIX = (b"W|", b"Q|")
PASSTHROUGH_ON, PASSTHROUGH_OFF = b"1|", b"0|"

# ---- MiniMed message (documented) ------------------------------------------------------------
MINIMED_HEADER = 0x51
DEVICE_TYPE_NGP = 0x03
MINIMED_SERIAL = b"000000"
MINIMED_ENVELOPE_SIZE = 33
OPEN_CONNECTION = 0x10
CLOSE_CONNECTION = 0x11
SEND_MESSAGE = 0x12
READ_INFO = 0x14
REQUEST_LINK_KEY = 0x16
SEND_LINK_KEY = 0x17
RECEIVE_MESSAGE = 0x80
SEND_MESSAGE_RESPONSE = 0x81
REQUEST_LINK_KEY_RESPONSE = 0x86

HMAC_PADDING = b"A4BD6CED9A42602564F413123"
"""Documented (public drivers): HMAC = SHA-256(serial digits after the dash + padding), bytes
reversed."""
PACKED_LINK_KEY_SIZE = 55
LINK_KEY_SIZE = 16

# ---- NGP message (documented) ----------------------------------------------------------------
NGP_INITIALIZE = 0x01
NGP_SCAN_NETWORK = 0x02
NGP_JOIN_NETWORK = 0x03
NGP_LEAVE_NETWORK = 0x04
NGP_TRANSMIT_PACKET = 0x05
NGP_READ_DATA = 0x06
NGP_READ_STATUS = 0x07
NGP_READ_NETWORK_STATUS = 0x08
NGP_SET_SECURITY_MODE = 0x0C
NGP_READ_STATISTICS = 0x0D
NGP_SET_RF_MODE = 0x0E
NGP_CLEAR_STATUS = 0x10
NGP_SET_LINK_KEY = 0x14
NGP_COMMAND_RESPONSE = 0x55

RADIO_CHANNELS = (0x14, 0x11, 0x0E, 0x17, 0x1A)
"""Documented: the channels, in the order CareLink tries them."""
JOINED_COORDINATOR = 0x82
JOINED_END_NODE = 0x42
MODE_ENCRYPTED = 0x01
MODE_HIGH_SPEED = 0x10

JOIN_NETWORK_REQUEST_CONSTANTS = (0x07, 0x07, 0x02)
"""Documented: the fixed bytes of a Join Network Request (at 5, 6 and 9)."""

# ---- ComD (pump) commands (documented) -------------------------------------------------------
HIGH_SPEED_MODE = 0x0412
HIGH_SPEED_ENABLE, HIGH_SPEED_DISABLE = 0x00, 0x01
HIGH_SPEED_SEQUENCE = 0x80
TIME_REQUEST, TIME_RESPONSE = 0x0403, 0x0407
READ_PUMP_STATUS_REQUEST, READ_PUMP_STATUS_RESPONSE = 0x0112, 0x013C
READ_BASAL_PATTERN_REQUEST, READ_BASAL_PATTERN_RESPONSE = 0x0116, 0x0123
READ_BWZ_CARB_RATIOS_REQUEST, READ_BWZ_CARB_RATIOS_RESPONSE = 0x012B, 0x012C
READ_BWZ_SENSITIVITY_REQUEST, READ_BWZ_SENSITIVITY_RESPONSE = 0x012E, 0x012F
READ_BWZ_TARGETS_REQUEST, READ_BWZ_TARGETS_RESPONSE = 0x0131, 0x0132
READ_HISTORY_INFO_REQUEST, READ_HISTORY_INFO_RESPONSE = 0x030C, 0x030D
READ_HISTORY_REQUEST = 0x0304
END_HISTORY_TRANSMISSION = 0x030A
UNMERGED_HISTORY_RESPONSE = 0x030E
INITIATE_MULTIPACKET_TRANSFER = 0xFF00
MULTIPACKET_SEGMENT_TRANSMISSION = 0xFF01
MULTIPACKET_RESEND_PACKETS = 0xFF02
ACK_COMMAND = 0x00FE
NAK_COMMAND = 0x00FF
NAK_MESSAGE_NOT_SUPPORTED = 0x08
NAK_DATA_OUT_OF_RANGE = 0x09
NAK_WRONG_STATE = 0x0F

HISTORY_PUMP_DATA, HISTORY_SENSOR_DATA = 0x02, 0x03
HISTORY_FULL, HISTORY_PARTIAL = 0x03, 0x04
HISTORY_BLOCK_SIZE = 2048
"""Documented: history blocks are 2048 bytes; the last four are the data size (UInt16BE)
and the CCITT of the data (UInt16BE)."""
HISTORY_HEADER_SIZE = 13

BASAL_PATTERNS = 8
"""Documented: patterns 1..5, Work Day, Day Off, Sick Day. CHOICE: a pattern the user never set
answers with zero items; a number outside 1..8 gets a NAK (data out of range)."""

PUMP_STATUS_SUSPENDED = 0x01
PUMP_STATUS_BOLUSING = 0x02
PUMP_STATUS_ACTIVE = 0x10
PUMP_STATUS_TEMP_BASAL = 0x20
PUMP_STATUS_CGM_ACTIVE = 0x40

NGP_EPOCH = datetime(2000, 1, 1)
"""Documented: NGP date = 2000-01-01 (pump local time) + RTC + (Offset - 2**32) seconds."""

# History event types (documented: the Tidepool NGP history parser).
EV_USER_TIME_DATE_CHANGE = 0x03
EV_NORMAL_BOLUS_PROGRAMMED = 0x15
EV_SQUARE_BOLUS_PROGRAMMED = 0x16
EV_DUAL_BOLUS_PROGRAMMED = 0x17
EV_CANNULA_FILL_DELIVERED = 0x1A
EV_TEMP_BASAL_PROGRAMMED = 0x1B
EV_BASAL_PATTERN_SELECTED = 0x1C
EV_BASAL_SEGMENT_START = 0x1D
EV_INSULIN_DELIVERY_STOPPED = 0x1E
EV_INSULIN_DELIVERY_RESTARTED = 0x1F
EV_TEMP_BASAL_COMPLETE = 0x22
EV_ALARM_NOTIFICATION = 0x28
EV_BG_READING = 0x32
EV_REWIND = 0x36
EV_SENSOR_GLUCOSE_READINGS_EXTENDED = 0xD6
EV_NORMAL_BOLUS_DELIVERED = 0xDC
EV_SQUARE_BOLUS_DELIVERED = 0xDD
EV_DUAL_BOLUS_PART_DELIVERED = 0xDE
EV_BOLUS_WIZARD_ESTIMATE = 0x3D
EVENT_HEADER_SIZE = 11
BOLUS_SOURCE_MANUAL, BOLUS_SOURCE_WIZARD = 0, 1
DUAL_PART_NORMAL, DUAL_PART_SQUARE = 1, 2
TEMP_ABSOLUTE, TEMP_PERCENT = 0, 1
FILL_TUBING, FILL_CANNULA = 0, 1
SUSPEND_USER, SUSPEND_ALARM = 2, 1
RESUME_USER = 1
BG_SOURCE_EXTERNAL_METER = 1
BG_FLAG_MG_DL = 0x01
UNLINKED_METER_SERIAL = b" " * 10

# ---- CHOICES: the emulated pairing -----------------------------------------------------------
DEFAULT_CNL_SERIAL = "6213-1234567"
"""CHOICE: the link's model-and-serial string (format documented: NNNN-NNNNNNN)."""
DEFAULT_CNL_MAC = 0x0023F70000A1B2C3
"""CHOICE: the link's IEEE 802.15.4 MAC (the 0023F7 prefix is the public Medtronic OUI)."""
DEFAULT_PUMP_MAC = 0x0023F746125A3B4C
DEFAULT_PUMP_SERIAL = "NG1234567H"
DEFAULT_PUMP_SERIAL_NUMBER = 1234567
"""CHOICE: the 40-bit pump serial in the Join Network Response: the digits of the serial."""
DEFAULT_LINK_KEY = bytes.fromhex("5d8f0e3b2a1c47e69b0d73f41c2a8e55")
"""CHOICE: the pairing's AES-128 key (a real one comes from the pairing)."""
DEFAULT_CHANNEL = 0x11
"""CHOICE: the pump's radio channel (not the first tried, so negotiation is exercised)."""
LINK_COUNTER = 1
"""CHOICE: Read Info's link counter."""
CNL_FIRMWARE = ("01.24", "01.10", "07.07.00")
"""CHOICE: the versions in the link's ASTM header (product^versions^serial^pump serial)."""
CNL_ACCESS_PASSWORD = "LpT2y1"

# Packing of the link key into 55 bytes (CHOICE: how the link packs it is not public; the
# host's unpacking is: start at (last serial character & 7); take the byte, inverted when bit 0
# of the next byte is set; step 2 when bit 1 of the next byte is set, else 3).
PACKED_KEY_FILLER_MULTIPLIER = 37
PACKED_KEY_FILLER_ADD = 11


def packed_key_invert(index: int) -> bool:
    """CHOICE: which key bytes the link stores inverted (odd ones)."""
    return index % 2 == 1


def packed_key_step(index: int) -> int:
    """CHOICE: the distance to the next key byte (2 after every third byte, else 3)."""
    return 2 if index % 3 == 0 else 3


# ---- CHOICES: message details public sources leave open -------------------------------------
ECHO_REQUEST_SEQUENCE = True
"""CHOICE: a link's answer carries the sequence number of the MiniMed message it answers."""
OPEN_CONNECTION_ECHOES_HMAC = True
"""CHOICE: the Open Connection answer (ignored by drivers) carries the HMAC back; a wrong HMAC
is answered with a single NAK byte and the connection stays closed."""
SEND_ACK_STATUS = 0x00
"""CHOICE: the 0x81 answer to every SEND_MESSAGE is an NGP COMMAND_RESPONSE carrying
``[SEND_ACK_STATUS, the NGP command acknowledged]``."""
NOT_JOINED_PAYLOAD = bytes([0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20])
"""CHOICE: the documented 9-byte 'not joined' Join Network Response (content unknown); the
0x20 is the invalid-channel code the Tidepool driver names."""
TRANSMIT_RESPONSE_PREFIX = bytes([0x00, 0x06])
"""Documented bytes 0..1 of a Transmit Packet Response (meaning unknown)."""
TRANSMIT_RESPONSE_UNKNOWN = bytes([0x00, 0x00])
"""CHOICE: the two unknown bytes after the sequence number of a Transmit Packet Response."""
TIME_SET_FLAG = 0x01
"""From the Tidepool driver: byte 3 of a Time Response is non-zero when the clock is set (the
packetStructure table omits it; the emulator includes it)."""
RTC_START = datetime(1970, 1, 1, tzinfo=UTC)
"""CHOICE: the RTC counts seconds of true time since this moment (Unix time), so it stays
above the local seconds since 2000 and the offset is negative, as the date rule expects."""
STATUS_RESPONSE_SIZE = 96
"""Documented field layout; the unknown bytes are zero (CHOICE)."""
HISTORY_INFO_BYTE3 = 0x00
"""CHOICE: byte 3 of a History Info Response (unknown)."""
MULTIPACKET_PACKET_SIZE = 200
"""CHOICE: bytes of session data per segment (the NGP size byte bounds a segment below 226)."""
HISTORY_BLOCKS_PER_SESSION = 8
"""CHOICE: blocks per UNMERGED_HISTORY_RESPONSE session (a real pump also splits)."""
HISTORY_FLAG_PLAIN, HISTORY_FLAG_LZO = 0x00, 0x01
"""The session header's compressed flag: blocks as they are, or one LZO1X stream of them."""
COMPRESS_HISTORY = True
"""CHOICE: the emulated pump LZO1X-compresses every history session by default, as real
600-series pumps may (``Minimed600Pump(compress_history=False)`` sends them plain); the
compressor is the emulator's own greedy one (``emulator.protocols.lzo1x_encode``), so the
compressed bytes differ from a real pump's, the decompressed blocks do not."""
SG_READINGS_PER_EVENT = 12
"""CHOICE: sensor readings per SENSOR_GLUCOSE_READINGS_EXTENDED event (newest first, 5 min
apart); a gap in the readings starts a new event, gaps carry no event of their own."""
SG_INTERVAL_MINUTES = 5
DEFAULT_METER_SERIAL = "BG12345678"
"""CHOICE: the serial of the person's linked meter (BG_READING events)."""
BG_BEFORE_MEAL_BOLUS_MINUTES = 3
"""CHOICE: the linked meter sends a BG this many minutes before every meal bolus."""
CLOCK_CHANGE_FIRST = True
"""CHOICE: among events of the same instant, a USER_TIME_DATE_CHANGE comes first (what starts
at that instant, e.g. the basal segment of the new time, was logged on the new clock)."""
ALARM_FAULT_NUMBERS: dict[str, int] = {
    "reservoir_low": 104,
    "reservoir_empty": 105,
    "occlusion": 7,
    "battery_low": 103,
    "battery_empty": 106,
    "auto_off": 20,
}
"""CHOICE: the Medtronic fault number each model alarm is recorded with (ALARM_NOTIFICATION:
fault number UInt16BE at 11, then one byte 0x00; the layout is the emulator's)."""
ALARM_FAULT_OTHER = 255

# ---- Bolus Wizard estimate (BOLUS_WIZARD_ESTIMATE 0x3D) ------------------------------------
WIZARD_EVENT_SIZE = 53
"""Documented (Tidepool NGP history parser): after the 11-byte header, bg units (11), carb
units (12), bgInput UInt16BE (13), carbInput UInt16BE (15), ISF UInt16BE (17), carb ratio
UInt32BE g x10 (19), low target UInt16BE (23), high target UInt16BE (25), correction estimate
/10000 (27), food estimate UInt32BE /10000 (31), active insulin UInt32BE /10000 (35), its
adjustment UInt32BE /10000 (39), wizard estimate UInt32BE /10000 (43), bolus step size (47),
estimate-modified flag (48), final estimate UInt32BE /10000 (49..52)."""
WIZARD_BG_MG_DL, WIZARD_BG_MMOL_L = 0, 1
WIZARD_CARB_GRAMS, WIZARD_CARB_EXCHANGES = 0, 1
WIZARD_STEP_0_025, WIZARD_STEP_0_05, WIZARD_STEP_0_1 = 0, 1, 2
WIZARD_MODIFIED_BIT = 0x01
"""CHOICE: the flag is bit 0 of byte 48. (The Tidepool parser reads bit 0 of a UInt32BE at 48,
which is a byte of the final estimate; 600SeriesAndroidUploader reads byte 48 itself.)"""
WIZARD_CORRECTION_SIGNED = True
"""CHOICE: the correction estimate is an Int32BE (negative below the low target). The Tidepool
parser ORs its four bytes oddly; it reads a value below 6.5535 U the same way."""
WIZARD_STEP = WIZARD_STEP_0_025
WIZARD_STEP_UNITS = 0.025
"""CHOICE: the emulated pump's bolus increment (0.025 U); the wizard estimate is rounded down
to it."""
WIZARD_CARBS_FROM_BOLUS = True
"""CHOICE: the pump model records meal boluses, not carbohydrates. The carbs the person entered
are round(programmed total x the I:C ratio in force); the food estimate is carbs / ratio. The
BG entered is the linked-meter reading 3 minutes before (0, "no BG", when there is none).
Correction: (BG - high) / ISF above the high target, (BG - low) / ISF below the low one, else
0; the active insulin (always 0: the model does not track it) is taken off a positive
correction only; estimate = max(0, food + correction - adjustment), rounded down to the step.
The bolus the model delivers (the final estimate) may differ: then the modified flag is set.
The wizard event is logged at the bolus's start, just before its *_PROGRAMMED event; the
bolus (source 1, Bolus Wizard) links back to the nearest wizard estimate before it whose final
estimate equals its programmed total (the Tidepool parser's rule)."""
