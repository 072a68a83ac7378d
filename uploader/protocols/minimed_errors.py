"""The MiniMed 600-series path's own failures, each with what was kept and what to do.

They specialise the uploader's error classes (``uploader.errors``), so exit codes and the
step tagging stay the same as for every other device.
"""

from __future__ import annotations

from uploader.errors import DataIntegrityError, DeviceCommunicationError

NOTHING_SENT = "Nothing from this read was sent to the cloud; everything uploaded before is kept."


class PumpOutOfRange(DeviceCommunicationError):
    """The Contour Next Link found no pump on any radio channel, or the pump fell silent."""

    default_hint = (
        "Bring the pump within 1 m of the Contour Next Link (no metal or other radios in "
        "between), make sure it is not suspended in a menu, and retry."
    )


class WrongLinkKey(DeviceCommunicationError):
    """The pump's answers do not decrypt with the link key the Contour Next Link holds."""

    default_hint = (
        "The Contour Next Link is not paired with this pump (or the pairing was renewed): "
        "pair them again on the pump (Connect Devices > Connect Meter), then retry."
    )


class MessageCorrupted(DataIntegrityError):
    """A message failed its checksum or CRC repeatedly: none of its content is used."""

    default_hint = (
        "Plug the Contour Next Link straight into the computer (no hub or extension), keep "
        "the pump within 1 m of it, and retry."
    )
