"""``diahil watch``: upload automatically when a device appears, and on a schedule.

The watcher polls for supported devices: on USB by enumerating the pyusb backend (libusb
on a bench, any other backend in CI), over Bluetooth by scanning for advertisements of the
supported services (GLS, CGMS). A device *appears* when it was not seen at the previous
poll (a USB device plugged back in enumerates at a new address, so a replug counts); an
appearance starts an upload of exactly that device (``usb:VID:PID:SERIAL``, ``ble:ADDRESS``).
A device still plugged in after a successful run is uploaded again only when the schedule
(``uploader.schedule``) says so. A failed run is logged and retried at the next trigger: the
device appearing again, the schedule, or ``retry_after`` later if it stays present.

Nothing that fails ends the loop: an upload's error, USB or Bluetooth being unavailable for
a poll, a cloud that is down or restarting. Each run is one line (``WatchRun.line``) and one
row in the state database's run table (written by the session, failed runs included), so
``diahil status`` shows the last run per device.

The clock and the sleep are injected, and so is the stop condition (``once``,
``max_runs``, ``should_stop``): tests drive the loop without waiting, while devices, USB,
Bluetooth and the cloud stay real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from uploader.capture import ExchangeCapture
from uploader.detect import BLE_DRIVERS
from uploader.drivers import supported_usb
from uploader.errors import InternalError, UploaderError
from uploader.schedule import Schedule
from uploader.session import UploadOptions, UploadResult
from uploader.session import upload as upload_once
from uploader.support_bundle import write_bundle
from uploader.transports.ble import BleStack, scan
from uploader.transports.bumble_central import HciEndpoint
from uploader.transports.usb import UsbBackend, default_backend, find_devices

Sleep = Callable[[float], Awaitable[None]]
Uploader = Callable[[UploadOptions], Awaitable[UploadResult]]


@dataclass(frozen=True)
class Present:
    """A supported device seen at a poll."""

    spec: str
    """The DEVICE argument naming exactly this device."""
    label: str
    appearance: tuple[Any, ...]
    """Changes when the device is plugged in again (USB address) or re-appears."""


@dataclass
class WatchRun:
    """One upload the watcher started, and how it ended."""

    started_at: datetime
    device: str
    reason: str
    seconds: float
    result: UploadResult | None = None
    error: UploaderError | None = None
    next_try: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """The run as one log line."""
        when = self.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head = f"{when} {self.device} ({self.reason})"
        if self.result is not None:
            r = self.result
            what = (
                f"uploaded {r.new_datums} new datums" if r.status == "uploaded" else "no new data"
            )
            device = f"{r.device.model} {r.device.serial_number}"
            return f"{head}: {what} from {device} ({self.seconds:.1f} s)"
        assert self.error is not None
        retry = ""
        if self.next_try is not None:
            at = self.next_try.astimezone(UTC)
            retry = f" Next try at {at:%H:%M:%SZ} or when it is plugged in again."
        return f"{head}: failed {self.error.user_message()}{retry}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "device": self.device,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "status": self.result.status if self.result else "failed",
            "result": self.result.as_dict() if self.result else None,
            "error": self.error.as_dict() if self.error else None,
            "next_try": self.next_try.isoformat() if self.next_try else None,
        }


@dataclass
class WatchConfig:
    usb: bool = True
    ble: bool = False
    schedule: Schedule = field(default_factory=Schedule)
    poll_s: float = 2.0
    retry_after: timedelta = timedelta(minutes=1)
    once: bool = False
    """One pass: upload every device present now, then stop."""
    max_runs: int | None = None
    usb_backend: UsbBackend | None = None
    """None: libusb."""
    ble_transport: str | HciEndpoint | None = None
    ble_scan_s: float = 3.0
    support_bundle: Path | None = None
    """Rewritten after every run with that run's bundle."""
    capture: bool = False


@dataclass
class _Track:
    appearance: tuple[Any, ...]
    retry_at: datetime | None = None


class Watcher:
    """The watch loop. ``run()`` returns the runs it made once a stop condition holds."""

    def __init__(
        self,
        config: WatchConfig,
        make_options: Callable[[str], UploadOptions],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        on_run: Callable[[WatchRun], None] = lambda _run: None,
        on_notice: Callable[[str], None] = lambda _text: None,
        should_stop: Callable[[Watcher], bool] = lambda _watcher: False,
        upload: Uploader = upload_once,
    ) -> None:
        self.config = config
        self.make_options = make_options
        self.clock = clock
        self.sleep = sleep
        self.on_run = on_run
        self.on_notice = on_notice
        self.should_stop = should_stop
        self.upload = upload
        self.runs: list[WatchRun] = []
        self.polls = 0
        self._tracks: dict[str, _Track] = {}
        self._notices: set[str] = set()
        self._next_scheduled: datetime | None = None
        self._usb_backend: UsbBackend | None = config.usb_backend

    # ---- what is there ------------------------------------------------------------------

    async def _usb_present(self) -> list[Present]:
        if self._usb_backend is None:  # libusb, started once (by the first poll that can)
            self._usb_backend = default_backend()
        backend = self._usb_backend
        found = await asyncio.to_thread(find_devices, backend, supported_usb)
        present = []
        for info in found:
            spec = f"usb:{info.vendor_id:04x}:{info.product_id:04x}"
            if info.serial_number:
                spec += f":{info.serial_number}"
            label = f"{info.product or 'USB device'} at {info.location}"
            present.append(Present(spec, label, (info.bus, info.address)))
        return present

    async def _ble_present(self) -> list[Present]:
        stack = BleStack.open(self.config.ble_transport, keystore_path=None)
        try:
            seen = await scan(stack, self.config.ble_scan_s)
        finally:
            await stack.close()
        return [
            Present(f"ble:{ad.address}", ad.name or ad.address, ("ble", ad.address))
            for ad in seen
            if any(s in BLE_DRIVERS for s in ad.service_uuids)
        ]

    async def present(self) -> list[Present]:
        """Supported devices there now; a bus that cannot be polled is a notice, not a stop."""
        polls: list[tuple[str, Callable[[], Awaitable[list[Present]]]]] = []
        if self.config.usb:
            polls.append(("USB", self._usb_present))
        if self.config.ble:
            polls.append(("Bluetooth", self._ble_present))
        found: list[Present] = []
        for name, poll in polls:
            try:
                found += await poll()
            except UploaderError as error:
                self._notice(f"{name} cannot be polled: {error.user_message()}")
            except Exception as error:  # never end the loop; say what happened, once
                self._notice(f"{name} cannot be polled: {InternalError.wrap(error).message}")
        return found

    def _notice(self, text: str) -> None:
        if text not in self._notices:  # once per distinct problem, not at every poll
            self._notices.add(text)
            self.on_notice(text)

    # ---- the loop -----------------------------------------------------------------------

    def _due(self, present: list[Present], now: datetime) -> list[tuple[Present, str]]:
        due: list[tuple[Present, str]] = []
        scheduled = self._next_scheduled is not None and now >= self._next_scheduled
        if scheduled:
            schedule = self.config.schedule
            self._next_scheduled = schedule.next_after(now, self._next_scheduled)
        for device in present:
            track = self._tracks.get(device.spec)
            if self.config.once:
                due.append((device, "once"))
            elif track is None:
                due.append((device, "appeared" if self.polls > 1 else "present at start"))
            elif track.appearance != device.appearance:
                due.append((device, "plugged in again"))
            elif scheduled:
                due.append((device, "scheduled"))
            elif track.retry_at is not None and now >= track.retry_at:
                due.append((device, "retry"))
        here = {d.spec for d in present}
        for gone in [spec for spec in self._tracks if spec not in here]:
            del self._tracks[gone]  # unplugged: its next appearance uploads again
        return due

    async def _run_one(self, device: Present, reason: str) -> WatchRun:
        options = self.make_options(device.spec)
        capture = ExchangeCapture() if self.config.capture else None
        if capture is not None:
            options.usb_wrap = capture.usb_wrap
            options.ble_capture = capture.ble
        started_at = self.clock()
        began = time.monotonic()
        run = WatchRun(started_at, device.spec, reason, 0.0)
        try:
            run.result = await self.upload(options)
        except UploaderError as error:
            run.error = error
        except Exception as error:  # a bug: logged like any failure, the loop goes on
            run.error = InternalError.wrap(error)
        run.seconds = time.monotonic() - began
        track = _Track(device.appearance)
        if run.error is not None:
            run.next_try = self.clock() + self.config.retry_after
            track.retry_at = run.next_try
        self._tracks[device.spec] = track
        if self.config.support_bundle is not None:
            try:
                write_bundle(
                    self.config.support_bundle,
                    options=options,
                    log=options.run_log,
                    result=run.result,
                    error=run.error,
                    capture=capture,
                )
            except UploaderError as problem:
                self._notice(problem.user_message())
        return run

    def _stopping(self) -> bool:
        limit = self.config.max_runs
        return (limit is not None and len(self.runs) >= limit) or self.should_stop(self)

    async def run(self) -> list[WatchRun]:
        schedule = self.config.schedule
        if schedule.active:
            self._next_scheduled = schedule.next_after(self.clock())
        while True:
            self.polls += 1
            now = self.clock()
            for device, reason in self._due(await self.present(), now):
                if self.config.max_runs is not None and len(self.runs) >= self.config.max_runs:
                    break
                run = await self._run_one(device, reason)
                self.runs.append(run)
                self.on_run(run)
            if self.config.once or self._stopping():
                return self.runs
            await self.sleep(self.config.poll_s)
