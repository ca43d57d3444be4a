"""Fuzzing /graphql: valid queries from the schema and garbage bodies never get a 5xx or hang."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, queries

from connectors_lib.clock import VirtualClock
from mock_servers import graphql_api, oauth
from mock_servers.data import ShopData, build_dataset
from mock_servers.graphql_api import SDL
from mock_servers.runner import ServerThread
from mock_servers.state import LabSettings, LabState

#: Deterministic and bounded: the whole file stays well under 20 s on two cores.
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
KNOWN_CODES = {
    "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "DEPTH_LIMIT_EXCEEDED",
    "COST_LIMIT_EXCEEDED", "BAD_USER_INPUT", "BAD_REQUEST", "OPERATION_RESOLUTION_FAILURE",
    "INTERNAL_SERVER_ERROR", "RATE_LIMITED", "UNAUTHENTICATED", "INTROSPECTION_DISABLED",
}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    state = LabState(settings=LabSettings(), clock=VirtualClock(), data=ShopData(build_dataset(42)),
                     api_keys={"clave": "alumno"})
    app = FastAPI()
    oauth.install(app, state)
    server = graphql_api.install(app, state)
    server.budget.limit = 10**9  # the fuzzer is not what the budget is about
    thread = ServerThread(app)
    thread.start()
    base = f"http://127.0.0.1:{thread.port}"
    with httpx.Client(base_url=base, headers={"X-API-Key": "clave"}, timeout=10) as http:
        yield http
    thread.stop()


def _check(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500
    body = response.json()
    assert "data" in body or body["errors"]
    for error in body.get("errors", []):
        assert isinstance(error["message"], str)
        assert error["extensions"]["code"] in KNOWN_CODES
    return dict(body)


@FUZZ
@given(query=queries(SDL))
def test_generated_queries_never_fail_the_server(client: httpx.Client, query: str) -> None:
    """Every schema-valid query (random arguments included) gets a spec answer, never a 5xx."""
    body = _check(client.post("/graphql", json={"query": query},
                              headers={"Accept": "application/graphql-response+json"}))
    if "data" in body and body.get("errors"):
        assert all("path" in e for e in body["errors"])


@FUZZ
@given(query=from_schema(SDL, mode=Mode.NEGATIVE))
def test_invalid_queries_are_validation_errors(client: httpx.Client, query: str) -> None:
    """Schema-invalid queries are refused with a 4xx and a code, never executed or a 5xx."""
    r = client.post("/graphql", json={"query": query},
                    headers={"Accept": "application/graphql-response+json"})
    body = _check(r)
    if "data" not in body:
        assert 400 <= r.status_code < 500


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@FUZZ
@given(body=st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extensions"]),
                    _json_values, max_size=4).map(lambda d: json.dumps(d).encode()),
))
def test_garbage_bodies_get_4xx_or_a_graphql_answer(client: httpx.Client, body: bytes) -> None:
    """Random bytes and random JSON shapes are answered per the spec, with no 5xx."""
    r = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    _check(r)
