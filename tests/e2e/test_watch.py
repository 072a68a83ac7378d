"""``diahil watch`` end to end: emulated meters plugged into and pulled from the emulated USB
bus while the watcher runs, the real uploader, the mock cloud (in-process, or under uvicorn
when it must fail or restart). Only waiting is scripted (``hil.scripted_time``); every
result is judged by the meter's ledger."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from emulator.faults import FaultPlan, UnplugAfterBytes
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.cli import app
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter, plug_contour_meter, running_utc
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from hil.scripted_time import ScriptedTime
from mock_cloud.faults_client import FaultsClient, error
from uploader.errors import CloudUnavailable, DeviceDisconnected, Step
from uploader.schedule import Schedule
from uploader.watch import WatchConfig, Watcher, WatchRun

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]
MakeMeter = Callable[..., EmulatedUsbMeter]


def watch(
    harness: UploadHarness, time: ScriptedTime, polls: int, **config: object
) -> tuple[Watcher, list[WatchRun]]:
    """Run a watcher on ``harness``'s USB bus and cloud for ``polls`` polls."""
    settings = WatchConfig(usb_backend=harness.usb_backend, **config)  # type: ignore[arg-type]
    watcher = Watcher(
        settings,
        harness.options,
        clock=time.now,
        sleep=time.sleep,
        should_stop=lambda w: w.polls >= polls,
    )
    return watcher, asyncio.run(watcher.run())


def test_a_meter_plugged_in_after_the_watcher_started_is_uploaded_once(
    make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    meter = make_contour_meter(days=30)
    meter.unplug()  # not there when the watcher starts
    time = ScriptedTime()
    time.at_sleep(2, meter.plug)
    watcher, runs = watch(uploader, time, polls=6)
    assert [(r.device, r.reason) for r in runs] == [(meter.device_spec, "appeared")]
    assert runs[0].result is not None and runs[0].result.status == "uploaded"
    assert "uploaded" in runs[0].line() and meter.model.serial_number in runs[0].line()
    assert watcher.polls == 6  # still plugged in for three more polls: not uploaded again
    logged = json.loads(json.dumps(runs[0].as_dict()))  # the `watch --json` line of the run
    assert (logged["status"], logged["reason"], logged["error"]) == ("uploaded", "appeared", None)
    assert logged["result"]["new_datums"] == runs[0].result.new_datums > 0
    ledger_check(meter).assert_exact()


def test_unplugged_mid_transfer_then_replugged_then_new_readings(
    make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    meter = make_contour_meter(days=30, faults=FaultPlan([UnplugAfterBytes(64 * 40)]))
    time = ScriptedTime()

    def plug_back() -> None:
        meter.faults.clear()
        meter.plug()

    def new_reading_and_plug() -> None:
        meter.model.measure(151)
        meter.plug()

    time.at_sleep(2, plug_back)  # poll 2 sees nothing; poll 3 the meter again
    time.at_sleep(3, meter.unplug)
    time.at_sleep(4, new_reading_and_plug)
    _, runs = watch(uploader, time, polls=6)

    assert [r.reason for r in runs] == ["present at start", "appeared", "appeared"]
    first, second, third = runs
    assert isinstance(first.error, DeviceDisconnected) and first.error.step is Step.FETCH
    assert "failed [fetch]" in first.line()
    assert second.result is not None and second.result.status == "uploaded"
    assert third.result is not None and third.result.new_datums == 1
    ledger_check(meter).assert_exact()

    status = CliRunner().invoke(app, ["status", "--state", str(uploader.state_path), "--json"])
    assert status.exit_code == 0, status.output
    (device,) = json.loads(status.stdout)["devices"]
    assert device["device_id"] == f"ContourNextUSB-{meter.model.serial_number}"
    assert (device["status"], device["new_datums"]) == ("uploaded", 1)
    wide = {"COLUMNS": "200"}
    table = CliRunner().invoke(app, ["status", "--state", str(uploader.state_path)], env=wide)
    assert "ContourNextUSB" in table.stdout and "1 new datums" in table.stdout


def test_a_schedule_uploads_a_meter_that_stays_plugged_in(
    contour_meter: EmulatedUsbMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    time = ScriptedTime()
    time.at_sleep(1, lambda: contour_meter.model.measure(160))
    schedule = Schedule(every=timedelta(minutes=5))
    _, runs = watch(uploader, time, polls=7, poll_s=60.0, schedule=schedule)
    assert [r.reason for r in runs] == ["present at start", "scheduled"]
    assert runs[1].started_at == runs[0].started_at + timedelta(minutes=5)
    assert runs[1].result is not None and runs[1].result.new_datums == 1
    ledger_check(contour_meter).assert_exact()


def _uvicorn_harness(
    server: CloudServer, account: Account, bus: EmulatedUsbBackend, tz: str, now: datetime | None,
    state: Path,
) -> UploadHarness:  # fmt: skip
    return UploadHarness(
        cloud_url=server.base_url,
        account=account,
        timezone=tz,
        state_path=state,
        usb_backend=bus,
        clock=running_utc(now),
    )


def test_a_cloud_failing_for_one_run_is_retried_and_recovers(
    mock_cloud_server: CloudServer,
    cloud_faults: FaultsClient,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> None:
    account = mock_cloud_server.create_account("watch@example.test", "watching-pw-123")
    meter = plug_contour_meter(usb_bus, hil_timezone, days=20, now=hil_now)
    harness = _uvicorn_harness(
        mock_cloud_server, account, usb_bus, hil_timezone, hil_now, tmp_path / "state.sqlite3"
    )
    cloud_faults.add(error(503, path="/auth/login"))
    time = ScriptedTime()
    time.at_sleep(1, cloud_faults.clear)  # the cloud is back before the retry
    bundle = tmp_path / "watch-support.zip"
    _, runs = watch(
        harness, time, polls=4, poll_s=30.0, retry_after=timedelta(minutes=1),
        support_bundle=bundle, capture=True,
    )  # fmt: skip

    assert [r.reason for r in runs] == ["present at start", "retry"]
    failed, retried = runs
    assert isinstance(failed.error, CloudUnavailable) and failed.error.step is Step.LOGIN
    assert failed.next_try == failed.started_at + timedelta(minutes=1)
    assert "Next try at" in failed.line()
    assert retried.result is not None and retried.result.status == "uploaded"
    held = CloudInspector(mock_cloud_server.base_url).data(account, type="smbg")
    compare_with_ledger(expected_smbg(meter.model, hil_timezone), held).assert_exact()
    with zipfile.ZipFile(bundle) as written:  # the bundle of the last run: the retry
        outcome = json.loads(written.read("outcome.json"))
        assert outcome["status"] == "uploaded" and written.read("capture.jsonl")
        assert all(account.password.encode() not in written.read(n) for n in written.namelist())


def test_the_cloud_restarting_while_watching_loses_and_duplicates_nothing(
    usb_bus: EmulatedUsbBackend, hil_timezone: str, hil_now: datetime | None, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    servers = [CloudServer(db).start()]
    account = servers[0].create_account("restart@example.test", "restarting-pw-123")
    meter = plug_contour_meter(usb_bus, hil_timezone, days=20, now=hil_now)
    harness = _uvicorn_harness(
        servers[0], account, usb_bus, hil_timezone, hil_now, tmp_path / "state.sqlite3"
    )

    def cloud_goes_down_and_meter_has_news() -> None:
        servers[0].stop()
        meter.model.measure(120)
        usb_bus.replug(meter.device)

    def cloud_comes_back() -> None:
        servers.append(CloudServer(db, port=servers[0].port).start())

    time = ScriptedTime()
    time.at_sleep(1, cloud_goes_down_and_meter_has_news)
    time.at_sleep(2, cloud_comes_back)
    try:
        _, runs = watch(harness, time, polls=4, poll_s=30.0, retry_after=timedelta(minutes=1))
        assert [r.reason for r in runs] == ["present at start", "plugged in again", "retry"], [
            r.line() for r in runs
        ]
        assert isinstance(runs[1].error, CloudUnavailable)
        assert runs[2].result is not None and runs[2].result.new_datums == 1
        held = CloudInspector(servers[-1].base_url).data(account, type="smbg")
        compare_with_ledger(expected_smbg(meter.model, hil_timezone), held).assert_exact()
    finally:
        servers[-1].stop()


def test_diahil_watch_once_on_this_machine_and_its_usage_errors(
    mock_cloud_server: CloudServer, tmp_path: Path
) -> None:
    """The real command with the real libusb: no meter here, so one pass finds nothing and
    exits 0 (or notes that USB cannot be polled); bad options are exit 2, never a traceback."""
    mock_cloud_server.create_account("w@example.test", "watch-password-1")
    base = ["watch", "--cloud", mock_cloud_server.base_url, "--timezone", "UTC",
            "--email", "w@example.test", "--password", "watch-password-1",
            "--state", str(tmp_path / "state.sqlite3")]  # fmt: skip
    once = CliRunner().invoke(app, [*base, "--once"])
    assert once.exit_code == 0, once.output
    assert "No supported device is plugged in" in once.output
    for bad, expected in (
        (["--every", "5 minutes"], "30s, 5m, 1h"),
        (["--daily", "25:00"], "HH:MM"),
        (["--no-usb"], "Nothing to watch"),
    ):
        result = CliRunner().invoke(app, [*base, *bad, "--json"])
        assert result.exit_code == 2, result.output
        body = json.loads(result.stdout)
        assert body["error"] == "UsageError" and expected in body["message"]
        assert "Traceback" not in result.output


def test_a_bluetooth_meter_that_starts_advertising_is_uploaded(
    make_gls_meter: Callable[..., EmulatedBleDevice[Any]],
    ble_uploader: UploadHarness,
    ble_world: BleWorld,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    meter = make_gls_meter(seed=5, days=20)
    meter.stop()  # switched off while the watcher starts
    time = ScriptedTime()
    time.at_sleep(1, lambda: meter.peripheral.start(meter.world.air))  # on the radio's loop
    config = WatchConfig(
        usb=False, ble=True, ble_transport=ble_uploader.ble_transport, ble_scan_s=0.3
    )
    watcher = Watcher(
        config,
        lambda spec: ble_uploader.options(spec, passkey=meter.read_display),
        clock=time.now,
        sleep=time.sleep,
        should_stop=lambda w: w.polls >= 3,
    )
    runs = ble_world.run(watcher.run())  # where the emulated radio and its central live
    assert [(r.device, r.reason) for r in runs] == [(meter.device_spec, "appeared")]
    assert runs[0].result is not None and runs[0].result.status == "uploaded"
    expected = expected_smbg(meter.peripheral.model, hil_timezone, out_of_range="unknown")
    held = cloud_inspector.data(cloud_account, type="smbg")
    compare_with_ledger(expected, held).assert_exact()
