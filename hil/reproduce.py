"""``diahil reproduce BUNDLE.zip``: run a field upload again, on a support engineer's desk.

A support bundle (``uploader.support_bundle``) says how a run ended (``outcome.json``),
which device it read (``device.json``: model, serial, firmware, its clock and the
computer's when they were read), the options of the run (``settings.json``) and, when the
user added ``--capture``, the exchange with the device (``capture/FILE``). From it this module
rebuilds the device on an emulated USB bus or radio:

- with a USB capture in the bundle (a ``.pcap``/``.pcapng`` member, usbmon or USBPcap), the
  recorded device itself: ``emulator.replay.ReplayUsbDevice`` answers every request as the
  recording did, errors included (a cable pulled mid-transfer, a timeout, a stall), and
  names the first request of this uploader that differs from the recording;
- for a Bluetooth upload (DEVICE ``ble:...``) with an HCI capture (``.btsnoop``, or
  ``.pcapng`` of HCI packets), the recorded device on an emulated radio
  (``hil.replay_ble``): the uploader pairs with it and reads it through bleak, as it read
  the user's device. A Bluetooth bundle without an HCI capture cannot be reproduced
  (``BundleProblem`` says how to get one);
- a USB upload without a capture: an emulated meter with the bundle's model, serial, firmware
  and clock offset.
  It holds no records the bundle could vouch for, so this is only done for runs that ended
  before the records were read (at ``connect`` or ``identify``: an unsupported model, old
  firmware); for any other run the bundle lacks the history, and ``BundleProblem`` says so
  and how to get it (``--capture``).

Then the real uploader runs the same upload (the bundle's timezone, DEVICE, chunk size,
device timeout, ``--set-clock``; the computer's clock at the recorded time, so clock checks
come out the same) against a fresh mock cloud, and ``Reproduction`` sets the outcome next to
the recorded one: "reproduced: same error at the same step", or "did not reproduce: ...".
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from emulator.devices.contour_usb import build_contour_meter
from emulator.replay.hci_capture import CaptureError, is_hci_capture
from emulator.replay.usb_capture import CaptureFormatError, read_usb_capture
from emulator.replay.usb_device import ReplayError, ReplayUsbDevice
from emulator.usb import EmulatedUsbBackend
from emulator.usb.device import VirtualUsbDevice
from hil.cloud import Account, InProcessCloud
from hil.devices import plug_contour_meter, running_utc
from hil.harness import UploadHarness, quick_retries
from hil.replay_ble import replay_ble
from uploader.clock_check import wall_time
from uploader.errors import InternalError, Step, UploaderError
from uploader.session import UploadOptions, UploadResult, run_upload

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".btsnoop", ".log")
CONTOUR_MODELS = ("Contour Next USB", "Contour USB", "Contour Next One")
BEFORE_RECORDS = {Step.CONNECT.value, Step.IDENTIFY.value}
"""Steps that end a run before any record is read: no history is needed to repeat them."""
REPRODUCE_EMAIL = "reproduce@diahil.invalid"
REPRODUCE_PASSWORD = "reproduce-only-password"
CAPTURE_HINT = (
    "Ask the user to run the same upload again with --support-bundle FILE.zip --capture "
    "FILE.pcap: the bundle then holds the exchange with the device, which replays it exactly."
)
BLE_CAPTURE_HINT = (
    "Ask the user to run the same upload again through a Bumble HCI dongle with "
    "--ble-transport usb:0 --support-bundle FILE.zip --capture FILE.btsnoop: the bundle then "
    "holds the HCI exchange with the device, which replays it exactly."
)


class BundleProblem(Exception):
    """The bundle cannot be reproduced: the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Outcome:
    """How one run ended: ``uploaded``/``no-new-data`` with its counts, or an error."""

    status: str
    exit_code: int
    error: str | None = None
    step: str | None = None
    message: str | None = None
    datums: int | None = None
    new_datums: int | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Outcome:
        if "error" in body:
            return cls(
                status="error",
                exit_code=int(body.get("exit_code", 1)),
                error=str(body["error"]),
                step=body.get("step"),
                message=body.get("message"),
            )
        return cls(
            status=str(body.get("status", "?")),
            exit_code=int(body.get("exit_code", 0)),
            datums=body.get("datums"),
            new_datums=body.get("new_datums"),
        )

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.error} at step {self.step} (exit code {self.exit_code})"
        return f"{self.status}, {self.datums} datums ({self.new_datums} new)"


@dataclass
class Bundle:
    """What ``diahil reproduce`` reads from a support bundle."""

    path: Path
    outcome: dict[str, Any]
    device: dict[str, Any]
    settings: dict[str, Any]
    capture: tuple[str, bytes] | None = None
    """(member name, bytes) of the first capture file in the zip (USB or Bluetooth HCI)."""

    @property
    def bluetooth(self) -> bool:
        return str(self.settings.get("device") or "usb").lower().startswith("ble")

    @property
    def capture_name(self) -> str | None:
        return self.capture[0] if self.capture else None

    @classmethod
    def load(cls, path: Path) -> Bundle:
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()

                def member(name: str) -> dict[str, Any]:
                    if name not in names:
                        raise BundleProblem(
                            f"{path} has no {name}: it is not a diahil support bundle (made "
                            "by `diahil upload ... --support-bundle FILE.zip`)."
                        )
                    return dict(json.loads(archive.read(name)))

                bundle = cls(path, member("outcome.json"), member("device.json"), {})
                bundle.settings = member("settings.json")
                captures = [
                    n
                    for n in names
                    if n.startswith("capture/") and n.lower().endswith(CAPTURE_SUFFIXES)
                ]
                if captures:
                    bundle.capture = (captures[0], archive.read(captures[0]))
                return bundle
        except FileNotFoundError:
            raise BundleProblem(f"{path} does not exist.") from None
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BundleProblem(f"{path} is not a readable support bundle ({error}).") from None


@dataclass
class Reproduction:
    """The recorded outcome and this run's, and whether they are the same."""

    recorded: Outcome
    replayed: Outcome
    device: str
    """How the device was rebuilt (the capture replayed, or the emulated identity)."""
    divergence: str | None = None
    """The first request of this uploader the recording does not have, if any."""
    notes: list[str] = field(default_factory=list)
    account: Account | None = None
    """The account on the fresh cloud that the upload went to."""

    @property
    def reproduced(self) -> bool:
        recorded, replayed = self.recorded, self.replayed
        if recorded.error is not None:
            return (recorded.error, recorded.step) == (replayed.error, replayed.step)
        if replayed.error is not None:
            return False
        return recorded.datums is None or recorded.datums == replayed.datums

    def verdict(self) -> str:
        if self.reproduced:
            if self.recorded.error is not None:
                return f"reproduced: same error at the same step: {self.recorded.describe()}"
            return f"reproduced: the upload succeeded again: {self.replayed.describe()}"
        reason = (
            f"the bundle recorded {self.recorded.describe()}, "
            f"this run ended {self.replayed.describe()}"
        )
        if self.divergence:
            reason += f"; {self.divergence}"
        return f"did not reproduce: {reason}"

    def as_dict(self) -> dict[str, Any]:
        def outcome(o: Outcome) -> dict[str, Any]:
            return {k: v for k, v in o.__dict__.items() if v is not None}

        return {
            "reproduced": self.reproduced,
            "verdict": self.verdict(),
            "device": self.device,
            "recorded": outcome(self.recorded),
            "replayed": outcome(self.replayed),
            "divergence": self.divergence,
            "notes": self.notes,
        }


def _utc(text: Any) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _template(model: str | None) -> VirtualUsbDevice | None:
    if model not in CONTOUR_MODELS:
        return None
    return build_contour_meter("0000-0000000", family=str(model), count=1)


def _capture_file(bundle: Bundle, work: Path) -> Path:
    assert bundle.capture is not None
    name, raw = bundle.capture
    path = work / Path(name).name
    path.write_bytes(raw)
    return path


def _replay_device(bundle: Bundle, work: Path) -> ReplayUsbDevice:
    assert bundle.capture is not None
    name = bundle.capture[0]
    path = _capture_file(bundle, work)
    try:
        return ReplayUsbDevice(
            read_usb_capture(path), template=_template(bundle.device.get("model"))
        )
    except (CaptureFormatError, ReplayError) as error:
        raise BundleProblem(
            f"The capture {name} in {bundle.path} cannot be replayed: {error}"
        ) from None


def _hci_capture(bundle: Bundle, work: Path) -> Path:
    """The bundle's Bluetooth HCI capture, written to ``work``; ``BundleProblem`` if none."""
    if bundle.capture is None:
        raise BundleProblem(
            f"{bundle.path} is from a Bluetooth upload without an HCI capture (none, or only a "
            f"GATT log), so what the device sent is unknown. {BLE_CAPTURE_HINT}"
        )
    path = _capture_file(bundle, work)
    if not is_hci_capture(path):
        raise BundleProblem(
            f"The capture {bundle.capture_name} in {bundle.path} holds no Bluetooth HCI packets "
            f"(a GATT log, or not from this upload), so it cannot be replayed. {BLE_CAPTURE_HINT}"
        )
    return path


def _emulated_device(bundle: Bundle, recorded: Outcome, bus: EmulatedUsbBackend) -> None:
    """The bundle's meter by identity; only for runs that ended before reading records."""
    device = bundle.device
    if not device.get("identified"):
        raise BundleProblem(
            f"The run in {bundle.path} stopped at step {recorded.step} ({recorded.error}), "
            "before the device identified itself: the bundle does not say which device it was, "
            "and the failure did not involve it. README.txt and log.jsonl show what happened."
        )
    model = device.get("model")
    if model not in CONTOUR_MODELS:
        raise BundleProblem(
            f"{bundle.path} is from a {model}, and `diahil reproduce` rebuilds USB Contour "
            f"meters ({', '.join(CONTOUR_MODELS)}) from their identity. {CAPTURE_HINT}"
        )
    if recorded.step not in BEFORE_RECORDS:
        raise BundleProblem(
            f"{bundle.path} has no capture of the exchange with the device, so the records the "
            f"meter sent are unknown, and the recorded outcome ({recorded.describe()}) depends "
            f"on them. {CAPTURE_HINT}"
        )
    timezone = str(bundle.settings.get("timezone") or "UTC")
    identified_at = _utc(device.get("computer_time_utc_at_identify"))
    offset = timedelta(0)
    if device.get("clock") and identified_at is not None:  # the meter's clock, as read then
        device_clock = datetime.fromisoformat(str(device["clock"])).replace(tzinfo=None)
        offset = device_clock - wall_time(identified_at, ZoneInfo(timezone))
    plug_contour_meter(
        bus,
        timezone,
        serial_number=str(device.get("serial_number")),
        family=str(model),
        firmware_version=str(device.get("firmware_version")),
        count=10,
        now=identified_at,
        clock_offset=offset,
    )


def _options(
    bundle: Bundle,
    account: Account,
    cloud: InProcessCloud,
    bus: EmulatedUsbBackend,
    work: Path,
) -> UploadOptions:
    settings = bundle.settings
    timezone = settings["timezone"]
    identified_at = _utc(bundle.device.get("computer_time_utc_at_identify"))
    return UploadOptions(
        cloud_url=cloud.base_url,
        email=account.email,
        password=account.password,
        timezone=str(timezone),
        device=str(settings.get("device") or "usb"),
        state_path=work / "state.sqlite3",
        usb_backend=bus,
        cloud_transport=cloud.transport(),
        device_timeout_ms=int(settings.get("device_timeout_ms") or 5000),
        chunk_size=int(settings.get("chunk_size") or 1000),
        set_clock=bool(settings.get("set_clock")),
        retry=quick_retries(),
        clock=running_utc(identified_at),
    )


Ended = tuple[Outcome, list[str], str | None]
"""How this run ended, its notes, and the first divergence from the recording (if any)."""


def _ended(result: UploadResult | None, error: Exception | None) -> tuple[Outcome, list[str]]:
    if isinstance(error, UploaderError):
        return Outcome.from_json(error.as_dict()), []
    if error is not None:  # a bug shows as the internal error it would be in the field
        return Outcome.from_json(InternalError.wrap(error).as_dict()), []
    assert result is not None
    return Outcome.from_json({**result.as_dict(), "exit_code": 0}), list(result.notes)


def _reproduce_ble(
    bundle: Bundle, capture: Path, account: Account, cloud: InProcessCloud, work: Path
) -> Ended:
    """The bundle's Bluetooth upload again, against its capture on an emulated radio."""
    settings = bundle.settings
    harness = UploadHarness(
        cloud_url=cloud.base_url,
        account=account,
        timezone=str(settings["timezone"]),
        state_path=work / "state.sqlite3",
        usb_backend=None,
        transport_factory=cloud.transport,
        device_timeout_ms=int(settings.get("device_timeout_ms") or 5000),
        clock=running_utc(_utc(bundle.device.get("computer_time_utc_at_identify"))),
    )
    try:
        ended = replay_ble(
            capture,
            harness,
            chunk_size=int(settings.get("chunk_size") or 1000),
            set_clock=bool(settings.get("set_clock")),
        )
    except CaptureError as error:
        raise BundleProblem(
            f"The capture {capture.name} in {bundle.path} cannot be replayed: {error}"
        ) from None
    except Exception as error:
        return *_ended(None, error), None
    divergence = ended.replay.report() if ended.replay.divergence is not None else None
    return *_ended(ended.result, ended.error), divergence


def _reproduce_usb(
    bundle: Bundle,
    bus: EmulatedUsbBackend,
    replay: ReplayUsbDevice | None,
    account: Account,
    cloud: InProcessCloud,
    work: Path,
) -> Ended:
    """The bundle's USB upload again, against the device plugged into ``bus``."""
    try:
        outcome = _ended(run_upload(_options(bundle, account, cloud, bus, work)), None)
    except Exception as error:
        outcome = _ended(None, error)
    divergence = None
    if replay is not None and replay.divergence is not None:
        divergence = replay.divergence.describe()
    return *outcome, divergence


def reproduce(bundle_path: Path, work: Path, cloud: InProcessCloud | None = None) -> Reproduction:
    """Rebuild the bundle's device, run the same upload, compare the outcomes.
    ``work``: a directory for the replayed capture and the state; ``cloud``: the fresh mock
    cloud to upload to (default: a new one, closed afterwards). ``BundleProblem`` when the
    bundle cannot be reproduced."""
    bundle = Bundle.load(bundle_path)
    recorded = Outcome.from_json(bundle.outcome)
    work.mkdir(parents=True, exist_ok=True)
    if not bundle.settings.get("timezone"):
        raise BundleProblem(f"{bundle_path}: settings.json has no timezone of the run.")
    run: Callable[[Account, InProcessCloud], Ended]
    if bundle.bluetooth:
        capture = _hci_capture(bundle, work)
        how = f"the recorded Bluetooth device, replayed from {bundle.capture_name}"

        def run(account: Account, target: InProcessCloud) -> Ended:
            return _reproduce_ble(bundle, capture, account, target, work)

    else:
        bus = EmulatedUsbBackend()
        replay: ReplayUsbDevice | None = None
        if bundle.capture is not None:
            replay = _replay_device(bundle, work)
            bus.plug(replay)
            how = f"the recorded device, replayed from {bundle.capture_name}"
        else:
            _emulated_device(bundle, recorded, bus)
            how = (
                f"an emulated {bundle.device.get('model')} with the bundle's serial, firmware "
                "and clock offset (no capture in the bundle)"
            )

        def run(account: Account, target: InProcessCloud) -> Ended:
            return _reproduce_usb(bundle, bus, replay, account, target, work)

    target = InProcessCloud() if cloud is None else cloud
    try:
        account = target.create_account(REPRODUCE_EMAIL, REPRODUCE_PASSWORD)
        replayed, notes, divergence = run(account, target)
    finally:
        if cloud is None:
            target.close()
    return Reproduction(recorded, replayed, how, divergence, notes, account)
