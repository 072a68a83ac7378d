"""Console output of the uploader: progress bars, the summary, and error reports.

Progress goes to stderr and results to stdout, so ``--json`` output stays one parseable
object. Text that comes from a device or a server is escaped before printing: it is data,
never rich markup.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgressBar
from rich.table import Table
from rich.text import Text

from uploader.errors import InternalError, UploaderError
from uploader.session import UploadResult

LABELS = {"read": "Reading device", "upload": "Uploading"}


class RateColumn(ProgressColumn):
    """Records per second of a task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.finished and task.completed and task.elapsed:
            speed = task.completed / task.elapsed  # too quick for rich's own sampling
        return Text(f"{speed:,.0f} rec/s" if speed else "", style="progress.data.speed")


class RichProgress:
    """The ``Progress`` seam drawn as rich progress bars (records and records/s)."""

    def __init__(self, console: Console) -> None:
        self.bar = RichProgressBar(
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def start(self, task: str, total: int | None) -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        self.tasks[task] = self.bar.add_task(LABELS.get(task, task), total=total)

    def advance(self, task: str, amount: int = 1) -> None:
        self.bar.advance(self.tasks[task], amount)

    def finish(self, task: str) -> None:
        task_id = self.tasks[task]
        done = next(t.completed for t in self.bar.tasks if t.id == task_id)
        self.bar.update(task_id, total=done)
        self.bar.stop_task(task_id)  # its elapsed time (and rate) stop here

    def stop(self) -> None:
        if self.bar.live.is_started:
            self.bar.stop()


def print_summary(result: UploadResult, console: Console) -> None:
    """A person's summary of one upload (device-provided text is escaped, never markup)."""
    device = escape(f"{result.device.model} {result.device.serial_number}")
    if result.status == "no-new-data":
        console.print(
            f"[bold]No new data to upload[/bold]: the cloud holds all {result.datums} "
            f"readings read from {device} (checked just now)."
        )
    else:
        resent = f" (and {result.resent} the cloud had lost)" if result.resent else ""
        console.print(
            f"[bold green]Uploaded[/bold green] {result.new_datums} new datums{resent} from "
            f"{device}; verified in the cloud."
        )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row(
        "device",
        escape(
            f"{result.device.model}, serial {result.device.serial_number}, "
            f"firmware {result.device.firmware_version}"
        ),
    )
    table.add_row("records read", str(result.records_read))
    if result.control_solution_skipped:
        table.add_row("control tests", f"{result.control_solution_skipped} (not uploaded)")
    for kind, count in sorted(result.by_type.items()):
        table.add_row(f"{kind} datums", str(count))
    if result.first_device_time and result.last_device_time:
        table.add_row(
            "device time range",
            f"{result.first_device_time:%Y-%m-%d %H:%M} to "
            f"{result.last_device_time:%Y-%m-%d %H:%M}",
        )
    if result.verification:
        table.add_row("verification", result.verification.summary())
    if result.clock:
        minutes = result.clock.difference.total_seconds() / 60
        table.add_row(
            "device clock",
            f"{result.clock.device:%Y-%m-%d %H:%M:%S} (computer "
            f"{result.clock.computer:%Y-%m-%d %H:%M:%S} in {escape(result.clock.timezone)}: "
            f"{minutes:+.1f} min)",
        )
    table.add_row("cloud", f"{result.cloud_url} (data set {result.data_set_id or '-'})")
    table.add_row("time", ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    rates = _rates(result)
    if rates:
        table.add_row("speed", rates)
    console.print(table)
    warning = result.clock.message() if result.clock else None
    for note in result.notes:
        label = (
            "[bold yellow]warning:[/bold yellow]" if note == warning else "[yellow]note:[/yellow]"
        )
        console.print(f"{label} {escape(note)}")


def _rates(result: UploadResult) -> str:
    """Records read and datums uploaded per second, from the steps' timings."""
    parts = []
    fetch, upload = result.timings.get("fetch"), result.timings.get("upload")
    if fetch and result.records_read:
        parts.append(f"read {result.records_read / fetch:,.0f} records/s")
    sent = result.new_datums + result.resent
    if upload and sent:
        parts.append(f"uploaded {sent / upload:,.0f} datums/s")
    return ", ".join(parts)


def report_error(
    error: BaseException, as_json: bool, debug: bool, extra: dict[str, Any] | None = None
) -> int:
    """Print ``error`` for a person (or as JSON, with ``extra`` fields) and return the exit
    code."""
    if not isinstance(error, UploaderError):
        error = InternalError.wrap(error)
    if as_json:
        print(json.dumps({"status": "error", **error.as_dict(), **(extra or {})}, indent=2))
    else:
        Console(stderr=True).print(
            f"[bold red]Upload failed[/bold red] {escape(error.user_message())}", highlight=False
        )
    if debug:
        traceback.print_exception(error)
    return int(error.exit_code)
