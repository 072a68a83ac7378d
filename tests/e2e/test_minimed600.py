"""End to end over USB: an emulated Contour Next Link 2.4 paired with an emulated MiniMed
600-series pump, the uploader's MiniMed driver through pyusb, the mock cloud; judged by the
pump's ledgers (``hil.minimed600_oracle``), never by the uploader's own output."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.faults import UnplugAfterBytes
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedCnlMinimed
from hil.harness import UploadHarness
from hil.minimed600_oracle import compare_linked_smbg, expected_minimed
from hil.minimed600_wizard_oracle import compare_wizards
from hil.oracle import ExpectedCbg
from hil.pump_oracle import compare_pump_with_ledger
from uploader.errors import DeviceDisconnected, Step
from uploader.protocols.minimed_errors import MessageCorrupted, PumpOutOfRange, WrongLinkKey

MakeLink = Callable[..., EmulatedCnlMinimed]


def sub(datums: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    return [d for d in datums if all(d.get(k) == v for k, v in fields.items())]


def assert_cloud_equals_ledgers(
    link: EmulatedCnlMinimed, inspector: CloudInspector, account: Account, timezone: str
) -> list[dict[str, Any]]:
    held = inspector.data(account)
    expected = expected_minimed(link.pump, timezone)
    compare_pump_with_ledger(expected.pump, held).assert_exact()
    assert_cbg_exact(expected.cbg, held)
    compare_linked_smbg(expected, held).assert_exact()
    compare_wizards(expected.wizard, held).assert_exact()
    return held


def assert_cbg_exact(expected: list[ExpectedCbg], held: list[dict[str, Any]]) -> None:
    """Every sensor reading of the ledger in the cloud exactly once, nothing else. Keyed by
    device time *and* UTC time: after the pump's clock was set back an hour, two readings
    share each device time of that hour (``hil.oracle.compare_cbg_with_ledger`` keys by
    device time alone, so it cannot tell them apart)."""
    want = Counter((e.device_time, _utc(e.time), e.timezone_offset, e.value) for e in expected)
    got = Counter(
        (d["deviceTime"], _utc(d["time"]), d["timezoneOffset"], d["value"])
        for d in held
        if d["type"] == "cbg"
    )
    missing, unexpected = want - got, got - want
    assert not missing and not unexpected, (
        f"{len(expected)} readings: {sum(missing.values())} missing (e.g. "
        f"{list(missing)[:2]}), {sum(unexpected.values())} unexpected or duplicated (e.g. "
        f"{list(unexpected)[:2]})"
    )


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC)


def test_ninety_days_reach_the_cloud_exactly(
    cnl_minimed: EmulatedCnlMinimed,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    result = uploader.upload(cnl_minimed.device_spec)
    assert result.status == "uploaded", result
    assert result.first_device_time is not None and result.last_device_time is not None
    assert result.last_device_time - result.first_device_time > timedelta(days=89)
    held = assert_cloud_equals_ledgers(
        cnl_minimed, cloud_inspector, cloud_account, uploader.timezone
    )
    for kind in ("bolus", "basal", "deviceEvent", "pumpSettings", "cbg", "smbg", "wizard"):
        assert sub(held, type=kind), kind
    assert {b["subType"] for b in sub(held, type="bolus")} >= {"normal", "square", "dual/square"}
    assert sub(held, type="pumpSettings")[0]["activeSchedule"].startswith("Pattern ")
    again = uploader.upload(cnl_minimed.device_spec)
    assert again.status == "no-new-data", again


def _fresh_run_is_exact(
    link: EmulatedCnlMinimed,
    uploader: UploadHarness,
    inspector: CloudInspector,
    account: Account,
) -> None:
    result = uploader.upload(link.device_spec)
    assert result.status == "uploaded", result
    assert_cloud_equals_ledgers(link, inspector, account, uploader.timezone)
    assert uploader.upload(link.device_spec).status == "no-new-data"


def test_pump_out_of_range_is_named_and_a_later_run_uploads_once(
    make_cnl_minimed: MakeLink,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    link = make_cnl_minimed(seed=7, days=3)
    link.link_faults.pump_out_of_range = True
    with pytest.raises(PumpOutOfRange) as caught:
        uploader.upload(link.device_spec)
    message = caught.value.user_message()
    assert caught.value.step is Step.CONNECT
    assert "Pump not found on any channel" in message and "within 1 m" in message
    assert "Nothing from this read was sent to the cloud" in message
    assert cloud_inspector.data(cloud_account) == []
    link.link_faults.pump_out_of_range = False
    _fresh_run_is_exact(link, uploader, cloud_inspector, cloud_account)


def test_unplugged_mid_history_is_named_and_a_later_run_uploads_once(
    make_cnl_minimed: MakeLink,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    link = make_cnl_minimed(seed=8, days=3)
    link.faults.add(UnplugAfterBytes(64 * 120))  # past the settings, inside the history
    with pytest.raises(DeviceDisconnected) as caught:
        uploader.upload(link.device_spec)
    message = caught.value.user_message()
    assert caught.value.step is Step.FETCH
    assert "Contour Next Link 2.4 was unplugged" in message and "Plug the Contour" in message
    assert cloud_inspector.data(cloud_account) == []
    link.faults.clear()
    link.plug()
    _fresh_run_is_exact(link, uploader, cloud_inspector, cloud_account)


def test_corrupted_answers_are_asked_again_or_named(
    make_cnl_minimed: MakeLink,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    link = make_cnl_minimed(seed=9, days=3)
    link.link_faults.corrupt_crc_answers = 500  # every answer, past any retry
    with pytest.raises(MessageCorrupted) as caught:
        uploader.upload(link.device_spec)
    message = caught.value.user_message()
    assert "failed its CRC" in message and "after 3 retries" in message
    assert "Nothing from this read was sent to the cloud" in message
    assert cloud_inspector.data(cloud_account) == []
    link.link_faults.corrupt_crc_answers = 2  # a few: asked for again, the upload completes
    result = uploader.upload(link.device_spec)
    assert result.status == "uploaded", result
    assert link.link_faults.corrupt_crc_answers == 0
    assert_cloud_equals_ledgers(link, cloud_inspector, cloud_account, uploader.timezone)


def test_a_wrong_link_key_is_named_and_a_later_run_uploads_once(
    make_cnl_minimed: MakeLink,
    uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    link = make_cnl_minimed(seed=10, days=3)
    _fresh_run_is_exact(link, uploader, cloud_inspector, cloud_account)
    link.link_faults.wrong_link_key = True
    with pytest.raises(WrongLinkKey) as caught:
        uploader.upload(link.device_spec)
    message = caught.value.user_message()
    assert "does not decrypt" in message and "pair them again" in message
    link.link_faults.wrong_link_key = False
    assert uploader.upload(link.device_spec).status == "no-new-data"
    assert_cloud_equals_ledgers(link, cloud_inspector, cloud_account, uploader.timezone)
