"""The 16-bit Bluetooth SIG UUIDs the emulated peripherals expose (Assigned Numbers)."""

from __future__ import annotations

from bumble.core import UUID

GLUCOSE_SERVICE = UUID.from_16_bits(0x1808, "Glucose")
GLUCOSE_MEASUREMENT = UUID.from_16_bits(0x2A18, "Glucose Measurement")
GLUCOSE_MEASUREMENT_CONTEXT = UUID.from_16_bits(0x2A34, "Glucose Measurement Context")
GLUCOSE_FEATURE = UUID.from_16_bits(0x2A51, "Glucose Feature")
RECORD_ACCESS_CONTROL_POINT = UUID.from_16_bits(0x2A52, "Record Access Control Point")

CGM_SERVICE = UUID.from_16_bits(0x181F, "Continuous Glucose Monitoring")
CGM_MEASUREMENT = UUID.from_16_bits(0x2AA7, "CGM Measurement")
CGM_FEATURE = UUID.from_16_bits(0x2AA8, "CGM Feature")
CGM_STATUS = UUID.from_16_bits(0x2AA9, "CGM Status")
CGM_SESSION_START_TIME = UUID.from_16_bits(0x2AAA, "CGM Session Start Time")
CGM_SESSION_RUN_TIME = UUID.from_16_bits(0x2AAB, "CGM Session Run Time")
CGM_SPECIFIC_OPS_CONTROL_POINT = UUID.from_16_bits(0x2AAC, "CGM Specific Ops Control Point")

CURRENT_TIME_SERVICE = UUID.from_16_bits(0x1805, "Current Time")
CURRENT_TIME = UUID.from_16_bits(0x2A2B, "Current Time")
DATE_TIME = UUID.from_16_bits(0x2A08, "Date Time")

DEVICE_INFORMATION_SERVICE = UUID.from_16_bits(0x180A, "Device Information")
CLIENT_CHARACTERISTIC_CONFIGURATION = UUID.from_16_bits(
    0x2902, "Client Characteristic Configuration"
)

INSULIN_DELIVERY_SERVICE = UUID.from_16_bits(0x183A, "Insulin Delivery")
IDD_STATUS_CHANGED = UUID.from_16_bits(0x2B20, "IDD Status Changed")
IDD_STATUS = UUID.from_16_bits(0x2B21, "IDD Status")
IDD_ANNUNCIATION_STATUS = UUID.from_16_bits(0x2B22, "IDD Annunciation Status")
IDD_FEATURES = UUID.from_16_bits(0x2B23, "IDD Features")
IDD_STATUS_READER_CONTROL_POINT = UUID.from_16_bits(0x2B24, "IDD Status Reader Control Point")
IDD_COMMAND_CONTROL_POINT = UUID.from_16_bits(0x2B25, "IDD Command Control Point")
IDD_COMMAND_DATA = UUID.from_16_bits(0x2B26, "IDD Command Data")
IDD_RECORD_ACCESS_CONTROL_POINT = UUID.from_16_bits(0x2B27, "IDD Record Access Control Point")
IDD_HISTORY_DATA = UUID.from_16_bits(0x2B28, "IDD History Data")
