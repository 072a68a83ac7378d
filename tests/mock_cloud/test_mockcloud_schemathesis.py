"""Schemathesis over the service's own OpenAPI document: no 5xx, no response that breaks
the documented schema, status code or content type.

Runs in process (ASGI), with a fixed seed and a bounded number of examples per operation,
three ways: valid inputs with the path ids of a real account and data set (so requests
get past authorization), invalid inputs on the same ids, and everything generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Api, basic, data_set_body, smbg
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mock_cloud import CloudSettings, create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 6


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[FastAPI, dict[str, Any], dict[str, str]]]:
    """An app with an account holding a closed data set; (app, path ids, auth headers)."""
    app = create_app(CloudSettings(db_url="sqlite://"))
    cloud = app.state.cloud
    userid = cloud.create_user("fuzz@example.com", PASSWORD)
    client = Api(app)  # no lifespan: closing it would drop the in-memory database
    try:
        token = client.post("/auth/login", headers=basic("fuzz@example.com", PASSWORD)).headers[
            TOKEN_HEADER
        ]
        headers = {TOKEN_HEADER: token}
        data_set_id = client.post(
            f"/v1/users/{userid}/data_sets", json=data_set_body(), headers=headers
        ).json()["id"]
        client.post(f"/v1/datasets/{data_set_id}/data", json=[smbg()], headers=headers)
    finally:
        client.close()
    ids = {
        "userId": userid,
        "sharerId": userid,
        "dataSetId": data_set_id,
        "summaryType": "bgm",
    }
    yield app, ids, headers
    cloud.close()


@pytest.fixture(scope="module")
def operations(target: tuple[FastAPI, dict[str, Any], dict[str, str]]) -> list[Any]:
    """Every operation of the app's OpenAPI document (loaded once)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", target[0])
    return [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]


def _run(operation: Any, strategy: Any, headers: dict[str, str]) -> bool:
    """Run the examples; False if the operation has no input of the kind asked for."""

    @seed(20240501)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        check()
    except Unsatisfiable:
        return False  # e.g. no invalid input exists for an operation without parameters
    return True


def test_every_operation_is_documented(operations: list[Any]) -> None:
    labels = {op.label for op in operations}
    for expected in [
        "POST /auth/login",
        "POST /v1/users/{userId}/data_sets",
        "POST /v1/data_sets/{dataSetId}/data",
        "GET /data/{userId}",
        "GET /v1/summaries/{summaryType}/{userId}",
        "POST /access/{sharerId}/{userId}",
        "POST /v1/users/{userId}/invitations",
    ]:
        assert expected in labels
    assert not any(label.split()[1].startswith(("/admin", "/ui")) for label in labels)


@pytest.mark.parametrize("mode", ["valid-own-ids", "invalid-own-ids", "generated"])
def test_no_server_errors_or_schema_violations(
    target: tuple[FastAPI, dict[str, Any], dict[str, str]], operations: list[Any], mode: str
) -> None:
    _app, ids, headers = target
    ran = 0
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {name: value for name, value in ids.items() if name in names}
        if mode == "generated":
            strategy = operation.as_strategy()
        else:
            generation = (
                GenerationMode.POSITIVE if mode == "valid-own-ids" else GenerationMode.NEGATIVE
            )
            strategy = operation.as_strategy(generation_mode=generation, path_parameters=fixed)
        ran += _run(operation, st.one_of(strategy), headers)
    assert ran >= len(operations) // 2
