"""The diahil pytest plugin (registered through the ``pytest11`` entry point).

Options:
    --hil-target=emulated|bench   where devices come from (bench needs a rig: a later issue)
    --hil-timezone=ZONE           the person's timezone for device clocks and uploads
    --hil-timing=fast|realistic   emulated devices answer at once (default) or at hardware pace

Fixtures:
    hil_target        the target name
    hil_timezone      the IANA timezone of the test person
    hil_timing        the emulators' timing mode (``emulator.timing.Timing``)
    mock_cloud        the mock cloud in-process (ASGI transport, in-memory SQLite)
    mock_cloud_server the mock cloud under uvicorn on a free port (SQLite file in tmp_path)
    cloud_account     an account on ``mock_cloud``
    usb_bus           an emulated USB bus (a pyusb backend)
    contour_meter     a Contour Next USB with 90 days of history, plugged into ``usb_bus``,
                      at the ``--hil-timing`` pace
    uploader          an ``UploadHarness``: the real uploader bound to all of the above
    cloud_reader      reads what ``mock_cloud`` holds, over HTTP, independently of the uploader
    ledger_check      ``ledger_check(meter)``: the cloud account's smbg data against the meter's
                      ledger (``hil.oracle``); ``.assert_exact()`` fails naming any difference
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.timing import FAST, MODES, Timing, timing_mode
from emulator.usb import EmulatedUsbBackend
from hil.cloud import Account, CloudReader, CloudServer, InProcessCloud
from hil.devices import EmulatedUsbMeter, plug_contour_meter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg

TARGETS = ("emulated", "bench")
DEFAULT_TIMEZONE = "America/New_York"


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


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--hil-target", default="emulated") == "bench":
        raise pytest.UsageError(
            "--hil-target=bench: no rig configured. Bench runs need a rig description "
            "(rig.toml, coming with the bench-rig issue); run with --hil-target=emulated."
        )


@pytest.fixture(scope="session")
def hil_target(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--hil-target"))


@pytest.fixture(scope="session")
def hil_timezone(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--hil-timezone"))


@pytest.fixture(scope="session")
def hil_timing(pytestconfig: pytest.Config) -> Timing:
    return timing_mode(str(pytestconfig.getoption("--hil-timing")))


@pytest.fixture
def mock_cloud() -> Iterator[InProcessCloud]:
    cloud = InProcessCloud()
    yield cloud
    cloud.close()


@pytest.fixture
def mock_cloud_server(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(f"sqlite:///{tmp_path / 'cloud.sqlite3'}") as server:
        yield server


@pytest.fixture
def cloud_account(mock_cloud: InProcessCloud) -> Account:
    return mock_cloud.create_account("pat@example.test", "correct-horse-battery-staple")


@pytest.fixture
def cloud_reader(mock_cloud: InProcessCloud) -> CloudReader:
    return CloudReader(mock_cloud.base_url, transport=mock_cloud.transport())


@pytest.fixture
def ledger_check(
    cloud_reader: CloudReader, cloud_account: Account, hil_timezone: str
) -> Callable[[EmulatedUsbMeter], LedgerComparison]:
    def check(meter: EmulatedUsbMeter) -> LedgerComparison:
        held = cloud_reader.data(cloud_account, type="smbg")
        return compare_with_ledger(expected_smbg(meter.model, hil_timezone), held)

    return check


@pytest.fixture
def usb_bus() -> EmulatedUsbBackend:
    return EmulatedUsbBackend()


@pytest.fixture
def contour_meter(
    usb_bus: EmulatedUsbBackend, hil_timezone: str, hil_timing: Timing
) -> EmulatedUsbMeter:
    return plug_contour_meter(usb_bus, hil_timezone, seed=1, days=90, timing=hil_timing)


@pytest.fixture
def uploader(
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    tmp_path: Path,
) -> UploadHarness:
    return UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=cloud_account,
        timezone=hil_timezone,
        state_path=tmp_path / "uploader-state.sqlite3",
        usb_backend=usb_bus,
        transport_factory=mock_cloud.transport,
    )
