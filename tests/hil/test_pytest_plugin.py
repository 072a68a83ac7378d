"""The pytest plugin, as another project would use it (pytester runs a separate session)."""

from __future__ import annotations

import pytest


def test_bench_target_fails_clearly_without_a_rig(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--hil-target=bench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-target=bench: no rig configured*"])


def test_fixtures_give_an_emulated_meter_an_uploader_and_a_cloud(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_upload(hil_target, contour_meter, uploader, cloud_inspector, cloud_account):
            assert hil_target == "emulated"
            result = uploader.upload(contour_meter.device_spec)
            assert result.status == "uploaded"
            assert len(cloud_inspector.data(cloud_account, type="smbg")) == result.new_datums
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_unknown_target_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--hil-target=cloud9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'cloud9'*"])


def test_timing_option_reaches_the_emulated_meter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_pace(hil_timing, contour_meter):
            assert hil_timing.name == "realistic"
            assert contour_meter.device.timing.response_delay_s > 0
        """
    )
    result = pytester.runpytest("--hil-timing=realistic", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
