"""Request bodies for data sets: creating one and updating (closing) one.

``NewDataSet`` follows reference/data/models/newdataset.v1.yaml, with ``deviceTags``
required (the spec's required list misspells it ``deviceTgs``) and the optional fields the
spec's own example sends (``deviceTime``, ``clockDriftOffset``, ``conversionOffset``; see
dataset.v1.yaml and docs/quick-start/uploading-device-data/normal.md). ``UpdateDataSet``
follows updatedataset.v1.yaml but every field is optional, so ``{"state": "closed"}`` (or
the platform's ``{"dataState": "closed"}``) closes a set.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from mock_cloud.datatypes.fields import (
    ClockDriftOffset,
    ConversionOffset,
    DateTime,
    DeviceId,
    DeviceTime,
    JsonObject,
    NonEmptyString,
    Opt,
    ReverseDomainName,
    SemanticVersion,
    TimezoneName,
    TimezoneOffset,
)

DataSetState = Literal["open", "closed"]
DeviceTag = Literal["bgm", "cgm", "insulin-pump", "fgm", "pen", "manual"]
Deduplicator = Literal[
    "org.tidepool.deduplicator.device.deactivate.hash", "org.tidepool.deduplicator.none"
]

SERVER_OWNED_DATA_SET_FIELDS = frozenset(
    {
        "id",
        "uploadId",
        "byUser",
        "createdTime",
        "createdUserId",
        "modifiedTime",
        "modifiedUserId",
        "deletedTime",
        "deletedUserId",
        "state",
        "dataState",
        "guid",
    }
)
"""Fields of a data set that the server sets."""


class ClientSoftware(BaseModel):
    """The uploading client (clientsoftware.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")

    name: ReverseDomainName
    version: SemanticVersion
    platform: Opt[StrictStr] = None
    private: Opt[JsonObject] = None


class DeduplicatorDescriptor(BaseModel):
    """Which deduplicator the data set uses (deduplicatordescriptor.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")

    name: Deduplicator
    version: Opt[SemanticVersion] = None
    hash: Opt[NonEmptyString] = None


class NewDataSet(BaseModel):
    """Body of POST /v1/users/{userId}/data_sets."""

    model_config = ConfigDict(extra="forbid")

    type: Opt[Literal["upload"]] = None
    client: Opt[ClientSoftware] = None
    dataSetType: Literal["normal", "continuous"]
    deduplicator: Opt[DeduplicatorDescriptor] = None
    deviceId: DeviceId
    deviceManufacturers: Annotated[list[NonEmptyString], Field(min_length=1)]
    deviceModel: NonEmptyString
    deviceSerialNumber: StrictStr
    deviceTags: Annotated[list[DeviceTag], Field(min_length=1)]
    time: DateTime
    timeProcessing: Literal["none", "across-the-board-timezone", "utc-bootstrapping"]
    timezone: TimezoneName
    timezoneOffset: TimezoneOffset
    deviceTime: Opt[DeviceTime] = None
    computerTime: Opt[DeviceTime] = None
    clockDriftOffset: Opt[ClockDriftOffset] = None
    conversionOffset: Opt[ConversionOffset] = None
    version: Opt[SemanticVersion] = None
    payload: Opt[JsonObject] = None


class UpdateDataSet(BaseModel):
    """Body of PUT /v1/data_sets/{dataSetId}."""

    model_config = ConfigDict(extra="forbid")

    state: Opt[DataSetState] = None
    dataState: Opt[DataSetState] = None
    deviceId: Opt[DeviceId] = None
    deviceModel: Opt[NonEmptyString] = None
    deviceSerialNumber: Opt[StrictStr] = None
    time: Opt[DateTime] = None
    timezone: Opt[TimezoneName] = None
    timezoneOffset: Opt[TimezoneOffset] = None
