"""Deduplication: the identity of a datum, and which deduplicators a data set may choose.

A datum's identity hash is the SHA-256 of canonical JSON (sorted keys, no spaces, integral
numbers written as integers) of its identity fields: for every type ``type``, ``deviceId``
and ``time`` normalised to UTC with millisecond precision; then per type the fields in
``IDENTITY_FIELDS``, or, for types not listed there, every field except the bookkeeping
ones. The table follows the platform's identity fields (blood values: units and value;
bolus and device events: the sub-type; basal: the delivery type) so that a record a device
reported again with new figures (a bolus that was still running at the last upload, a temp
basal that since ended) is the same datum, and adds what keeps simultaneous events apart
(an smbg's sub-type; a device event's alarm type, prime target and status).

How identities are used (``data_store``): with ``DEDUP_HASH`` a user holds at most one
active copy of each identity. A re-send into the same data set (say after a lost response)
adds nothing, and when a newer data set holds the same identity its copy becomes the active
one, as the platform's ``device.deactivate.hash`` does. ``DEDUP_NONE`` stores everything.
(Deduplicator names: docs/quick-start/uploading-device-data and
reference/data/models/deduplicatordescriptor.v1.yaml.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mock_cloud.timestamps import format_utc_ms, parse_rfc3339

DEDUP_HASH = "org.tidepool.deduplicator.device.deactivate.hash"
DEDUP_NONE = "org.tidepool.deduplicator.none"
SUPPORTED_DEDUPLICATORS = (DEDUP_HASH, DEDUP_NONE)
DEFAULT_DEDUPLICATOR = DEDUP_HASH
DEFAULT_DEDUPLICATOR_VERSION = "1.0.0"

COMMON_IDENTITY_FIELDS = ("type", "deviceId", "time")
"""Identity fields of every type."""

IDENTITY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "smbg": ("units", "value", "subType"),
    "cbg": ("units", "value"),
    "bolus": ("subType",),
    "basal": ("deliveryType",),
    "deviceEvent": ("subType", "alarmType", "primeTarget", "status"),
    "pumpSettings": (),
    "wizard": (),
}
"""Type-specific identity fields; a type not listed here uses all non-bookkeeping fields."""

BOOKKEEPING_FIELDS = frozenset(
    {"id", "uploadId", "guid", "createdTime", "modifiedTime", "annotations", "payload", "origin"}
)
"""Fields that never take part in identity."""


def _canonical_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(item) for item in value]
    return value


def identity_fields(datum: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify ``datum`` (a validated datum), normalised."""
    kind = datum["type"]
    specific = IDENTITY_FIELDS.get(kind)
    if specific is None:
        fields = {k: v for k, v in datum.items() if k not in BOOKKEEPING_FIELDS}
    else:
        fields = {name: datum.get(name) for name in (*COMMON_IDENTITY_FIELDS, *specific)}
    fields["time"] = format_utc_ms(parse_rfc3339(datum["time"]))
    fields.setdefault("deviceId", None)
    return {k: _canonical_numbers(v) for k, v in fields.items()}


def identity_hash(datum: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``identity_fields(datum)``."""
    canonical = json.dumps(
        identity_fields(datum), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
