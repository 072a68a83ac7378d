"""The Tidepool data model, client side: pydantic models of the datums the uploader sends.

Written from ../shared/specs/tidepool-api/reference/data/models (base.v1.yaml, blood/,
upload.v1.yaml, newdataset.v1.yaml) and docs/device-data/. Models validate on construction,
so a normalization bug fails in the uploader, with the field named, before it reaches a
cloud. ``to_json()`` gives the wire form (camelCase, no nulls, Tidepool time formats).
"""

from uploader.datamodel.base import Annotation, DeviceDatum, Origin, format_device_time, format_utc
from uploader.datamodel.cbg import Cbg
from uploader.datamodel.smbg import Smbg
from uploader.datamodel.upload import ClientInfo, DeduplicatorInfo, UploadRecord

__all__ = [
    "Annotation",
    "Cbg",
    "ClientInfo",
    "DeduplicatorInfo",
    "DeviceDatum",
    "Origin",
    "Smbg",
    "UploadRecord",
    "format_device_time",
    "format_utc",
]
