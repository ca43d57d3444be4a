"""The lab's OAuth2 server, driven over loopback by requests, httpx and Authlib."""

from __future__ import annotations

import base64
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from fastapi import FastAPI

from connectors_lib.clock import VirtualClock
from mock_servers.data import ShopData, build_dataset
from mock_servers.oauth import OAuthServer, install, lab_clients, pkce_s256
from mock_servers.runner import ServerThread
from mock_servers.state import LabSettings, LabState

with warnings.catch_warnings():
    # Authlib 1.9 announces a rename of its httpx integration; the API we use is unchanged.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client as HttpxOAuth2Client

ADMIN = "admin-de-prueba"


@dataclass
class Lab:
    base: str
    state: LabState
    server: OAuthServer
    clock: VirtualClock
    #: One client for the module: building an httpx client per call costs ~40 ms (SSL context).
    http: httpx.Client

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth/token"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    clock = VirtualClock()
    state = LabState(
        settings=LabSettings(), clock=clock, data=ShopData(build_dataset(42)),
        api_keys={"k1": "alumno"}, admin_token=ADMIN,
    )
    app = FastAPI()
    server = install(app, state)
    thread = ServerThread(app)
    thread.start()
    with httpx.Client() as http:
        yield Lab(f"http://127.0.0.1:{thread.port}", state, server, clock, http)
    thread.stop()


def _etl() -> tuple[str, str]:
    client = lab_clients(42)[0]
    assert client.client_secret is not None
    return client.client_id, client.client_secret


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# -- client credentials -------------------------------------------------------


def test_client_credentials_with_basic_returns_a_bearer_token(lab: Lab) -> None:
    """HTTP Basic client auth yields the §5.1 body with no-store and the default scope."""
    r = requests.post(lab.token_url, data={"grant_type": "client_credentials"}, auth=_etl(),
                      timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "orders:read customers:read products:read graphql"
    assert r.headers["cache-control"] == "no-store"


def test_client_credentials_with_body_auth_and_scope_subset(lab: Lab) -> None:
    """Body client auth (client_secret_post) with a subset of scopes grants exactly that subset."""
    cid, secret = _etl()
    r = lab.http.post(lab.token_url, data={
        "grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
        "scope": "orders:read graphql",
    })
    assert r.status_code == 200
    assert r.json()["scope"] == "orders:read graphql"
    assert "refresh_token" not in r.json()  # RFC 6749 §4.4.3


@pytest.mark.parametrize(
    ("data", "headers", "status", "error"),
    [
        ({}, {}, 400, "invalid_request"),
        ({"grant_type": "password"}, {}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "lab-etl", "client_secret": "mal"},
         {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "nadie", "client_secret": "x"},
         {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "lab-notebook"},
         {}, 400, "unauthorized_client"),
        ({"grant_type": "client_credentials", "client_id": "lab-reportes"},
         {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic %%%"}, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Bearer abc"}, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials", "scope": "orders:write"}, "etl", 400,
         "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "orders:read  graphql"}, "etl", 400,
         "invalid_scope"),
        ({"grant_type": "client_credentials", "client_secret": "x"}, "etl", 400,
         "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "lab-reportes"}, "etl", 400,
         "invalid_request"),
        ({"grant_type": "refresh_token"}, {"Authorization": "Basic bGFiLW5vdGVib29rOg=="}, 401,
         "invalid_client"),
    ],
)
def test_token_errors_follow_rfc6749_section_5_2(
    lab: Lab, data: dict[str, str], headers: dict[str, str] | str, status: int, error: str
) -> None:
    """Each malformed or unauthorised token request gets its exact §5.2 error and status."""
    sent = {"Authorization": _basic(*_etl())} if headers == "etl" else headers
    assert isinstance(sent, dict)
    r = requests.post(lab.token_url, data=data, headers=sent, timeout=5)
    assert (r.status_code, r.json()["error"]) == (status, error)
    assert r.headers["cache-control"] == "no-store"
    assert r.json()["error_description"].isascii()
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type=client_credentials&grant_type=client_credentials",
         "application/x-www-form-urlencoded"),
        (b"grant_type=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"a=" + b"x" * 20_000, "application/x-www-form-urlencoded"),
        (b"", "text/plain"),
    ],
)
def test_malformed_bodies_are_invalid_request(lab: Lab, content: bytes, content_type: str) -> None:
    """JSON, repeated parameters, bad UTF-8 and oversized bodies are invalid_request, not 500."""
    r = lab.http.post(lab.token_url, content=content, headers={"Content-Type": content_type})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


# -- expiry, revocation, introspection ------------------------------------------


def _token(lab: Lab, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    r = requests.post(lab.token_url, data=data, auth=_etl(), timeout=5)
    return str(r.json()["access_token"])


def test_bearer_check_follows_the_lab_clock(lab: Lab) -> None:
    """A token is valid until its lifetime passes on the lab clock, then bearer_check says None."""
    token = _token(lab, "orders:read")
    assert lab.state.bearer_check is not None
    info = lab.state.bearer_check(token)
    assert info is not None
    assert (info["client_id"], info["scope"]) == ("lab-etl", "orders:read")
    assert info["exp"] == int(lab.clock.now()) + 300
    lab.clock.advance(299)
    assert lab.state.bearer_check(token) is not None
    lab.clock.advance(1)
    assert lab.state.bearer_check(token) is None
    assert lab.state.bearer_check("at_inventado") is None


def test_python_api_expires_and_revokes_on_demand(lab: Lab) -> None:
    """server.expire() and server.revoke() invalidate live tokens at once."""
    first, second = _token(lab), _token(lab)
    assert lab.server.expire(first) == 1
    assert lab.server.check(first) is None
    assert lab.server.check(second) is not None
    assert lab.server.revoke(client_id="lab-etl") >= 1
    assert lab.server.check(second) is None


def test_admin_api_expires_tokens_and_needs_the_admin_token(lab: Lab) -> None:
    """POST /__admin/oauth/expire works with X-Admin-Token and is 401 without it."""
    token = _token(lab)
    url = f"{lab.base}/__admin/oauth/expire"
    assert lab.http.post(url, json={"token": token}).status_code == 401
    r = lab.http.post(url, json={"token": token}, headers={"X-Admin-Token": ADMIN})
    assert (r.status_code, r.json()) == (200, {"affected": 1})
    assert lab.server.check(token) is None
    bad = lab.http.post(url, json={"token": 5}, headers={"X-Admin-Token": ADMIN})
    assert bad.status_code == 400


def test_revocation_endpoint_rfc7009(lab: Lab) -> None:
    """/oauth/revoke invalidates the caller's token, answers 200 for unknown ones."""
    token = _token(lab)
    r = requests.post(f"{lab.base}/oauth/revoke", data={"token": token}, auth=_etl(), timeout=5)
    assert r.status_code == 200
    assert lab.server.check(token) is None
    unknown = requests.post(f"{lab.base}/oauth/revoke", data={"token": "nada"}, auth=_etl(),
                            timeout=5)
    assert unknown.status_code == 200
    other = lab.server.issue("lab-reportes")["access_token"]
    refused = requests.post(f"{lab.base}/oauth/revoke", data={"token": other}, auth=_etl(),
                            timeout=5)
    assert refused.json()["error"] == "unauthorized_client"
    assert lab.server.check(other) is not None


def test_introspection_endpoint_rfc7662(lab: Lab) -> None:
    """/oauth/introspect reports an active token's claims and {"active": false} otherwise."""
    token = _token(lab, "products:read")
    url = f"{lab.base}/oauth/introspect"
    body = requests.post(url, data={"token": token}, auth=_etl(), timeout=5).json()
    assert body["active"] is True
    assert (body["scope"], body["client_id"], body["token_type"]) == (
        "products:read", "lab-etl", "Bearer")
    lab.server.expire(token)
    assert requests.post(url, data={"token": token}, auth=_etl(), timeout=5).json() == {
        "active": False}
    anonymous = requests.post(url, data={"token": token}, timeout=5)
    assert anonymous.status_code == 401
    public = requests.post(url, data={"token": token, "client_id": "lab-notebook"}, timeout=5)
    assert public.status_code == 401


# -- Authlib as an independent client -------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_requests_session_fetches_client_credentials(lab: Lab, method: str) -> None:
    """Authlib's OAuth2Session gets a token with either client auth method."""
    cid, secret = _etl()
    with OAuth2Session(cid, secret, scope="customers:read",
                       token_endpoint_auth_method=method) as session:
        token = session.fetch_token(lab.token_url, grant_type="client_credentials")
    assert token["scope"] == "customers:read"
    assert lab.server.check(token["access_token"]) is not None


def test_authlib_httpx_client_fetches_client_credentials(lab: Lab) -> None:
    """Authlib's httpx OAuth2Client gets a token the server accepts."""
    cid, secret = _etl()
    with HttpxOAuth2Client(cid, secret) as client:
        token = client.fetch_token(lab.token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_at"] > 0


# -- authorization code + PKCE + rotating refresh tokens ---------------------------

REDIRECT = "http://127.0.0.1:8765/callback"


def _authorize(lab: Lab, **params: str) -> httpx.Response:
    return lab.http.get(f"{lab.base}/oauth/authorize", params=params)


def _code(lab: Lab, verifier: str, state: str = "xyz") -> str:
    r = _authorize(lab, response_type="code", client_id="lab-notebook", redirect_uri=REDIRECT,
                   code_challenge=pkce_s256(verifier), code_challenge_method="S256", state=state)
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def _exchange(lab: Lab, code: str, verifier: str) -> httpx.Response:
    return lab.http.post(lab.token_url, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": "lab-notebook", "code_verifier": verifier,
    })


def test_authlib_pkce_flow_and_refresh_rotation(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Authlib runs authorize → code → token with PKCE S256, then refreshes with rotation."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http, not a real network
    verifier = secrets.token_urlsafe(48)
    session = OAuth2Session("lab-notebook", redirect_uri=REDIRECT, scope="orders:read",
                            code_challenge_method="S256", token_endpoint_auth_method="none")
    url, state = session.create_authorization_url(f"{lab.base}/oauth/authorize",
                                                  code_verifier=verifier)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["location"]
    assert location.startswith(REDIRECT)
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = session.fetch_token(lab.token_url, authorization_response=location,
                                code_verifier=verifier)
    assert token["scope"] == "orders:read"
    first_refresh = token["refresh_token"]
    renewed = session.refresh_token(lab.token_url)
    assert renewed["refresh_token"] != first_refresh
    assert lab.server.check(renewed["access_token"])["sub"] == "usuario-lab"  # type: ignore[index]
    session.close()


def test_reusing_a_rotated_refresh_token_revokes_the_family(lab: Lab) -> None:
    """A spent refresh token presented again is invalid_grant and kills every token of its grant."""
    verifier = "v" * 43
    tokens = _exchange(lab, _code(lab, verifier), verifier).json()
    data = {"grant_type": "refresh_token", "client_id": "lab-notebook"}
    second = lab.http.post(lab.token_url, data={**data, "refresh_token": tokens["refresh_token"]})
    assert second.status_code == 200
    replay = lab.http.post(lab.token_url, data={**data, "refresh_token": tokens["refresh_token"]})
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert lab.server.check(second.json()["access_token"]) is None
    again = lab.http.post(lab.token_url, data={**data,
                                            "refresh_token": second.json()["refresh_token"]})
    assert again.json()["error"] == "invalid_grant"


def test_refresh_cannot_widen_scope(lab: Lab) -> None:
    """Asking for more scope than the grant had on refresh is invalid_scope."""
    verifier = "w" * 60
    r = _authorize(lab, response_type="code", client_id="lab-notebook", redirect_uri=REDIRECT,
                   code_challenge=pkce_s256(verifier), code_challenge_method="S256",
                   scope="orders:read")
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    refresh = _exchange(lab, code, verifier).json()["refresh_token"]
    wider = lab.http.post(lab.token_url, data={
        "grant_type": "refresh_token", "client_id": "lab-notebook", "refresh_token": refresh,
        "scope": "orders:read graphql"})
    assert wider.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("problem", ["wrong_verifier", "reused", "expired", "other_redirect"])
def test_code_exchange_failures_are_invalid_grant(lab: Lab, problem: str) -> None:
    """Wrong verifier, reused or expired code and a different redirect_uri are invalid_grant."""
    verifier = "a" * 50
    code = _code(lab, verifier)
    if problem == "wrong_verifier":
        r = _exchange(lab, code, "b" * 50)
    elif problem == "reused":
        first = _exchange(lab, code, verifier)
        assert first.status_code == 200
        r = _exchange(lab, code, verifier)
        assert lab.server.check(first.json()["access_token"]) is None
    elif problem == "expired":
        lab.clock.advance(61)
        r = _exchange(lab, code, verifier)
    else:
        r = lab.http.post(lab.token_url, data={
            "grant_type": "authorization_code", "code": code, "client_id": "lab-notebook",
            "redirect_uri": "http://127.0.0.1:9/otra", "code_verifier": verifier})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "corto"}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
    ],
)
def test_authorize_errors_redirect_with_state(lab: Lab, params: dict[str, str], error: str) -> None:
    """Errors after the client and redirect URI are verified go back to the client with state."""
    base = {"response_type": "code", "client_id": "lab-notebook", "redirect_uri": REDIRECT,
            "code_challenge": pkce_s256("c" * 43), "code_challenge_method": "S256",
            "state": "s1"}
    r = _authorize(lab, **{**base, **params})
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert (r.status_code, query["error"], query["state"]) == (302, [error], ["s1"])


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "nadie", "redirect_uri": REDIRECT},
        {"client_id": "lab-notebook", "redirect_uri": "https://atacante.example/cb"},
        {"client_id": "lab-notebook", "redirect_uri": "http://127.0.0.1:99999/callback"},
    ],
)
def test_authorize_never_redirects_to_unverified_uris(lab: Lab, params: dict[str, str]) -> None:
    """An unknown client or unregistered redirect URI gets a 400 page, not a redirect."""
    r = _authorize(lab, response_type="code", **params)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_metadata_lists_the_endpoints(lab: Lab) -> None:
    """RFC 8414 metadata points at this server's endpoints and says S256."""
    meta = lab.http.get(f"{lab.base}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == lab.token_url
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_tokens_and_secrets_are_deterministic_from_the_seed() -> None:
    """Same seed, same client secrets and same token sequence; another seed differs."""
    def first_token(seed: int) -> str:
        state = LabState(settings=LabSettings(seed=seed), clock=VirtualClock(),
                         data=ShopData(build_dataset(seed)), api_keys={})
        return str(OAuthServer(state).issue("lab-etl")["access_token"])

    assert lab_clients(42) == lab_clients(42)
    assert lab_clients(42)[0].client_secret != lab_clients(7)[0].client_secret
    assert first_token(42) == first_token(42) != first_token(7)
    assert "***" in repr(lab_clients(42)[0])
    assert lab_clients(42)[0].client_secret not in repr(lab_clients(42)[0])  # type: ignore[operator]

