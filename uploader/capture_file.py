"""``--capture FILE``: record the exchange with the device into a capture file.

The format comes from ``--capture-format`` or from FILE's extension:

- USB: ``.pcap`` or ``.pcapng``, a Linux usbmon capture (link type 220) that Wireshark opens
  and ``diahil replay`` replays (``uploader.capture_usb``);
- Bluetooth: ``.btsnoop`` or ``.pcapng``, HCI packets where the stack gives them, else a
  GATT-level log (``uploader.ble_capture``).

Whatever the device, the JSON-lines exchange log (``uploader.capture``) is kept as well, for
the support bundle. The file is written after the run, whether it succeeded or failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from uploader.ble_capture import BleCaptureFile
from uploader.ble_capture import capture_format as ble_capture_format
from uploader.capture import ExchangeCapture
from uploader.capture_usb import USB_CAPTURE_FORMATS, write_usbmon
from uploader.errors import UsageError
from uploader.session import UploadOptions

USB_SUFFIXES = {".pcap": "pcap", ".pcapng": "pcapng"}


def usb_capture_format(path: Path, explicit: str | None = None) -> str:
    """``pcap`` or ``pcapng`` for a USB capture; ``UsageError`` naming the choices otherwise."""
    chosen = explicit or USB_SUFFIXES.get(path.suffix.lower())
    if chosen not in USB_CAPTURE_FORMATS:
        given = f"--capture-format {explicit}" if explicit else f"the extension of {path.name}"
        raise UsageError(
            f"USB captures are written as pcap or pcapng (usbmon), and {given} names neither: "
            "use FILE.pcap or FILE.pcapng, or --capture-format pcap|pcapng."
        )
    return str(chosen)


@dataclass
class CaptureSession:
    """What one run records: always the exchange log; a capture file when one is asked for."""

    exchange: ExchangeCapture = field(default_factory=ExchangeCapture)
    path: Path | None = None
    usb_format: str | None = None
    ble: BleCaptureFile | None = None

    @classmethod
    def start(
        cls, options: UploadOptions, path: Path | None, file_format: str | None = None
    ) -> CaptureSession:
        """Hook the capture into ``options`` (``UsageError`` for a format that does not fit
        the device)."""
        session = cls(path=path)
        ble_device = options.device.lower().startswith("ble")
        if path is not None and ble_device:
            try:
                session.ble = BleCaptureFile(path, ble_capture_format(path, file_format))
            except ValueError as error:
                raise UsageError(str(error)) from None
            options.ble_snooper = session.ble.snooper
        elif path is not None:
            session.usb_format = usb_capture_format(path, file_format)
        options.usb_wrap = session.exchange.usb_wrap
        exchange_ble, ble_file = session.exchange.ble, session.ble
        if ble_file is None:
            options.ble_capture = exchange_ble
        else:

            def both(operation: str, characteristic: str, data: bytes | None) -> None:
                exchange_ble(operation, characteristic, data)
                ble_file.gatt(operation, characteristic, data)

            options.ble_capture = both
        return session

    def write(self) -> list[Path]:
        """Write the capture file(s); the paths written (none if nothing crossed the link).
        Raises ``OSError`` when a file cannot be written."""
        if self.ble is not None:
            return self.ble.write()
        if self.path is None or self.usb_format is None or not self.exchange.urbs.urbs:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as out:
            write_usbmon(self.exchange.urbs.urbs, out, self.usb_format)
        return [self.path]
