"""``diahil watch`` and ``diahil status``: automatic uploads, and what the last ones did.

    diahil watch --timezone TZ [--cloud URL --email E | --account NAME] [--every 5m]
                 [--daily 07:30] [--ble] [--passkey N | --pairing-code CODE] [--once]
    diahil status [--state FILE] [--json]

``watch`` runs until Ctrl-C (or ``--once``, ``--max-runs N``): see ``uploader.watch``. One
line per run goes to stdout (one JSON object per line with ``--json``), notices to stderr.
``status`` lists the last run of every device from the state database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uploader.accounts import resolve as resolve_credentials
from uploader.cli import (
    AccountOption,
    BleTransportOption,
    CaptureOption,
    CloudOption,
    EmailOption,
    PasswordOption,
    StateOption,
    SupportBundleOption,
)
from uploader.cloud import RetryPolicy
from uploader.console_output import report_error
from uploader.errors import ExitCode, UploaderError, UsageError
from uploader.pairing import fixed_code, fixed_passkey
from uploader.runlog import RunLog
from uploader.schedule import Schedule, parse_daily, parse_every
from uploader.session import UploadOptions
from uploader.state import SyncState, default_state_path
from uploader.watch import WatchConfig, Watcher, WatchRun


def _usage(message: str, as_json: bool) -> typer.Exit:
    return typer.Exit(report_error(UsageError(message), as_json, debug=False))


def watch_command(
    cloud: CloudOption = "",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the devices' most recent data")
    ] = "",
    email: EmailOption = "",
    password: PasswordOption = "",
    account: AccountOption = None,
    state: StateOption = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Also upload present devices every 30s|5m|1h")
    ] = None,
    daily: Annotated[
        str | None, typer.Option("--daily", help="Also upload present devices daily at HH:MM")
    ] = None,
    usb: Annotated[bool, typer.Option("--usb/--no-usb", help="Watch USB (hot-plug)")] = True,
    ble: Annotated[
        bool, typer.Option("--ble/--no-ble", help="Watch Bluetooth advertisements")
    ] = False,
    ble_transport: BleTransportOption = None,
    passkey: Annotated[
        str | None, typer.Option("--passkey", help="The 6-digit code of a Bluetooth device")
    ] = None,
    pairing_code: Annotated[
        str | None,
        typer.Option(
            "--pairing-code",
            help="A Tandem t:slim X2's pairing code, as the pump shows it: 16 characters, or "
            "6 digits on newer firmware (as for upload: used once, then remembered for the pump)",
        ),
    ] = None,
    poll_s: Annotated[float, typer.Option("--poll-s", min=0.2, help="Seconds between polls")] = 2.0,
    retry_after: Annotated[
        str, typer.Option("--retry-after", help="Retry a failed device still present after")
    ] = "1m",
    once: Annotated[
        bool, typer.Option("--once", help="Upload every device present now, then exit")
    ] = False,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", min=1, help="Exit after this many runs")
    ] = None,
    timeout_ms: Annotated[int, typer.Option("--device-timeout-ms", min=1)] = 5000,
    retries: Annotated[
        int, typer.Option("--retries", min=1, max=20, help="Tries per cloud request")
    ] = 4,
    support_bundle: SupportBundleOption = None,
    capture: CaptureOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run")] = False,
) -> None:
    """Upload automatically when a device is plugged in (or advertises), and on a schedule."""
    if not timezone:
        raise _usage(
            "Missing --timezone (the IANA zone of the devices' most recent data).", as_json
        )
    try:  # explicit --cloud/--email, else the account; the password else from the keyring
        credentials = resolve_credentials(cloud, email, password, account)
    except UploaderError as error:
        raise typer.Exit(report_error(error, as_json, debug=False)) from None
    if not usb and not ble:
        raise _usage("Nothing to watch: give --usb or --ble.", as_json)
    try:
        schedule = Schedule(
            every=parse_every(every) if every else None,
            daily=parse_daily(daily) if daily else None,
            timezone=timezone,
        )
        retry = parse_every(retry_after)
        provider = fixed_passkey(passkey) if passkey is not None else None
    except UploaderError as error:
        raise typer.Exit(report_error(error, as_json, debug=False)) from None
    template = UploadOptions(
        cloud_url=credentials.cloud_url,
        email=credentials.email,
        password=credentials.password,
        timezone=timezone,
        state_path=state,
        ble_transport=ble_transport,
        passkey=provider,
        pairing_code=fixed_code(pairing_code) if pairing_code is not None else None,
        device_timeout_ms=timeout_ms,
        retry=RetryPolicy(attempts=retries),
    )
    config = WatchConfig(
        usb=usb,
        ble=ble,
        schedule=schedule,
        poll_s=poll_s,
        retry_after=retry,
        once=once,
        max_runs=max_runs,
        ble_transport=ble_transport,
        support_bundle=support_bundle,
        capture=capture,
    )
    raise typer.Exit(run_watch(config, template, as_json))


def run_watch(config: WatchConfig, template: UploadOptions, as_json: bool) -> int:
    """Run the watcher with console output; the exit code (0, or 130 on Ctrl-C)."""
    stderr = Console(stderr=True)

    def on_run(run: WatchRun) -> None:
        if as_json:
            print(json.dumps(run.as_dict()), flush=True)
        else:
            print(run.line(), flush=True)

    def on_notice(text: str) -> None:
        stderr.print(f"[yellow]notice:[/yellow] {escape(text)}", highlight=False)

    def make_options(spec: str) -> UploadOptions:
        return replace(template, device=spec, run_log=RunLog())

    watcher = Watcher(config, make_options, on_run=on_run, on_notice=on_notice)
    if not config.once and not as_json:
        watched = " and ".join(
            n for n, on in (("USB", config.usb), ("Bluetooth", config.ble)) if on
        )
        stderr.print(
            f"Watching {watched}: uploading when a device appears, "
            f"{config.schedule.describe()}. Ctrl-C stops.",
            highlight=False,
        )
    try:
        runs = asyncio.run(watcher.run())
    except KeyboardInterrupt:
        stderr.print("Stopped. Nothing unverified was recorded.")
        return 130
    if config.once and not runs:
        stderr.print("No supported device is plugged in or advertising.")
    failed = [r for r in runs if not r.ok]
    if config.once and failed:
        return int(failed[-1].error.exit_code) if failed[-1].error else 1
    return int(ExitCode.OK)


def _age(finished_at: str, now: datetime) -> str:
    try:
        then = datetime.fromisoformat(finished_at)
    except ValueError:
        return finished_at
    ago = now - then
    if ago < timedelta(minutes=1):
        return "just now"
    if ago < timedelta(hours=1):
        return f"{int(ago.total_seconds() // 60)} min ago"
    if ago < timedelta(days=2):
        return f"{int(ago.total_seconds() // 3600)} h ago"
    return f"{ago.days} days ago"


def status_rows(path: Path) -> list[dict[str, Any]]:
    """The last run of each device (and account) in the state database at ``path``."""
    state = SyncState(path)
    try:
        rows = state.last_runs()
    finally:
        state.close()
    out = []
    for row in rows:
        summary = row["summary"]
        entry: dict[str, Any] = {
            "device_id": row["device_id"],
            "account": row["account"],
            "finished_at": row["finished_at"],
            "status": row["status"],
        }
        if row["status"] == "failed":
            entry["error"] = {k: summary.get(k) for k in ("error", "step", "message", "exit_code")}
        else:
            entry["new_datums"] = summary.get("new_datums")
            entry["datums"] = summary.get("datums")
            entry["data_set_id"] = (summary.get("cloud") or {}).get("data_set_id")
        out.append(entry)
    return out


def status_command(
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Show the last upload of every device: when, and how it ended."""
    path = state or default_state_path()
    if not path.exists():
        rows: list[dict[str, Any]] = []
    else:
        try:
            rows = status_rows(path)
        except UploaderError as error:
            raise typer.Exit(report_error(error, as_json, debug=False)) from None
    if as_json:
        print(json.dumps({"state_file": str(path), "devices": rows}, indent=2))
        return
    if not rows:
        Console().print(f"No uploads recorded yet (state file {escape(str(path))}).")
        return
    now = datetime.now(UTC)
    several = len({row["account"] for row in rows}) > 1
    table = Table("device", "last run", "status", "details", *(["account"] if several else []))
    for row in rows:
        if row["status"] == "failed":
            problem = row["error"]
            details = f"[{problem.get('step') or '?'}] {problem.get('message') or problem['error']}"
        elif row["status"] == "uploaded":
            details = f"{row['new_datums']} new datums (data set {row['data_set_id']})"
        else:
            details = f"nothing new ({row['datums']} datums checked)"
        account = row["account"]
        if account.endswith("#"):
            account += " (not logged in)"
        table.add_row(
            escape(row["device_id"]),
            f"{row['finished_at'][:16]}Z ({_age(row['finished_at'], now)})",
            row["status"],
            escape(details),
            *([escape(account)] if several else []),
        )
    Console().print(table)
