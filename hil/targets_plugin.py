"""The pytest side of targets: ``--hil-rig``, device and rig markers, and target fixtures.

Markers (registered here; ``--strict-markers`` accepts them):
    @pytest.mark.device(KIND, **emulator_options)  the test needs a device of that kind
                                                   (``hil.bench_devices.DEVICE_KINDS``);
                                                   the options shape the emulated one
    @pytest.mark.rig(CAPABILITY, ...)              the test needs these rig capabilities
                                                   (``hil.bench_devices.RIG_CAPABILITIES``)

On ``--hil-target=bench`` a test whose kinds or capabilities the rig.toml lacks is skipped,
the reason naming what is missing and how to add it; the emulated target has them all.

Fixtures:
    hil_rig           the bench as rig.toml describes it (``BenchRig``), None when emulated
    hil_device        the marked kind resolved: an emulator, or the bench's device held
                      under its device lock (one pytest-xdist worker at a time)
    hil_uploader      ``hil_uploader.upload()``: the real uploader on ``hil_device``
    hil_ledger_check  ``hil_ledger_check()``: the cloud against ``hil_device``'s ledger
                      (skipped where the device cannot show its ledger)
    hil_measure       ``hil_measure(name, value)``: a measurement, as a JUnit property

Every test records ``uploader_version`` and ``hil_target``; ``hil_device`` adds the device's
identity, and an upload adds what the device reported and the upload's numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hil.bench_devices import DEVICE_KINDS, RIG_CAPABILITIES, BenchRig, RigFileError, load_bench
from hil.cloud import Account, CloudInspector, InProcessCloud
from hil.device_lock import DEFAULT_LOCK_DIR, hold_device
from hil.devices import running_utc
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from hil.report_plugin import record_comparison, record_device, uploader_version
from hil.targets import (
    EMULATED_DEFAULTS,
    TargetDevice,
    bench_device,
    emulated_contour,
    emulated_gls,
)
from uploader.session import UploadResult

RIG = pytest.StashKey[BenchRig | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diahil")
    group.addoption(
        "--hil-rig",
        metavar="rig.toml",
        default=None,
        help="the bench's rig description (devices, capabilities); needed by --hil-target=bench",
    )
    group.addoption(
        "--hil-lock-dir",
        default=str(DEFAULT_LOCK_DIR),
        help=f"shared folder of the per-device locks (default {DEFAULT_LOCK_DIR})",
    )
    group.addoption(
        "--hil-lock-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for a device another worker holds (default 600)",
    )


def pytest_configure(config: pytest.Config) -> None:
    kinds = ", ".join(sorted(DEVICE_KINDS))
    config.addinivalue_line(
        "markers", f"device(kind, **options): the test needs a device of that kind ({kinds})"
    )
    capabilities = ", ".join(RIG_CAPABILITIES)
    config.addinivalue_line(
        "markers", f"rig(*capabilities): the test needs these rig capabilities ({capabilities})"
    )
    rig_path = config.getoption("--hil-rig", default=None)
    rig: BenchRig | None = None
    if config.getoption("--hil-target", default="emulated") == "bench":
        if not rig_path:
            raise pytest.UsageError(
                "--hil-target=bench: no rig configured: give --hil-rig rig.toml (the bench's "
                "devices and capabilities, see docs/bench.md), or run with --hil-target=emulated."
            )
        try:
            rig = load_bench(Path(str(rig_path)))
        except RigFileError as error:
            raise pytest.UsageError(f"--hil-rig: {error}") from None
    config.stash[RIG] = rig


def _needs(item: pytest.Item) -> tuple[list[str], list[str]]:
    kinds = [str(m.args[0]) for m in item.iter_markers("device") if m.args]
    capabilities = [str(c) for m in item.iter_markers("rig") for c in m.args]
    return kinds, capabilities


def missing_on_bench(rig: BenchRig, kinds: list[str], capabilities: list[str]) -> list[str]:
    """Why the bench cannot run a test that needs ``kinds`` and ``capabilities`` (empty: it can)."""
    reasons = [
        f"bench rig {rig.name!r} ({rig.path}) has no {kind} device ({DEVICE_KINDS[kind]}): "
        f'add [devices.NAME] with kind = "{kind}", its url and serial'
        for kind in dict.fromkeys(kinds)
        if rig.device_of_kind(kind) is None
    ]
    lacking = [c for c in dict.fromkeys(capabilities) if c not in rig.capabilities]
    if lacking:
        what = ", ".join(f"{c} ({RIG_CAPABILITIES[c]})" for c in lacking)
        reasons.append(
            f"bench rig {rig.name!r} ({rig.path}) lacks {what}: it has no [can] fixture "
            f"(docs/bench.md)"
        )
    return reasons


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rig = config.stash.get(RIG, None)
    for item in items:
        kinds, capabilities = _needs(item)
        for marker in item.iter_markers("device"):
            if len(marker.args) != 1 or marker.args[0] not in DEVICE_KINDS:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.device{marker.args!r}: name one kind of "
                    f"{', '.join(sorted(DEVICE_KINDS))}"
                )
        unknown = sorted(set(capabilities) - set(RIG_CAPABILITIES))
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.rig: unknown {', '.join(unknown)} "
                f"(known: {', '.join(RIG_CAPABILITIES)})"
            )
        if rig is not None:
            reasons = missing_on_bench(rig, kinds, capabilities)
            if reasons:
                item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.user_properties.append(("uploader_version", uploader_version()))
    item.user_properties.append(
        ("hil_target", str(item.config.getoption("--hil-target", default="emulated")))
    )


@pytest.fixture(scope="session")
def hil_rig(pytestconfig: pytest.Config) -> BenchRig | None:
    return pytestconfig.stash.get(RIG, None)


def _record(node: pytest.Item, properties: dict[str, Any]) -> None:
    node.user_properties.extend(properties.items())


@pytest.fixture
def hil_device(request: pytest.FixtureRequest, hil_rig: BenchRig | None) -> Iterator[TargetDevice]:
    marker = request.node.get_closest_marker("device")
    if marker is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: hil_device needs @pytest.mark.device(KIND), KIND one of "
            f"{', '.join(sorted(DEVICE_KINDS))}"
        )
    kind = str(marker.args[0])
    if kind not in EMULATED_DEFAULTS:
        raise pytest.UsageError(
            f"{request.node.nodeid}: hil_device resolves {', '.join(EMULATED_DEFAULTS)}, not "
            f"{kind!r}; use that kind's own fixtures (docs/qa.md)"
        )
    if hil_rig is None:
        timezone = request.getfixturevalue("hil_timezone")
        now = request.getfixturevalue("hil_now")
        if kind == "gls-meter":
            world = request.getfixturevalue("ble_world")
            device = emulated_gls(world, timezone, now, dict(marker.kwargs))
        else:
            bus = request.getfixturevalue("usb_bus")
            timing = request.getfixturevalue("hil_timing")
            device = emulated_contour(bus, timezone, timing, now, dict(marker.kwargs))
        _record(request.node, device.identity())
        record_device(request.node, device.identity())
        yield device
        return
    found = hil_rig.device_of_kind(kind)
    assert found is not None  # collection skipped the test otherwise
    device = bench_device(found, hil_rig.can)
    config = request.config
    with hold_device(
        Path(str(config.getoption("--hil-lock-dir"))),
        device.lock_key,
        holder=request.node.nodeid,
        timeout_s=float(config.getoption("--hil-lock-timeout")),
    ):
        _record(request.node, device.identity())
        record_device(request.node, device.identity())
        yield device


@dataclass
class TargetUploader:
    """The real uploader bound to the test's device and cloud; records each upload."""

    harness: UploadHarness
    device: TargetDevice
    node: pytest.Item

    def upload(self, **overrides: Any) -> UploadResult:
        """Upload ``hil_device`` (raises the uploader's ``UploaderError`` on failure)."""
        if self.device.passkey is not None:
            overrides.setdefault("passkey", self.device.passkey)
        began = time.perf_counter()
        result = self.harness.upload(self.device.device_spec, **overrides)
        identity = result.device
        _record(
            self.node,
            {
                "device_reported_model": identity.model,
                "device_reported_serial": identity.serial_number,
                "device_reported_firmware": identity.firmware_version,
                "measure.upload_s": round(time.perf_counter() - began, 3),
                "measure.records_read": result.records_read,
                "measure.new_datums": result.new_datums,
            },
        )
        return result


@pytest.fixture
def hil_uploader(
    request: pytest.FixtureRequest,
    hil_device: TargetDevice,
    mock_cloud: InProcessCloud,
    cloud_account: Account,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> TargetUploader:
    harness = UploadHarness(
        cloud_url=mock_cloud.base_url,
        account=cloud_account,
        timezone=hil_timezone,
        state_path=tmp_path / "uploader-state.sqlite3",
        usb_backend=hil_device.usb_backend,
        transport_factory=mock_cloud.transport,
        # a bench's devices live in real time; emulators in the test's fixed instant
        clock=running_utc(hil_now if hil_device.target == "emulated" else None),
        ble_transport=hil_device.ble_transport,
        runner=hil_device.runner,
    )
    return TargetUploader(harness, hil_device, request.node)


@pytest.fixture
def hil_ledger_check(
    request: pytest.FixtureRequest,
    hil_device: TargetDevice,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> Callable[[], LedgerComparison]:
    ledger = hil_device.ledger
    if ledger is None:
        pytest.skip(
            f"{hil_device.name} ({hil_device.device_spec}) cannot show its ledger: a real "
            f"device has none to compare with; give an emulator's control URL in rig.toml"
        )

    def check() -> LedgerComparison:
        held = cloud_inspector.data(cloud_account, type="smbg")
        expected = expected_smbg(ledger(), hil_timezone, out_of_range=hil_device.out_of_range)
        comparison = compare_with_ledger(expected, held)
        record_comparison(request.node, "smbg", comparison, held)
        _record(
            request.node,
            {"ledger_expected": comparison.expected, "ledger_matched": comparison.matched},
        )
        return comparison

    return check


@pytest.fixture
def hil_measure(request: pytest.FixtureRequest) -> Callable[[str, float | int | str], None]:
    def measure(name: str, value: float | int | str) -> None:
        request.node.user_properties.append((f"measure.{name}", value))

    return measure
