"""Deduplication: one active copy per identity, the newest data set's copy wins, re-sends add
nothing, the none deduplicator keeps everything. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mockcloud_helpers import Account, Api, Helpers

NONE = {"name": "org.tidepool.deduplicator.none"}

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def _chunk(h: Helpers) -> list[dict[str, object]]:
    return [h.smbg(value=100 + i, time=f"2024-05-01T0{i}:00:00Z") for i in range(5)]


def test_resent_chunk_adds_nothing_and_reports_duplicates(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = _chunk(h)
    first = h.upload(alice, data_set_id, chunk)  # imagine this response was lost

    again = h.upload(alice, data_set_id, chunk)
    h.close(alice, data_set_id)

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
    h.close(alice, data_set_id)

    assert response.headers["X-Diahil-Created"] == "2"
    assert response.headers["X-Diahil-Duplicates"] == "3"
    assert sorted(d["value"] for d in h.read_data(alice)) == [100, 101, 102, 103, 104]


def test_newer_data_set_copy_replaces_the_older(h: Helpers, alice: Account) -> None:
    older = h.store(alice, _chunk(h))
    newer = h.open_data_set(alice)
    response = h.upload(alice, newer, _chunk(h))

    assert response.headers["X-Diahil-Duplicates"] == "5"
    assert response.headers["X-Diahil-Created"] == "0"
    # Until the newer set is closed, the older copies stay the visible ones.
    assert {d["uploadId"] for d in h.read_data(alice)} == {older}

    h.close(alice, newer)

    held = h.read_data(alice)
    assert len(held) == 5
    assert {d["uploadId"] for d in held} == {newer}


def test_a_reported_again_bolus_with_new_figures_replaces_the_old(
    h: Helpers, alice: Account
) -> None:
    running = h.bolus(normal=2.0, expectedNormal=5.0)
    finished = h.bolus(normal=5.0)
    h.store(alice, [running], deviceTags=["insulin-pump"])

    h.store(alice, [finished], deviceTags=["insulin-pump"])

    boluses = h.read_data(alice, type="bolus")
    assert [(b["normal"], b.get("expectedNormal")) for b in boluses] == [(5.0, None)]


def test_resend_with_changed_figures_in_the_same_set_keeps_the_newest(
    h: Helpers, alice: Account
) -> None:
    data_set_id = h.open_data_set(alice)
    h.upload(alice, data_set_id, [h.bolus(normal=2.0, expectedNormal=5.0)])
    again = h.upload(alice, data_set_id, [h.bolus(normal=5.0)])
    h.close(alice, data_set_id)

    assert again.headers["X-Diahil-Duplicates"] == "1"
    assert [b["normal"] for b in h.read_data(alice, type="bolus")] == [5.0]


def test_deleting_the_newer_set_brings_the_older_copies_back(
    api: Api, h: Helpers, alice: Account
) -> None:
    older = h.store(alice, _chunk(h))
    newer = h.store(alice, _chunk(h)[:2])
    assert sorted(d["uploadId"] == newer for d in h.read_data(alice)) == [False] * 3 + [True] * 2

    api.delete(f"/v1/datasets/{newer}", headers=alice.headers)

    held = h.read_data(alice)
    assert len(held) == 5
    assert {d["uploadId"] for d in held} == {older}


def test_duplicates_within_one_chunk_are_stored_once(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = h.upload(alice, data_set_id, [h.smbg(), h.smbg()])
    h.close(alice, data_set_id)
    assert response.headers["X-Diahil-Created"] == "1"
    assert response.headers["X-Diahil-Duplicates"] == "1"
    assert len(h.read_data(alice)) == 1


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
    h.store(alice, [h.smbg()])
    response = h.upload(bob, h.open_data_set(bob, deviceSerialNumber="BOB-1"), [h.smbg()])
    assert response.headers["X-Diahil-Created"] == "1"


def test_none_deduplicator_keeps_both(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice, deduplicator=NONE)
    h.upload(alice, data_set_id, [h.smbg()])

    response = h.upload(alice, data_set_id, [h.smbg()])
    h.close(alice, data_set_id)

    assert response.headers["X-Diahil-Created"] == "1"
    assert response.headers["X-Diahil-Duplicates"] == "0"
    assert len(h.read_data(alice)) == 2


def test_hash_set_supersedes_datums_stored_by_a_none_set(h: Helpers, alice: Account) -> None:
    h.store(alice, [h.smbg(), h.smbg()], deduplicator=NONE)
    newer = h.open_data_set(alice)
    response = h.upload(alice, newer, [h.smbg()])
    h.close(alice, newer)
    assert response.headers["X-Diahil-Duplicates"] == "1"
    assert [d["uploadId"] for d in h.read_data(alice)] == [newer]


def test_continuous_set_data_is_visible_before_closing(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice, dataSetType="continuous")
    h.upload(alice, data_set_id, _chunk(h))
    assert len(h.read_data(alice)) == 5


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
    h.close(alice, data_set_id)

    assert [r.status_code for r in responses] == [200] * 4
    assert sum(int(r.headers["X-Diahil-Created"]) for r in responses) == 5
    assert sum(int(r.headers["X-Diahil-Duplicates"]) for r in responses) == 15
    assert len(h.read_data(alice)) == 5


def test_concurrent_data_sets_leave_one_active_copy(api: Api, h: Helpers, alice: Account) -> None:
    sets = [h.open_data_set(alice, dataSetType="continuous") for _ in range(4)]
    chunk = _chunk(h)

    async def send_all() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(
                    api.client.post(f"/v1/datasets/{s}/data", json=chunk, headers=alice.headers)
                    for s in sets
                )
            )
        )

    assert [r.status_code for r in api.run(send_all())] == [200] * 4
    held = h.read_data(alice)
    assert sorted(d["value"] for d in held) == [100, 101, 102, 103, 104]
