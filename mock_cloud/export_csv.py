"""CSV export of a user's data, for QA and support to open in a spreadsheet.

One row per datum or upload record, in the order GET /data returns them (time ascending),
with the fields people filter on as columns (``COLUMNS``: time, type, sub-type, device,
values, insulin amounts, ...) and the whole JSON document in the last column, so nothing is
lost. Nested values are written as JSON. Text that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-`` or ``@``) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

COLUMNS = (
    "time",
    "type",
    "subType",
    "deliveryType",
    "deviceTime",
    "timezoneOffset",
    "deviceId",
    "uploadId",
    "id",
    "units",
    "value",
    "trend",
    "normal",
    "expectedNormal",
    "extended",
    "expectedExtended",
    "duration",
    "expectedDuration",
    "rate",
    "percent",
    "scheduleName",
    "alarmType",
    "primeTarget",
    "volume",
    "status",
    "carbInput",
)
DOCUMENT_COLUMN = "document"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(documents: Iterable[dict[str, Any]]) -> str:
    """The documents as CSV text with a header row (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*COLUMNS, DOCUMENT_COLUMN])
    for document in documents:
        writer.writerow(
            [_cell(document.get(name)) for name in COLUMNS]
            + [json.dumps(document, separators=(",", ":"), sort_keys=True)]
        )
    return out.getvalue()
