"""An emulated Contour USB blood glucose meter (Contour Next USB and its USB siblings).

Composition: a ``MeterModel`` (the ledger), the Contour records and the ASTM E1381 sender
(``emulator.protocols``), behind a full-speed USB HID interface with interrupt IN 0x81 and
OUT 0x01 carrying 64-byte reports (``emulator.protocols.contour_hid``). The kernel's usbhid
driver is bound until the host detaches it, as on Linux. See ../shared/specs/contour-usb.md.
The Contour Next Link 2.4 (``emulator.devices.cnl24``) shows the same face (``ContourHidDevice``).

>>> meter = ContourUsbMeter(MeterModel(serial_number="7390-2336773", ...))
>>> backend.plug(meter)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.faults import FaultPlan
from emulator.generators.meter_history import generate_meter_history
from emulator.model.clock import DeviceClock
from emulator.model.meter import GlucoseUnit, MeterModel
from emulator.protocols.contour_hid import decode_out_report, encode_in_reports
from emulator.protocols.contour_records import ContourIdentity, transfer_records
from emulator.protocols.e1381 import E1381Sender
from emulator.timing import FAST, Timing
from emulator.usb import descriptors as d
from emulator.usb.device import EndpointStalled, VirtualUsbDevice

ASCENSIA_VID = 0x1A79
EP_IN, EP_OUT = 0x81, 0x01

# Vendor-defined HID report descriptor: one 64-byte input and one 64-byte output report.
REPORT_DESCRIPTOR = bytes(
    [
        0x06, 0x00, 0xFF,  # Usage Page (Vendor Defined 0xFF00)
        0x09, 0x01,  # Usage (1)
        0xA1, 0x01,  # Collection (Application)
        0x09, 0x01,  #   Usage (1)
        0x15, 0x00,  #   Logical Minimum (0)
        0x26, 0xFF, 0x00,  #   Logical Maximum (255)
        0x75, 0x08,  #   Report Size (8)
        0x95, 0x40,  #   Report Count (64)
        0x81, 0x02,  #   Input (Data, Variable, Absolute)
        0x09, 0x01,  #   Usage (1)
        0x15, 0x00,  #   Logical Minimum (0)
        0x26, 0xFF, 0x00,  #   Logical Maximum (255)
        0x75, 0x08,  #   Report Size (8)
        0x95, 0x40,  #   Report Count (64)
        0x91, 0x02,  #   Output (Data, Variable, Absolute)
        0xC0,  # End Collection
    ]
)  # fmt: skip

HID_SET_IDLE, HID_SET_REPORT = 0x0A, 0x09


@dataclass(frozen=True)
class ContourUsbModel:
    """A member of the Contour USB family: how it enumerates and what its header says."""

    name: str
    product_id: int
    product_code: str
    memory_capacity: int


CONTOUR_USB_MODELS: dict[str, ContourUsbModel] = {
    m.name: m
    for m in (
        ContourUsbModel("Contour Next USB", 0x7410, "Bayer7390", 2000),
        ContourUsbModel("Contour USB", 0x6002, "Bayer7350", 480),
        ContourUsbModel("Contour Next One", 0x7800, "Bayer7800", 800),
    )
}


class ContourHidDevice(VirtualUsbDevice):
    """The USB face of the Contour family (a meter, the Contour Next Link): one vendor HID
    interface with 64-byte interrupt IN and OUT endpoints. What the host writes (on OUT, or
    as HID SET_REPORT) goes, unframed, to ``on_report``; ``send_message`` answers on IN."""

    kernel_driver = "usbhid"
    hid_report_descriptors = {0: REPORT_DESCRIPTOR}  # noqa: RUF012

    def _enumerate_as(self, vendor_id: int, product_id: int, strings: dict[int, str]) -> None:
        """Set the descriptors (strings: 1 manufacturer, 2 product, 3 serial number)."""
        self.device_descriptor = d.device_descriptor(vendor_id, product_id, 0x0100)
        hid_interface = (
            d.interface_descriptor(0, 0, 2, interface_class=0x03)
            + d.hid_descriptor(len(REPORT_DESCRIPTOR))
            + d.endpoint_descriptor(EP_IN, d.EP_TYPE_INTERRUPT, 64, 1)
            + d.endpoint_descriptor(EP_OUT, d.EP_TYPE_INTERRUPT, 64, 1)
        )
        self.configurations = (d.configuration_descriptor(1, hid_interface, num_interfaces=1),)
        self.strings = strings

    def on_report(self, payload: bytes) -> None:
        """The payload of one report from the host."""
        raise NotImplementedError

    def send_message(self, message: bytes) -> None:
        """``message`` to the host, in as many IN reports as it takes."""
        for n, report in enumerate(encode_in_reports(message)):
            delay = self.timing.response_delay_s if n == 0 else 0.0
            self.send_in(EP_IN, report, delay_s=delay)

    def handle_out(self, endpoint: int, data: bytes) -> None:
        if endpoint != EP_OUT or self.configuration == 0:
            raise EndpointStalled()
        self.on_report(decode_out_report(data))

    def handle_class_request(
        self, request_type: int, request: int, value: int, index: int, data: bytes | int
    ) -> bytes | None:
        if request == HID_SET_IDLE:
            return None
        if request == HID_SET_REPORT and isinstance(data, bytes):
            self.on_report(decode_out_report(data))
            return None
        raise EndpointStalled()


class ContourUsbMeter(ContourHidDevice):
    """A Contour meter on USB. ``meter`` is its model; ``faults`` its fault plan."""

    def __init__(
        self,
        meter: MeterModel,
        family: ContourUsbModel | None = None,
        identity: ContourIdentity | None = None,
        timing: Timing = FAST,
        faults: FaultPlan | None = None,
    ) -> None:
        self.meter = meter
        self.family = family or CONTOUR_USB_MODELS["Contour Next USB"]
        self.identity = identity or ContourIdentity(product_code=self.family.product_code)
        self._enumerate_as(
            ASCENSIA_VID,
            self.family.product_id,
            {1: "Bayer HealthCare LLC", 2: self.family.name, 3: meter.serial_number},
        )
        super().__init__(timing=timing, faults=faults)
        self.link = E1381Sender(
            records=lambda: transfer_records(self.meter, self.identity),
            corrupt_frame=self.faults.corrupt_frame,
        )

    def power_on(self) -> None:
        self.link.reset()

    def on_report(self, payload: bytes) -> None:
        for message in self.link.receive(payload):
            self.send_message(message)


def build_contour_meter(
    serial_number: str = "7390-2336773",
    *,
    family: str = "Contour Next USB",
    seed: int = 1,
    days: int | None = None,
    count: int | None = None,
    end: datetime | None = None,
    unit: GlucoseUnit = GlucoseUnit.MG_DL,
    firmware_version: str = "01.24",
    memory_capacity: int | None = None,
    clock: DeviceClock | None = None,
    timing: Timing = FAST,
    faults: FaultPlan | None = None,
) -> ContourUsbMeter:
    """A Contour meter with generated history (seeded), ready to plug into a backend.

    ``end`` is the last moment of history in device time (default: the device clock now).
    History covers ``days`` days (90 when neither ``days`` nor ``count`` is given), or the
    last ``count`` readings. The memory holds the family's capacity unless
    ``memory_capacity`` says otherwise; a longer history wraps, losing the oldest readings,
    as the real meter does."""
    if days is None and count is None:
        days = 90
    if family not in CONTOUR_USB_MODELS:
        known = ", ".join(sorted(CONTOUR_USB_MODELS))
        raise ValueError(f"unknown Contour USB model {family!r}: choose one of {known}")
    info = CONTOUR_USB_MODELS[family]
    model = MeterModel(
        serial_number=serial_number,
        model_name=info.name,
        firmware_version=firmware_version,
        unit=unit,
        memory_capacity=memory_capacity or info.memory_capacity,
        clock=clock or DeviceClock(),
    )
    history_end = end or model.clock.now()
    model.load_history(generate_meter_history(seed, history_end, days=days, count=count))
    return ContourUsbMeter(model, family=info, timing=timing, faults=faults)
