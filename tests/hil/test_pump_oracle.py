"""The pump oracle: the datums it expects are ones the cloud accepts, its rules hold on
known cases, and its comparison catches every kind of difference."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.generators.pump_history import generate_pump_history
from emulator.model import pump as m
from hil.pump_oracle import ExpectedPump, compare_pump_with_ledger, expected_pump
from mock_cloud.validation import validate_datum

ZONE = "America/New_York"
END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)


def as_cloud(expected: ExpectedPump) -> list[dict[str, Any]]:
    """The datums a correct uploader would have sent (what the cloud then holds)."""
    out: list[dict[str, Any]] = []
    for item in expected.datums:
        datum: dict[str, Any] = {
            "type": item.type,
            "deviceId": "diahil-IDS-1",
            "deviceTime": item.device_time,
            "time": item.time.isoformat().replace("+00:00", "Z"),
            "timezoneOffset": item.timezone_offset if item.timezone_offset is not None else -240,
            "clockDriftOffset": 0,
            "conversionOffset": 0,
        }
        datum["deliveryType" if item.type == "basal" else "subType"] = item.sub
        if item.sub == "timeChange":
            datum["method"] = "manual"
            datum["from"] = {"time": item.fields["from"]}
            datum["to"] = {"time": item.fields["to"]}
        else:
            datum.update(copy.deepcopy(item.fields))
        out.append(datum)
    settings: dict[str, Any] = {
        "type": "pumpSettings",
        "deviceId": "diahil-IDS-1",
        "deviceTime": "2026-03-15T12:30:00",
    }
    settings.update({"time": "2026-03-15T16:30:00Z", "timezoneOffset": -240, **expected.settings})
    out.append(settings)
    return out


@pytest.fixture(scope="module")
def pump() -> m.PumpModel:
    return generate_pump_history(4, timezone=ZONE, end=END, days=30)


def test_every_expected_datum_is_valid_for_the_cloud(pump: m.PumpModel) -> None:
    for index, datum in enumerate(as_cloud(expected_pump(pump, ZONE))):
        assert validate_datum(index, datum) == [], datum


def test_a_faithful_upload_is_exact(pump: m.PumpModel) -> None:
    expected = expected_pump(pump, ZONE)
    result = compare_pump_with_ledger(expected, as_cloud(expected))
    assert result.assert_exact() == len(expected.datums) + 1


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        ("drop a bolus", "missing"),
        ("send a basal twice", "duplicated"),
        ("invent a prime", "unexpected"),
        ("shift a time by an hour", "wrong"),
        ("lose a cancelled amount", "wrong"),
        ("name the wrong schedule", "wrong"),
        ("call a full bolus cut short", "wrong"),
        ("give a scheduled basal a suppressed", "wrong"),
        ("no settings", "missing"),
    ],
)
def test_every_difference_is_caught(pump: m.PumpModel, damage: str, kind: str) -> None:
    expected = expected_pump(pump, ZONE)
    cloud = as_cloud(expected)
    boluses = [d for d in cloud if d["type"] == "bolus"]
    if damage == "drop a bolus":
        cloud.remove(boluses[3])
    elif damage == "send a basal twice":
        cloud.append(copy.deepcopy(next(d for d in cloud if d["type"] == "basal")))
    elif damage == "invent a prime":
        cloud.append(
            {
                **next(d for d in cloud if d.get("subType") == "prime"),
                "deviceTime": "2026-02-01T01:02:03",
            }
        )
    elif damage == "shift a time by an hour":
        shifted = datetime.fromisoformat(boluses[0]["time"].replace("Z", "+00:00")) + timedelta(
            hours=1
        )
        boluses[0]["time"] = shifted.isoformat()
    elif damage == "lose a cancelled amount":
        next(d for d in boluses if "expectedNormal" in d).pop("expectedNormal")
    elif damage == "name the wrong schedule":
        next(d for d in cloud if d.get("deliveryType") == "scheduled")["scheduleName"] = (
            "Template 9"
        )
    elif damage == "call a full bolus cut short":
        full = next(d for d in boluses if d["subType"] == "normal" and "expectedNormal" not in d)
        full["expectedNormal"] = full["normal"] + 1
    elif damage == "give a scheduled basal a suppressed":
        scheduled = next(d for d in cloud if d.get("deliveryType") == "scheduled")
        scheduled["suppressed"] = {"type": "basal", "deliveryType": "scheduled", "rate": 1.0}
    else:
        cloud = [d for d in cloud if d["type"] != "pumpSettings"]
    result = compare_pump_with_ledger(expected, cloud)
    assert getattr(result, kind), result
    with pytest.raises(AssertionError, match="differs from the device's ledger"):
        result.assert_exact()


T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def small() -> m.PumpModel:
    return m.PumpModel(
        serial_number="P",
        model_name="p",
        firmware_version="1",
        start=T0,
        display_offset=timedelta(hours=-5),
    )


def by(expected: ExpectedPump, sub: str) -> list[Any]:
    return [d for d in expected.datums if d.sub == sub]


def test_combination_bolus_cancelled_in_its_normal_part() -> None:
    model = small()
    at = T0 + timedelta(hours=12)
    model.bolus(at, fast=6.0, extended=2.0, minutes=90, cancel_at=at + timedelta(seconds=120))
    model.advance(at + timedelta(hours=3))
    (combo,) = by(expected_pump(model, ZONE), "dual/square")
    assert combo.fields == {
        "normal": 3.0,
        "expectedNormal": 6.0,
        "extended": 0.0,
        "duration": 0,
        "expectedExtended": 2.0,
        "expectedDuration": 90 * 60_000,
    }
    assert combo.device_time == "2026-03-02T12:00:00"
    # No clock change: across-the-board in the user's zone.
    assert (combo.time, combo.timezone_offset) == (at, -300)


def test_temp_basal_crossing_midnight_and_cancelled() -> None:
    model = small()
    at = T0 + timedelta(hours=23)
    model.start_temp_basal(
        at, kind=m.TbrKind.RELATIVE, value=150, minutes=180, cancel_at=at + timedelta(minutes=90)
    )
    model.advance(at + timedelta(hours=4))
    first, second = by(expected_pump(model, ZONE), "temp")
    assert first.fields["suppressed"]["rate"] == 0.8 and first.fields["rate"] == 1.2
    assert first.fields["percent"] == 1.5 and "expectedDuration" not in first.fields
    assert second.device_time == "2026-03-03T00:00:00" and second.fields["rate"] == 1.05
    assert (second.fields["duration"], second.fields["expectedDuration"]) == (
        30 * 60_000,
        120 * 60_000,
    )


def test_a_clock_change_places_events_at_their_true_time() -> None:
    model = small()
    wrong = T0 + timedelta(hours=20)
    model.set_clock(wrong, datetime(2026, 3, 2, 21, 0))  # 20:00: an hour ahead by mistake
    model.bolus(T0 + timedelta(hours=21), fast=2.0)
    fix = T0 + timedelta(hours=22)
    model.set_clock(fix, datetime(2026, 3, 2, 22, 0))
    model.advance(fix + timedelta(hours=1))
    expected = expected_pump(model, ZONE)
    (bolus,) = by(expected, "normal")
    assert bolus.device_time == "2026-03-02T22:00:00"  # what the pump showed...
    assert (bolus.time, bolus.timezone_offset) == (T0 + timedelta(hours=21), -240)  # ...and when
    changes = by(expected, "timeChange")
    assert [c.fields for c in changes] == [
        {"from": "2026-03-02T20:00:00", "to": "2026-03-02T21:00:00"},
        {"from": "2026-03-02T23:00:00", "to": "2026-03-02T22:00:00"},
    ]
    assert [c.time for c in changes] == [wrong, fix]


def test_status_alarm_and_settings() -> None:
    model = small()
    at = T0 + timedelta(hours=10)
    model.annunciate(at, m.Annunciation.OCCLUSION)
    model.suspend(at, automatic=True)
    model.resume(at + timedelta(minutes=30))
    model.advance(at + timedelta(hours=1))
    expected = expected_pump(model, ZONE)
    assert [s.fields for s in by(expected, "status")] == [
        {"status": "suspended", "reason": {"suspended": "automatic"}},
        {"status": "resumed", "reason": {"resumed": "manual"}},
    ]
    assert [a.fields for a in by(expected, "alarm")] == [{"alarmType": "occlusion"}]
    (suspend,) = by(expected, "suspend")
    assert suspend.fields == {
        "duration": 30 * 60_000,
        "suppressed": {
            "type": "basal",
            "deliveryType": "scheduled",
            "rate": 1.1,
            "scheduleName": "Template 1",
        },
    }
    settings = expected.settings
    assert settings["activeSchedule"] == "Template 1"
    assert settings["basalSchedules"]["Template 2"][0] == {"start": 0, "rate": 0.65}
    assert settings["bgTargets"]["Template 1"][1] == {
        "start": 420 * 60_000,
        "low": 90.0,
        "high": 110.0,
    }
    # The interval still running at the end is not expected yet.
    assert model.open_interval() is not None
    starts = [d.device_time for d in expected.datums if d.type == "basal"]
    assert model.open_interval().start_display.strftime("%Y-%m-%dT%H:%M:%S") not in starts  # type: ignore[union-attr]
