"""The MiniMed 600 oracle and the CNL 2.4 fixture: what the cloud must hold, judged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emulator.usb import EmulatedUsbBackend
from hil.devices import plug_cnl_minimed
from hil.minimed600_oracle import (
    compare_cbg,
    compare_linked_smbg,
    compare_minimed_with_ledger,
    expected_minimed,
    pattern_name,
)
from hil.minimed600_wizard_oracle import compare_wizards
from mock_cloud.validation import validate_datum

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TZ = "Europe/Berlin"


def _cloud(expected: Any) -> list[dict[str, Any]]:
    cbg = [
        {
            "type": "cbg",
            "deviceTime": c.device_time,
            "time": c.time.isoformat(),
            "units": "mg/dL",
            "value": c.value,
            "timezoneOffset": c.timezone_offset,
        }
        for c in expected.cbg
    ]
    smbg = [
        {
            "type": "smbg",
            "subType": "linked",
            "deviceTime": s.device_time,
            "time": s.time.isoformat(),
            "units": "mg/dL",
            "value": s.value,
            "timezoneOffset": s.timezone_offset,
        }
        for s in expected.smbg
    ]
    return cbg + smbg


def test_plugged_link_and_its_expected_datums() -> None:
    bus = EmulatedUsbBackend()
    handle = plug_cnl_minimed(bus, TZ, seed=2, days=3, now=NOW)
    assert handle.device_spec == "usb:1a79:6210:6213-1234567"
    expected = expected_minimed(handle.pump, TZ)
    assert len(expected.cbg) == len(handle.pump.sensor) > 500
    assert len(expected.smbg) == len(handle.pump.bg_readings) > 0
    names = {d.fields.get("scheduleName") for d in expected.pump.datums if d.type == "basal"}
    assert names - {None} <= {pattern_name(n) for n in range(1, 9)}
    settings = expected.pump.settings
    assert settings["activeSchedule"] in settings["basalSchedules"]
    assert set(settings["carbRatios"]) == {"Default"}
    handle.unplug()


def test_comparisons_find_loss_duplicates_and_wrong_values() -> None:
    bus = EmulatedUsbBackend()
    handle = plug_cnl_minimed(bus, TZ, seed=2, days=2, now=NOW)
    expected = expected_minimed(handle.pump, TZ)
    cloud = _cloud(expected)
    assert compare_cbg(expected, cloud).exact
    assert compare_linked_smbg(expected, cloud).exact
    cbg = [d for d in cloud if d["type"] == "cbg"]
    lost = compare_cbg(expected, cbg[1:])
    assert lost.missing == [cbg[0]["deviceTime"]]
    doubled = compare_cbg(expected, [*cbg, cbg[3]])
    assert doubled.duplicated == [cbg[3]["deviceTime"]]
    smbg = [dict(d) for d in cloud if d["type"] == "smbg"]
    smbg[0]["value"] += 1
    assert len(compare_linked_smbg(expected, smbg).wrong) == 1


def test_whole_comparison_names_the_kind_of_each_difference() -> None:
    bus = EmulatedUsbBackend()
    handle = plug_cnl_minimed(bus, TZ, seed=2, days=2, now=NOW)
    expected = expected_minimed(handle.pump, TZ)
    cloud = _cloud(expected)
    result = compare_minimed_with_ledger(expected, cloud[1:])
    assert "pumpSettings" in " ".join(result.missing)
    assert any(item.startswith("cbg ") for item in result.missing)
    assert not result.exact


def test_fixture_plugs_a_link_on_the_test_bus(
    make_cnl_minimed: Any, usb_bus: EmulatedUsbBackend
) -> None:
    link = make_cnl_minimed(seed=7, days=1)
    assert link.bus is usb_bus and link.device.connected
    link.link_faults.pump_out_of_range = True
    assert link.device.link_faults.pump_out_of_range


def _wizard_cloud(expected: Any) -> list[dict[str, Any]]:
    """What a faithful upload stores: each bolus with its cloud id, each wizard linked to it."""
    boluses = [
        {
            "type": "bolus",
            "subType": d.sub,
            "deviceTime": d.device_time,
            "id": f"bolus{i}",
        }
        for i, d in enumerate(expected.pump.datums)
        if d.type == "bolus"
    ]
    ids = {(b["subType"], b["deviceTime"]): b["id"] for b in boluses}
    wizards = [
        {
            "type": "wizard",
            "deviceId": "MedT-NG1234567H",
            "deviceTime": w.device_time,
            "time": w.time.isoformat().replace("+00:00", "Z"),
            "timezoneOffset": w.timezone_offset,
            "carbUnits": "grams",
            "bolus": ids[(w.bolus_sub_type, w.device_time)],
            **w.fields,
        }
        for w in expected.wizard
    ]
    return boluses + wizards


def test_wizard_datums_follow_the_ledger_and_pass_the_clouds_validation() -> None:
    bus = EmulatedUsbBackend()
    handle = plug_cnl_minimed(bus, TZ, seed=2, days=5, now=NOW)
    expected = expected_minimed(handle.pump, TZ)
    meals = [b for b in handle.pump.model.ledger.boluses if b.meal]
    assert len(expected.wizard) == len(meals) > 5
    cloud = _wizard_cloud(expected)
    wizards = [d for d in cloud if d["type"] == "wizard"]
    for index, datum in enumerate(wizards):
        assert validate_datum(index, {k: v for k, v in datum.items() if k != "id"}) == []
    with_bg = [w for w in expected.wizard if "bgInput" in w.fields]
    assert with_bg and all(w.fields["insulinOnBoard"] == 0 for w in expected.wizard)
    for w in with_bg:
        bg, target = w.fields["bgInput"], w.fields["bgTarget"]
        correction = w.fields["recommended"]["correction"]
        assert (correction > 0) == (bg > target["high"]) and (correction < 0) == (
            bg < target["low"]
        )
    assert compare_wizards(expected.wizard, cloud).assert_exact() == len(meals)


def test_wizard_comparison_finds_wrong_values_lost_links_and_duplicates() -> None:
    bus = EmulatedUsbBackend()
    handle = plug_cnl_minimed(bus, TZ, seed=2, days=2, now=NOW)
    expected = expected_minimed(handle.pump, TZ)
    cloud = _wizard_cloud(expected)
    wizards = [d for d in cloud if d["type"] == "wizard"]
    boluses = [d for d in cloud if d["type"] == "bolus"]
    lost = compare_wizards(expected.wizard, boluses + wizards[1:])
    assert lost.missing == [wizards[0]["deviceTime"]]
    doubled = compare_wizards(expected.wizard, [*cloud, dict(wizards[0])])
    assert doubled.duplicated == [wizards[0]["deviceTime"]]
    wrong = [dict(w) for w in wizards]
    wrong[0]["recommended"] = {**wrong[0]["recommended"], "net": 99.0}
    wrong[1]["bolus"] = "no-such-bolus"
    wrong[2]["bolus"] = wizards[3]["bolus"]
    result = compare_wizards(expected.wizard, boluses + wrong)
    assert len(result.wrong) == 3
    assert "net" in result.wrong[0] and "not a bolus" in result.wrong[1]
    assert "links to" in result.wrong[2]
    whole = compare_minimed_with_ledger(expected, _cloud(expected))
    assert any(item.startswith("wizard ") for item in whole.missing)
