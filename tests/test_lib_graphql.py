"""GraphQLConnector against the lab's /graphql (real gql + httpx) and a tiny scripted server.

What lesson 05 promises: Relay pagination returns every order exactly once;
partial data is raised or kept by choice; transient codes are retried with the
waits on the lab's virtual clock; fatal ones are not; a repeated cursor is a
cycle; the original lesson's countries query answers Argentina first.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import mock_servers
from connectors_lib.auth import ApiKeyAuth, OAuth2ClientCredentials
from connectors_lib.clock import VirtualClock
from connectors_lib.errors import (
    AuthError,
    ConnectError,
    PaginationError,
    RateLimitError,
    RequestTimeout,
    ResponseDecodeError,
    RetryExhaustedError,
)
from connectors_lib.graphql import (
    GraphQLAuthError,
    GraphQLConnector,
    GraphQLErrorInfo,
    GraphQLPartialDataError,
    GraphQLQueryError,
    GraphQLRateLimitError,
    read_graphql_rate_limit,
)
from connectors_lib.rest import Timeouts
from connectors_lib.retry import RetryPolicy
from mock_servers.data import build_dataset
from mock_servers.runner import ServerThread

ORDERS = """
query Orders($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    edges { cursor node { id status total } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""
CUSTOMER_ORDERS = """
query($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) {
    orders(first: $first, after: $after) {
      edges { node { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
COUNTRIES = """
query {
  continent(code: "SA") {
    name
    countries { code name currency emoji }
  }
}
"""
CUSTOMER = '{ customer(id: "1") { name orders(first: 2) { totalCount } } }'
#: Fast, deterministic retries: no jitter, 1 s then 2 s.
QUICK = RetryPolicy(
    retry_on_status=frozenset({429, 502, 503, 504}),
    retry_on_exceptions=(ConnectError,),
    attempts=3,
    initial_wait=1.0,
    jitter="none",
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    """One lab on its own virtual clock for this module (no SFTP, no proxy)."""
    started = mock_servers.start(seed=42, clock=VirtualClock(), sftp=False, proxy=False)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _clean_lab(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults, budgets and budget settings back to normal after every lab test."""
    yield
    if "lab" in request.fixturenames:
        lab = request.getfixturevalue("lab")
        lab.graphql.reset()
        lab.graphql.budget.limit, lab.graphql.budget.window = 5000, 3600.0


@pytest.fixture
def connect(lab: Any) -> Iterator[Callable[..., GraphQLConnector]]:
    """Factory of connectors to the lab with the learner's API key on the lab clock."""
    made: list[GraphQLConnector] = []

    def make(**options: Any) -> GraphQLConnector:
        options.setdefault("auth", ApiKeyAuth(lab.api_key))
        options.setdefault("clock", lab.clock)
        options.setdefault("seed", 7)
        conn = GraphQLConnector(lab.graphql_url, **options)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()


# --- pagination over the lab -------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [100, 64])
def test_paginate_reads_every_order_exactly_once(
    connect: Callable[..., GraphQLConnector], page_size: int
) -> None:
    """All 1,200 seeded orders come back once, in id order, whatever the page size."""
    conn = connect(on_partial="keep")
    nodes = list(conn.paginate(ORDERS, connection_path="orders", page_size=page_size))
    expected = [order["id"] for order in build_dataset(42).orders]
    assert [int(n["id"]) for n in nodes] == sorted(expected)
    assert len(expected) == 1200
    assert conn.last_stop == "has_more_false"
    assert conn.last_pages == -(-1200 // page_size)
    # The two broken records of the dataset come back as null fields plus an error each.
    broken = {int(n["id"]): n for n in nodes if n["status"] is None or n["total"] is None}
    assert sorted(broken) == [142, 1024]
    assert broken[142]["status"] is None
    assert broken[1024]["total"] is None
    assert [(e.code, e.path[-1]) for e in conn.last_errors] == [
        ("INTERNAL_SERVER_ERROR", "status"),
        ("INTERNAL_SERVER_ERROR", "total"),
    ]


def test_paginate_a_nested_connection_with_variables(
    connect: Callable[..., GraphQLConnector],
) -> None:
    """A connection below the root (customer.orders) is paged with the caller's variables."""
    conn = connect()
    ids = [int(n["id"]) for n in conn.paginate(
        CUSTOMER_ORDERS, {"id": "3"}, connection_path="customer.orders", page_size=2
    )]  # fmt: skip
    expected = [o["id"] for o in build_dataset(42).orders if o["customer_id"] == 3]
    assert ids == expected
    assert len(expected) > 2
    assert conn.last_pages == -(-len(expected) // 2)


@pytest.mark.parametrize("clash", [{"first": 5}, {"after": "x"}])
def test_paginate_refuses_first_or_after_in_variables(
    connect: Callable[..., GraphQLConnector], clash: dict[str, Any]
) -> None:
    """The connector owns $first/$after; passing them is a clear ValueError at the call itself."""
    with pytest.raises(ValueError, match="paginate los pone"):
        connect().paginate(ORDERS, clash, connection_path="orders")  # no iteration needed


def test_paginate_keeps_the_variables_a_graphql_request_carries(
    connect: Callable[..., GraphQLConnector],
) -> None:
    """A gql GraphQLRequest with its own variables is paged with them (explicit ones win)."""
    from gql import GraphQLRequest

    request = GraphQLRequest(CUSTOMER_ORDERS, variable_values={"id": "3"})
    ids = [int(n["id"]) for n in connect().paginate(
        request, connection_path="customer.orders", page_size=2
    )]  # fmt: skip
    assert ids == [o["id"] for o in build_dataset(42).orders if o["customer_id"] == 3]


# --- partial data ------------------------------------------------------------------------------


def test_partial_data_is_raised_by_default(connect: Callable[..., GraphQLConnector]) -> None:
    """Order 142's bad status stops the run at page 2 with the data, the path and a next step."""
    conn = connect()
    seen: list[Any] = []
    with pytest.raises(GraphQLPartialDataError) as caught:
        seen.extend(conn.paginate(ORDERS, connection_path="orders"))
    error = caught.value
    assert len(seen) == 100
    assert error.page == 2
    assert error.errors[0].path == ("orders", "edges", 41, "node", "status")
    assert error.errors[0].where == "orders.edges[41].node.status"
    assert error.codes == ("INTERNAL_SERVER_ERROR",)
    assert error.data is not None
    assert len(error.data["orders"]["edges"]) == 100
    assert "on_partial='keep'" in str(error)
    assert "datos parciales" in str(error)
    assert [d.verdict for d in error.trace] == ["give_up:not_retryable"]


@pytest.mark.parametrize(("order_id", "field"), [("142", "status"), ("1024", "total")])
def test_execute_keeps_partial_data_when_asked(
    connect: Callable[..., GraphQLConnector], order_id: str, field: str
) -> None:
    """With on_partial='keep' the answer comes back with the field null and its error listed."""
    query = "query($id: ID!) { order(id: $id) { id number status total } }"
    result = connect().execute(query, {"id": order_id}, on_partial="keep")
    assert result.partial
    assert result.status == 200
    assert result.data["order"]["id"] == order_id
    assert result.data["order"]["number"]
    assert result.data["order"][field] is None
    assert [(e.code, e.path) for e in result.errors] == [
        ("INTERNAL_SERVER_ERROR", ("order", field))
    ]


def test_a_null_connection_is_raised_even_when_keeping_partial_data(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """If the connection itself is null there is no page to keep: its error is raised."""
    lab.graphql.faults.add("customer.orders")
    conn = connect(on_partial="keep")
    with pytest.raises(GraphQLPartialDataError, match="vino null") as caught:
        list(conn.paginate(CUSTOMER_ORDERS, {"id": "3"}, connection_path="customer.orders"))
    assert caught.value.codes == ("INTERNAL_SERVER_ERROR",)
    assert caught.value.page == 1


# --- retries -----------------------------------------------------------------------------------


def test_retryable_field_error_is_retried_with_the_waits_in_the_trace(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """SERVICE_UNAVAILABLE twice, then success: two backoff waits slept on the lab clock."""
    lab.graphql.faults.add("customer.orders", code="SERVICE_UNAVAILABLE", times=2)
    conn = connect(policy=QUICK)
    before = len(lab.clock.waits)
    result = conn.execute(CUSTOMER)
    assert result.data["customer"]["orders"]["totalCount"] > 0
    assert not result.partial
    assert [d.verdict for d in result.trace] == ["retry", "retry", "success"]
    assert [d.cause for d in result.trace[:2]] == ["GraphQL SERVICE_UNAVAILABLE"] * 2
    assert [d.delay for d in result.trace] == [1.0, 2.0, 0.0]
    assert lab.clock.waits[before:] == [1.0, 2.0]
    assert conn.retry_log == list(result.trace)


def test_rate_limited_waits_retry_after_on_the_virtual_clock(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """A spent points budget (429 RATE_LIMITED, Retry-After) is waited out, then succeeds."""
    lab.graphql.budget.limit, lab.graphql.budget.window = 2, 30.0
    conn = connect(policy=QUICK, obey_rate_limit_headers=False)
    conn.execute(CUSTOMER)
    conn.execute(CUSTOMER)
    before = len(lab.clock.waits)
    result = conn.execute(CUSTOMER)
    first = result.trace[0]
    assert (first.cause, first.status, first.verdict) == ("GraphQL RATE_LIMITED", 429, "retry")
    assert first.retry_after_raw == "30"
    assert first.delay == 30.0
    assert lab.clock.waits[before:] == [30.0]
    assert result.trace[-1].verdict == "success"
    assert conn.last_rate_limit is not None
    assert conn.last_rate_limit.remaining == 1


def test_rate_limit_error_is_also_a_rate_limit_error_of_the_library(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """With retries off, RATE_LIMITED raises GraphQLRateLimitError, catchable as RateLimitError."""
    lab.graphql.budget.limit = 1
    conn = connect(policy=QUICK.replace(attempts=1), obey_rate_limit_headers=False)
    conn.execute(CUSTOMER)
    with pytest.raises(RetryExhaustedError) as caught:
        conn.execute(CUSTOMER)
    last = caught.value.last_error
    assert isinstance(last, GraphQLRateLimitError)
    assert isinstance(last, RateLimitError)
    assert last.status == 429
    assert last.retry_after_raw is not None


def test_pacer_waits_for_the_reset_instead_of_hitting_the_limit(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """Obeying X-RateLimit-* headers, the third call waits for the reset and is never refused."""
    lab.graphql.budget.limit, lab.graphql.budget.window = 2, 20.0
    conn = connect(policy=QUICK)
    conn.execute(CUSTOMER)
    conn.execute(CUSTOMER)
    before = lab.clock.monotonic()
    result = conn.execute(CUSTOMER)
    assert [d.verdict for d in result.trace] == ["success"]
    assert lab.clock.monotonic() - before == pytest.approx(20.0, abs=1.0)


def test_keep_returns_partial_data_after_the_retries_run_out(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """A transient field error that never heals ends, with on_partial='keep', as partial data."""
    lab.graphql.faults.add("customer.orders", code="SERVICE_UNAVAILABLE")
    result = connect(policy=QUICK, on_partial="keep").execute(CUSTOMER)
    assert result.partial
    assert result.data["customer"]["orders"] is None
    assert result.data["customer"]["name"]
    assert [d.verdict for d in result.trace] == ["retry", "retry", "give_up:attempts"]


def test_mutation_is_not_repeated_without_idempotency_key(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """A retryable error on a mutation is not retried: the write may already have happened."""
    lab.graphql.faults.add("updateOrderStatus", code="SERVICE_UNAVAILABLE")
    mutation = """mutation { updateOrderStatus(input: {orderId: "1", status: CANCELLED}) {
        errors { message } } }"""
    with pytest.raises(GraphQLQueryError) as caught:
        connect(policy=QUICK).execute(mutation)
    assert caught.value.retryable
    assert [d.verdict for d in caught.value.trace] == ["give_up:not_idempotent"]


# --- fatal errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ orders(first: 500) { totalCount } }", "BAD_USER_INPUT"),
        (
            "{ customers(first: 100) { edges { node { orders(first: 100) { edges { node {"
            " items { sku } } } } } } } }",
            "COST_LIMIT_EXCEEDED",
        ),
    ],
)
def test_fatal_errors_are_raised_at_once(
    lab: Any, connect: Callable[..., GraphQLConnector], query: str, code: str
) -> None:
    """Validation, bad input and cost errors are raised after one attempt, with Spanish advice."""
    conn = connect(policy=QUICK)
    before = len(lab.clock.waits)
    with pytest.raises(GraphQLQueryError) as caught:
        conn.execute(query)
    error = caught.value
    assert type(error) is GraphQLQueryError
    assert error.codes == (code,)
    assert not error.retryable
    assert error.status == 400
    assert error.data is None
    assert [d.verdict for d in error.trace] == ["give_up:not_retryable"]
    assert "Qué hacer" in str(error)
    assert "reintentar igual no lo arreglará" in str(error)
    assert len(lab.clock.waits) == before


def test_a_query_that_does_not_parse_is_never_sent(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """A syntax error is found locally: no request reaches the lab."""
    conn = connect()
    before = len(lab.journal)
    with pytest.raises(GraphQLQueryError, match="no se envió nada") as caught:
        conn.execute("{ orders(first: ")
    assert caught.value.codes == ("GRAPHQL_PARSE_FAILED",)
    assert caught.value.status == 0
    assert len(lab.journal) == before
    assert conn.retry_log == []


def test_validate_locally_checks_against_the_fetched_schema(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """With validate_locally=True an unknown field is refused without sending the query."""
    conn = connect(validate_locally=True)
    assert conn.execute(CUSTOMER).data["customer"]["name"]
    before = len(lab.journal)
    with pytest.raises(GraphQLQueryError, match="detectado localmente") as caught:
        conn.execute("{ customer(id: 1) { nope } }")
    assert caught.value.codes == ("GRAPHQL_VALIDATION_FAILED",)
    assert len(lab.journal) == before


def test_validate_locally_explains_a_server_without_introspection(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """When the schema cannot be fetched, the error says so and names the way out."""
    lab.graphql.introspection = False
    with pytest.raises(GraphQLQueryError, match="No se pudo obtener el esquema") as caught:
        connect(validate_locally=True).execute(CUSTOMER)
    assert caught.value.codes == ("INTROSPECTION_DISABLED",)
    assert "validate_locally=False" in str(caught.value)


@pytest.mark.parametrize("key", [None, "clave-falsa"])
def test_missing_or_wrong_credentials_raise_an_auth_error(
    connect: Callable[..., GraphQLConnector], key: str | None
) -> None:
    """UNAUTHENTICATED is a GraphQLAuthError (and an AuthError), not retried."""
    conn = connect(auth=ApiKeyAuth(key) if key else None, policy=QUICK)
    with pytest.raises(GraphQLAuthError) as caught:
        conn.execute(CUSTOMER)
    assert isinstance(caught.value, AuthError)
    assert caught.value.status == 401
    assert caught.value.codes == ("UNAUTHENTICATED",)
    assert len(caught.value.trace) == 1


@pytest.mark.parametrize(("scope", "ok"), [("graphql", True), ("orders:read", False)])
def test_oauth2_token_needs_the_graphql_scope(
    lab: Any, connect: Callable[..., GraphQLConnector], scope: str, ok: bool
) -> None:
    """An OAuth2 token works with scope 'graphql'; without it the 403 surfaces as an AuthError."""
    auth = OAuth2ClientCredentials(
        lab.token_url, lab.client_id, lab.client_secret, scope=scope, clock=lab.clock,
        allow_insecure_http=True,
    )  # fmt: skip
    conn = connect(auth=auth)
    if ok:
        assert conn.execute(CUSTOMER).data["customer"]["name"]
        return
    with pytest.raises(AuthError, match="scope") as caught:
        conn.execute(CUSTOMER)
    # The auth flow reads the 403's insufficient_scope challenge itself: its error goes
    # through unchanged (more precise than the body's FORBIDDEN), and is not retried.
    assert caught.value.status == 403
    assert [d.verdict for d in caught.value.trace] == ["give_up:not_retryable"]


# --- the original lesson and the budget ---------------------------------------------------------


def test_countries_query_of_the_original_lesson_returns_argentina_first(lab: Any) -> None:
    """The public countries part needs no credentials and answers as the public API does."""
    with GraphQLConnector(lab.graphql_url, clock=lab.clock) as conn:
        result = conn.execute(COUNTRIES)
    continent = result.data["continent"]
    assert continent["name"] == "South America"
    assert continent["countries"][0] == {
        "code": "AR", "name": "Argentina", "currency": "ARS", "emoji": "🇦🇷",
    }  # fmt: skip
    assert len(continent["countries"]) == 14


def test_rate_limit_is_surfaced_from_headers_and_the_rate_limit_field(
    lab: Any, connect: Callable[..., GraphQLConnector]
) -> None:
    """last_rate_limit holds the X-RateLimit-* budget, plus cost and reset from rateLimit."""
    conn = connect()
    plain = conn.execute(CUSTOMER).rate_limit
    assert plain is not None
    assert plain.source == "headers"
    assert plain.cost is None
    assert plain.used is not None
    query = "{ orders(first: 5) { totalCount } rateLimit { cost limit remaining used resetAt } }"
    rate = conn.execute(query).rate_limit
    assert rate is conn.last_rate_limit
    assert rate is not None
    assert rate.source == "headers+field"
    assert rate.cost == 1
    assert rate.limit == 5000
    assert rate.used == plain.used + 1
    assert rate.remaining == 5000 - plain.used - 1
    assert rate.reset_at is not None
    assert rate.reset_at > lab.clock.now()


# --- a scripted fake server --------------------------------------------------------------------

Reply = tuple[int, Any, dict[str, str]]


class FakeGraphQL:
    """A tiny GraphQL endpoint whose answers come from ``respond(variables)``."""

    def __init__(self) -> None:
        self.respond: Callable[[dict[str, Any]], Reply] = lambda _: (500, "sin guion", {})
        self.seen: list[dict[str, Any]] = []
        self.server = ServerThread(Starlette(routes=[Route("/graphql", self._endpoint,
                                                           methods=["POST"])]))  # fmt: skip

    async def _endpoint(self, request: Request) -> Response:
        variables = (await request.json()).get("variables") or {}
        self.seen.append(variables)
        status, body, headers = self.respond(variables)
        if body == "lento":  # a server that answers too late (the client times out first)
            await asyncio.sleep(0.3)
        if isinstance(body, str):
            return Response(body, status, headers, media_type="text/html")
        return Response(json.dumps(body), status, headers, media_type="application/json")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/graphql"


@pytest.fixture(scope="module")
def _fake_server() -> Iterator[FakeGraphQL]:
    fake = FakeGraphQL()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture
def fake(_fake_server: FakeGraphQL) -> FakeGraphQL:
    """The scripted server, with an empty record of requests."""
    _fake_server.seen.clear()
    return _fake_server


def _page(ids: list[int], *, more: bool, cursor: str | None) -> dict[str, Any]:
    edges = [{"node": {"id": i}} for i in ids]
    info = {"hasNextPage": more, "endCursor": cursor}
    return {"data": {"items": {"edges": edges, "pageInfo": info}}}


ITEMS = "query($first: Int!, $after: String) { items(first: $first, after: $after) { x } }"


def test_a_repeated_end_cursor_is_detected_as_a_cycle(fake: FakeGraphQL) -> None:
    """c1 → c2 → c1: the walker stops at the repeated cursor instead of looping forever."""
    script = {None: ([1, 2], "c1"), "c1": ([3, 4], "c2"), "c2": ([5, 6], "c1")}

    def respond(variables: dict[str, Any]) -> Reply:
        ids, cursor = script[variables.get("after")]
        return 200, _page(ids, more=True, cursor=cursor), {}

    fake.respond = respond
    got: list[Any] = []
    with pytest.raises(PaginationError, match="Ciclo de paginación") as caught:
        got.extend(GraphQLConnector(fake.url, clock=VirtualClock()).paginate(
            ITEMS, connection_path="items", page_size=2))  # fmt: skip
    assert [n["id"] for n in got] == [1, 2, 3, 4]
    assert caught.value.page == 4
    assert "after:c1" in str(caught.value)
    assert [v.get("after") for v in fake.seen] == [None, "c1", "c2"]


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"edges": []}, "pageInfo"),
        ({"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}, "endCursor"),
        ({"pageInfo": {"hasNextPage": False}}, "edges"),
        (None, "no es un objeto"),
    ],
)
def test_a_malformed_connection_is_a_pagination_error(
    fake: FakeGraphQL, connection: Any, message: str
) -> None:
    """Missing pageInfo, a next page without cursor or no edges end the run with a hint."""
    fake.respond = lambda _: (200, {"data": {"items": connection}}, {})
    with pytest.raises(PaginationError, match=message):
        list(GraphQLConnector(fake.url, clock=VirtualClock()).paginate(
            ITEMS, connection_path="items"))  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>hola</html>", "no es un resultado GraphQL"),
        ({"datos": {"x": 1}}, "no es un resultado GraphQL"),
        ({"data": None}, "data: null sin errores"),
    ],
)
def test_a_200_that_is_not_graphql_is_a_decode_error(
    fake: FakeGraphQL, body: Any, message: str
) -> None:
    """HTML, JSON without data/errors or a bare null data with status 200 is a decode error."""
    fake.respond = lambda _: (200, body, {})
    with pytest.raises(ResponseDecodeError, match=message):
        GraphQLConnector(fake.url, clock=VirtualClock()).execute("{ x }")


def test_an_http_503_without_graphql_body_is_retried_by_status(fake: FakeGraphQL) -> None:
    """A gateway 503 page is an HTTP error the policy retries, honouring its Retry-After."""
    replies = iter([(503, "<h1>mantenimiento</h1>", {"Retry-After": "5"}),
                    (200, {"data": {"x": 1}}, {})])  # fmt: skip
    fake.respond = lambda _: next(replies)
    clock = VirtualClock()
    result = GraphQLConnector(fake.url, clock=clock, policy=QUICK).execute("{ x }")
    assert result.data == {"x": 1}
    assert [(d.cause, d.delay) for d in result.trace] == [("HTTP 503", 5.0), ("ok", 0.0)]
    assert clock.waits == [5.0]


def test_a_slow_answer_is_a_read_timeout(fake: FakeGraphQL) -> None:
    """httpx's ReadTimeout, wrapped by gql, comes out as the library's RequestTimeout."""
    fake.respond = lambda _: (200, "lento", {})
    conn = GraphQLConnector(fake.url, clock=VirtualClock(), policy=QUICK,
                            timeout=Timeouts(read=0.05))  # fmt: skip
    with pytest.raises(RequestTimeout) as caught:
        conn.execute("{ x }")
    assert caught.value.kind == "read"
    assert [d.verdict for d in caught.value.trace] == ["give_up:not_retryable"]


def test_an_unreachable_server_is_a_connect_error_after_the_retries() -> None:
    """Nothing listening: ConnectError, retried as the policy says, then RetryExhaustedError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = GraphQLConnector(f"http://127.0.0.1:{port}/graphql", clock=VirtualClock(), policy=QUICK)
    with pytest.raises(RetryExhaustedError) as caught:
        conn.execute("{ x }")
    assert isinstance(caught.value.last_error, ConnectError)
    assert [d.verdict for d in caught.value.trace] == ["retry", "retry", "give_up:attempts"]


# --- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "where"),
    [
        ({"message": "m", "extensions": {"code": "X"}, "path": ["a", 0, "b"]},
         GraphQLErrorInfo("m", "X", ("a", 0, "b")), "a[0].b"),
        ({"message": "sin código"}, GraphQLErrorInfo("sin código", None), ""),
        ("texto suelto", GraphQLErrorInfo("texto suelto", None), ""),
        ({"message": "m", "path": "no-lista", "extensions": []}, GraphQLErrorInfo("m", None), ""),
    ],
)  # fmt: skip
def test_error_entries_are_read_defensively(
    raw: Any, expected: GraphQLErrorInfo, where: str
) -> None:
    """Well-formed and malformed error objects all become readable entries."""
    info = GraphQLErrorInfo.from_json(raw)
    assert info == expected
    assert info.where == where


@pytest.mark.parametrize(
    ("headers", "data", "expected"),
    [
        ({}, {"x": 1}, None),
        ({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Used": "7",
          "X-RateLimit-Reset": "1000000060"}, None,
         (10, 3, 7, 1_000_000_060.0, None, "headers")),
        ({}, {"rateLimit": {"cost": 2, "remaining": 8, "resetAt": "2001-09-09T01:47:40Z"}},
         (None, 8, None, 1_000_000_060.0, 2, "field")),
        ({"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "60"},
         {"rateLimit": {"remaining": 4, "cost": 1}},
         (None, 4, None, 1_000_000_060.0, 1, "headers+field")),
        # "²" passes str.isdigit() but not int(): it counts as not announced, never a crash
        ({"X-RateLimit-Used": "²", "X-RateLimit-Remaining": "5"}, None,
         (None, 5, None, None, None, "headers")),
        # a field reset at epoch 0 still wins over the header's (0 is not "missing")
        ({"X-RateLimit-Reset": "60"}, {"rateLimit": {"resetAt": "1970-01-01T00:00:00Z"}},
         (None, None, None, 0.0, None, "headers+field")),
    ],
)  # fmt: skip
def test_rate_limit_reading_combines_headers_and_field(
    headers: dict[str, str], data: Any, expected: tuple[Any, ...] | None
) -> None:
    """Headers and the rateLimit field are merged (the field wins); nothing announced → None."""
    rate = read_graphql_rate_limit(headers, data, now=1_000_000_000.0)
    if expected is None:
        assert rate is None
        return
    assert rate is not None
    assert (rate.limit, rate.remaining, rate.used, rate.reset_at, rate.cost, rate.source) == (
        expected
    )
