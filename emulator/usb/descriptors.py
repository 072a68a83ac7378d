"""USB descriptors: builders for the raw bytes, and a parser that reads them as libusb does.

Builders follow the USB 2.0 specification, chapter 9.6 (standard descriptors), and the HID
1.11 specification, section 6.2.1 (HID descriptor). The parser turns a configuration blob
into the objects pyusb's backends hand to ``usb.core`` (field names as in libusb's structs,
class-specific descriptors collected in ``extra_descriptors`` of whatever precedes them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

DT_DEVICE = 0x01
DT_CONFIG = 0x02
DT_STRING = 0x03
DT_INTERFACE = 0x04
DT_ENDPOINT = 0x05
DT_HID = 0x21
DT_HID_REPORT = 0x22

EP_TYPE_INTERRUPT = 0x03
EP_TYPE_BULK = 0x02

LANGID_EN_US = 0x0409


def device_descriptor(
    vid: int,
    pid: int,
    bcd_device: int = 0x0100,
    *,
    bcd_usb: int = 0x0200,
    device_class: int = 0,
    max_packet_size0: int = 64,
    i_manufacturer: int = 1,
    i_product: int = 2,
    i_serial: int = 3,
    num_configurations: int = 1,
) -> bytes:
    return struct.pack(
        "<BBHBBBBHHHBBBB",
        18,
        DT_DEVICE,
        bcd_usb,
        device_class,
        0,
        0,
        max_packet_size0,
        vid,
        pid,
        bcd_device,
        i_manufacturer,
        i_product,
        i_serial,
        num_configurations,
    )


def configuration_descriptor(
    value: int, body: bytes, num_interfaces: int, *, attributes: int = 0x80, max_power_2ma: int = 50
) -> bytes:
    """A full configuration blob: the 9-byte header (wTotalLength covers ``body``) + body."""
    total = 9 + len(body)
    header = struct.pack(
        "<BBHBBBBB", 9, DT_CONFIG, total, num_interfaces, value, 0, attributes, max_power_2ma
    )
    return header + body


def interface_descriptor(
    number: int,
    alternate: int,
    num_endpoints: int,
    interface_class: int,
    sub: int = 0,
    proto: int = 0,
) -> bytes:
    return struct.pack(
        "<BBBBBBBBB",
        9,
        DT_INTERFACE,
        number,
        alternate,
        num_endpoints,
        interface_class,
        sub,
        proto,
        0,
    )


def endpoint_descriptor(address: int, attributes: int, max_packet: int, interval: int) -> bytes:
    return struct.pack("<BBBBHB", 7, DT_ENDPOINT, address, attributes, max_packet, interval)


def hid_descriptor(report_descriptor_length: int, bcd_hid: int = 0x0111) -> bytes:
    return struct.pack(
        "<BBHBBBH", 9, DT_HID, bcd_hid, 0, 1, DT_HID_REPORT, report_descriptor_length
    )


def string_descriptor(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return bytes([2 + len(encoded), DT_STRING]) + encoded


def langid_descriptor(*langids: int) -> bytes:
    return bytes([2 + 2 * len(langids), DT_STRING]) + b"".join(
        struct.pack("<H", lang) for lang in langids
    )


# ---- parsed forms, with the attribute names pyusb's core reads --------------------------


@dataclass
class DeviceDescriptor:
    bLength: int
    bDescriptorType: int
    bcdUSB: int
    bDeviceClass: int
    bDeviceSubClass: int
    bDeviceProtocol: int
    bMaxPacketSize0: int
    idVendor: int
    idProduct: int
    bcdDevice: int
    iManufacturer: int
    iProduct: int
    iSerialNumber: int
    bNumConfigurations: int
    bus: int | None = None
    address: int | None = None
    port_number: int | None = None
    port_numbers: tuple[int, ...] | None = None
    speed: int | None = None


@dataclass
class EndpointDescriptor:
    bLength: int
    bDescriptorType: int
    bEndpointAddress: int
    bmAttributes: int
    wMaxPacketSize: int
    bInterval: int
    bRefresh: int = 0
    bSynchAddress: int = 0
    extra_descriptors: bytes = b""


@dataclass
class InterfaceDescriptor:
    bLength: int
    bDescriptorType: int
    bInterfaceNumber: int
    bAlternateSetting: int
    bNumEndpoints: int
    bInterfaceClass: int
    bInterfaceSubClass: int
    bInterfaceProtocol: int
    iInterface: int
    extra_descriptors: bytes = b""
    endpoints: list[EndpointDescriptor] = field(default_factory=list)


@dataclass
class ConfigurationDescriptor:
    bLength: int
    bDescriptorType: int
    wTotalLength: int
    bNumInterfaces: int
    bConfigurationValue: int
    iConfiguration: int
    bmAttributes: int
    bMaxPower: int
    extra_descriptors: bytes = b""
    # interface number -> alternate settings, in the order the blob lists them
    interfaces: dict[int, list[InterfaceDescriptor]] = field(default_factory=dict)

    def interface_numbers(self) -> list[int]:
        return list(self.interfaces)


def parse_device_descriptor(raw: bytes) -> DeviceDescriptor:
    if len(raw) < 18 or raw[1] != DT_DEVICE:
        raise ValueError("not a device descriptor")
    return DeviceDescriptor(*struct.unpack("<BBHBBBBHHHBBBB", raw[:18]))


def parse_configuration(raw: bytes) -> ConfigurationDescriptor:
    """Parse a configuration blob the way libusb does (extra descriptors attached in place)."""
    if len(raw) < 9 or raw[1] != DT_CONFIG:
        raise ValueError("not a configuration descriptor")
    config = ConfigurationDescriptor(*struct.unpack("<BBHBBBBB", raw[:9]))
    current: ConfigurationDescriptor | InterfaceDescriptor | EndpointDescriptor = config
    interface: InterfaceDescriptor | None = None
    pos = 9
    while pos + 2 <= len(raw):
        length, kind = raw[pos], raw[pos + 1]
        if length < 2:
            raise ValueError(f"descriptor of length {length} at offset {pos}")
        chunk = raw[pos : pos + length]
        if kind == DT_INTERFACE:
            interface = InterfaceDescriptor(*struct.unpack("<9B", chunk[:9]))
            config.interfaces.setdefault(interface.bInterfaceNumber, []).append(interface)
            current = interface
        elif kind == DT_ENDPOINT:
            if interface is None:
                raise ValueError(f"endpoint descriptor before any interface at offset {pos}")
            endpoint = EndpointDescriptor(*struct.unpack("<BBBBHB", chunk[:7]))
            interface.endpoints.append(endpoint)
            current = endpoint
        else:
            current.extra_descriptors += chunk
        pos += length
    return config
