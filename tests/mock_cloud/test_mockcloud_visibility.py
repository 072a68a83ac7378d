"""Open data sets: their data is hidden until closed (the platform's behaviour), unless the
cloud is told to show it; continuous data sets are visible at once."""

from __future__ import annotations

import pytest
from mockcloud_helpers import Account, Api, Helpers

from mock_cloud import CloudSettings


def test_open_normal_set_is_hidden_until_closed(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    assert h.upload(alice, data_set_id, [h.smbg(), h.cbg()]).status_code == 200

    assert h.read_data(alice) == []
    assert api.get(f"/v1/summaries/bgm/{alice.userid}", headers=alice.headers).status_code == 404
    csv = api.get(f"/v1/users/{alice.userid}/data.csv", headers=alice.headers).text
    assert "smbg" not in csv
    # The upload record itself is listed, open.
    assert [d["state"] for d in h.read(alice)] == ["open"]

    h.close(alice, data_set_id)

    assert sorted(d["type"] for d in h.read_data(alice)) == ["cbg", "smbg"]
    assert api.get(f"/v1/summaries/bgm/{alice.userid}", headers=alice.headers).status_code == 200


def test_closing_twice_changes_nothing(h: Helpers, alice: Account) -> None:
    data_set_id = h.store(alice, [h.smbg()])
    h.close(alice, data_set_id)
    assert len(h.read_data(alice)) == 1


@pytest.mark.parametrize("settings", [CloudSettings(db_url="sqlite://", hide_open_data=False)])
def test_open_data_can_be_shown(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    h.upload(alice, data_set_id, [h.smbg()])
    assert len(h.read_data(alice)) == 1
    again = h.open_data_set(alice)
    h.upload(alice, again, [h.smbg()])
    assert [d["uploadId"] for d in h.read_data(alice)] == [again]


def test_continuous_sets_are_visible_while_open(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice, dataSetType="continuous")
    h.upload(alice, data_set_id, [h.cbg()])
    assert [d["type"] for d in h.read_data(alice)] == ["cbg"]
