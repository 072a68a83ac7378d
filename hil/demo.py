"""``diahil demo``: the whole path in one command, with nothing but this package.

Starts the mock cloud (uvicorn, a temporary SQLite file), plugs an emulated Contour Next
USB with 90 days of history into an emulated USB bus, uploads it with the real uploader
through pyusb and HTTP, uploads again (nothing new), then checks the cloud against the
meter's own ledger and prints what happened.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

from emulator.usb import EmulatedUsbBackend
from hil.cloud import CloudInspector, CloudServer
from hil.devices import plug_contour_meter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from uploader.console_output import RichProgress, print_summary, report_error
from uploader.errors import UploaderError


def run_demo(
    days: int = 90,
    seed: int = 7,
    timezone: str = "America/New_York",
    serve: bool = False,
    console: Console | None = None,
) -> int:
    out = console or Console()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="diahil-demo-") as tmp:
        server = CloudServer(f"sqlite:///{Path(tmp) / 'cloud.sqlite3'}").start()
        try:
            account = server.create_account("demo@diahil.test", secrets.token_urlsafe(12))
            bus = EmulatedUsbBackend()
            meter = plug_contour_meter(bus, timezone, seed=seed, days=days)
            ledger = meter.model.ledger()
            out.print(f"[bold]Mock cloud[/bold]      {server.base_url}  (account {account.email})")
            out.print(
                f"[bold]Emulated meter[/bold]  {meter.model.model_name}, serial "
                f"{meter.model.serial_number}: {len(ledger)} readings over {days} days, "
                f"plugged into an emulated USB bus ({meter.device_spec})"
            )
            harness = UploadHarness(
                cloud_url=server.base_url,
                account=account,
                timezone=timezone,
                state_path=Path(tmp) / "uploader-state.sqlite3",
                usb_backend=bus,
            )
            out.rule("Upload 1: everything")
            progress = RichProgress(out)
            try:
                first = harness.upload(meter.device_spec, progress=progress)
                progress.stop()
                print_summary(first, out)
                out.rule("Upload 2: nothing new")
                second = harness.upload(meter.device_spec)
                print_summary(second, out)
            except UploaderError as error:
                progress.stop()
                return report_error(error, as_json=False, debug=False)

            out.rule("Check: the cloud against the meter's ledger")
            try:
                held = CloudInspector(server.base_url).data(account, type="smbg")
            except httpx.HTTPError as error:
                out.print(f"[bold red]The demo could not read the cloud back:[/bold red] {error}")
                return 1
            comparison = compare_with_ledger(expected_smbg(meter.model, timezone), held)
            control = sum(1 for r in ledger if r.is_control)
            verdict = (
                "[bold green]exact[/bold green]"
                if comparison.exact
                else "[bold red]DIFFERENT[/bold red]"
            )
            out.print(
                f"Ledger: {len(ledger)} readings ({control} control-solution tests, not uploaded). "
                f"Cloud: {len(held)} smbg datums. Comparison: {comparison} -> {verdict}"
            )
            out.print(f"Done in {time.perf_counter() - started:.1f} s. Cloud: {server.base_url}")
            if serve:
                out.print(
                    f"Serving until Ctrl-C. Log in with {account.email} / {account.password}, "
                    f"e.g. GET {server.base_url}/data/{account.user_id}"
                )
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            return 0 if comparison.exact and second.new_datums == 0 else 1
        finally:
            server.stop()
