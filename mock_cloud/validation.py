"""Validating an upload chunk: every datum, every problem, each with a pointer.

The chunk is refused as a whole if any datum is invalid (nothing is stored), and the client
learns about every problem at once: one entry per problem with a JSON pointer such as
``/3/value`` or ``/0/annotations/0/code``. The ``type`` of each datum picks its model from
the registry (and, for bolus, basal and deviceEvent, its ``subType``/``deliveryType``); an
unknown type or sub-type is a problem at that field that lists the supported values. Rules
between fields (``relation_problems``) are checked once the fields themselves are valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from mock_cloud.datatypes import (
    DATUM_MODELS,
    SPEC_DATA_TYPES,
    SPEC_SUB_TYPES,
    BaseDatum,
    Variants,
    supported_types,
)
from mock_cloud.datatypes.common import NOT_YET_SUPPORTED_FIELDS, SERVER_OWNED_FIELDS
from mock_cloud.errors import Problem
from mock_cloud.jsonbody import describe_json_type
from mock_cloud.problems import ExtraFieldExplainer, from_validation_error, make_problem


def _type_problem(index: int, datum: dict[str, Any]) -> Problem | None:
    supported = ", ".join(supported_types())
    if "type" not in datum:
        return make_problem(
            "value-not-exists",
            f"type is required; every datum needs a type (supported: {supported})",
            [index, "type"],
        )
    kind = datum["type"]
    if not isinstance(kind, str):
        return make_problem(
            "type-not-string",
            f"type must be a string naming the data type (supported: {supported})",
            [index, "type"],
        )
    if kind == "upload":
        return make_problem(
            "value-not-allowed",
            "upload records are not data; create a data set (POST /v1/users/{userId}/data_sets) "
            "instead",
            [index, "type"],
        )
    if kind not in DATUM_MODELS:
        if kind in SPEC_DATA_TYPES:
            return make_problem(
                "type-not-supported",
                f"data type {kind!r} is not supported by this mock cloud yet "
                f"(supported: {supported})",
                [index, "type"],
            )
        return make_problem(
            "value-not-allowed",
            f"unknown data type {kind!r} (supported: {supported})",
            [index, "type"],
        )
    return None


def _variant(index: int, datum: dict[str, Any], variants: Variants) -> type[BaseDatum] | Problem:
    kind = datum["type"]
    field = variants.field
    known = ", ".join(sorted(variants.models))
    value = datum.get(field)
    if field not in datum:
        return make_problem(
            "value-not-exists",
            f"{field} is required for {kind} (one of {known})",
            [index, field],
        )
    if not isinstance(value, str):
        return make_problem(
            "type-not-string", f"{field} must be a string (one of {known})", [index, field]
        )
    model = variants.models.get(value)
    if model is not None:
        return model
    if value in SPEC_SUB_TYPES:
        return make_problem(
            "type-not-supported",
            f"{kind} {field} {value!r} is not supported by this mock cloud yet "
            f"(supported: {known})",
            [index, field],
        )
    return make_problem(
        "value-not-allowed", f"unknown {kind} {field} {value!r} (one of {known})", [index, field]
    )


def _explainer(model: type[BaseDatum]) -> ExtraFieldExplainer:
    def explain(name: str) -> tuple[str, str]:
        if name in SERVER_OWNED_FIELDS:
            return (
                "field-server-owned",
                f"{name!r} is set by the server; remove it from the datum",
            )
        if name in NOT_YET_SUPPORTED_FIELDS:
            return (
                "field-not-supported",
                f"{name!r} is not supported by this mock cloud yet; remove it",
            )
        allowed = ", ".join(model.allowed_fields())
        return (
            "field-unknown",
            f"unknown field {name!r} for data type {_kind(model)} "
            f"(check its spelling; allowed fields: {allowed})",
        )

    return explain


def _kind(model: type[BaseDatum]) -> str:
    sub = model.model_fields.get("subType") or model.model_fields.get("deliveryType")
    args: tuple[object, ...] = getattr(sub.annotation, "__args__", ()) if sub else ()
    return f"{model.DATA_TYPE} ({args[0]})" if len(args) == 1 else model.DATA_TYPE


def validate_datum(index: int, datum: Any) -> list[Problem]:
    """Problems with one datum (empty if it is valid)."""
    if not isinstance(datum, dict):
        return [
            make_problem(
                "type-not-object",
                f"each datum must be a JSON object (got {describe_json_type(datum)})",
                [index],
            )
        ]
    type_problem = _type_problem(index, datum)
    if type_problem is not None:
        return [type_problem]
    entry = DATUM_MODELS[datum["type"]]
    if isinstance(entry, Variants):
        chosen = _variant(index, datum, entry)
        if not isinstance(chosen, type):
            return [chosen]
        model = chosen
    else:
        model = entry
    try:
        instance = model.model_validate(datum)
    except ValidationError as error:
        return from_validation_error(error, prefix=[index], explain_extra=_explainer(model))
    return [
        make_problem(relation.code, relation.detail, [index, *relation.path])
        for relation in instance.relation_problems()
    ]


def validate_chunk(datums: Sequence[Any]) -> tuple[int, list[Problem]]:
    """(number of invalid datums, all their problems) for a chunk."""
    invalid = 0
    problems: list[Problem] = []
    for index, datum in enumerate(datums):
        found = validate_datum(index, datum)
        if found:
            invalid += 1
            problems.extend(found)
    return invalid, problems
