"""What the OpenAPI document says about requests and responses (documentation only).

Routes read and check their bodies themselves (``jsonbody``, ``bodies``) so that every
problem gets the mock cloud's pointed 400; these models and helpers only describe the
shapes in the generated document, for clients and for schemathesis. Response models allow
extra fields (a stored datum or data set carries whatever the client sent); error
responses are ``Error`` for every status a route can answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemSource(BaseModel):
    """Where a problem is."""

    pointer: str


class Problem(BaseModel):
    """One field-level problem in a request body."""

    code: str
    title: str
    detail: str
    source: ProblemSource


class Error(BaseModel):
    """Every error response (error.v1.yaml, plus problems shaped after error.v2.yaml)."""

    code: int
    message: str
    errors: list[Problem] | None = None


class Empty(BaseModel):
    """An empty JSON object."""

    model_config = ConfigDict(extra="forbid")


class User(_Open):
    """user.v1.yaml."""

    userid: str
    username: str
    emails: list[str]
    emailVerified: bool
    createdTime: str
    roles: list[str] | None = None


class DataSet(_Open):
    """A data set (dataset.v1.yaml): what the client sent plus the server's fields."""

    id: str
    uploadId: str
    type: str
    state: str
    dataState: str
    byUser: str
    createdTime: str


class DataSetList(BaseModel):
    """GET /v1/users/{userId}/data_sets."""

    data: list[DataSet]


class Datum(_Open):
    """A stored datum or upload record."""

    type: str
    id: str | None = None


class DatumList(RootModel[list[Datum]]):
    """GET /data/{userId}."""


class Permissions(RootModel[dict[str, dict[str, Any]]]):
    """userpermissions.v1.yaml: permission name to an empty object."""


class GroupPermissions(RootModel[dict[str, dict[str, dict[str, Any]]]]):
    """grouppermissions.v1.yaml: userid to that user's permissions."""


class Invitation(_Open):
    """A sharing invitation."""

    id: str
    type: str
    email: str
    creatorId: str
    permissions: dict[str, dict[str, Any]]
    status: str
    createdTime: str


class InvitationList(RootModel[list[Invitation]]):
    """A list of invitations."""


class DeviceLink(_Open):
    """A device linked to an account."""

    id: str
    userId: str
    manufacturer: str
    serialNumber: str
    linkedTime: str


class DeviceLinkList(BaseModel):
    """GET /v1/users/{userId}/devices."""

    data: list[DeviceLink]


class Summary(_Open):
    """summary.v5.yaml (cgm, bgm) or this cloud's insulin summary."""

    type: str
    userId: str
    config: dict[str, Any]
    dates: dict[str, Any]
    periods: dict[str, dict[str, Any]]


ERROR_STATUSES = {
    400: "Bad request: the message (and errors) say what to fix",
    401: "Not logged in, or the session token expired",
    403: "Not allowed: the data is not shared with the caller, or not for this",
    404: "No such thing (or endpoint)",
    405: "Method not allowed",
    409: "Conflict with the current state (closed data set, linked device, taken email)",
    413: "Request body too large",
    423: "Account locked after too many failed logins",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` entries documenting error statuses with the ``Error`` shape."""
    return {status: {"model": Error, "description": ERROR_STATUSES[status]} for status in statuses}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra`` describing a required JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A self-contained JSON schema of ``model`` (its definitions inlined)."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, defs)
    return inlined


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter for ``openapi_extra``."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


DATUM_ARRAY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1000,
    "items": {
        "type": "object",
        "required": ["type", "time", "deviceId"],
        "properties": {
            "type": {
                "type": "string",
                "enum": ["smbg", "cbg", "bolus", "basal", "deviceEvent", "pumpSettings", "wizard"],
            },
            "time": {"type": "string", "format": "date-time"},
            "deviceId": {"type": "string", "minLength": 1},
        },
        "additionalProperties": True,
    },
}
"""Upload body: 1..1000 datums; each type's fields are checked by the server's models."""
