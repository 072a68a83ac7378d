"""The diahil pytest plugin (registered through the ``pytest11`` entry point).

Options:
    --hil-target=emulated|bench   where devices come from (bench: --hil-rig rig.toml; the
                                  markers, target fixtures and locks are in hil.targets_plugin)
    --hil-report=FILE.html        an HTML run report, JUnit XML beside it (hil.report_plugin)
    --hil-timezone=ZONE           the person's timezone for device clocks and uploads
    --hil-timing=fast|realistic   emulated devices answer at once (default) or at hardware pace
    --hil-now=ISO|real            the instant the emulated world starts at (default fixed, so a
                                  run is the same every day; ``real`` uses the real time)

Fixtures:
    hil_target        the target name
    hil_timezone      the IANA timezone of the test person
    hil_timing        the emulators' timing mode (``emulator.timing.Timing``)
    hil_now           the start instant (aware), or None for real time
    mock_cloud        the mock cloud in-process (ASGI transport, in-memory SQLite)
    mock_cloud_server the mock cloud under uvicorn on a free port (SQLite file in tmp_path),
                      in test mode
    cloud_faults      a ``FaultsClient`` on ``mock_cloud_server``'s fault API
    cloud_account     an account on ``mock_cloud``
    cloud_inspector   looks at what ``mock_cloud`` holds, over HTTP, independently of the uploader
    ledger_check      ``ledger_check(meter)``: the cloud account's smbg data against the meter's
                      ledger (``hil.oracle``); ``.assert_exact()`` fails naming any difference
    usb_bus           an emulated USB bus (a pyusb backend)
    make_contour_meter  plugs in a Contour meter with the given options (seed, days, unit...)
    contour_meter     a Contour Next USB with 90 days of history, plugged into ``usb_bus``,
                      at the ``--hil-timing`` pace
    make_cnl_minimed  plugs in a Contour Next Link 2.4 paired with a MiniMed 600 pump
                      (``plug_cnl_minimed`` options: seed, days, link_faults...)
    cnl_minimed       a CNL 2.4 and MiniMed 600 pump with 90 days of history on ``usb_bus``
    minimed_ledger_check  ``minimed_ledger_check(link)``: the cloud account's pump, cbg and
                      linked smbg data against the pump's ledgers (``hil.minimed600_oracle``)
    uploader          an ``UploadHarness``: the real uploader bound to all of the above
    ble_world         an emulated Bluetooth radio with its own event loop (``hil.ble.BleWorld``)
    make_gls_meter    starts a Bluetooth GLS meter with the given options on ``ble_world``
    gls_meter         a Bluetooth GLS meter with 90 days of history, advertising on ``ble_world``
    cgm_time          the emulated CGMs' clock (``ManualTime``: ``advance(timedelta)`` moves it)
    make_cgm_sensor   starts a CGMS sensor with the given options on ``ble_world``
    cgm_sensor        a CGMS sensor whose first session began 10 days ago
    make_ids_pump     starts an IDS insulin pump with the given options (``start_ids_pump``)
    ids_pump          an IDS insulin pump with 90 days of history (clock changes included)
    make_tslim_pump   starts a Tandem t:slim X2 with the given options (``start_tslim_x2``)
    tslim_pump        a t:slim X2 with 90 days of history; ``tslim_pump.display`` is its code
    tslim_ledger_check  ``tslim_ledger_check(pump)``: the cloud account's pump, cbg and manual
                      smbg data against the t:slim X2's ledgers (``hil.tslim_x2_oracle``)
    pump_ledger_check ``pump_ledger_check(pump)``: the cloud account's pump data against the
                      pump's ledger (``hil.pump_oracle.expected_pump``); ``.assert_exact()``
    ble_uploader      an ``UploadHarness`` reaching ``ble_world`` through the project's Bumble
                      central, pairing with the code on the device's display
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from emulator.ble import CgmSensor, GlsMeter
from emulator.ble.ids_pump import IdsPump
from emulator.ble.tslim_x2 import TslimX2
from emulator.timing import FAST, MODES, Timing, timing_mode
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.cloud import Account, CloudInspector, CloudServer, InProcessCloud
from hil.devices import (
    EmulatedBleDevice,
    EmulatedCnlMinimed,
    EmulatedUsbMeter,
    ManualTime,
    plug_cnl_minimed,
    plug_contour_meter,
    running_utc,
    start_cgm_sensor,
    start_gls_meter,
    start_ids_pump,
    start_tslim_x2,
)
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from hil.pump_oracle import PumpComparison, compare_pump_with_ledger, expected_pump
from mock_cloud.faults_client import FaultsClient

pytest_plugins = ["hil.report_plugin", "hil.targets_plugin"]
"""Device/rig markers, bench targets and device locks; the HTML run report (--hil-report)."""

TARGETS = ("emulated", "bench")
DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_NOW = "2026-03-15T16:30:00+00:00"
"""Mid-March: 90 days of history cross the start of daylight saving time in New York."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diahil", "diahil hardware-in-the-loop")
    group.addoption(
        "--hil-target",
        choices=TARGETS,
        default="emulated",
        help="run device tests against emulators (default) or a bench rig",
    )
    group.addoption(
        "--hil-timezone",
        default=DEFAULT_TIMEZONE,
        help=f"IANA timezone of the test person (default {DEFAULT_TIMEZONE})",
    )
    group.addoption(
        "--hil-timing",
        choices=sorted(MODES),
        default=FAST.name,
        help="emulated devices answer at once (fast, default) or at the real devices' pace",
    )
    group.addoption(
        "--hil-now",
        default=DEFAULT_NOW,
        help=f"start of the emulated world's clocks, ISO 8601 with offset, or 'real' "
        f"(default {DEFAULT_NOW})",
    )


def _now(config: pytest.Config) -> datetime | None:
    text = str(config.getoption("--hil-now", default=DEFAULT_NOW))
    if text == "real":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise pytest.UsageError(
            f"--hil-now={text!r}: give an ISO 8601 instant with its offset, e.g. "
            f"{DEFAULT_NOW}, or 'real'"
        ) from None
    if moment.tzinfo is None:
        raise pytest.UsageError(f"--hil-now={text!r} needs an offset (e.g. +00:00)")
    return moment.astimezone(UTC)


def pytest_configure(config: pytest.Config) -> None:
    # --hil-target=bench and --hil-rig are checked by hil.targets_plugin
    zone = str(config.getoption("--hil-timezone", default=DEFAULT_TIMEZONE))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise pytest.UsageError(
            f"--hil-timezone={zone!r} is not an IANA timezone name (e.g. Europe/Berlin)"
        ) from None
    _now(config)


def _record_device(request: pytest.FixtureRequest, kind: str, model: Any) -> None:
    """The device's identity as JUnit properties and in the run report (hil.report_plugin)."""
    from hil.report_plugin import record_emulated_device  # registered by pytest_plugins

    record_emulated_device(request.node, kind, model)


def _recorded(
    request: pytest.FixtureRequest,
    kind: str,
    comparison: LedgerComparison,
    held: list[dict[str, Any]],
) -> LedgerComparison:
    """``comparison``, also recorded for the run report (``hil.report_plugin``)."""
    from hil.report_plugin import record_comparison  # registered by pytest_plugins

    record_comparison(request.node, kind, comparison, held)
    return comparison


@pytest.fixture(scope="session")
def hil_target(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--hil-target"))


@pytest.fixture(scope="session")
def hil_timezone(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--hil-timezone"))


@pytest.fixture(scope="session")
def hil_timing(pytestconfig: pytest.Config) -> Timing:
    return timing_mode(str(pytestconfig.getoption("--hil-timing")))


@pytest.fixture(scope="session")
def hil_now(pytestconfig: pytest.Config) -> datetime | None:
    return _now(pytestconfig)


@pytest.fixture
def mock_cloud() -> Iterator[InProcessCloud]:
    cloud = InProcessCloud()
    yield cloud
    cloud.close()


@pytest.fixture
def mock_cloud_server(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(f"sqlite:///{tmp_path / 'cloud.sqlite3'}", test_mode=True) as server:
        yield server


@pytest.fixture
def cloud_faults(mock_cloud_server: CloudServer) -> Iterator[FaultsClient]:
    """The fault API of ``mock_cloud_server``: latency, 5xx, 429, token expiry, dropped
    connections after the data was stored, slow bodies (``mock_cloud.faults_client``)."""
    with FaultsClient(mock_cloud_server.base_url) as faults:
        yield faults


@pytest.fixture
def cloud_account(mock_cloud: InProcessCloud) -> Account:
    return mock_cloud.create_account("pat@example.test", "correct-horse-battery-staple")


@pytest.fixture
def cloud_inspector(mock_cloud: InProcessCloud) -> CloudInspector:
    return CloudInspector(mock_cloud.base_url, transport=mock_cloud.transport())


@pytest.fixture
def ledger_check(
    request: pytest.FixtureRequest,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> Callable[[EmulatedUsbMeter], LedgerComparison]:
    def check(meter: EmulatedUsbMeter) -> LedgerComparison:
        held = cloud_inspector.data(cloud_account, type="smbg")
        return _recorded(
            request,
            "smbg",
            compare_with_ledger(expected_smbg(meter.model, hil_timezone), held),
            held,
        )

    return check


@pytest.fixture
def usb_bus() -> EmulatedUsbBackend:
    return EmulatedUsbBackend()


@pytest.fixture
def make_contour_meter(
    request: pytest.FixtureRequest,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_timing: Timing,
    hil_now: datetime | None,
) -> Callable[..., EmulatedUsbMeter]:
    """``make_contour_meter(**options)``: plug in a Contour meter (``plug_contour_meter``
    options) in the test's timezone, timing and time."""

    def make(**options: Any) -> EmulatedUsbMeter:
        options.setdefault("timing", hil_timing)
        options.setdefault("now", hil_now)
        meter = plug_contour_meter(usb_bus, hil_timezone, **options)
        _record_device(request, "contour-usb", meter.model)
        return meter

    return make


@pytest.fixture
def contour_meter(make_contour_meter: Callable[..., EmulatedUsbMeter]) -> EmulatedUsbMeter:
    return make_contour_meter(seed=1, days=90)


@pytest.fixture
def make_cnl_minimed(
    usb_bus: EmulatedUsbBackend, hil_timezone: str, hil_timing: Timing, hil_now: datetime | None
) -> Callable[..., EmulatedCnlMinimed]:
    """``make_cnl_minimed(**options)``: plug in a Contour Next Link 2.4 paired with a MiniMed
    600 pump (``plug_cnl_minimed`` options) in the test's timezone, timing and time."""

    def make(**options: Any) -> EmulatedCnlMinimed:
        options.setdefault("timing", hil_timing)
        options.setdefault("now", hil_now)
        return plug_cnl_minimed(usb_bus, hil_timezone, **options)

    return make


@pytest.fixture
def cnl_minimed(make_cnl_minimed: Callable[..., EmulatedCnlMinimed]) -> EmulatedCnlMinimed:
    return make_cnl_minimed(seed=5, days=90)


@pytest.fixture
def ble_world() -> Iterator[BleWorld]:
    world = BleWorld()
    yield world
    world.close()


@pytest.fixture
def make_gls_meter(
    request: pytest.FixtureRequest, ble_world: BleWorld, hil_timezone: str, hil_now: datetime | None
) -> Callable[..., EmulatedBleDevice[Any]]:
    """``make_gls_meter(**options)``: a GLS meter (``start_gls_meter`` options) on the
    test's radio, in its timezone and time."""

    def make(**options: Any) -> EmulatedBleDevice[Any]:
        options.setdefault("now", hil_now)
        meter = start_gls_meter(ble_world, hil_timezone, **options)
        _record_device(request, "gls-meter", meter.peripheral.model)
        return meter

    return make


@pytest.fixture
def gls_meter(make_gls_meter: Callable[..., EmulatedBleDevice[Any]]) -> EmulatedBleDevice[GlsMeter]:
    return make_gls_meter(seed=2, days=90)


@pytest.fixture
def cgm_time(hil_timezone: str, hil_now: datetime | None) -> ManualTime:
    """The clock of emulated CGM sensors: it moves only when the test calls ``advance``."""
    return ManualTime(hil_timezone, hil_now)


@pytest.fixture
def make_cgm_sensor(
    request: pytest.FixtureRequest, ble_world: BleWorld, hil_timezone: str, cgm_time: ManualTime
) -> Callable[..., EmulatedBleDevice[Any]]:
    """``make_cgm_sensor(**options)``: a CGMS sensor (``start_cgm_sensor`` options)."""

    def make(**options: Any) -> EmulatedBleDevice[Any]:
        sensor = start_cgm_sensor(ble_world, hil_timezone, time=cgm_time, **options)
        _record_device(request, "cgm", sensor.peripheral.model)
        return sensor

    return make


@pytest.fixture
def cgm_sensor(
    make_cgm_sensor: Callable[..., EmulatedBleDevice[Any]],
) -> EmulatedBleDevice[CgmSensor]:
    return make_cgm_sensor(seed=3, days=10)


@pytest.fixture
def make_ids_pump(
    request: pytest.FixtureRequest, ble_world: BleWorld, hil_timezone: str, hil_now: datetime | None
) -> Callable[..., EmulatedBleDevice[Any]]:
    """``make_ids_pump(**options)``: an IDS pump (``start_ids_pump`` options: seed, days,
    clock_changes, e2e, faults...) on the test's radio, in its timezone and time."""

    def make(**options: Any) -> EmulatedBleDevice[Any]:
        options.setdefault("now", hil_now)
        pump = start_ids_pump(ble_world, hil_timezone, **options)
        _record_device(request, "ids-pump", pump.peripheral.model)
        return pump

    return make


@pytest.fixture
def ids_pump(make_ids_pump: Callable[..., EmulatedBleDevice[Any]]) -> EmulatedBleDevice[IdsPump]:
    return make_ids_pump(seed=4, days=90)


@pytest.fixture
def pump_ledger_check(
    request: pytest.FixtureRequest,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> Callable[[EmulatedBleDevice[IdsPump]], PumpComparison]:
    def check(pump: EmulatedBleDevice[IdsPump]) -> PumpComparison:
        held = cloud_inspector.data(cloud_account)
        expected = expected_pump(pump.peripheral.model, hil_timezone)
        return _recorded(request, "pump", compare_pump_with_ledger(expected, held), held)

    return check


@pytest.fixture
def make_tslim_pump(
    request: pytest.FixtureRequest, ble_world: BleWorld, hil_timezone: str, hil_now: datetime | None
) -> Callable[..., EmulatedBleDevice[Any]]:
    """``make_tslim_pump(**options)``: a t:slim X2 (``start_tslim_x2`` options: seed, days,
    clock_changes, pairing_code, faults...) on the test's radio, in its timezone and time."""

    def make(**options: Any) -> EmulatedBleDevice[Any]:
        options.setdefault("now", hil_now)
        pump = start_tslim_x2(ble_world, hil_timezone, **options)
        _record_device(request, "tslim-x2", pump.peripheral.pump.model)
        return pump

    return make


@pytest.fixture
def tslim_pump(
    make_tslim_pump: Callable[..., EmulatedBleDevice[Any]],
) -> EmulatedBleDevice[TslimX2]:
    return make_tslim_pump(seed=4, days=90)


@pytest.fixture
def tslim_ledger_check(
    request: pytest.FixtureRequest,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> Callable[[EmulatedBleDevice[Any]], LedgerComparison]:
    def check(pump: EmulatedBleDevice[Any]) -> LedgerComparison:
        from hil.tslim_x2_oracle import compare_tslim_with_ledger, expected_tslim

        held = cloud_inspector.data(cloud_account)
        expected = expected_tslim(pump.peripheral.pump, hil_timezone)
        return _recorded(request, "pump", compare_tslim_with_ledger(expected, held), held)

    return check


@pytest.fixture
def minimed_ledger_check(
    request: pytest.FixtureRequest,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> Callable[[EmulatedCnlMinimed], LedgerComparison]:
    def check(link: EmulatedCnlMinimed) -> LedgerComparison:
        from hil.minimed600_oracle import compare_minimed_with_ledger, expected_minimed

        held = cloud_inspector.data(cloud_account)
        return _recorded(
            request,
            "pump",
            compare_minimed_with_ledger(expected_minimed(link.pump, hil_timezone), held),
            held,
        )

    return check


@pytest.fixture
def ble_uploader(
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    ble_world: BleWorld,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> UploadHarness:
    return UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=cloud_account,
        timezone=hil_timezone,
        state_path=tmp_path / "uploader-state.sqlite3",
        usb_backend=None,
        transport_factory=mock_cloud.transport,
        clock=running_utc(hil_now),
        ble_transport=ble_world.host_endpoint(),
        runner=ble_world.run,
    )


@pytest.fixture
def uploader(
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> UploadHarness:
    return UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=cloud_account,
        timezone=hil_timezone,
        state_path=tmp_path / "uploader-state.sqlite3",
        usb_backend=usb_bus,
        transport_factory=mock_cloud.transport,
        clock=running_utc(hil_now),
    )
