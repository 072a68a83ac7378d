"""Device linking: a device serial belongs to the one account it first uploaded to.

The vendor clouds tie a pump or meter to one account, so that a household with several
users never mixes their data. Here a device is its first manufacturer (case-insensitive)
plus its serial number, both from the data set (``deviceManufacturers``,
``deviceSerialNumber``). The first data that reaches an account links the device to it;
opening a data set for, or uploading data of, that device into any other account is
refused with a 409 that says why, until the owner unlinks it (``DELETE
/v1/users/{userId}/devices/{linkId}``). Data sets without a serial number link nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mock_cloud.errors import ApiError
from mock_cloud.ids import new_object_id
from mock_cloud.tables import DataSetRow, DeviceLinkRow
from mock_cloud.timestamps import format_utc_ms, from_db, to_db


@dataclass(frozen=True)
class DeviceKey:
    """What identifies a physical device across uploads."""

    manufacturer: str
    serial_number: str

    @property
    def manufacturer_key(self) -> str:
        """The manufacturer as compared (trimmed, lower-case)."""
        return self.manufacturer.strip().lower()


def device_key(document: dict[str, Any]) -> DeviceKey | None:
    """The device a data set document describes, or None without a serial number."""
    serial = str(document.get("deviceSerialNumber") or "").strip()
    manufacturers = document.get("deviceManufacturers") or [""]
    if not serial:
        return None
    return DeviceKey(str(manufacturers[0]), serial)


def _find(session: Session, key: DeviceKey) -> DeviceLinkRow | None:
    return session.scalar(
        select(DeviceLinkRow).where(
            DeviceLinkRow.manufacturer_key == key.manufacturer_key,
            DeviceLinkRow.serial_number == key.serial_number,
        )
    )


def _own_link(session: Session, key: DeviceKey, owner: str) -> DeviceLinkRow | None:
    """``owner``'s link of the device, if any; 409 if it is linked to another account."""
    link = _find(session, key)
    if link is not None and link.userid != owner:
        raise ApiError(
            409,
            f"device {key.manufacturer} serial {key.serial_number} is linked to another "
            "account, so its data cannot be uploaded here (a device's data stays in one "
            "account, so that several people's data never mix); upload to the account it "
            "belongs to, or ask that account's owner to unlink it first",
        )
    return link


def refuse_if_linked_elsewhere(
    session: Session, document: dict[str, Any], owner: str
) -> DeviceLinkRow | None:
    """409 if the device of ``document`` is linked to an account other than ``owner``;
    otherwise ``owner``'s link of it, if any."""
    key = device_key(document)
    return _own_link(session, key, owner) if key is not None else None


def link(session: Session, data_set: DataSetRow, *, now: datetime) -> None:
    """Link the data set's device to its owner (409 if it belongs to someone else)."""
    key = device_key(data_set.document)
    if key is None or _own_link(session, key, data_set.userid) is not None:
        return
    session.add(
        DeviceLinkRow(
            id=new_object_id(),
            userid=data_set.userid,
            manufacturer=key.manufacturer,
            manufacturer_key=key.manufacturer_key,
            serial_number=key.serial_number,
            device_id=data_set.device_id,
            device_model=data_set.document.get("deviceModel"),
            linked_time=to_db(now),
        )
    )
    session.flush()


def list_links(session: Session, userid: str) -> list[DeviceLinkRow]:
    """The devices linked to ``userid``, oldest link first."""
    return list(
        session.scalars(
            select(DeviceLinkRow)
            .where(DeviceLinkRow.userid == userid)
            .order_by(DeviceLinkRow.linked_time, DeviceLinkRow.id)
        )
    )


def unlink(session: Session, userid: str, link_id: str) -> None:
    """Remove one of ``userid``'s links (404 if they have no such link)."""
    row = session.get(DeviceLinkRow, link_id)
    if row is None or row.userid != userid:
        raise ApiError(
            404,
            f"no device link {link_id} on this account; list them with GET "
            f"/v1/users/{userid}/devices",
        )
    session.delete(row)


def render(row: DeviceLinkRow) -> dict[str, Any]:
    """The device link object the API returns."""
    body: dict[str, Any] = {
        "id": row.id,
        "userId": row.userid,
        "manufacturer": row.manufacturer,
        "serialNumber": row.serial_number,
        "linkedTime": format_utc_ms(from_db(row.linked_time)),
    }
    if row.device_id is not None:
        body["deviceId"] = row.device_id
    if row.device_model is not None:
        body["deviceModel"] = row.device_model
    return body
