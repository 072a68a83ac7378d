"""The uploader's errors: one type per failure a user can act on, each tagged with its step.

Every error carries three things a person needs: what happened (``message``), what was kept
(``kept``: the state of their data), and what to do next (``hint``). The step of the upload
lifecycle where it happened is attached by the session (``Step``), and each error class maps
to one documented exit code (docs/exit-codes.md).
"""

from __future__ import annotations

import enum
from typing import ClassVar


class Step(enum.StrEnum):
    """The fixed steps of one upload, in order."""

    LOGIN = "login"
    DETECT = "detect"
    CONNECT = "connect"
    IDENTIFY = "identify"
    FETCH = "fetch"
    SET_CLOCK = "set-clock"
    DISCONNECT = "disconnect"
    PROCESS = "process"
    RECONCILE = "reconcile"
    UPLOAD = "upload"
    VERIFY = "verify"
    SAVE_STATE = "save-state"


class ExitCode(enum.IntEnum):
    OK = 0
    INTERNAL_ERROR = 1
    USAGE = 2
    DEVICE_NOT_AVAILABLE = 3
    DEVICE_COMMUNICATION = 4
    LOGIN_FAILED = 5
    CLOUD_FAILED = 6
    VERIFICATION_FAILED = 7
    DEVICE_NOT_SUPPORTED = 8
    DEVICE_LINKED_ELSEWHERE = 9


NOTHING_UPLOADED = "Nothing was uploaded from this run and the device's records are unchanged."


class UploaderError(Exception):
    """Base of every error the uploader reports to a user."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL_ERROR
    default_hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        kept: str | None = None,
        step: Step | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.kept = kept
        self.step = step

    def user_message(self) -> str:
        """One paragraph for a person: what failed where, what was kept, what to do."""
        where = f"[{self.step.value}] " if self.step else ""
        parts = [f"{where}{self.message}"]
        if self.kept:
            parts.append(self.kept)
        if self.hint:
            parts.append(self.hint)
        return " ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "step": self.step.value if self.step else None,
            "message": self.message,
            "kept": self.kept,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


class InternalError(UploaderError):
    """A bug: an exception the uploader did not expect, wrapped with the step it broke."""

    default_hint = "This is a bug in the uploader: run again with --debug and report the output."

    @classmethod
    def wrap(cls, error: BaseException, step: Step | None = None) -> InternalError:
        wrapped = cls(f"Internal error: {type(error).__name__}: {error}", step=step)
        wrapped.__cause__ = error
        return wrapped


class UsageError(UploaderError):
    exit_code = ExitCode.USAGE


# ---- devices ---------------------------------------------------------------------------


class DeviceNotAvailable(UploaderError):
    exit_code = ExitCode.DEVICE_NOT_AVAILABLE


class UsbUnavailable(DeviceNotAvailable):
    default_hint = (
        "Install libusb (the libusb-package wheel ships it) and check that this computer "
        "has a USB bus the program may use."
    )


class DeviceNotFound(DeviceNotAvailable):
    default_hint = (
        "Plug the device in with a data cable (charge-only cables do not work), wake it up, "
        "and run the upload again."
    )


class AmbiguousDevice(DeviceNotAvailable):
    default_hint = (
        "Unplug the devices you do not want to upload, or name one as usb:VID:PID:SERIAL."
    )


class DeviceAccessDenied(DeviceNotAvailable):
    default_hint = (
        "On Linux, install a udev rule that gives your user access to the device (see "
        "docs/qa.md), or run as a user in the plugdev group."
    )


class DeviceBusy(DeviceNotAvailable):
    default_hint = (
        "Close other programs that talk to the device (vendor software, another uploader)."
    )


class DeviceCommunicationError(UploaderError):
    exit_code = ExitCode.DEVICE_COMMUNICATION
    default_hint = "Unplug the device, plug it back in, and run the upload again."


class DeviceDisconnected(DeviceCommunicationError):
    default_hint = "Plug the device back in (check the cable) and run the upload again."


class DeviceTimeout(DeviceCommunicationError):
    default_hint = (
        "Make sure the device is awake and shows its data-transfer screen, then run the "
        "upload again."
    )


class ProtocolError(DeviceCommunicationError):
    """The device's answers broke the protocol (bad frames, wrong order, unreadable records)."""


class DataIntegrityError(DeviceCommunicationError):
    """The device's data failed its own integrity check (an E2E-CRC): nothing of it is used."""

    default_hint = "Move the device close to this computer and run the upload again."


class PairingFailed(DeviceCommunicationError):
    default_hint = (
        "Put the device in pairing mode, run the upload again and type the 6-digit code the "
        "device shows. If it was paired with another phone or computer, remove that pairing "
        "on the device first."
    )


class DeviceNotSupported(UploaderError):
    """The device is not in the compatibility table (``uploader.compat``) as it is."""

    exit_code = ExitCode.DEVICE_NOT_SUPPORTED


class UnsupportedDevice(DeviceNotSupported):
    default_hint = (
        "Use a supported device (`diahil devices` lists them), or ask support whether this "
        "model is planned."
    )


class FirmwareTooOld(DeviceNotSupported):
    default_hint = (
        "Update the device's firmware with the manufacturer's software or app, then run the "
        "upload again (`diahil devices` lists the minimum for each model)."
    )


class BluetoothUnavailable(DeviceNotAvailable):
    default_hint = (
        "Turn Bluetooth on, or give a Bumble HCI transport with --ble-transport (for example "
        "usb:0 for a USB Bluetooth dongle, tcp-client:HOST:PORT for an emulator)."
    )


# ---- cloud -----------------------------------------------------------------------------


class CloudError(UploaderError):
    exit_code = ExitCode.CLOUD_FAILED


class AuthenticationFailed(CloudError):
    exit_code = ExitCode.LOGIN_FAILED
    default_hint = "Check the email and password (or DIAHIL_EMAIL / DIAHIL_PASSWORD) and try again."


class CloudUnavailable(CloudError):
    default_hint = "Check the network connection and the --cloud URL, then run the upload again."


class UploadRejected(CloudError):
    default_hint = (
        "This is likely a bug in the uploader or a cloud incompatibility: keep the output "
        "(--json) and contact support."
    )


class DeviceLinkedElsewhere(UploaderError):
    """The cloud ties this device to another account: refused before any record is read."""

    exit_code = ExitCode.DEVICE_LINKED_ELSEWHERE
    default_hint = (
        "Upload with the account the device belongs to (`diahil account use NAME`, or "
        "--email), or ask that account's owner to unlink the device first."
    )


class NoKeyring(UsageError):
    """No OS keyring is reachable (a server, a container, CI) and no password was given."""

    default_hint = (
        "Set DIAHIL_PASSWORD (with DIAHIL_EMAIL and DIAHIL_CLOUD) in the environment, or give "
        "--password; on a desktop, unlock or install the OS keyring (Keychain, Credential "
        "Locker, Secret Service)."
    )


class CloudDataConflict(UploaderError):
    """The cloud already holds this device's readings with other values or times."""

    exit_code = ExitCode.VERIFICATION_FAILED


class VerificationFailed(UploaderError):
    exit_code = ExitCode.VERIFICATION_FAILED
    default_hint = (
        "Run the upload again; the cloud removes duplicates. If this repeats, keep the "
        "output (--json) and contact support."
    )
