"""Datum-by-datum comparison of what was read with what the cloud returns."""

from __future__ import annotations

from typing import Any

from uploader.verify import compare


def datum(minute: int, value: int = 100, **extra: Any) -> dict[str, Any]:
    return {
        "type": "smbg",
        "deviceId": "D-1",
        "deviceTime": f"2026-01-01T08:{minute:02d}:00",
        "time": f"2026-01-01T13:{minute:02d}:00.000Z",
        "units": "mg/dL",
        "value": value,
        **extra,
    }


def stored(d: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**d, "id": "abc", "uploadId": "u1", "createdTime": "2026-01-02T00:00:00Z", **changes}


def test_identical_copies_verify() -> None:
    sent = [
        datum(1),
        datum(2, annotations=[{"code": "bg/out-of-range", "value": "low", "threshold": 20}]),
    ]
    report = compare(sent, [stored(d) for d in sent])
    assert report.ok and report.found == 2 and report.summary() == "2 expected, 2 found"


def test_time_is_compared_as_an_instant() -> None:
    sent = [datum(1)]
    report = compare(sent, [stored(sent[0], time="2026-01-01T13:01:00+00:00")])
    assert report.ok


def test_missing_duplicated_mismatched_and_extra_are_all_found() -> None:
    sent = [datum(1), datum(2), datum(3)]
    cloud = [stored(sent[0]), stored(sent[0]), stored(sent[1], value=101), stored(datum(9))]
    report = compare(sent, cloud)
    assert not report.ok
    assert report.missing == [("smbg", "D-1", "2026-01-01T08:03:00")]
    assert report.duplicated == [("smbg", "D-1", "2026-01-01T08:01:00")]
    assert [(m.key[2], m.fields) for m in report.mismatched] == [("2026-01-01T08:02:00", ["value"])]
    assert report.extra == [("smbg", "D-1", "2026-01-01T08:09:00")]


def test_extra_data_alone_is_only_a_warning() -> None:
    report = compare([datum(1)], [stored(datum(1)), stored(datum(5))])
    assert report.ok and len(report.extra) == 1
