"""Deduplication: a re-sent chunk adds nothing; the none deduplicator keeps everything."""

from __future__ import annotations

import asyncio

import httpx
from mockcloud_helpers import Account, Api, Helpers

from mock_cloud.dedup import BOOKKEEPING_FIELDS, identity_fields, identity_hash

NONE = {"name": "org.tidepool.deduplicator.none"}


def _chunk(h: Helpers) -> list[dict[str, object]]:
    return [h.smbg(value=100 + i, time=f"2024-05-01T0{i}:00:00Z") for i in range(5)]


def test_resent_chunk_adds_nothing_and_reports_duplicates(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = _chunk(h)
    first = h.upload(alice, data_set_id, chunk)  # imagine this response was lost

    again = h.upload(alice, data_set_id, chunk)

    assert first.headers["X-Diahil-Created"] == "5"
    assert again.status_code == 200
    assert again.headers["X-Diahil-Created"] == "0"
    assert again.headers["X-Diahil-Duplicates"] == "5"
    assert len(h.read_data(alice)) == 5


def test_partly_new_chunk_stores_only_the_new_datums(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = _chunk(h)
    h.upload(alice, data_set_id, chunk[:3])

    response = h.upload(alice, data_set_id, chunk)

    assert response.headers["X-Diahil-Created"] == "2"
    assert response.headers["X-Diahil-Duplicates"] == "3"
    assert sorted(d["value"] for d in h.read_data(alice)) == [100, 101, 102, 103, 104]


def test_duplicates_are_found_across_data_sets(h: Helpers, alice: Account) -> None:
    h.upload(alice, h.open_data_set(alice), _chunk(h))
    response = h.upload(alice, h.open_data_set(alice), _chunk(h))
    assert response.headers["X-Diahil-Duplicates"] == "5"
    assert len(h.read_data(alice)) == 5


def test_duplicates_within_one_chunk_are_stored_once(h: Helpers, alice: Account) -> None:
    response = h.upload(alice, h.open_data_set(alice), [h.smbg(), h.smbg()])
    assert response.headers["X-Diahil-Created"] == "1"
    assert response.headers["X-Diahil-Duplicates"] == "1"


def test_same_instant_in_another_notation_is_a_duplicate(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    h.upload(alice, data_set_id, [h.smbg(time="2024-05-01T08:00:00Z")])
    response = h.upload(
        alice,
        data_set_id,
        [
            h.smbg(
                time="2024-05-01T10:00:00.0001+02:00", payload={"n": 1}, annotations=[{"code": "x"}]
            )
        ],
    )
    assert response.headers["X-Diahil-Duplicates"] == "1"


def test_different_readings_are_not_duplicates(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    h.upload(alice, data_set_id, [h.smbg()])
    response = h.upload(
        alice,
        data_set_id,
        [
            h.smbg(value=121),
            h.smbg(time="2024-05-01T08:00:00.001Z"),
            h.smbg(deviceId="OtherMeter-1"),
            h.smbg(subType="manual"),
            h.smbg(units="mmol/L", value=12),
        ],
    )
    assert response.headers["X-Diahil-Created"] == "5"
    assert response.headers["X-Diahil-Duplicates"] == "0"


def test_users_do_not_share_identities(h: Helpers, alice: Account, bob: Account) -> None:
    h.upload(alice, h.open_data_set(alice), [h.smbg()])
    response = h.upload(bob, h.open_data_set(bob), [h.smbg()])
    assert response.headers["X-Diahil-Created"] == "1"


def test_none_deduplicator_keeps_both(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice, deduplicator=NONE)
    h.upload(alice, data_set_id, [h.smbg()])

    response = h.upload(alice, data_set_id, [h.smbg()])

    assert response.headers["X-Diahil-Created"] == "1"
    assert response.headers["X-Diahil-Duplicates"] == "0"
    assert len(h.read_data(alice)) == 2


def test_hash_set_sees_datums_stored_by_a_none_set(h: Helpers, alice: Account) -> None:
    h.upload(alice, h.open_data_set(alice, deduplicator=NONE), [h.smbg()])
    response = h.upload(alice, h.open_data_set(alice), [h.smbg()])
    assert response.headers["X-Diahil-Duplicates"] == "1"


def test_concurrent_resends_store_each_datum_once(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = _chunk(h)

    async def send_all() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(
                    api.client.post(
                        f"/v1/datasets/{data_set_id}/data", json=chunk, headers=alice.headers
                    )
                    for _ in range(4)
                )
            )
        )

    responses = api.run(send_all())

    assert [r.status_code for r in responses] == [200] * 4
    assert sum(int(r.headers["X-Diahil-Created"]) for r in responses) == 5
    assert sum(int(r.headers["X-Diahil-Duplicates"]) for r in responses) == 15
    assert len(h.read_data(alice)) == 5


def test_identity_of_smbg_uses_only_its_identity_fields() -> None:
    datum = {
        "type": "smbg",
        "units": "mg/dL",
        "value": 120.0,
        "time": "2024-05-01T10:00:00.1234+02:00",
        "deviceId": "M-1",
        "deviceTime": "2024-05-01T10:00:00",
        "timezoneOffset": 120,
        "notes": ["x"],
    }
    assert identity_fields(datum) == {
        "type": "smbg",
        "deviceId": "M-1",
        "time": "2024-05-01T08:00:00.123Z",
        "units": "mg/dL",
        "value": 120,
        "subType": None,
    }
    assert identity_hash(datum) == identity_hash({**datum, "value": 120, "notes": ["y"]})


def test_identity_of_other_types_uses_all_but_bookkeeping_fields() -> None:
    datum = {
        "type": "deviceEvent",
        "subType": "prime",
        "primeTarget": "cannula",
        "volume": 0.3,
        "time": "2024-05-01T08:00:00Z",
        "deviceId": "P-1",
        **{name: "ignored" for name in BOOKKEEPING_FIELDS},
    }
    fields = identity_fields(datum)
    assert set(fields) == {"type", "subType", "primeTarget", "volume", "time", "deviceId"}
    assert fields["time"] == "2024-05-01T08:00:00.000Z"
    assert identity_hash(datum) != identity_hash({**datum, "volume": 0.4})
    assert identity_hash(datum) == identity_hash({**datum, "payload": {"other": True}})
