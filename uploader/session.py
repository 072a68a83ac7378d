"""One upload, start to finish: the lifecycle's fixed steps, each timed and each error tagged.

Steps: login, detect, connect, identify, fetch, disconnect (always), process, reconcile,
upload, verify, save-state. The cloud login comes first so a wrong password costs nothing
at the device.

Reconcile reads back what the cloud already holds for the device's time range before
anything is sent, so the run sends exactly what is missing: new readings, and readings an
earlier run verified that have since gone missing (the local state repairs itself). A
reading the cloud holds with other values or at another time is a conflict, reported
before anything is sent. State (and the driver's cursor) advances only after the final
verification, so a failure anywhere leaves the next run to finish the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from bumble.snoop import Snooper

from uploader import compat, latest_day
from uploader.clock_check import DEFAULT_THRESHOLD as DEFAULT_CLOCK_THRESHOLD
from uploader.clock_check import ClockCheck, wall_time
from uploader.cloud import CloudClient, RetryPolicy
from uploader.cloud.client import MAX_CHUNK
from uploader.datamodel import ClientInfo, DeviceDatum, UploadRecord
from uploader.detect import DetectOptions, detect
from uploader.device_spec import parse_device
from uploader.drivers.base import Driver
from uploader.errors import (
    NOTHING_UPLOADED,
    CloudDataConflict,
    InternalError,
    Step,
    UploaderError,
    UsageError,
    VerificationFailed,
)
from uploader.latest_day import LatestDay
from uploader.normalize import normalize
from uploader.pairing import CodeProvider, PasskeyProvider
from uploader.progress import NoProgress, Progress
from uploader.records import DeviceData, DeviceIdentity
from uploader.runlog import RunLog
from uploader.state import PLACEMENT, SyncState, default_state_path, record_key
from uploader.time_bootstrap import time_processor
from uploader.timeproc import AcrossTheBoardTimezone, TimeProcessor, resolve_timezone
from uploader.transports.ble import GattCapture
from uploader.transports.bumble_central import HciEndpoint
from uploader.transports.usb import UsbBackend
from uploader.verify import PROVENANCE, Mismatch, VerificationReport, compare
from uploader.wizard_links import WizardLinks

CLIENT_NAME = "org.diahil.uploader"
Code = TypeVar("Code", int, str)
"""A pairing code: a 6-digit passkey (int) or a code shown as text (str)."""


def client_version() -> str:
    try:
        return version("diahil")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass
class UploadOptions:
    cloud_url: str
    email: str
    password: str
    timezone: str
    device: str = "usb"
    state_path: Path | None = None
    usb_backend: UsbBackend | None = None
    """A pyusb backend; None means libusb (real hardware)."""
    cloud_transport: httpx.AsyncBaseTransport | None = None
    """An httpx transport; None means the network (tests hand in an ASGI transport)."""
    ble_transport: str | HciEndpoint | None = None
    """None: the system's Bluetooth; a Bumble moniker (``usb:0``, ``tcp-client:H:P``) or an
    open HCI (source, sink) pair: the project's Bumble central."""
    ble_keystore: Path | None = None
    """Where Bluetooth bonds are kept (default: beside the state file)."""
    ble_scan_timeout_s: float = 5.0
    passkey: PasskeyProvider | None = None
    pairing_code: CodeProvider | None = None
    """A code that is not a 6-digit passkey (Tandem t:slim X2); None: asked at the terminal."""
    device_timeout_ms: int = 5000
    chunk_size: int = MAX_CHUNK
    retry: RetryPolicy | None = None
    cloud_timeout_s: float = 30.0
    """How long one cloud request may go unanswered before it counts as failed (retried)."""
    progress: Progress = field(default_factory=NoProgress)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    clock_warning: timedelta = DEFAULT_CLOCK_THRESHOLD
    """Warn when the device clock is further than this from the computer's."""
    set_clock: bool = False
    """Set the device clock to the computer's (in ``timezone``) where the protocol allows."""
    run_log: RunLog = field(default_factory=RunLog)
    """Where the steps, timings, warnings and the error are logged (``uploader.runlog``)."""
    usb_wrap: Callable[[UsbBackend], UsbBackend] | None = None
    """Wraps the pyusb backend once it is chosen (a support bundle's capture of the exchange)."""
    ble_capture: GattCapture | None = None
    """Told every GATT read, write and notification (a support bundle's capture)."""
    ble_snooper: Snooper | None = None
    """Handed every HCI packet of the Bumble central (``uploader.ble_capture``)."""


@dataclass
class UploadResult:
    status: Literal["uploaded", "no-new-data"]
    cloud_url: str
    user_id: str
    device: DeviceIdentity
    records_read: int = 0
    control_solution_skipped: int = 0
    datums: int = 0
    new_datums: int = 0
    resent: int = 0
    created: int | None = None
    duplicates: int | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    first_device_time: datetime | None = None
    last_device_time: datetime | None = None
    data_set_id: str | None = None
    verification: VerificationReport | None = None
    device_clock_offset_s: float | None = None
    clock: ClockCheck | None = None
    latest_day: LatestDay | None = None
    notes: list[str] = field(default_factory=list)
    link_stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    device_status: dict[str, Any] = field(default_factory=dict)
    """What the device reported about itself (``DeviceData.device_status``)."""

    def as_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "status": self.status,
            "cloud": {
                "url": self.cloud_url,
                "user_id": self.user_id,
                "data_set_id": self.data_set_id,
            },
            "device": {
                "manufacturer": self.device.manufacturer,
                "model": self.device.model,
                "serial_number": self.device.serial_number,
                "firmware_version": self.device.firmware_version,
                "device_id": self.device.device_id,
                "clock": when(self.device.clock),
                "clock_offset_s": self.device_clock_offset_s,
                "status": self.device_status,
            },
            "clock": self.clock.as_dict() if self.clock else None,
            "latest_day": self.latest_day.as_dict() if self.latest_day else None,
            "records_read": self.records_read,
            "control_solution_skipped": self.control_solution_skipped,
            "datums": self.datums,
            "new_datums": self.new_datums,
            "resent": self.resent,
            "created": self.created,
            "duplicates": self.duplicates,
            "by_type": self.by_type,
            "device_time_range": [when(self.first_device_time), when(self.last_device_time)],
            "verification": self.verification.as_dict() if self.verification else None,
            "notes": self.notes,
            "link_stats": self.link_stats,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


class _Steps:
    """Times each step, logs it, and tags the errors raised in it with the step and what was
    kept."""

    def __init__(self, log: RunLog | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.log = log if log is not None else RunLog()

    @contextmanager
    def __call__(self, step: Step, kept: str | None = None) -> Iterator[None]:
        started = time.perf_counter()
        record = self.log.step_started(step)
        failure: BaseException | None = None
        try:
            yield
        except UploaderError as error:
            failure = error
            if error.step is None:
                error.step = step
            if error.kept is None:
                error.kept = kept
            raise
        except Exception as error:
            failure = error
            raise InternalError.wrap(error, step) from error
        except BaseException as error:  # Ctrl-C: logged as the step that was interrupted
            failure = error
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.timings[step.value] = self.timings.get(step.value, 0.0) + elapsed
            self.log.step_finished(record, elapsed, failure)


async def upload(options: UploadOptions) -> UploadResult:
    """Read the device, send what the cloud is missing, verify, remember."""
    if not 0 < options.chunk_size <= MAX_CHUNK:
        raise UsageError(f"The chunk size must be 1..{MAX_CHUNK}, not {options.chunk_size}.")
    times = AcrossTheBoardTimezone(options.timezone)
    selector = parse_device(options.device)
    state_path = options.state_path or default_state_path()
    state = SyncState(state_path)
    log = options.run_log
    log.secret(options.password)
    log.secret(urlsplit(options.cloud_url).password)  # https://user:secret@host/
    try:
        result = await _upload(options, times, selector, state, state_path)
    except Exception as error:
        failure = error if isinstance(error, UploaderError) else InternalError.wrap(error)
        log.failed(failure)
        _log_failed_run(state, log, options, failure)
        raise
    finally:
        state.close()
    for note in result.notes:
        log.warning(note)
    log.finished(result.status, result.as_dict())
    return result


def _log_failed_run(
    state: SyncState, log: RunLog, options: UploadOptions, error: UploaderError
) -> None:
    """A failed run's row in the state database, under the device if it was identified
    (else the DEVICE argument) and the account if the login succeeded."""
    account = log.account or f"{options.cloud_url.rstrip('/')}#"
    device_id = log.device.device_id if log.device else options.device
    with contextlib.suppress(sqlite3.Error):  # a bad state file: report the upload's error
        state.log_run(account, device_id, "failed", error.as_dict())


async def _upload(
    options: UploadOptions,
    times: AcrossTheBoardTimezone,
    selector: Any,
    state: SyncState,
    state_path: Path,
) -> UploadResult:
    steps = _Steps(options.run_log)
    async with CloudClient(
        options.cloud_url,
        transport=options.cloud_transport,
        retry=options.retry,
        timeout_s=options.cloud_timeout_s,
    ) as cloud:
        steps.log.secret_sources.append(lambda: cloud.session_token)  # the latest, re-logins too
        with steps(Step.LOGIN, kept="Nothing was read or uploaded."):
            user = await cloud.login(options.email, options.password)
        account = f"{cloud.base_url}#{user.user_id}"
        steps.log.logged_in(account)

        detect_options = DetectOptions(
            usb_backend=options.usb_backend,
            device_timeout_ms=options.device_timeout_ms,
            ble_transport=options.ble_transport,
            ble_keystore=options.ble_keystore or state_path.with_name("ble-bonds.json"),
            ble_scan_timeout_s=options.ble_scan_timeout_s,
            passkey=_remembered(options.passkey, steps.log, lambda code: f"{code:06d}"),
            usb_wrap=options.usb_wrap,
            ble_capture=options.ble_capture,
            ble_snooper=options.ble_snooper,
            pairing_code=_remembered(options.pairing_code, steps.log),
            tandem_codes=state_path.with_name("tandem-codes.json"),
        )
        with steps(Step.DETECT, kept="Nothing was read or uploaded."):
            driver, stack = await detect(selector, detect_options)
        try:
            data = await _read_device(driver, steps, options, state, account, cloud)
        finally:
            if stack is not None:
                await stack.close()
        identity = data.identity

        with steps(Step.PROCESS, kept=NOTHING_UPLOADED):
            placing = time_processor(data, times.timezone, data.computer_clock)
            normalized = normalize(data, placing)
            datums = [d.to_json() for d in normalized.datums]
            links = WizardLinks(normalized.datums, datums)
        result = _summary(cloud.base_url, user.user_id, data, normalized.datums, datums, steps)
        result.control_solution_skipped = normalized.control_solution_skipped
        _check_clock(result, data, placing, options.clock_warning)

        known = state.uploaded_keys(account, identity.device_id)
        to_send: list[dict[str, Any]] = []
        if datums:
            with steps(Step.RECONCILE, kept=NOTHING_UPLOADED):
                before = await _read_back(cloud, datums, normalized.datums, identity)
                links.resolve(before)  # wizards whose bolus is not in the cloud yet wait
                to_send = _missing(links.ready(datums), before, known, result)
        result.new_datums = len(to_send) - result.resent

        if to_send:
            result.data_set_id = await _send(
                cloud,
                to_send,
                identity,
                placing,
                normalized.time_processing,
                options,
                steps,
                result,
            )
            with steps(
                Step.VERIFY,
                kept="The data was sent, but the cloud's copy could not be confirmed; the next "
                "run checks again and sends anything missing.",
            ):
                stored = await _read_back(cloud, datums, normalized.datums, identity)
                # What this run sent must come back exactly; what the cloud held before
                # may carry the drift measured then.
                report = compare(links.ready(datums), stored, ignore=PROVENANCE)
                flagged = {m.key for m in report.mismatched}
                report.mismatched += [
                    m for m in compare(to_send, stored).mismatched if m.key not in flagged
                ]
                if not report.ok:
                    raise VerificationFailed(
                        f"The cloud's copy differs from the device: {report.summary()}."
                    )
                result.verification = report
            result.status = "uploaded"
        if links.waiting():
            await _send_waiting_wizards(
                cloud, links, identity, placing, normalized.time_processing, options, steps, result
            )
        if datums:
            await _check_latest_day(cloud, datums, identity, placing, options, steps, result)
        with steps(Step.SAVE_STATE, kept="The cloud holds the data; the next run re-checks it."):
            state.mark_verified(
                account,
                identity.device_id,
                [record_key(d) for d in datums],
                result.data_set_id,
                cursor=data.cursor,
            )
            state.log_run(account, identity.device_id, result.status, result.as_dict())
    return result


def _remembered(
    provider: Callable[[str], Awaitable[Code]] | None,
    log: RunLog,
    shown: Callable[[Code], str] = str,
) -> Callable[[str], Awaitable[Code]] | None:
    """``provider`` (of passkeys or pairing codes), with every code it gives registered as a
    secret of the run, as the device shows it (``shown``)."""
    if provider is None:
        return None
    given = provider

    async def provide(label: str) -> Code:
        code = await given(label)
        log.secret(shown(code))
        return code

    return provide


async def _read_device(
    driver: Driver,
    steps: _Steps,
    options: UploadOptions,
    state: SyncState,
    account: str,
    cloud: CloudClient,
) -> DeviceData:
    try:
        with steps(Step.CONNECT, kept=NOTHING_UPLOADED):
            await driver.connect()
        with steps(Step.IDENTIFY, kept=NOTHING_UPLOADED):
            identity = await driver.identify()
            identified_at = options.clock()
            steps.log.identified(identity)
            compat_note = compat.check(driver.compat_family, identity)
            # A device tied to another account is refused before any record is read.
            await cloud.check_device(identity.manufacturer, identity.serial_number)
        with steps(Step.FETCH, kept=NOTHING_UPLOADED):
            since = state.cursor(account, identity.device_id)
            data = await driver.fetch(options.progress, since=since)
        data.computer_clock = identified_at
        if compat_note:
            data.notes.append(compat_note)
        if options.set_clock:
            await _set_clock(driver, data, steps, options)
        return data
    finally:
        with steps(Step.DISCONNECT):
            await driver.disconnect()


def _summary(
    cloud_url: str,
    user_id: str,
    data: DeviceData,
    models: list[DeviceDatum],
    datums: list[dict[str, Any]],
    steps: _Steps,
) -> UploadResult:
    result = UploadResult(
        status="no-new-data",
        cloud_url=cloud_url,
        user_id=user_id,
        device=data.identity,
        records_read=data.record_count,
        datums=len(datums),
        notes=list(data.notes),
        link_stats=dict(data.link_stats),
        timings=steps.timings,
        device_status=dict(data.device_status),
    )
    for datum in datums:
        result.by_type[datum["type"]] = result.by_type.get(datum["type"], 0) + 1
    if models:
        result.first_device_time = min(m.device_time for m in models)
        result.last_device_time = max(m.device_time for m in models)
    return result


async def _read_back(
    cloud: CloudClient,
    datums: list[dict[str, Any]],
    models: list[DeviceDatum],
    identity: DeviceIdentity,
) -> list[dict[str, Any]]:
    """What the cloud holds for this device over the time range of ``models``."""
    types = sorted({d["type"] for d in datums})
    start = min(m.time for m in models)
    end = max(m.time for m in models)
    return await cloud.read_data(device_id=identity.device_id, types=types, start=start, end=end)


def _missing(
    datums: list[dict[str, Any]],
    stored: list[dict[str, Any]],
    known: set[str],
    result: UploadResult,
) -> list[dict[str, Any]]:
    """The datums to send (those verified before counted in ``result.resent``); a
    ``CloudDataConflict`` if the cloud holds them differently."""
    report = compare(datums, stored, ignore=PROVENANCE)  # a re-read may measure other drift
    if report.mismatched:
        raise _conflict(report.mismatched)
    missing = set(report.missing)
    to_send = [d for d in datums if (d["type"], d["deviceId"], d["deviceTime"]) in missing]
    lost = result.resent = sum(1 for d in to_send if record_key(d) in known)
    if lost:
        result.notes.append(
            f"{lost} reading(s) uploaded and verified earlier were missing from the cloud; "
            "they were sent again."
        )
    return to_send


def _conflict(mismatched: list[Mismatch]) -> CloudDataConflict:
    placement = [m for m in mismatched if set(m.fields) <= PLACEMENT]
    example = mismatched[0]
    if len(placement) == len(mismatched):
        return CloudDataConflict(
            f"The cloud already holds {len(mismatched)} of these readings at other times "
            f"(for example the one of {example.key[2]}): they were uploaded with another "
            "timezone.",
            kept="Nothing was sent, so nothing was duplicated.",
            hint="Upload with the --timezone used before. If that one was wrong, ask support "
            "to remove the misplaced readings first.",
        )
    return CloudDataConflict(
        f"The cloud holds {len(mismatched)} readings of this device with other values "
        f"(for example {example.key[2]}: {', '.join(example.fields)} differ).",
        kept="Nothing was sent, so nothing was overwritten.",
        hint="Check that the device is the one you think (its serial number) and contact "
        "support with the --json output.",
    )


async def _send(
    cloud: CloudClient,
    to_send: list[dict[str, Any]],
    identity: DeviceIdentity,
    times: TimeProcessor,
    time_processing: str,
    options: UploadOptions,
    steps: _Steps,
    result: UploadResult,
) -> str:
    now = options.clock()
    local = now.astimezone(times.zone)
    record = UploadRecord(
        client=ClientInfo(name=CLIENT_NAME, version=client_version()),
        device_id=identity.device_id,
        device_manufacturers=[identity.manufacturer],
        device_model=identity.model,
        device_serial_number=identity.serial_number,
        device_tags=list(identity.tags),  # type: ignore[arg-type]
        device_time=identity.clock,
        computer_time=local.replace(tzinfo=None),
        time=now,
        time_processing=time_processing,  # type: ignore[arg-type]
        timezone=times.timezone,
        timezone_offset=int((local.utcoffset() or timedelta(0)).total_seconds() // 60),
        version=client_version(),
    )
    sent = 0
    with steps(Step.UPLOAD, kept="Nothing was uploaded from this run; run it again."):
        data_set_id = await cloud.create_data_set(record)
        options.progress.start("upload", len(to_send))
        created = duplicates = 0
        counted = True
        for start in range(0, len(to_send), options.chunk_size):
            chunk = to_send[start : start + options.chunk_size]
            try:
                answer = await cloud.upload_chunk(data_set_id, chunk)
            except UploaderError as error:
                error.kept = (
                    f"{sent} of {len(to_send)} datums reached the cloud before this; the next "
                    "run sends the rest (the cloud ignores what it already holds)."
                )
                raise
            sent += len(chunk)
            options.progress.advance("upload", len(chunk))
            if answer.created is None or answer.duplicates is None:
                counted = False
            else:
                created += answer.created
                duplicates += answer.duplicates
        options.progress.finish("upload")
        try:
            await cloud.close_data_set(data_set_id)
        except UploaderError as error:
            error.kept = (
                f"All {sent} datums reached the cloud, but its data set could not be closed; "
                "the next run checks them and sends nothing twice."
            )
            raise
    if counted:
        result.created, result.duplicates = created, duplicates
    return data_set_id


async def _send_waiting_wizards(
    cloud: CloudClient,
    links: WizardLinks,
    identity: DeviceIdentity,
    times: TimeProcessor,
    time_processing: str,
    options: UploadOptions,
    steps: _Steps,
    result: UploadResult,
) -> None:
    """Second round: the Bolus Wizard records whose bolus this run sent, now linked to the
    bolus's cloud id (``uploader.wizard_links``), then verified."""
    waiting = links.waiting()
    moments = [datetime.fromisoformat(str(d["time"]).replace("Z", "+00:00")) for d in waiting]
    start, end = min(moments) - timedelta(days=1), max(moments) + timedelta(days=1)
    kept = (
        "Everything else was sent and verified; the Bolus Wizard records were not. Run the "
        "upload again: it sends them."
    )
    with steps(Step.UPLOAD, kept=kept):
        boluses = await cloud.read_data(
            device_id=identity.device_id, types=["bolus"], start=start, end=end
        )
        links.resolve(boluses)
        if links.waiting():
            raise VerificationFailed(
                f"{len(links.waiting())} Bolus Wizard record(s) name a bolus the cloud does "
                f"not hold (for example the one of {links.waiting()[0]['deviceTime']}).",
                kept=kept,
            )
    before = (result.created, result.duplicates)
    data_set_id = await _send(
        cloud, waiting, identity, times, time_processing, options, steps, result
    )
    result.data_set_id = result.data_set_id or data_set_id
    result.new_datums += len(waiting)
    if before[0] is not None and result.created is not None:
        result.created += before[0]
    if before[1] is not None and result.duplicates is not None:
        result.duplicates += before[1]
    with steps(Step.VERIFY, kept=kept):
        stored = await cloud.read_data(
            device_id=identity.device_id, types=["wizard"], start=start, end=end
        )
        report = compare(waiting, stored)
        if not report.ok:
            raise VerificationFailed(
                f"The cloud's copy of the Bolus Wizard records differs: {report.summary()}."
            )
    result.status = "uploaded"


async def _check_latest_day(
    cloud: CloudClient,
    datums: list[dict[str, Any]],
    identity: DeviceIdentity,
    times: TimeProcessor,
    options: UploadOptions,
    steps: _Steps,
    result: UploadResult,
) -> None:
    """The latest-day check (``uploader.latest_day``): what the cloud holds for the device
    from its newest record on. The data is verified by now, so a failure is only a note."""
    device_newest = latest_day.newest(datums)
    if device_newest is None:
        return
    try:
        with steps(Step.VERIFY):
            stored = await cloud.read_data(
                device_id=identity.device_id,
                types=sorted({d["type"] for d in datums}),
                start=datetime.fromisoformat(str(device_newest["time"]).replace("Z", "+00:00")),
            )
    except UploaderError as error:
        result.notes.append(f"The latest day in the cloud could not be checked: {error.message}")
        return
    today = options.clock().astimezone(times.zone).date()
    result.latest_day = latest_day.check(datums, stored, today)
    if result.latest_day:
        result.notes.extend(result.latest_day.notes())


async def _set_clock(
    driver: Driver, data: DeviceData, steps: _Steps, options: UploadOptions
) -> None:
    """``--set-clock``: the device clock to the computer's in ``--timezone``. The records are
    already read, so a refusal is a note, not a failed upload."""
    zone = resolve_timezone(options.timezone)
    try:
        with steps(Step.SET_CLOCK, kept="The device was read; nothing else changed."):
            target = wall_time(options.clock(), zone)
            if await driver.set_clock(target):
                data.clock_set_to = target
            else:
                data.clock_not_settable = driver.clock_hint
    except UploaderError as error:
        data.clock_not_settable = f"Setting the device clock failed: {error.message}"


def _check_clock(
    result: UploadResult, data: DeviceData, times: TimeProcessor, threshold: timedelta
) -> None:
    """The device clock against the computer's, read together at IDENTIFY."""
    device_clock = data.identity.clock
    if device_clock is None or data.computer_clock is None:
        if data.clock_not_settable:
            result.notes.append(data.clock_not_settable)
        return
    check = ClockCheck(
        device=device_clock,
        computer=wall_time(data.computer_clock, times.zone),
        timezone=times.timezone,
        threshold=threshold,
        set_to=data.clock_set_to,
        not_settable=data.clock_not_settable,
    )
    result.clock = check
    result.device_clock_offset_s = check.difference.total_seconds()
    message = check.message()
    if message:
        result.notes.append(message)
    elif check.set_to is not None:
        result.notes.append(f"The device clock was set to {check.set_to:%Y-%m-%d %H:%M:%S}.")
    elif check.not_settable is not None:
        result.notes.append(check.not_settable)


def run_upload(options: UploadOptions) -> UploadResult:
    """``upload`` for synchronous callers (a new event loop)."""
    return asyncio.run(upload(options))
