"""Fuzzing /oauth/token and /oauth/authorize: any input gets an RFC 6749 answer, never a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors_lib.clock import VirtualClock
from mock_servers import oauth
from mock_servers.data import ShopData, build_dataset
from mock_servers.runner import ServerThread
from mock_servers.state import LabSettings, LabState

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
          "unsupported_grant_type", "invalid_scope", "unsupported_response_type"}
_ETL = oauth.lab_clients(42)[0]

_names = st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "code",
                          "code_verifier", "redirect_uri", "refresh_token", "x"])
_values = st.one_of(
    st.sampled_from(["client_credentials", "authorization_code", "refresh_token", "password",
                     "lab-etl", "lab-notebook", str(_ETL.client_secret), "orders:read graphql",
                     "graphql", " ", ""]),
    st.text(max_size=40),
)
_auth = st.one_of(
    st.none(),
    st.just("Basic " + base64.b64encode(f"lab-etl:{_ETL.client_secret}".encode()).decode()),
    st.text(max_size=30).map(lambda t: "Basic " + base64.b64encode(t.encode()).decode()),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
).map(lambda v: None if v is None else v.strip() or "x")  # what HTTP lets a client send
_CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain",
                  "application/x-www-form-urlencoded; charset=utf-8"]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    state = LabState(settings=LabSettings(), clock=VirtualClock(), data=ShopData(build_dataset(42)),
                     api_keys={})
    app = FastAPI()
    oauth.install(app, state)
    thread = ServerThread(app)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{thread.port}", timeout=10) as http:
        yield http
    thread.stop()


@FUZZ
@given(pairs=st.lists(st.tuples(_names, _values), max_size=6), authorization=_auth,
       content_type=st.sampled_from(_CONTENT_TYPES))
def test_token_endpoint_answers_every_request_per_rfc6749(
    client: httpx.Client, pairs: list[tuple[str, str]], authorization: str | None,
    content_type: str,
) -> None:
    """Random parameters, repeats and Authorization headers give a token or a §5.2 error."""
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    r = client.post("/oauth/token", content=urlencode(pairs).encode(), headers=headers)
    assert r.status_code in (200, 400, 401)
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    if r.status_code == 200:
        assert body["token_type"] == "Bearer"
    else:
        assert body["error"] in ERRORS
        assert body["error_description"].isascii()
    if r.status_code == 401:
        assert r.headers["www-authenticate"].startswith("Basic")


@FUZZ
@given(body=st.binary(max_size=400))
def test_token_endpoint_survives_random_bytes(client: httpx.Client, body: bytes) -> None:
    """Arbitrary bytes as a form body are a 4xx with a §5.2 error."""
    r = client.post("/oauth/token", content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 401)
    assert r.json()["error"] in ERRORS


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["response_type", "client_id", "redirect_uri", "scope", "state",
                     "code_challenge", "code_challenge_method"]),
    st.one_of(st.sampled_from(["code", "lab-notebook", "http://127.0.0.1:5000/callback", "S256",
                               "A" * 43]), st.text(max_size=50)),
    max_size=7,
))
def test_authorize_endpoint_redirects_only_to_registered_uris(
    client: httpx.Client, params: dict[str, str]
) -> None:
    """The authorize endpoint either redirects to the loopback callback or answers a 400."""
    r = client.get("/oauth/authorize", params=params)
    assert r.status_code in (302, 400)
    if r.status_code == 302:
        assert r.headers["location"].startswith("http://127.0.0.1")
        assert "/callback?" in r.headers["location"]
