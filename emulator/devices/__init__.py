"""Complete emulated devices: a model, a protocol engine and an attachment, assembled."""

from emulator.devices.contour_usb import (
    CONTOUR_USB_MODELS,
    ContourUsbMeter,
    ContourUsbModel,
    build_contour_meter,
)

__all__ = ["CONTOUR_USB_MODELS", "ContourUsbMeter", "ContourUsbModel", "build_contour_meter"]
