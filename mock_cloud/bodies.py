"""Validating a JSON request body against a pydantic model, answering 400 with problems.

The 400's message names the first problem (so a log line is enough to act on) and
``errors`` lists them all, each with a JSON pointer into the body.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mock_cloud.errors import bad_request
from mock_cloud.jsonbody import describe_json_type
from mock_cloud.problems import ExtraFieldExplainer, from_validation_error, unknown_field

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_body(
    model: type[ModelT], body: Any, what: str, explain_extra: ExtraFieldExplainer = unknown_field
) -> ModelT:
    """``body`` validated as ``model``; ``what`` names the body in messages."""
    if not isinstance(body, dict):
        raise bad_request(f"{what} must be a JSON object (got {describe_json_type(body)})")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = from_validation_error(error, explain_extra=explain_extra)
        more = f" (and {len(problems) - 1} more; see errors)" if len(problems) > 1 else ""
        raise bad_request(
            f"{what} is invalid: {problems[0]['detail']}{more}", errors=problems
        ) from None
