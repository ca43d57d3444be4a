"""The lab's /graphql endpoint over loopback: gql (with schema fetch), httpx and requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from fastapi import FastAPI
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from gql.transport.requests import RequestsHTTPTransport

from connectors_lib.clock import VirtualClock
from mock_servers import graphql_api, oauth
from mock_servers.data import ShopData, build_dataset
from mock_servers.graphql_api import GraphQLServer
from mock_servers.graphql_api.countries import COUNTRIES, flag
from mock_servers.oauth import OAuthServer
from mock_servers.runner import ServerThread
from mock_servers.state import LabSettings, LabState

KEY = {"X-API-Key": "clave-1"}
GQL_RESPONSE = "application/graphql-response+json"
LESSON_QUERY = """
query getCountries($continent: ID!) {
  continent(code: $continent) {
    name
    countries { code name currency emoji }
  }
}
"""


@dataclass
class Lab:
    url: str
    state: LabState
    graphql: GraphQLServer
    oauth: OAuthServer
    clock: VirtualClock
    #: One client for the module: building an httpx client per call costs ~40 ms (SSL context).
    http: httpx.Client

    def post(self, query: str, variables: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(self.url, json={"query": query, "variables": variables},
                              headers=headers or {})


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    clock = VirtualClock()
    state = LabState(settings=LabSettings(), clock=clock, data=ShopData(build_dataset(42)),
                     api_keys={"clave-1": "alumno"}, admin_token="adm")
    app = FastAPI()
    auth = oauth.install(app, state)
    server = graphql_api.install(app, state)
    thread = ServerThread(app)
    thread.start()
    with httpx.Client() as http:
        yield Lab(f"http://127.0.0.1:{thread.port}/graphql", state, server, auth, clock, http)
    thread.stop()


# -- the original lesson's countries query ------------------------------------------


def test_lesson_query_gives_the_public_api_answer(lab: Lab) -> None:
    """The original lesson's request (requests, no auth) returns South America as the public API."""
    r = requests.post(lab.url, json={"query": LESSON_QUERY, "variables": {"continent": "SA"}},
                      timeout=30)
    r.raise_for_status()
    data = r.json()["data"]["continent"]
    assert data["name"] == "South America"
    assert [c["code"] for c in data["countries"]] == [
        "AR", "BO", "BR", "CL", "CO", "EC", "FK", "GF", "GY", "PE", "PY", "SR", "UY", "VE"]
    assert [c["currency"] for c in data["countries"]] == [
        "ARS", "BOB,BOV", "BRL", "CLF,CLP", "COP", "USD", "FKP", "EUR", "GYD", "PEN", "PYG",
        "SRD", "UYI,UYU", "VES"]
    assert data["countries"][:2] == [
        {"code": "AR", "name": "Argentina", "currency": "ARS", "emoji": "🇦🇷"},
        {"code": "BO", "name": "Bolivia", "currency": "BOB,BOV", "emoji": "🇧🇴"}]


def test_country_data_covers_every_continent() -> None:
    """The dataset has the 7 continents, all of the Americas and flags that match the codes."""
    by_continent: dict[str, int] = {}
    for country in COUNTRIES:
        by_continent[country["continent"]] = by_continent.get(country["continent"], 0) + 1
    assert set(by_continent) == {"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
    assert by_continent["NA"] >= 35
    assert by_continent["SA"] == 14
    assert flag("MX") == "🇲🇽"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{ country(code: "CL") { name native capital currencies phone emojiU } }',
         {"country": {"name": "Chile", "native": "Chile", "capital": "Santiago",
                      "currencies": ["CLF", "CLP"], "phone": "56", "emojiU": "U+1F1E8 U+1F1F1"}}),
        ('{ country(code: "ZZ") { name } }', {"country": None}),
        ('{ continents(filter: {code: {in: ["AN", "OC"]}}) { code name } }',
         {"continents": [{"code": "AN", "name": "Antarctica"},
                         {"code": "OC", "name": "Oceania"}]}),
        ('{ countries(filter: {continent: {eq: "SA"}, currency: {eq: "USD"}}) { code } }',
         {"countries": [{"code": "EC"}]}),
        ('{ countries(filter: {name: {regex: "^Ur"}}) { code languages { name rtl } } }',
         {"countries": [{"code": "UY", "languages": [{"name": "Spanish", "rtl": False}]}]}),
        ('{ language(code: "gn") { native countries { code } } }',
         {"language": {"native": "Avañe'ẽ", "countries": [{"code": "AR"}, {"code": "PY"}]}}),
    ],
)
def test_countries_fields_and_filters(lab: Lab, query: str, expected: dict[str, Any]) -> None:
    """Country fields, unknown codes and sift-style filters behave as in the public API."""
    assert lab.post(query).json() == {"data": expected}


# -- gql with schema fetch -------------------------------------------------------


@pytest.mark.parametrize("transport_cls", [RequestsHTTPTransport, HTTPXTransport])
def test_gql_client_fetches_the_schema_and_runs_queries(
    lab: Lab, transport_cls: type[RequestsHTTPTransport] | type[HTTPXTransport]
) -> None:
    """gql with fetch_schema_from_transport validates locally and runs variables and fragments."""
    transport = transport_cls(url=lab.url, headers=KEY)
    with Client(transport=transport, fetch_schema_from_transport=True) as session:
        request = gql(LESSON_QUERY)
        request.variable_values = {"continent": "AN"}
        result = session.execute(request)
        assert result["continent"]["countries"][0]["code"] == "AQ"
        shop = session.execute(gql("""
            fragment O on Order { number items { quantity product { sku } } }
            query { customer(id: "2") { name orders(first: 1) { edges { node { ...O } } } } }
        """))
        assert shop["customer"]["orders"]["edges"][0]["node"]["number"].startswith("PED-")
        with pytest.raises(Exception, match="nope"):  # rejected locally by the fetched schema
            session.execute(gql("{ nope }"))


# -- Relay pagination -------------------------------------------------------------

PAGE = """
query Page($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


def test_relay_pagination_walks_every_order_once(lab: Lab) -> None:
    """Following endCursor with first=100 visits all 1,200 orders, each once, then stops."""
    seen: list[str] = []
    after = None
    while True:
        body = lab.post(PAGE, {"first": 100, "after": after}, KEY).json()["data"]["orders"]
        seen += [e["node"]["id"] for e in body["edges"]]
        if not body["pageInfo"]["hasNextPage"]:
            break
        after = body["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == body["totalCount"] == 1200


def test_cursor_pagination_survives_inserts_and_deletes(lab: Lab) -> None:
    """Keyset cursors neither skip nor repeat when rows are deleted or appended mid-run."""
    try:
        first = lab.post(PAGE, {"first": 10}, KEY).json()["data"]["orders"]
        lab.state.data.delete_orders([1, 2, 3])
        lab.state.data.insert_orders(2, created_at=lab.clock.now())
        second = lab.post(PAGE, {"first": 10, "after": first["pageInfo"]["endCursor"]},
                          KEY).json()["data"]["orders"]
        assert [e["node"]["id"] for e in second["edges"]] == [str(i) for i in range(11, 21)]
    finally:
        lab.state.data.reset()


@pytest.mark.parametrize(
    ("variables", "code"),
    [({"first": 0}, "BAD_USER_INPUT"), ({"first": 101}, "BAD_USER_INPUT"),
     ({"first": "diez"}, "BAD_USER_INPUT"), ({}, "BAD_USER_INPUT"),
     ({"first": 5, "after": "no-es-un-cursor"}, "BAD_USER_INPUT")],
)
def test_bad_pagination_arguments_are_bad_user_input(
    lab: Lab, variables: dict[str, Any], code: str
) -> None:
    """first outside 1..100, missing or mistyped, and foreign cursors answer BAD_USER_INPUT."""
    r = lab.post(PAGE, variables, {**KEY, "Accept": GQL_RESPONSE})
    assert r.json()["errors"][0]["extensions"]["code"] == code
    assert r.status_code == (200 if "after" in variables else 400)


# -- GraphQL over HTTP ------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media", "status"),
    [(None, "application/json", 200), ("*/*", "application/json", 200),
     (GQL_RESPONSE, GQL_RESPONSE, 400),
     (f"application/json;q=0.5, {GQL_RESPONSE}", GQL_RESPONSE, 400),
     (f"application/json, {GQL_RESPONSE};q=0.1", "application/json", 200),
     ("text/html", "application/json", 406)],
)
def test_media_type_negotiation_and_status_codes(
    lab: Lab, accept: str | None, media: str, status: int
) -> None:
    """A validation error is 200 in application/json and 400 in graphql-response+json."""
    headers = {"Accept": accept} if accept else {}
    r = lab.http.post(lab.url, json={"query": "{ nope }"}, headers=headers)
    if accept is None:
        r = lab.http.post(lab.url, content=json.dumps({"query": "{ nope }"}),
                       headers={"Content-Type": "application/json", "Accept": ""})
    assert r.headers["content-type"].startswith(media)
    assert r.status_code == status
    assert "data" not in r.json()


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"content": b"{no es json", "headers": {"Content-Type": "application/json"}}, 400),
     ({"content": b'{"query": "{ countries { code } }"}',
       "headers": {"Content-Type": "text/plain"}}, 415),
     ({"json": [{"query": "{ __typename }"}]}, 400),
     ({"json": {"query": 42}}, 400),
     ({"json": {"query": "{ __typename }", "variables": [1]}}, 400),
     ({"json": {"query": "{ __typename }" + " " * 70_000}}, 413)],
)
def test_malformed_requests_get_4xx_even_with_application_json(
    lab: Lab, kwargs: dict[str, Any], status: int
) -> None:
    """Garbage JSON, wrong media type, batches, wrong types and huge bodies are 4xx, not 500."""
    r = lab.http.post(lab.url, **kwargs)
    assert r.status_code == status
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_get_runs_queries_and_refuses_mutations(lab: Lab) -> None:
    """GET executes a query with JSON variables and answers 405 with Allow: POST to a mutation."""
    r = lab.http.get(lab.url, params={"query": LESSON_QUERY,
                                   "variables": json.dumps({"continent": "EU"})})
    assert r.json()["data"]["continent"]["name"] == "Europe"
    mutation = ('mutation { updateOrderStatus(input: {orderId: "1", status: PAID}) '
                '{ errors { message } } }')
    refused = lab.http.get(lab.url, params={"query": mutation}, headers=KEY)
    assert (refused.status_code, refused.headers["allow"]) == (405, "POST")


def test_parse_errors_and_deep_documents(lab: Lab) -> None:
    """Syntax errors and absurdly nested or long documents are GRAPHQL_PARSE_FAILED, fast."""
    for query in ["{ countries { ", "{" * 5000, "{ a" * 800 + "}" * 800,
                  "{ " + "__typename " * 5100 + "}"]:
        r = lab.post(query, headers={"Accept": GQL_RESPONSE})
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        assert "locations" in r.json()["errors"][0]


def test_operation_name_selection(lab: Lab) -> None:
    """With two operations, operationName picks one; without it the request is refused."""
    doc = ('query A { continent(code: "SA") { name } } '
           'query B { continent(code: "EU") { name } }')
    chosen = lab.http.post(lab.url, json={"query": doc, "operationName": "B"}).json()
    assert chosen == {"data": {"continent": {"name": "Europe"}}}
    missing = lab.http.post(lab.url, json={"query": doc}).json()
    assert missing["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"


# -- limits ------------------------------------------------------------------------


def test_depth_limit_is_a_validation_error_with_location(lab: Lab) -> None:
    """Nesting beyond 10 levels answers DEPTH_LIMIT_EXCEEDED before anything runs."""
    deep = "{ countries " + "{ continent { countries " * 5 + "{ code }" + " } }" * 5 + " }"
    r = lab.post(deep, headers={"Accept": GQL_RESPONSE})
    codes = {e["extensions"]["code"] for e in r.json()["errors"]}
    assert r.status_code == 400
    assert "DEPTH_LIMIT_EXCEEDED" in codes
    assert r.json()["errors"][0]["locations"] == [{"line": 1, "column": 1}]


def test_cost_limit_counts_nested_connections(lab: Lab) -> None:
    """customers(100) × orders(100) × items is over 25,000 nodes; smaller pages pass."""
    big = ("{ customers(first: 100) { edges { node { orders(first: 100) { edges { node "
           "{ items { sku } } } } } } } }")
    r = lab.post(big, headers={**KEY, "Accept": GQL_RESPONSE})
    assert r.json()["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert lab.post(big.replace("100", "10"), headers=KEY).json()["data"]["customers"]


def test_rate_limit_field_and_headers_follow_the_lab_clock(lab: Lab) -> None:
    """rateLimit reports cost and remaining points; exhausting them gives 429 and Retry-After."""
    lab.graphql.budget.reset()
    query = "{ rateLimit { cost limit remaining used resetAt nodeCount } }"
    first = lab.post(query, headers=KEY)
    info = first.json()["data"]["rateLimit"]
    assert (info["cost"], info["limit"], info["remaining"], info["used"]) == (1, 5000, 4999, 1)
    assert info["resetAt"].endswith("Z")
    assert first.headers["x-ratelimit-remaining"] == "4999"
    lab.graphql.budget.charge("key:alumno", 4999)
    refused = lab.post(query, headers={**KEY, "Accept": GQL_RESPONSE})
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) > 0
    lab.clock.advance(3600)
    assert lab.post(query, headers=KEY).json()["data"]["rateLimit"]["remaining"] == 4999
    lab.graphql.budget.reset()


def test_introspection_can_be_switched_off(lab: Lab) -> None:
    """With introspection off, __schema is refused with INTROSPECTION_DISABLED; __typename works."""
    lab.graphql.introspection = False
    try:
        r = lab.post("{ __schema { types { name } } }", headers={"Accept": GQL_RESPONSE})
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert lab.post("{ __typename }").json() == {"data": {"__typename": "Query"}}
    finally:
        lab.graphql.introspection = None
    assert lab.post("{ __schema { queryType { name } } }").json()["data"]


# -- auth ----------------------------------------------------------------------------

SHOP = '{ customer(id: "1") { name } }'


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 401, "UNAUTHENTICATED"), ({"X-API-Key": "otra"}, 401, "UNAUTHENTICATED"),
     ({"Authorization": "Bearer inventado"}, 401, "UNAUTHENTICATED"),
     ({"Authorization": "Basic abc"}, 401, "UNAUTHENTICATED"),
     ("sin-scope", 403, "FORBIDDEN")],
)
def test_shop_needs_credentials(
    lab: Lab, headers: dict[str, str] | str, status: int, code: str
) -> None:
    """Shop fields need an API key or a bearer with scope graphql; errors are 401/403."""
    if headers == "sin-scope":
        token = lab.oauth.issue("lab-etl", "orders:read")["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
    assert isinstance(headers, dict)
    r = lab.post(SHOP, headers={**headers, "Accept": GQL_RESPONSE})
    assert (r.status_code, r.json()["errors"][0]["extensions"]["code"]) == (status, code)
    assert "data" not in r.json()
    assert "www-authenticate" in r.headers
    legacy = lab.post(SHOP, headers=headers)
    assert legacy.status_code == 200
    assert "www-authenticate" not in legacy.headers
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


def test_bearer_token_with_graphql_scope_until_it_expires(lab: Lab) -> None:
    """A token from /oauth/token with scope graphql reads the shop until the lab expires it."""
    token = lab.http.post(lab.url.replace("/graphql", "/oauth/token"), data={
        "grant_type": "client_credentials", "scope": "graphql"},
        auth=(oauth.lab_clients(42)[0].client_id, str(oauth.lab_clients(42)[0].client_secret)),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": GQL_RESPONSE}
    assert lab.post(SHOP, headers=headers).json()["data"]["customer"]["name"]
    lab.oauth.expire(token)
    r = lab.post(SHOP, headers=headers)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_gql_surfaces_unauthenticated_as_a_query_error(lab: Lab) -> None:
    """gql without credentials raises TransportQueryError carrying UNAUTHENTICATED."""
    with Client(transport=HTTPXTransport(url=lab.url)) as session, \
            pytest.raises(TransportQueryError) as caught:
        session.execute(gql(SHOP))
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- faults and partial data ----------------------------------------------------------

NESTED = '{ customer(id: "2") { name orders(first: 2) { edges { node { number } } } } }'


def test_fault_header_gives_partial_data_with_path(lab: Lab) -> None:
    """X-Mock-GraphQL-Fault nulls the field at the path and adds an error with that path."""
    r = lab.post(NESTED, headers={**KEY, "X-Mock-GraphQL-Fault":
                                  "error_path=customer.orders; code=SERVICE_UNAVAILABLE"})
    body = r.json()
    assert r.status_code == 200
    assert body["data"]["customer"]["orders"] is None
    assert body["data"]["customer"]["name"]
    assert body["errors"][0]["path"] == ["customer", "orders"]
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert body["errors"][0]["locations"]


def test_python_fault_fails_n_times_then_succeeds(lab: Lab) -> None:
    """faults.add(path, times=2) fails two requests and leaves the third alone."""
    lab.graphql.faults.add("customer.orders.edges.node.number", times=2)
    results = [lab.post(NESTED, headers=KEY).json() for _ in range(3)]
    assert ["errors" in r for r in results] == [True, True, False]
    assert results[0]["errors"][0]["path"] == ["customer", "orders", "edges", 0, "node", "number"]
    assert results[0]["data"]["customer"]["orders"] is None  # non-null path nulls the parent


def test_bad_fault_header_is_a_bad_request(lab: Lab) -> None:
    """A malformed fault header is explained, not ignored."""
    r = lab.post(NESTED, headers={**KEY, "X-Mock-GraphQL-Fault": "romper todo"})
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_broken_seed_records_become_field_errors(lab: Lab) -> None:
    """Orders 142 (status UNKNOWN) and 1024 (total as text) come back null with errors."""
    body = lab.post('{ a: order(id: "142") { status } b: order(id: "1024") { total } }',
                    headers=KEY).json()
    assert body["data"] == {"a": {"status": None}, "b": {"total": None}}
    assert [e["path"] for e in body["errors"]] == [["a", "status"], ["b", "total"]]


# -- the mutation ---------------------------------------------------------------------

MUTATION = """
mutation Move($id: ID!, $status: OrderStatus!) {
  updateOrderStatus(input: {orderId: $id, status: $status, clientMutationId: "m1"}) {
    order { id status }
    errors { field message }
    clientMutationId
  }
}
"""


def test_mutation_updates_and_reports_user_errors(lab: Lab) -> None:
    """A legal transition updates the order; an illegal one or unknown id comes back in errors."""
    try:
        orders = lab.state.data.orders
        pending = next(o["id"] for o in orders if o["status"] == "pending")
        ok = lab.post(MUTATION, {"id": str(pending), "status": "PAID"}, KEY).json()
        payload = ok["data"]["updateOrderStatus"]
        assert payload == {"order": {"id": str(pending), "status": "PAID"}, "errors": [],
                           "clientMutationId": "m1"}
        again = lab.post(MUTATION, {"id": str(pending), "status": "PENDING"}, KEY).json()
        assert again["data"]["updateOrderStatus"]["errors"][0]["field"] == ["input", "status"]
        unknown = lab.post(MUTATION, {"id": "999999", "status": "PAID"}, KEY).json()
        assert unknown["data"]["updateOrderStatus"]["errors"][0]["field"] == ["input", "orderId"]
        anonymous = lab.post(MUTATION, {"id": "1", "status": "PAID"})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        lab.state.data.reset()


def test_graphql_request_object_is_reusable(lab: Lab) -> None:
    """gql's GraphQLRequest with variables posts the same body a plain client would."""
    request = GraphQLRequest(LESSON_QUERY, variable_values={"continent": "OC"})
    with Client(transport=RequestsHTTPTransport(url=lab.url)) as session:
        assert session.execute(request)["continent"]["name"] == "Oceania"


def test_introspection_setting_and_reset() -> None:
    """settings.graphql_introspection=False refuses __schema; reset() clears faults and budgets."""
    state = LabState(settings=LabSettings(graphql_introspection=False), clock=VirtualClock(),
                     data=ShopData(build_dataset(42)), api_keys={})
    server = GraphQLServer(state)
    refused = server.run(graphql_api.server.GraphQLParams("{ __type(name: \"Country\") { name } }"),
                         {})
    assert refused.body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    server.introspection = True
    assert server.run(graphql_api.server.GraphQLParams("{ __type(name: \"Country\") { name } }"),
                      {}).body == {"data": {"__type": {"name": "Country"}}}
    server.faults.add("countries")
    server.budget.charge("anonimo", 10)
    server.reset()
    assert server.faults.rules == []
    assert not server.introspection_enabled  # back to the settings
    assert server.budget.charge("anonimo", 1).used == 1


def test_admin_fault_api(lab: Lab) -> None:
    """POST /__admin/graphql/faults adds a rule (admin token required); DELETE clears them."""
    admin = lab.url.replace("/graphql", "/__admin/graphql/faults")
    assert lab.http.post(admin, json={"path": "continent"}).status_code == 401
    created = lab.http.post(admin, json={"path": "continent", "times": 1},
                            headers={"X-Admin-Token": "adm"})
    assert created.status_code == 201
    assert lab.http.post(admin, json={"path": "no valido!"},
                         headers={"X-Admin-Token": "adm"}).status_code == 400
    failed = lab.post('{ continent(code: "SA") { name } }').json()
    assert failed["errors"][0]["path"] == ["continent"]
    assert lab.post('{ continent(code: "SA") { name } }').json() == {
        "data": {"continent": {"name": "South America"}}}
    lab.graphql.faults.add("continent")
    assert lab.http.delete(admin, headers={"X-Admin-Token": "adm"}).json() == {"faults": []}
    assert "errors" not in lab.post('{ continent(code: "SA") { name } }').json()
