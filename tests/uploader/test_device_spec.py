"""The DEVICE argument."""

from __future__ import annotations

import pytest

from uploader.device_spec import UsbSelector, parse_device
from uploader.errors import UsageError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("usb", UsbSelector()),
        ("USB", UsbSelector()),
        ("usb:1a79:7410", UsbSelector(0x1A79, 0x7410)),
        ("usb:0x1A79:0x7410:7390-2336773", UsbSelector(0x1A79, 0x7410, "7390-2336773")),
    ],
)
def test_accepted_forms(spec: str, expected: UsbSelector) -> None:
    assert parse_device(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bluetooth", "Unknown device"),
        ("usb:1a79", "Cannot read device"),
        ("usb:zz:7410", "not hexadecimal"),
        ("usb:1a79:10000", "out of range"),
        ("usb:1a79:7410:a:b", "Cannot read device"),
    ],
)
def test_bad_forms_say_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_device(spec)
    assert "usb:VID:PID" in str(caught.value) or "range" in str(caught.value)
