"""Identifiers: generating them, and the formats the Tidepool spec gives them.

User ids follow reference/common/models/tidepooluserid.yaml (new-style UUID v4); data set
ids, upload ids and datum ids are 32 lowercase hex digits
(reference/data/models/datasetid.v1.yaml, uploadid.v1.yaml; docs/device-data/common-fields.md).
"""

from __future__ import annotations

import re
import secrets
import uuid

USER_ID_PATTERN = re.compile(
    r"^([0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
DATA_SET_ID_PATTERN = re.compile(r"^(upid_[0-9a-f]{12}|upid_[0-9a-f]{32}|[0-9a-f]{32})$")
UPLOAD_ID_PATTERN = re.compile(r"^([0-9a-f]{32}|upid_[0-9a-f]{12})$")
OBJECT_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_object_id() -> str:
    """A fresh 32-hex-digit id, used for data sets (id and uploadId) and datums."""
    return secrets.token_hex(16)


def new_user_id() -> str:
    """A fresh Tidepool user id (UUID v4 form)."""
    return str(uuid.uuid4())


def is_user_id(text: str) -> bool:
    """Whether ``text`` has the form of a Tidepool user id."""
    return USER_ID_PATTERN.match(text) is not None


def is_data_set_id(text: str) -> bool:
    """Whether ``text`` has the form of a data set id."""
    return DATA_SET_ID_PATTERN.match(text) is not None


def is_upload_id(text: str) -> bool:
    """Whether ``text`` has the form of an upload id."""
    return UPLOAD_ID_PATTERN.match(text) is not None


def is_object_id(text: str) -> bool:
    """Whether ``text`` has the form of an id made by ``new_object_id``."""
    return OBJECT_ID_PATTERN.match(text) is not None
