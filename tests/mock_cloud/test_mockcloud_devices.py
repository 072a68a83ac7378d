"""Device linking: a device's data stays in the account it first uploaded to."""

from __future__ import annotations

from typing import Any

import pytest
from mockcloud_helpers import Account, Api, Helpers

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def test_first_upload_links_the_device(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, [h.smbg()])
    links = api.get(f"/v1/users/{alice.userid}/devices", headers=alice.headers).json()["data"]
    assert [(d["manufacturer"], d["serialNumber"]) for d in links] == [("Ascensia", "7390012")]
    assert links[0]["deviceId"] == "AscensiaContour-7390012"
    assert links[0]["userId"] == alice.userid


def test_another_account_cannot_upload_a_linked_device(
    api: Api, h: Helpers, alice: Account, bob: Account
) -> None:
    h.store(alice, [h.smbg()])

    opened = api.post(
        f"/v1/users/{bob.userid}/data_sets", json=h.data_set_body(), headers=bob.headers
    )

    assert opened.status_code == 409
    message = opened.json()["message"]
    assert "Ascensia serial 7390012 is linked to another account" in message
    assert "alice" not in message  # who owns it is not disclosed
    assert api.get(f"/v1/users/{bob.userid}/data_sets", headers=bob.headers).json() == {"data": []}


def test_manufacturer_case_does_not_matter_but_the_serial_does(
    api: Api, h: Helpers, alice: Account, bob: Account
) -> None:
    h.store(alice, [h.smbg()])
    url = f"/v1/users/{bob.userid}/data_sets"
    same = h.data_set_body(deviceManufacturers=["ASCENSIA "])
    other_serial = h.data_set_body(deviceSerialNumber="7390013")
    assert api.post(url, json=same, headers=bob.headers).status_code == 409
    assert api.post(url, json=other_serial, headers=bob.headers).status_code == 200


def test_a_set_opened_before_the_link_cannot_take_data_after_it(
    h: Helpers, alice: Account, bob: Account
) -> None:
    bobs = h.open_data_set(bob)
    h.store(alice, [h.smbg()])

    refused = h.upload(bob, bobs, [h.smbg()])

    assert refused.status_code == 409
    assert "linked to another account" in refused.json()["message"]


def test_unlinking_frees_the_device(api: Api, h: Helpers, alice: Account, bob: Account) -> None:
    h.store(alice, [h.smbg()])
    link = api.get(f"/v1/users/{alice.userid}/devices", headers=alice.headers).json()["data"][0]

    assert (
        api.delete(f"/v1/users/{bob.userid}/devices/{link['id']}", headers=bob.headers).status_code
        == 404
    )
    gone = api.delete(f"/v1/users/{alice.userid}/devices/{link['id']}", headers=alice.headers)

    assert gone.status_code == 200
    h.store(bob, [h.smbg(value=99)])
    links = api.get(f"/v1/users/{bob.userid}/devices", headers=bob.headers).json()["data"]
    assert [d["serialNumber"] for d in links] == ["7390012"]
    assert [d["value"] for d in h.read_data(alice)] == [120]  # alice's data stays
    assert (
        api.post(
            f"/v1/users/{alice.userid}/data_sets", json=h.data_set_body(), headers=alice.headers
        ).status_code
        == 409
    )


def test_data_sets_without_serial_link_nothing(
    api: Api, h: Helpers, alice: Account, bob: Account
) -> None:
    h.store(alice, [h.smbg()], deviceSerialNumber="")
    h.store(bob, [h.smbg()], deviceSerialNumber="")
    assert api.get(f"/v1/users/{alice.userid}/devices", headers=alice.headers).json() == {
        "data": []
    }


def test_unknown_link_is_404(api: Api, alice: Account) -> None:
    response = api.delete(f"/v1/users/{alice.userid}/devices/{'0' * 32}", headers=alice.headers)
    assert response.status_code == 404
    assert "GET /v1/users/" in response.json()["message"]


def test_a_device_can_be_checked_before_it_is_read(
    api: Api, h: Helpers, alice: Account, bob: Account
) -> None:
    def check(account: Account, manufacturer: str = "Ascensia", serial: str = "7390012") -> Any:
        return api.get(
            f"/v1/users/{account.userid}/devices/check",
            params={"manufacturer": manufacturer, "serialNumber": serial},
            headers=account.headers,
        )

    assert check(alice).json() == {"linked": "none"}  # not linked yet: anyone may upload it
    h.store(alice, [h.smbg()])
    assert check(alice).json() == {"linked": "this-account"}
    assert check(alice, manufacturer="ascensia").json() == {"linked": "this-account"}
    refused = check(bob)
    assert refused.status_code == 409  # what an upload of it would get, before any read
    assert "linked to another account" in refused.json()["message"]
    assert check(bob, serial="7390013").json() == {"linked": "none"}
    assert check(alice, serial="").status_code == 400
    someone_elses = api.get(
        f"/v1/users/{alice.userid}/devices/check",
        params={"manufacturer": "Ascensia", "serialNumber": "7390012"},
        headers=bob.headers,
    )
    assert someone_elses.status_code == 403  # checking needs upload permission there
