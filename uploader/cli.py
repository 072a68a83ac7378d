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
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from uploader.console_output import RichProgress, print_summary, report_error
from uploader.errors import ExitCode
from uploader.session import UploadOptions, run_upload


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
