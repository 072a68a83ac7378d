"""``diahil upload``: the uploader's command line.

    diahil upload DEVICE --cloud URL --timezone TZ [--email E --password P] [--json]

Credentials come from ``--email``/``--password`` or ``DIAHIL_EMAIL``/``DIAHIL_PASSWORD``.
Progress goes to stderr, the summary to stdout (one JSON object with ``--json``). Exit
codes (docs/exit-codes.md): 0 uploaded or nothing new; 2 usage; 3 device not available;
4 device communication failed; 5 login failed; 6 cloud failed; 7 verification failed;
1 internal error (a bug: please report it).
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgressBar
from rich.table import Table

from uploader.errors import ExitCode, InternalError, UploaderError
from uploader.session import UploadOptions, UploadResult, run_upload

LABELS = {"read": "Reading device", "upload": "Uploading"}


class RichProgress:
    """The ``Progress`` seam drawn as rich progress bars (records and records/s)."""

    def __init__(self, console: Console) -> None:
        self.bar = RichProgressBar(
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def start(self, task: str, total: int | None) -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        self.tasks[task] = self.bar.add_task(LABELS.get(task, task), total=total, rate="")

    def advance(self, task: str, amount: int = 1) -> None:
        task_id = self.tasks[task]
        self.bar.advance(task_id, amount)
        speed = self.bar.tasks[task_id].speed if task_id < len(self.bar.tasks) else None
        if speed:
            self.bar.update(task_id, rate=f"{speed:,.0f} rec/s")

    def finish(self, task: str) -> None:
        task_id = self.tasks[task]
        current = self.bar.tasks[task_id]
        self.bar.update(task_id, total=current.completed)

    def stop(self) -> None:
        if self.bar.live.is_started:
            self.bar.stop()


def print_summary(result: UploadResult, console: Console) -> None:
    """A person's summary of one upload (device-provided text is escaped, never markup)."""
    device = escape(f"{result.device.model} {result.device.serial_number}")
    if result.status == "no-new-data":
        console.print(
            f"[bold]No new data to upload[/bold]: the cloud already holds all {result.datums} "
            f"readings from {device}."
        )
    else:
        console.print(
            f"[bold green]Uploaded[/bold green] {result.new_datums} new datums from "
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
    table.add_row("cloud", f"{result.cloud_url} (data set {result.data_set_id or '-'})")
    table.add_row("time", ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def report_error(error: BaseException, as_json: bool, debug: bool) -> int:
    """Print ``error`` for a person (or as JSON) and return the exit code."""
    if not isinstance(error, UploaderError):
        error = InternalError.wrap(error)
    if as_json:
        print(json.dumps({"status": "error", **error.as_dict()}, indent=2))
    else:
        Console(stderr=True).print(
            f"[bold red]Upload failed[/bold red] {escape(error.user_message())}", highlight=False
        )
    if debug:
        traceback.print_exception(error)
    return int(error.exit_code)


def execute(options: UploadOptions, as_json: bool, debug: bool = False) -> int:
    """Run one upload with console output; returns the exit code."""
    console = Console()
    progress = None
    if not as_json:
        progress = RichProgress(Console(stderr=True))
        options.progress = progress
    try:
        result = run_upload(options)
    except KeyboardInterrupt:
        Console(stderr=True).print(
            "Interrupted. Nothing unverified was recorded; run again to finish."
        )
        return 130
    except Exception as error:  # every failure ends as one clear message and an exit code
        return report_error(error, as_json, debug)
    finally:
        if progress:
            progress.stop()
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_summary(result, console)
    return int(ExitCode.OK)


def upload_command(
    device: Annotated[str, typer.Argument(help="usb, usb:VID:PID or usb:VID:PID:SERIAL")] = "usb",
    cloud: Annotated[
        str, typer.Option("--cloud", envvar="DIAHIL_CLOUD", help="Cloud base URL")
    ] = "",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the device's most recent data")
    ] = "",
    email: Annotated[str, typer.Option("--email", envvar="DIAHIL_EMAIL")] = "",
    password: Annotated[str, typer.Option("--password", envvar="DIAHIL_PASSWORD")] = "",
    state: Annotated[
        Path | None, typer.Option("--state", envvar="DIAHIL_STATE", help="Sync state database file")
    ] = None,
    timeout_ms: Annotated[int, typer.Option("--device-timeout-ms", min=1)] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (for CI)")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors")
    ] = False,
) -> None:
    """Read a device, upload its new data to the cloud, and verify it arrived."""
    missing = [
        name
        for name, value in (
            ("--cloud", cloud),
            ("--timezone", timezone),
            ("--email", email),
            ("--password", password),
        )
        if not value
    ]
    if missing:
        message = (
            f"Missing {', '.join(missing)}. Credentials may also come from DIAHIL_EMAIL "
            "and DIAHIL_PASSWORD, the cloud from DIAHIL_CLOUD."
        )
        if as_json:
            print(
                json.dumps(
                    {
                        "status": "error",
                        "error": "UsageError",
                        "message": message,
                        "exit_code": int(ExitCode.USAGE),
                    }
                )
            )
        else:
            Console(stderr=True).print(f"[bold red]Usage error[/bold red] {escape(message)}")
        raise typer.Exit(int(ExitCode.USAGE))
    options = UploadOptions(
        cloud_url=cloud,
        email=email,
        password=password,
        timezone=timezone,
        device=device,
        state_path=state,
        device_timeout_ms=timeout_ms,
    )
    raise typer.Exit(execute(options, as_json, debug))
