"""Every number of the Tandem t:slim X2 Bluetooth protocol the emulator uses, in one place.

Source: the public description of the protocol by the open-source pumpX2 project
(github.com/jwoglom/pumpX2, ``messages/src/main/java/com/jwoglom/pumpx2/pump/messages``):
service and characteristic UUIDs, opcodes, sizes, chunk sizes, the history log type ids.
Values marked ``CHOICE`` are not backed by a public source; docs/protocols/tandem.md lists
each one and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

# ---- GATT (bluetooth/ServiceUUID.java, CharacteristicUUID.java) -------------------------------

PUMP_SERVICE_16: Final = 0xFDFB
PUMP_SERVICE: Final = "0000FDFB-0000-1000-8000-00805F9B34FB"
CURRENT_STATUS: Final = "7B83FFF6-9F77-4E5C-8064-AAE2C24838B9"
QUALIFYING_EVENTS: Final = "7B83FFF7-9F77-4E5C-8064-AAE2C24838B9"
HISTORY_LOG: Final = "7B83FFF8-9F77-4E5C-8064-AAE2C24838B9"
AUTHORIZATION: Final = "7B83FFF9-9F77-4E5C-8064-AAE2C24838B9"
CONTROL: Final = "7B83FFFC-9F77-4E5C-8064-AAE2C24838B9"
CONTROL_STREAM: Final = "7B83FFFD-9F77-4E5C-8064-AAE2C24838B9"

# ---- framing (Packetize.java, Packet.java, Bytes.java) ----------------------------------------

HEADER_SIZE: Final = 3  # opcode, transaction id, cargo length
CRC_SIZE: Final = 2
CHUNK_HEADER_SIZE: Final = 2  # packets remaining, transaction id
CHUNK_SIZE: Final = 18
CONTROL_CHUNK_SIZE: Final = 40
SIGNATURE_SIZE: Final = 24  # time since reset u32 + HMAC-SHA1 (20)
HMAC_SIZE: Final = 20
MAX_CARGO: Final = 255

# ---- authentication, 16-character code (request|response/authentication) ----------------------

CENTRAL_CHALLENGE_REQUEST: Final = 16
CENTRAL_CHALLENGE_RESPONSE: Final = 17
PUMP_CHALLENGE_REQUEST: Final = 18
PUMP_CHALLENGE_RESPONSE: Final = 19
PAIRING_CODE_LENGTH: Final = 16
CENTRAL_CHALLENGE_SIZE: Final = 8
HMAC_KEY_SIZE: Final = 8

# ---- authentication, 6-digit code: EC-JPAKE (request|response/authentication/Jpake*.java,
# models/KnownApiVersion.java: API 3.2 = software v7.7, "a 6-character numeric pairing PIN") ----

JPAKE_1A_REQUEST: Final = 32
JPAKE_1A_RESPONSE: Final = 33
JPAKE_1B_REQUEST: Final = 34
JPAKE_1B_RESPONSE: Final = 35
JPAKE_2_REQUEST: Final = 36
JPAKE_2_RESPONSE: Final = 37
JPAKE_3_REQUEST: Final = 38
JPAKE_3_RESPONSE: Final = 39
JPAKE_4_REQUEST: Final = 40
JPAKE_4_RESPONSE: Final = 41
JPAKE_CODE_LENGTH: Final = 6
JPAKE_ROUND_CARGO: Final = 167  # app instance id u16 + 165 (Jpake1a/1b request+response, 2 request)
JPAKE_HALF: Final = 165  # one ECJPAKEKeyKP: point 66, proof point 66, r 33
JPAKE3_REQUEST_CARGO: Final = 2
JPAKE_NONCE: Final = 8
JPAKE_RESERVED: Final = 8
JPAKE4_CARGO: Final = 50
JPAKE_API_VERSION: Final = (3, 2)

# ---- status requests (request|response/currentStatus): request opcode -> response opcode ------

API_VERSION: Final = 32
CURRENT_EGV_GUI_DATA: Final = 34
INSULIN_STATUS: Final = 36
CURRENT_BASAL_STATUS: Final = 40
CURRENT_BOLUS_STATUS: Final = 44
CURRENT_BATTERY_V1: Final = 52
TIME_SINCE_RESET: Final = 54
HISTORY_LOG_STATUS: Final = 58
HISTORY_LOG_REQUEST: Final = 60
PUMP_VERSION: Final = 84
CONTROL_IQ_IOB: Final = 108
NON_CONTROL_IQ_IOB: Final = 38
HOME_SCREEN_MIRROR: Final = 56
CGM_STATUS: Final = 80
CURRENT_BATTERY_V2: Final = 0x90  # -112 as a Java byte; response 0x91 (-111)
ERROR_RESPONSE: Final = 77  # ErrorResponse: request opcode u8, error code u8
ERROR_BAD_OPCODE: Final = 6  # ErrorResponse.ErrorCode.BAD_OPCODE
PROFILE_STATUS: Final = 62
IDP_SETTINGS: Final = 64
IDP_SEGMENT: Final = 66
HISTORY_LOG_STREAM: Final = 0x81  # -127 as a Java byte, notified on HISTORY_LOG

API_VERSION_MAJOR: Final = 2  # CHOICE: an API 2.x pump (16-character code era)
API_VERSION_MINOR: Final = 1  # CHOICE
# ApiVersion.V2_API: CurrentBatteryBuilder sends CurrentBatteryV2 from here on; below it, a
# V2 request is answered with a V1 response and a later V1 request gets BAD_OPCODE.
BATTERY_V2_API: Final = (2, 2)
BATTERY_CHARGING_STATUS: Final = 0  # CHOICE: CurrentBatteryV2 charging status (not charging)

# ---- status values (pumpX2 enums, CHOICE where marked) -----------------------------------------

BOLUS_STATUS_NONE: Final = 0  # CurrentBolusStatus.ALREADY_DELIVERED_OR_INVALID
BOLUS_STATUS_DELIVERING: Final = 1  # CurrentBolusStatus.DELIVERING
BOLUS_SOURCE_GUI: Final = 1  # BolusDeliveryHistoryLog.BolusSource.GUI (entered on the pump)
BOLUS_TYPE_FOOD1: Final = 1  # BolusType: with carbs (CHOICE: the model's meal boluses)
BOLUS_TYPE_CORRECTION: Final = 2  # CHOICE: the model's non-meal boluses
BOLUS_TYPE_EXTENDED: Final = 4
IOB_TYPE_MUDALIAR: Final = 0  # ControlIQIOBResponse.IOBType
EGV_VALID: Final = 1  # CurrentEGVGuiDataResponse.EGVStatus
EGV_UNAVAILABLE: Final = 4
CGM_SESSION_STOPPED: Final = 0  # CGMStatusResponse.SessionState
CGM_SESSION_ACTIVE: Final = 2
CGM_TRANSMITTER_BATTERY_OK: Final = 3  # CGMStatusResponse.TransmitterBatteryStatus
CGM_SESSION_GAP_MINUTES: Final = 60  # CHOICE: a longer gap in readings starts a new session
CGM_STALE_MINUTES: Final = 15  # CHOICE: no reading for longer: session stopped, EGV unavailable
# HomeScreenMirrorResponse icons
# CGMTrendIcon by trend rate (mg/dL per minute, CHOICE: Dexcom's arrow bands): the first
# (bound, icon) with rate >= bound; below all: ARROW_DOUBLE_DOWN.
TREND_ICONS: Final = ((3, 1), (2, 2), (1, 3), (-1, 4), (-2, 5), (-3, 6))
TREND_DOUBLE_DOWN: Final = 7
TREND_NONE: Final = 0  # NO_ARROW
CGM_ALERT_NONE: Final = 255  # CGMAlertIcon.NO_ERROR
ICON_HIDDEN: Final = 200
BOLUS_ICON: Final = 0  # BolusStatusIcon.BOLUS
BASAL_ICON: Final = 0  # BasalStatusIcon.BASAL
ZERO_BASAL_ICON: Final = 1
TEMP_RATE_ICON: Final = 2
ZERO_TEMP_RATE_ICON: Final = 3
SUSPEND_ICON: Final = 4

# ---- insulin delivery profiles (ProfileStatus, IDPSettings, IDPSegment responses) -------------

IDP_SLOTS: Final = 6
IDP_EMPTY_SLOT: Final = 0xFF  # -1 as a Java byte
IDP_NAME_SIZE: Final = 16
INSULIN_DURATION_MINUTES: Final = 300  # CHOICE: not in the pump model
CARB_RATIO_SCALE: Final = 1000  # CHOICE: profileCarbRatio u32 in 1/1000 g per unit
SEGMENT_STATUS: Final = 0  # CHOICE: IDPSegmentResponse status byte

# ---- history log (response/historyLog/*.java) --------------------------------------------------

ENTRY_SIZE: Final = 26
MAX_ENTRIES_PER_STREAM: Final = (MAX_CARGO - 2) // ENTRY_SIZE  # 9: cargo length is one byte
ENTRIES_PER_STREAM: Final = 3  # CHOICE: entries packed per HistoryLogStreamResponse
MAX_ENTRIES_PER_REQUEST: Final = 255  # count is one byte
EPOCH: Final = datetime(2008, 1, 1)  # pump time: seconds since 2008-01-01 00:00 local
HISTORY_OK: Final = 0
HISTORY_OUT_OF_RANGE: Final = 1  # CHOICE: HistoryLogResponse status for a bad range

LOG_TEMP_RATE_ACTIVATED: Final = 2
LOG_BASAL_RATE_CHANGE: Final = 3
LOG_ALERT_ACTIVATED: Final = 4
LOG_ALARM_ACTIVATED: Final = 5
LOG_PUMPING_SUSPENDED: Final = 11
LOG_PUMPING_RESUMED: Final = 12
LOG_TIME_CHANGED: Final = 13
LOG_DATE_CHANGED: Final = 14
LOG_TEMP_RATE_COMPLETED: Final = 15
LOG_BG: Final = 16
LOG_BOLUS_COMPLETED: Final = 20
LOG_CARTRIDGE_FILLED: Final = 33
LOG_CANNULA_FILLED: Final = 61
LOG_TUBING_FILLED: Final = 63
LOG_BOLEX_COMPLETED: Final = 21
LOG_BOLUS_ACTIVATED: Final = 55
LOG_BOLEX_ACTIVATED: Final = 59
LOG_BOLUS_REQUESTED_MSG2: Final = 65
LOG_CGM_DATA_GX: Final = 211

# BasalRateChange change types (BasalRateChangeHistoryLog.ChangeType)
CHANGE_TIMED_SEGMENT: Final = 1
CHANGE_NEW_PROFILE: Final = 2
CHANGE_TEMP_RATE_START: Final = 4
CHANGE_TEMP_RATE_END: Final = 8
CHANGE_PUMP_SUSPENDED: Final = 16
CHANGE_PUMP_RESUMED: Final = 32

# Bolus completion status (LastBolusStatusAbstractResponse.BolusStatus: 3 completed)
BOLUS_COMPLETED: Final = 3
BOLUS_STOPPED: Final = 1  # CHOICE for a bolus the user cancelled part-way

PRIME_COMPLETED: Final = 3  # CannulaFilledHistoryLog.CompletionStatus.COMPLETED
PRIME_ABORTED: Final = 0  # USER_ABORTED

# TempRateActivated: duration in milliseconds (pumpX2's published capture: 7200000.0 for two
# hours); bytes 18-19 are not parsed by pumpX2 (the capture holds 2 there).
TEMP_RATE_SPARE: Final = 0  # CHOICE: bytes 18-19 of TempRateActivated

# The model's annunciations as the pump logs them. Alerts: AlertActivated (type 4) with
# AlertStatusResponse.AlertResponseType ids; alarms: AlarmActivated (type 5) with
# AlarmStatusResponse.AlarmResponseType ids (the same id space as the status bitmaps).
ALERT_IDS: Final = {
    "reservoir-low": 0,  # LOW_INSULIN_ALERT
    "battery-low": 2,  # LOW_POWER_ALERT
    "infusion-set-detached": 62,  # CHOICE: no such alert on a t:slim X2; DEFAULT_ALERT_62
    "tbr-over": 63,  # CHOICE: no such alert on a t:slim X2; DEFAULT_ALERT_63
}
ALARM_IDS: Final = {
    "occlusion": 2,  # OCCLUSION_ALARM
    "reservoir-empty": 8,  # EMPTY_CARTRIDGE_ALARM
    "battery-empty": 12,  # BATTERY_SHUTDOWN_ALARM
}

SUSPEND_USER: Final = 0  # CHOICE: PumpingSuspended reason
SUSPEND_ALARM: Final = 1  # CHOICE
MAX_BASAL_RATE: Final = 3.0  # CHOICE: BasalRateChange max rate (units/hour)
CGM_TYPE: Final = 6  # CHOICE: CgmDataGx type byte
CGM_RSSI: Final = -80  # CHOICE

# ---- identity (CHOICE where not in PumpVersionResponse) ---------------------------------------

MODEL_NUMBER: Final = 1000354  # CHOICE
PART_NUMBER: Final = 1000096  # CHOICE
ARM_SW_VERSION: Final = 105900  # CHOICE
NAME_PREFIX: Final = "tslim X2 ***"  # CHOICE: advertised name = prefix + last 3 serial digits
MANUFACTURER: Final = "Tandem Diabetes Care"
MODEL_NAME: Final = "t:slim X2"

# ---- the emulated person's readings (CHOICE: as the MiniMed 600 emulator does) ----------------

CGM_INTERVAL_MINUTES: Final = 5
BG_BEFORE_MEAL_BOLUS_MINUTES: Final = 5
LOW_INSULIN_UNITS: Final = 20
DEFAULT_BATTERY_PERCENT: Final = 80
