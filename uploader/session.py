"""One upload, start to finish: the lifecycle's fixed steps, each timed and each error tagged.

Steps: login, detect, connect, identify, fetch, disconnect (always), process, upload,
verify, save-state. The cloud login comes first so a wrong password costs nothing at the
device. State advances only after verification, so a failure anywhere leaves the next run
to finish the job, and the cloud's deduplication makes that safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import httpx

from uploader.cloud import CloudClient, RetryPolicy
from uploader.cloud.client import MAX_CHUNK
from uploader.datamodel import ClientInfo, UploadRecord
from uploader.device_spec import parse_device
from uploader.drivers import detect_usb
from uploader.drivers.base import Driver
from uploader.errors import (
    NOTHING_UPLOADED,
    InternalError,
    Step,
    UploaderError,
    UsageError,
    VerificationFailed,
)
from uploader.normalize.bgm import normalize_readings
from uploader.progress import NoProgress, Progress
from uploader.records import DeviceIdentity
from uploader.state import SyncState, default_state_path, record_key
from uploader.timeproc import AcrossTheBoardTimezone
from uploader.transports.usb import UsbBackend, default_backend
from uploader.verify import VerificationReport, compare

CLIENT_NAME = "org.diahil.uploader"
CLOCK_WARNING = timedelta(minutes=15)


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
    device_timeout_ms: int = 5000
    chunk_size: int = MAX_CHUNK
    retry: RetryPolicy | None = None
    progress: Progress = field(default_factory=NoProgress)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


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
    created: int | None = None
    duplicates: int | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    first_device_time: datetime | None = None
    last_device_time: datetime | None = None
    data_set_id: str | None = None
    verification: VerificationReport | None = None
    device_clock_offset_s: float | None = None
    notes: list[str] = field(default_factory=list)
    link_stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

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
            },
            "records_read": self.records_read,
            "control_solution_skipped": self.control_solution_skipped,
            "datums": self.datums,
            "new_datums": self.new_datums,
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
    """Times each step and tags the errors raised in it with the step and what was kept."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: Step, kept: str | None = None) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except UploaderError as error:
            if error.step is None:
                error.step = step
            if error.kept is None:
                error.kept = kept
            raise
        except Exception as error:
            raise InternalError.wrap(error, step) from error
        finally:
            self.timings[step.value] = (
                self.timings.get(step.value, 0.0) + time.perf_counter() - started
            )


async def upload(options: UploadOptions) -> UploadResult:
    """Read the device, upload what the cloud does not have yet, verify, remember."""
    if not 0 < options.chunk_size <= MAX_CHUNK:
        raise UsageError(f"The chunk size must be 1..{MAX_CHUNK}, not {options.chunk_size}.")
    times = AcrossTheBoardTimezone(options.timezone)
    selector = parse_device(options.device)
    steps = _Steps()
    async with CloudClient(
        options.cloud_url, transport=options.cloud_transport, retry=options.retry
    ) as cloud:
        with steps(Step.LOGIN, kept="Nothing was read or uploaded."):
            user = await cloud.login(options.email, options.password)
        account = f"{cloud.base_url}#{user.user_id}"

        with steps(Step.DETECT, kept="Nothing was read or uploaded."):
            backend = options.usb_backend if options.usb_backend is not None else default_backend()
            driver = await asyncio.to_thread(
                detect_usb, selector, backend, options.device_timeout_ms
            )
        identity, data = await _read_device(driver, steps, options.progress)

        with steps(Step.PROCESS, kept=NOTHING_UPLOADED):
            normalized = normalize_readings(data.readings, identity, times)
            datums = [d.to_json() for d in normalized.datums]
        result = UploadResult(
            status="no-new-data",
            cloud_url=cloud.base_url,
            user_id=user.user_id,
            device=identity,
            records_read=len(data.readings),
            control_solution_skipped=normalized.control_solution_skipped,
            datums=len(datums),
            notes=list(data.notes),
            link_stats=dict(data.link_stats),
            timings=steps.timings,
        )
        for datum in datums:
            result.by_type[datum["type"]] = result.by_type.get(datum["type"], 0) + 1
        if normalized.datums:
            result.first_device_time = min(d.device_time for d in normalized.datums)
            result.last_device_time = max(d.device_time for d in normalized.datums)
        _check_clock(result, times, options.clock())

        state = SyncState(options.state_path or default_state_path())
        try:
            known = state.uploaded_keys(account, identity.device_id)
            new = [d for d in datums if record_key(d) not in known]
            result.new_datums = len(new)
            if not new:
                state.log_run(account, identity.device_id, result.status, result.as_dict())
                return result
            result.data_set_id = await _send(cloud, new, identity, times, options, steps, result)
            with steps(
                Step.VERIFY,
                kept="The data was sent, but the cloud's copy could not be confirmed; the next "
                "run will check again and send anything missing.",
            ):
                result.verification = await _verify(cloud, datums, normalized.datums, identity)
            with steps(
                Step.SAVE_STATE, kept="The cloud holds the data; the next run re-checks it."
            ):
                state.mark_verified(
                    account, identity.device_id, [record_key(d) for d in datums], result.data_set_id
                )
                result.status = "uploaded"
                state.log_run(account, identity.device_id, result.status, result.as_dict())
        finally:
            state.close()
    return result


async def _read_device(
    driver: Driver, steps: _Steps, progress: Progress
) -> tuple[DeviceIdentity, Any]:
    try:
        with steps(Step.CONNECT, kept=NOTHING_UPLOADED):
            await driver.connect()
        with steps(Step.IDENTIFY, kept=NOTHING_UPLOADED):
            identity = await driver.identify()
        with steps(Step.FETCH, kept=NOTHING_UPLOADED):
            data = await driver.fetch(progress)
    finally:
        with steps(Step.DISCONNECT):
            await driver.disconnect()
    return identity, data


async def _send(
    cloud: CloudClient,
    new: list[dict[str, Any]],
    identity: DeviceIdentity,
    times: AcrossTheBoardTimezone,
    options: UploadOptions,
    steps: _Steps,
    result: UploadResult,
) -> str:
    now = options.clock()
    local_now = now.astimezone(times.zone).replace(tzinfo=None)
    record = UploadRecord(
        client=ClientInfo(name=CLIENT_NAME, version=client_version()),
        device_id=identity.device_id,
        device_manufacturers=[identity.manufacturer],
        device_model=identity.model,
        device_serial_number=identity.serial_number,
        device_tags=list(identity.tags),  # type: ignore[arg-type]
        device_time=identity.clock,
        computer_time=local_now,
        time=now,
        time_processing=times.name,  # type: ignore[arg-type]
        timezone=times.timezone,
        timezone_offset=times.fields(local_now).timezone_offset,
        version=client_version(),
    )
    sent = 0
    kept = "Nothing was uploaded from this run; run it again."
    with steps(Step.UPLOAD, kept=kept):
        data_set_id = await cloud.create_data_set(record)
        options.progress.start("upload", len(new))
        created = duplicates = 0
        counted = True
        for start in range(0, len(new), options.chunk_size):
            chunk = new[start : start + options.chunk_size]
            try:
                answer = await cloud.upload_chunk(data_set_id, chunk)
            except UploaderError as error:
                error.kept = (
                    f"{sent} of {len(new)} new datums reached the cloud before this; the next "
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
        await cloud.close_data_set(data_set_id)
    if counted:
        result.created, result.duplicates = created, duplicates
    return data_set_id


async def _verify(
    cloud: CloudClient, datums: list[dict[str, Any]], models: list[Any], identity: DeviceIdentity
) -> VerificationReport:
    start = min(m.time for m in models)
    end = max(m.time for m in models)
    types = sorted({d["type"] for d in datums})
    stored = await cloud.read_data(device_id=identity.device_id, types=types, start=start, end=end)
    report = compare(datums, stored)
    if not report.ok:
        raise VerificationFailed(f"The cloud's copy differs from the device: {report.summary()}.")
    return report


def _check_clock(result: UploadResult, times: AcrossTheBoardTimezone, now: datetime) -> None:
    device_clock = result.device.clock
    if device_clock is None:
        return
    computer = now.astimezone(times.zone).replace(tzinfo=None)
    offset = device_clock - computer
    result.device_clock_offset_s = offset.total_seconds()
    if abs(offset) > CLOCK_WARNING:
        minutes = round(offset.total_seconds() / 60)
        direction = "ahead of" if minutes > 0 else "behind"
        result.notes.append(
            f"The device clock is {abs(minutes)} minutes {direction} this computer's clock in "
            f"{times.timezone}; its readings are placed by its own clock. Set the device clock "
            "to fix future readings."
        )


def run_upload(options: UploadOptions) -> UploadResult:
    """``upload`` for synchronous callers."""
    return asyncio.run(upload(options))
