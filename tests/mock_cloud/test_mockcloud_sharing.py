"""Sharing: invitations, view and upload permissions, revocation, and every endpoint's
authorization tried by strangers, viewers, uploaders and revoked users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mockcloud_helpers import Account, Api, Helpers

Share = Callable[[Account, Account, dict[str, Any]], None]


@pytest.fixture
def share(api: Api) -> Share:
    """``share(owner, grantee, permissions)`` through an invitation the grantee accepts."""

    def run(owner: Account, grantee: Account, permissions: dict[str, Any]) -> None:
        sent = api.post(
            f"/v1/users/{owner.userid}/invitations",
            json={"email": grantee.email, "permissions": permissions},
            headers=owner.headers,
        )
        assert sent.status_code == 201, sent.text
        accepted = api.post(f"/v1/invitations/{sent.json()['id']}/accept", headers=grantee.headers)
        assert accepted.status_code == 200, accepted.text

    return run


def test_invitation_flow(api: Api, h: Helpers, alice: Account, bob: Account) -> None:
    h.store(alice, [h.smbg()])
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403

    sent = api.post(
        f"/v1/users/{alice.userid}/invitations",
        json={"email": "BOB@example.com", "permissions": {"view": {}}},
        headers=alice.headers,
    )
    assert sent.status_code == 201
    invitation = sent.json()
    assert invitation["email"] == "bob@example.com"
    assert invitation["status"] == "pending"
    assert invitation["creatorId"] == alice.userid
    assert invitation["permissions"] == {"view": {}}
    # Still nothing until accepted.
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403

    received = api.get("/v1/invitations", headers=bob.headers).json()
    assert [i["id"] for i in received] == [invitation["id"]]
    assert received[0]["creatorEmail"] == "alice@example.com"
    accepted = api.post(f"/v1/invitations/{invitation['id']}/accept", headers=bob.headers)

    assert accepted.json() == {"view": {}}
    data = api.get(f"/data/{alice.userid}", headers=bob.headers)
    assert data.status_code == 200
    assert [d["value"] for d in data.json() if d["type"] == "smbg"] == [120]
    assert api.get("/v1/invitations", headers=bob.headers).json() == []
    sent_list = api.get(f"/v1/users/{alice.userid}/invitations", headers=alice.headers).json()
    assert [i["status"] for i in sent_list] == ["accepted"]
    groups = api.get(f"/access/groups/{bob.userid}", headers=bob.headers).json()
    assert groups == {bob.userid: {"root": {}}, alice.userid: {"view": {}}}
    members = api.get(f"/access/{alice.userid}", headers=alice.headers).json()
    assert members == {alice.userid: {"root": {}}, bob.userid: {"view": {}}}


def test_only_the_invitee_may_accept(
    api: Api, alice: Account, bob: Account, make_account: Callable[[str], Account]
) -> None:
    mallory = make_account("mallory@example.com")
    sent = api.post(
        f"/v1/users/{alice.userid}/invitations",
        json={"email": bob.email, "permissions": {"view": {}}},
        headers=alice.headers,
    ).json()
    stolen = api.post(f"/v1/invitations/{sent['id']}/accept", headers=mallory.headers)
    assert stolen.status_code == 404
    assert api.get(f"/data/{alice.userid}", headers=mallory.headers).status_code == 403
    assert api.get("/v1/invitations", headers=mallory.headers).json() == []


def test_declined_and_canceled_invitations_grant_nothing(
    api: Api, alice: Account, bob: Account
) -> None:
    url = f"/v1/users/{alice.userid}/invitations"
    first = api.post(
        url, json={"email": bob.email, "permissions": {"view": {}}}, headers=alice.headers
    )
    assert (
        api.post(f"/v1/invitations/{first.json()['id']}/decline", headers=bob.headers).json() == {}
    )
    again = api.post(f"/v1/invitations/{first.json()['id']}/accept", headers=bob.headers)
    assert again.status_code == 409
    second = api.post(
        url, json={"email": bob.email, "permissions": {"view": {}}}, headers=alice.headers
    )
    cancel = api.delete(f"{url}/{second.json()['id']}", headers=alice.headers)
    assert cancel.status_code == 200
    late = api.post(f"/v1/invitations/{second.json()['id']}/accept", headers=bob.headers)
    assert late.status_code == 409
    assert "canceled" in late.json()["message"]
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"email": "alice@example.com", "permissions": {"view": {}}}, 400, "yourself"),
        ({"email": "bob@example.com", "permissions": {}}, 400, "grants nothing"),
        ({"email": "bob@example.com", "permissions": {"root": {}}}, 400, "cannot be granted"),
        ({"email": "bob@example.com", "permissions": {"view": {"x": 1}}}, 400, "unknown field"),
        ({"email": "not-an-email", "permissions": {"view": {}}}, 400, "not a valid email"),
        ({"email": "bob@example.com"}, 400, "permissions"),
    ],
)
def test_bad_invitations_are_refused(
    api: Api, alice: Account, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = api.post(f"/v1/users/{alice.userid}/invitations", json=body, headers=alice.headers)
    assert response.status_code == status
    assert fragment in response.json()["message"]


def test_duplicate_invitations_and_shares_are_409(
    api: Api, alice: Account, bob: Account, share: Share
) -> None:
    url = f"/v1/users/{alice.userid}/invitations"
    body = {"email": bob.email, "permissions": {"view": {}}}
    first = api.post(url, json=body, headers=alice.headers)
    assert api.post(url, json=body, headers=alice.headers).status_code == 409
    api.post(f"/v1/invitations/{first.json()['id']}/accept", headers=bob.headers)
    already = api.post(url, json=body, headers=alice.headers)
    assert already.status_code == 409
    assert "already shared" in already.json()["message"]


def test_revocation_takes_effect_on_the_next_request(
    api: Api, h: Helpers, alice: Account, bob: Account, share: Share
) -> None:
    h.store(alice, [h.smbg()])
    share(alice, bob, {"view": {}, "upload": {}})
    data_set_id = h.open_data_set(bob_for(alice, bob))
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 200

    revoked = api.post(f"/access/{alice.userid}/{bob.userid}", json={}, headers=alice.headers)

    assert revoked.status_code == 200
    assert revoked.json() == {}
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403
    refused = h.upload(bob, data_set_id, [h.smbg(value=99)])
    assert refused.status_code == 403
    assert api.get(f"/access/{alice.userid}/{bob.userid}", headers=alice.headers).status_code == 404


def bob_for(owner: Account, uploader: Account) -> Account:
    """``uploader``'s session acting on ``owner``'s account id (for ``open_data_set``)."""
    return Account(owner.userid, uploader.email, uploader.password, uploader.token)


def test_permissions_can_be_narrowed_and_given_up(
    api: Api, alice: Account, bob: Account, share: Share
) -> None:
    share(alice, bob, {"view": {}, "upload": {}})
    url = f"/access/{alice.userid}/{bob.userid}"
    narrowed = api.post(url, json={"view": {}}, headers=alice.headers)
    assert narrowed.json() == {"view": {}}
    assert api.get(url, headers=bob.headers).json() == {"view": {}}
    # The grantee cannot widen their own access, only give it up.
    assert api.post(url, json={"view": {}, "upload": {}}, headers=bob.headers).status_code == 403
    assert api.post(url, json={}, headers=bob.headers).status_code == 200
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403


def test_uploader_uploads_into_the_owners_account(
    api: Api, h: Helpers, alice: Account, bob: Account, share: Share
) -> None:
    share(alice, bob, {"upload": {}})
    data_set_id = h.open_data_set(bob_for(alice, bob))
    assert h.upload(bob, data_set_id, [h.smbg(value=140)]).status_code == 200
    h.close(bob, data_set_id)

    assert [d["value"] for d in h.read_data(alice)] == [140]
    created = api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers).json()
    assert created["byUser"] == bob.userid
    # Upload without view: the uploader cannot read back.
    assert api.get(f"/data/{alice.userid}", headers=bob.headers).status_code == 403


def test_clinician_sees_who_shared(
    api: Api, alice: Account, bob: Account, make_account: Callable[[str], Account], share: Share
) -> None:
    clinician = make_account("dr@clinic.example")
    share(alice, clinician, {"view": {}})
    share(bob, clinician, {"upload": {}})
    groups = api.get(f"/access/groups/{clinician.userid}", headers=clinician.headers).json()
    assert groups == {
        clinician.userid: {"root": {}},
        alice.userid: {"view": {}},
        bob.userid: {"upload": {}},
    }
    assert api.get(f"/access/groups/{alice.userid}", headers=clinician.headers).status_code == 403
    assert api.get(f"/access/{alice.userid}", headers=clinician.headers).status_code == 403


# Every endpoint that touches an account's data, with what it needs.
ENDPOINTS: list[tuple[str, str, str, str | None]] = [
    ("view", "GET", "/data/{owner}", None),
    ("view", "GET", "/v1/users/{owner}/data.csv", None),
    ("view", "GET", "/v1/users/{owner}/data_sets", None),
    ("view", "GET", "/v1/users/{owner}/datasets", None),
    ("view", "GET", "/v1/data_sets/{set}", None),
    ("view", "GET", "/v1/summaries/bgm/{owner}", None),
    ("view", "GET", "/v1/summaries/cgm/{owner}", None),
    ("view", "GET", "/v1/summaries/insulin/{owner}", None),
    ("view", "GET", "/v1/users/{owner}/devices", None),
    ("upload", "POST", "/v1/users/{owner}/data_sets", "data_set"),
    ("upload", "POST", "/v1/users/{owner}/datasets", "data_set"),
    ("upload", "PUT", "/v1/data_sets/{set}", "close"),
    ("upload", "PUT", "/v1/datasets/{set}", "close"),
    ("upload", "POST", "/v1/data_sets/{set}/data", "datums"),
    ("upload", "POST", "/v1/datasets/{set}/data", "datums"),
    ("owner", "DELETE", "/v1/data_sets/{set}", None),
    ("owner", "DELETE", "/v1/datasets/{set}", None),
    ("owner", "DELETE", "/v1/users/{owner}/devices/{link}", None),
    ("owner", "POST", "/v1/users/{owner}/invitations", "invitation"),
    ("owner", "GET", "/v1/users/{owner}/invitations", None),
    ("owner", "GET", "/access/{owner}", None),
]
ROLES: dict[str, dict[str, Any] | None] = {
    "stranger": None,
    "viewer": {"view": {}},
    "uploader": {"upload": {}},
    "carer": {"view": {}, "upload": {}},
    "revoked": {"view": {}, "upload": {}},
}


def _body(kind: str | None, h: Helpers) -> dict[str, Any]:
    if kind == "data_set":
        return {"json": h.data_set_body()}
    if kind == "close":
        return {"json": {"state": "closed"}}
    if kind == "datums":
        return {"json": [h.smbg(value=77, time="2024-05-01T09:00:00Z")]}
    if kind == "invitation":
        return {"json": {"email": "friend@example.com", "permissions": {"view": {}}}}
    return {}


def _state(api: Api, owner: Account) -> tuple[Any, ...]:
    data = api.get(f"/data/{owner.userid}", headers=owner.headers).json()
    sets = api.get(f"/v1/users/{owner.userid}/data_sets", headers=owner.headers).json()["data"]
    links = api.get(f"/v1/users/{owner.userid}/devices", headers=owner.headers).json()["data"]
    invitations = api.get(f"/v1/users/{owner.userid}/invitations", headers=owner.headers).json()
    return (
        sorted(d["id"] for d in data),
        sorted((s["id"], s["state"]) for s in sets),
        [link["id"] for link in links],
        len(invitations),
    )


@pytest.mark.parametrize("role", list(ROLES))
def test_every_endpoint_authorizes(
    api: Api,
    h: Helpers,
    make_account: Callable[[str], Account],
    share: Share,
    role: str,
) -> None:
    """Each endpoint answers 403 and changes nothing unless the role holds what it needs."""
    owner = make_account("owner@example.com")
    other = make_account("other@example.com")
    h.store(owner, [h.smbg()])
    link = api.get(f"/v1/users/{owner.userid}/devices", headers=owner.headers).json()["data"][0]
    permissions = ROLES[role]
    if permissions is not None:
        share(owner, other, permissions)
    if role == "revoked":
        api.post(f"/access/{owner.userid}/{other.userid}", json={}, headers=owner.headers)
    wrong: list[str] = []
    for need, method, path, body in ENDPOINTS:
        open_set = h.open_data_set(owner)
        url = path.format(owner=owner.userid, set=open_set, link=link["id"])
        before = _state(api, owner)

        response = api.request(method, url, headers=other.headers, **_body(body, h))

        allowed = permissions is not None and role != "revoked" and need in permissions
        what = f"{role} {method} {path}: {response.status_code} {response.text[:120]}"
        if allowed and response.status_code not in (200, 201, 404):
            wrong.append(f"{what} (should be allowed)")
        if not allowed and (response.status_code != 403 or response.json()["code"] != 403):
            wrong.append(f"{what} (should be 403)")
        if not allowed and _state(api, owner) != before:
            wrong.append(f"{what} changed the owner's data")
    assert not wrong, "\n".join(wrong)


def test_unauthenticated_requests_to_new_endpoints_are_401(
    api: Api, h: Helpers, alice: Account
) -> None:
    for method, path in [
        ("GET", f"/v1/users/{alice.userid}/data.csv"),
        ("GET", f"/v1/summaries/cgm/{alice.userid}"),
        ("GET", f"/v1/users/{alice.userid}/devices"),
        ("GET", "/v1/invitations"),
        ("GET", f"/access/groups/{alice.userid}"),
        ("POST", f"/access/{alice.userid}/{alice.userid}"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 401, (method, path)
        assert isinstance(response, httpx.Response)
