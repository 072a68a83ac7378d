"""CSV export: the same datums as GET /data, one row each, formulas defused."""

from __future__ import annotations

import csv
import io
import json

from mockcloud_helpers import Account, Api, Helpers


def test_csv_export_has_one_row_per_datum(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.store(
        alice,
        [
            h.smbg(value=101, time="2024-05-01T06:00:00Z"),
            h.cbg(value=140, time="2024-05-01T07:00:00Z", trend="constant"),
            h.bolus(normal=2.5, time="2024-05-01T08:00:00Z", deviceId="=1+2"),
        ],
    )

    response = api.get(f"/v1/users/{alice.userid}/data.csv", headers=alice.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["type"] for row in rows] == ["smbg", "cbg", "bolus", "upload"]
    assert rows[0]["value"] == "101"
    assert rows[1]["trend"] == "constant"
    assert rows[2]["normal"] == "2.5"
    assert rows[3]["id"] == data_set_id
    assert rows[2]["deviceId"] == "'=1+2"
    assert json.loads(rows[2]["document"])["deviceId"] == "=1+2"
    assert all(not cell.startswith("=") for row in rows for cell in row.values())


def test_csv_export_takes_the_data_filters(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, [h.smbg(value=101), h.cbg(value=140)])
    response = api.get(
        f"/v1/users/{alice.userid}/data.csv", params={"type": "cbg"}, headers=alice.headers
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["value"] for row in rows] == ["140"]
    bad = api.get(f"/v1/users/{alice.userid}/data.csv?type=nope", headers=alice.headers)
    assert bad.status_code == 400
