"""The ``upload`` record: metadata that opens a data set (newdataset.v1.yaml, upload.v1.yaml,
docs/device-data/data-types/upload.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from uploader.datamodel.base import DeviceTime, TidepoolModel, UtcTime

DEDUPLICATOR_DEVICE_HASH = "org.tidepool.deduplicator.device.deactivate.hash"


class ClientInfo(TidepoolModel):
    name: str
    version: str


class DeduplicatorInfo(TidepoolModel):
    name: str = DEDUPLICATOR_DEVICE_HASH
    version: str = "1.0.0"


class UploadRecord(TidepoolModel):
    type: Literal["upload"] = "upload"
    client: ClientInfo
    data_set_type: Literal["normal", "continuous"] = "normal"
    deduplicator: DeduplicatorInfo = Field(default_factory=DeduplicatorInfo)
    device_id: Annotated[str, Field(min_length=1)]
    device_manufacturers: list[str]
    device_model: Annotated[str, Field(min_length=1)]
    device_serial_number: str
    device_tags: list[Literal["bgm", "cgm", "insulin-pump"]]
    device_time: DeviceTime | None = None
    computer_time: DeviceTime
    time: UtcTime
    time_processing: Literal["none", "across-the-board-timezone", "utc-bootstrapping"]
    timezone: str
    timezone_offset: int
    conversion_offset: int = 0
    clock_drift_offset: int = 0
    version: str
