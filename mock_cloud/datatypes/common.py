"""Fields every datum shares, and the base model that datum types extend.

Implements reference/data/models/base.v1.yaml and docs/device-data/common-fields.md for the
fields a client sends: ``time``, ``deviceTime``, ``timezone``, ``timezoneOffset``,
``clockDriftOffset``, ``conversionOffset``, ``deviceId``, ``annotations``
(common/models/annotation*.yaml, with the ``bg/out-of-range`` rules of
docs/device-data/oor-values.md), ``origin`` (common/models/origin.v1.yaml), ``payload``,
``notes``, ``tags`` and the deprecated client ``guid``. Fields the server sets (``id``,
``uploadId``, ``createdTime``, ...) are refused with a message saying so; unknown fields
are refused so that client typos are caught.

Rules that tie fields together (``expectedNormal`` not below ``normal``, ...) are checked
after the fields themselves, by each model's ``relation_problems``, so that every problem
still points at one field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mock_cloud.datatypes.fields import (
    ClockDriftOffset,
    ConversionOffset,
    DateTime,
    DeviceId,
    DeviceTime,
    JsonObject,
    Opt,
    TimezoneName,
    TimezoneOffset,
    matching,
)
from mock_cloud.problems import custom_error

MAX_ANNOTATIONS = 100
MAX_OBJECT_BYTES = 4096
"""Size limit of one annotation and of a payload (annotation.v1.yaml, payload.v1.yaml)."""

ANNOTATION_CODE_PATTERN = r"[0-9a-z\-_]+(/[0-9a-z\-_]+(/[0-9a-z\-_]+)?)?"
BG_OUT_OF_RANGE = "bg/out-of-range"

SERVER_OWNED_FIELDS = frozenset(
    {
        "id",
        "uploadId",
        "createdTime",
        "createdUserId",
        "modifiedTime",
        "modifiedUserId",
        "deletedTime",
        "deletedUserId",
        "archivedTime",
        "archivedDatasetId",
        "deduplicator",
        "_active",
        "_groupId",
        "_schemaVersion",
        "_version",
    }
)
"""Fields of base.v1.yaml that the server sets; a client must not send them."""

NOT_YET_SUPPORTED_FIELDS = frozenset({"associations", "location", "history", "source"})
"""Fields of base.v1.yaml this mock cloud does not accept yet."""


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class Annotation(BaseModel):
    """One annotation: a ``code`` plus any further properties (annotation.v1.yaml)."""

    model_config = ConfigDict(extra="allow")

    code: Annotated[
        StrictStr,
        matching(
            ANNOTATION_CODE_PATTERN,
            "an annotation code of lower-case words joined by '/', e.g. bg/out-of-range",
        ),
    ]
    value: Any = Field(default=None, validate_default=True)
    threshold: Any = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _out_of_range_value(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("code") == BG_OUT_OF_RANGE and value not in ("low", "high"):
            if value is None:
                raise custom_error(
                    "value-not-exists", f"a {BG_OUT_OF_RANGE} annotation needs value low or high"
                )
            raise custom_error(
                "value-not-allowed", f"a {BG_OUT_OF_RANGE} annotation's value must be low or high"
            )
        return value

    @field_validator("threshold")
    @classmethod
    def _out_of_range_threshold(cls, threshold: Any, info: ValidationInfo) -> Any:
        if info.data.get("code") != BG_OUT_OF_RANGE or threshold is None:
            return threshold  # a missing threshold is checked against its siblings below
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise custom_error("type-not-number", "must be a number")
        return threshold

    @model_validator(mode="before")
    @classmethod
    def _size(cls, data: Any) -> Any:
        if isinstance(data, dict) and _json_size(data) > MAX_OBJECT_BYTES:
            raise custom_error(
                "length-out-of-range", f"an annotation must be at most {MAX_OBJECT_BYTES} bytes"
            )
        return data


class Origin(BaseModel):
    """Where the datum came from (origin.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    type: Literal["application", "device", "manual", "service"]
    time: Opt[DateTime] = None
    version: Opt[Annotated[StrictStr, Field(min_length=1, max_length=100)]] = None
    payload: Opt[JsonObject] = None


@dataclass(frozen=True)
class Relation:
    """A problem with how fields of a valid-looking datum fit together."""

    path: tuple[str | int, ...]
    code: str
    detail: str


Note = Annotated[StrictStr, Field(min_length=1, max_length=1000)]
Tag = Annotated[StrictStr, Field(min_length=1, max_length=100)]


class BaseDatum(BaseModel):
    """Common fields of device data; each data type subclasses this and adds its own.

    Subclasses set ``DATA_TYPE`` and declare ``type`` as ``Literal[DATA_TYPE]``.
    """

    model_config = ConfigDict(extra="forbid")

    DATA_TYPE: ClassVar[str]

    time: DateTime
    deviceId: DeviceId
    deviceTime: Opt[DeviceTime] = None
    timezone: Opt[TimezoneName] = None
    timezoneOffset: Opt[TimezoneOffset] = None
    clockDriftOffset: Opt[ClockDriftOffset] = None
    conversionOffset: Opt[ConversionOffset] = None
    annotations: Opt[Annotated[list[Annotation], Field(max_length=MAX_ANNOTATIONS)]] = None
    origin: Opt[Origin] = None
    payload: Opt[JsonObject] = None
    notes: Opt[Annotated[list[Note], Field(min_length=1, max_length=100)]] = None
    tags: Opt[list[Tag]] = None
    guid: Opt[StrictStr] = None

    @field_validator("annotations")
    @classmethod
    def _check_annotations(cls, annotations: list[Annotation] | None) -> list[Annotation] | None:
        if annotations is None:
            return None
        seen: dict[str, int] = {}
        for index, annotation in enumerate(annotations):
            key = json.dumps(annotation.model_dump(exclude_unset=True), sort_keys=True)
            if key in seen:
                raise custom_error(
                    "value-duplicate",
                    f"annotations {seen[key]} and {index} are identical; send each once",
                )
            seen[key] = index
        unknown_value = any(a.code.endswith("/unknown-value") for a in annotations)
        for index, annotation in enumerate(annotations):
            if (
                annotation.code == BG_OUT_OF_RANGE
                and annotation.threshold is None
                and not unknown_value
            ):
                raise custom_error(
                    "value-not-exists",
                    f"annotation {index} ({BG_OUT_OF_RANGE}) needs the meter's threshold in "
                    "mg/dL, or a sibling '<type>/unknown-value' annotation when the device does "
                    "not say it (docs/device-data/oor-values.md)",
                )
        return annotations

    @field_validator("payload")
    @classmethod
    def _payload_size(cls, payload: JsonObject | None) -> JsonObject | None:
        if payload is not None and _json_size(payload) > MAX_OBJECT_BYTES:
            raise custom_error(
                "length-out-of-range", f"payload must be at most {MAX_OBJECT_BYTES} bytes"
            )
        return payload

    def relation_problems(self) -> list[Relation]:
        """Problems between fields; none for a type without such rules."""
        return []

    @classmethod
    def allowed_fields(cls) -> list[str]:
        """The fields a client may send for this type, for messages."""
        return sorted(cls.model_fields)
