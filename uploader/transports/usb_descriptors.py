"""USB standard descriptors (USB 2.0, 9.6), parsed from their bytes into what pyusb expects.

A pyusb backend hands ``usb.core`` descriptor objects with the field names of the USB
specification (``bLength``, ``idVendor``...). A backend that reads descriptors from the wire
(the USB/IP client) parses them here: the device descriptor, and a configuration
descriptor with its interfaces (every alternate setting) and their endpoints; any other
descriptor in between (HID, class-specific) is kept in ``extra_descriptors`` of the
interface or endpoint it follows, as libusb does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

DT_DEVICE, DT_CONFIG, DT_INTERFACE, DT_ENDPOINT = 0x01, 0x02, 0x04, 0x05


class DescriptorError(ValueError):
    """Descriptor bytes that do not follow USB 2.0, 9.6."""


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
    extra_descriptors: list[int] = field(default_factory=list)


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
    extra_descriptors: list[int] = field(default_factory=list)
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
    extra_descriptors: list[int] = field(default_factory=list)
    interfaces: list[list[InterfaceDescriptor]] = field(default_factory=list)
    """Per interface (in the order they appear), its alternate settings."""


def parse_device_descriptor(raw: bytes) -> DeviceDescriptor:
    if len(raw) < 18 or raw[1] != DT_DEVICE:
        raise DescriptorError(f"not a device descriptor: {raw.hex()}")
    return DeviceDescriptor(*struct.unpack_from("<BBHBBBBHHHBBBB", raw))


def parse_configuration_descriptor(raw: bytes) -> ConfigurationDescriptor:
    if len(raw) < 9 or raw[1] != DT_CONFIG:
        raise DescriptorError(f"not a configuration descriptor: {raw[:9].hex()}")
    config = ConfigurationDescriptor(*struct.unpack_from("<BBHBBBBB", raw))
    by_number: dict[int, list[InterfaceDescriptor]] = {}
    extra = config.extra_descriptors
    last: InterfaceDescriptor | None = None
    offset = raw[0]
    while offset + 2 <= len(raw):
        length, kind = raw[offset], raw[offset + 1]
        if length < 2 or offset + length > len(raw):
            raise DescriptorError(f"descriptor at byte {offset} has a bad length {length}")
        chunk = raw[offset : offset + length]
        if kind == DT_INTERFACE and length >= 9:
            interface = InterfaceDescriptor(*struct.unpack_from("<BBBBBBBBB", chunk))
            by_number.setdefault(interface.bInterfaceNumber, []).append(interface)
            extra = interface.extra_descriptors
            last = interface
        elif kind == DT_ENDPOINT and length >= 7 and last is not None:
            endpoint = EndpointDescriptor(*struct.unpack_from("<BBBBHB", chunk))
            if length >= 9:
                endpoint.bRefresh, endpoint.bSynchAddress = chunk[7], chunk[8]
            last.endpoints.append(endpoint)
            extra = endpoint.extra_descriptors
        else:
            extra.extend(chunk)
        offset += length
    config.interfaces = list(by_number.values())
    return config
