"""Every protected endpoint needs a session, and a user may only touch their own things."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mockcloud_helpers import Account, Api, Helpers

# (method, path with {user} / {set} placeholders, JSON body or None)
PROTECTED: list[tuple[str, str, object]] = [
    ("GET", "/auth/user", None),
    ("POST", "/v1/users/{user}/data_sets", "data_set"),
    ("POST", "/v1/users/{user}/datasets", "data_set"),
    ("GET", "/v1/users/{user}/data_sets", None),
    ("GET", "/v1/users/{user}/datasets", None),
    ("GET", "/v1/data_sets/{set}", None),
    ("PUT", "/v1/data_sets/{set}", {"state": "closed"}),
    ("PUT", "/v1/datasets/{set}", {"dataState": "closed"}),
    ("DELETE", "/v1/data_sets/{set}", None),
    ("DELETE", "/v1/datasets/{set}", None),
    ("POST", "/v1/data_sets/{set}/data", "datums"),
    ("POST", "/v1/datasets/{set}/data", "datums"),
    ("GET", "/data/{user}", None),
]

CROSS_USER = [entry for entry in PROTECTED if "{" in entry[1]]


def _body(kind: object, h: Helpers) -> object:
    if kind == "data_set":
        return h.data_set_body()
    if kind == "datums":
        return [h.smbg()]
    return kind


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_protected_endpoints_need_a_token(
    api: Api, h: Helpers, alice: Account, method: str, path: str, body: object
) -> None:
    data_set_id = h.open_data_set(alice)
    url = path.format(user=alice.userid, set=data_set_id)
    kwargs = {} if body is None else {"json": _body(body, h)}

    response = api.request(method, url, **kwargs)

    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert "log in" in response.json()["message"]


@pytest.mark.parametrize(("method", "path", "body"), CROSS_USER)
def test_other_users_things_are_forbidden(
    api: Api,
    h: Helpers,
    make_account: Callable[[str], Account],
    method: str,
    path: str,
    body: object,
) -> None:
    alice = make_account("alice@example.com")
    mallory = make_account("mallory@example.com")
    data_set_id = h.open_data_set(alice)
    h.upload(alice, data_set_id, [h.smbg()])
    url = path.format(user=alice.userid, set=data_set_id)
    kwargs = {} if body is None else {"json": _body(body, h)}

    response = api.request(method, url, headers=mallory.headers, **kwargs)

    assert response.status_code == 403
    assert response.json()["code"] == 403
    # Alice's data set and data are untouched.
    after = api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers)
    assert after.json()["state"] == "open"
    h.close(alice, data_set_id)
    assert len(h.read_data(alice)) == 1


def test_malformed_user_id_is_400(api: Api, alice: Account) -> None:
    response = api.get("/data/not-a-user-id", headers=alice.headers)
    assert response.status_code == 400
    assert "not a user id" in response.json()["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_data_set_id_is_400_and_unknown_is_404(
    api: Api, alice: Account, method: str
) -> None:
    kwargs = {"json": {"state": "closed"}} if method == "PUT" else {}
    malformed = api.request(method, "/v1/data_sets/xyz", headers=alice.headers, **kwargs)
    unknown = api.request(method, "/v1/data_sets/" + "0" * 32, headers=alice.headers, **kwargs)
    assert malformed.status_code == 400
    assert "not a data set id" in malformed.json()["message"]
    assert unknown.status_code == 404
    assert "does not exist" in unknown.json()["message"]
