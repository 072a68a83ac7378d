"""``diahil reproduce``: a field upload, its support bundle, and the same upload on a desk.

Each test runs the uploader as a user would (``uploader.cli.execute``, the body of
``diahil upload``, with ``--support-bundle`` and, where the user gave it, ``--capture``)
against an emulated meter, then rebuilds the device from the bundle alone and runs the
upload again into a fresh mock cloud. A cable pulled mid-transfer must fail again with the
same error at the same step; a good upload must succeed again, with the fresh cloud holding
exactly the meter's ledger; a cloud outage in the field does not reproduce on a healthy
cloud (and the verdict says so); old firmware is refused again from the bundle's identity
alone; and a bundle that lacks what is needed says what is missing and how to get it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.faults import UnplugAfterBytes
from hil.cloud import CloudInspector, InProcessCloud
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from hil.reproduce import BundleProblem, reproduce
from uploader.cli import execute


def field_upload(
    uploader: UploadHarness,
    meter: EmulatedUsbMeter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    capture: bool,
) -> tuple[Path, dict[str, Any]]:
    """The user's run: ``diahil upload DEVICE --support-bundle B.zip [--capture F.pcap]``."""
    bundle = tmp_path / "field" / "diahil-support.zip"
    pcap = tmp_path / "field" / "meter.pcap" if capture else None
    code = execute(
        uploader.options(meter.device_spec), as_json=True, support_bundle=bundle, capture=pcap
    )
    output: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert output["exit_code"] == code
    return bundle, output


def diahil_reproduce(bundle: Path) -> tuple[int, dict[str, Any]]:
    run = subprocess.run(
        [sys.executable, "-m", "hil.cli", "reproduce", str(bundle), "--json"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return run.returncode, json.loads(run.stdout)


def test_a_cable_pulled_mid_transfer_fails_again_at_the_same_step(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))
    bundle, output = field_upload(uploader, contour_meter, tmp_path, capsys, capture=True)
    assert (output["error"], output["step"]) == ("DeviceDisconnected", "fetch")

    code, answer = diahil_reproduce(bundle)

    assert code == 0, answer
    assert answer["reproduced"] is True
    assert answer["verdict"].startswith("reproduced: same error at the same step")
    replayed = answer["replayed"]
    assert (replayed["error"], replayed["step"], replayed["exit_code"]) == (
        "DeviceDisconnected",
        "fetch",
        4,
    )
    assert replayed["message"] == output["message"]  # the same words for the same failure
    assert "replayed from" in answer["device"] and answer["divergence"] is None


def test_a_good_upload_succeeds_again_with_the_meters_ledger_in_the_cloud(
    make_contour_meter: Any,
    uploader: UploadHarness,
    hil_timezone: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(seed=8, days=20)
    bundle, output = field_upload(uploader, meter, tmp_path, capsys, capture=True)
    assert output["status"] == "uploaded"
    meter.unplug()  # the desk has no meter: only the bundle

    fresh = InProcessCloud()
    try:
        outcome = reproduce(bundle, tmp_path / "work", cloud=fresh)
        assert outcome.reproduced, outcome.verdict()
        assert outcome.verdict().startswith("reproduced: the upload succeeded again")
        assert outcome.replayed.datums == output["datums"]
        assert outcome.account is not None  # read back over HTTP, as any client would
        inspector = CloudInspector(fresh.base_url, transport=fresh.transport())
        held = inspector.data(outcome.account, type="smbg")
    finally:
        fresh.close()
    comparison = compare_with_ledger(expected_smbg(meter.model, hil_timezone), held)
    assert comparison.assert_exact() == output["datums"]


class FailingChunks(httpx.AsyncBaseTransport):
    """The field's cloud: every chunk upload answers 503 (an outage), the rest works."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/data"):
            return httpx.Response(503, json={"message": "down for maintenance"})
        return await self.inner.handle_async_request(request)


def test_a_cloud_outage_in_the_field_does_not_reproduce_on_a_healthy_cloud(
    make_contour_meter: Any,
    uploader: UploadHarness,
    mock_cloud: InProcessCloud,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The device part replays cleanly, so the verdict points away from the device."""
    meter: EmulatedUsbMeter = make_contour_meter(seed=9, count=30)
    uploader.transport_factory = lambda: FailingChunks(mock_cloud.transport())
    bundle, output = field_upload(uploader, meter, tmp_path, capsys, capture=True)
    assert (output["error"], output["step"]) == ("CloudUnavailable", "upload")

    code, answer = diahil_reproduce(bundle)

    assert code == 1 and answer["reproduced"] is False
    assert answer["verdict"].startswith(
        "did not reproduce: the bundle recorded CloudUnavailable at step upload"
    )
    assert answer["replayed"]["status"] == "uploaded" and answer["divergence"] is None


def test_old_firmware_is_refused_again_from_the_bundles_identity(
    make_contour_meter: Any,
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter: EmulatedUsbMeter = make_contour_meter(seed=6, days=5, firmware_version="01.10")
    bundle, output = field_upload(uploader, meter, tmp_path, capsys, capture=False)
    assert (output["error"], output["step"]) == ("FirmwareTooOld", "identify")

    outcome = reproduce(bundle, tmp_path / "work")

    assert outcome.reproduced, outcome.verdict()
    assert (outcome.replayed.error, outcome.replayed.step) == ("FirmwareTooOld", "identify")
    assert "01.10" in (outcome.replayed.message or "")
    assert "no capture in the bundle" in outcome.device


def test_a_bundle_without_the_exchange_says_what_is_missing(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contour_meter.faults.add(UnplugAfterBytes(64 * 40))
    bundle, output = field_upload(uploader, contour_meter, tmp_path, capsys, capture=False)
    assert output["step"] == "fetch"

    with pytest.raises(BundleProblem) as problem:
        reproduce(bundle, tmp_path / "work")
    assert "no capture of the exchange" in str(problem.value)
    assert "--capture" in str(problem.value)

    code, answer = diahil_reproduce(bundle)
    assert code == 2 and answer["error"] == "BundleProblem"
    code, answer = diahil_reproduce(tmp_path / "nothing-here.zip")
    assert code == 2 and "does not exist" in answer["message"]
    garbage = tmp_path / "photo.zip"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not a zip")
    with pytest.raises(BundleProblem, match="not a readable support bundle"):
        reproduce(garbage, tmp_path / "work")
