"""connectors_lib.auth: API keys, bearer, OAuth2 token lifecycle against the lab, real clients.

The lab (``rest_lab`` from conftest) is the real HTTP app with its OAuth2
server, on a :class:`VirtualClock`: ``clock.sleep(301)`` expires a token at
once. Token requests are counted in the lab's own request journal.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest
import requests
from conftest import KEY_ANA, RestLab
from hypothesis import given
from hypothesis import strategies as st

from connectors_lib.auth import (
    ApiKeyAuth,
    BearerAuth,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
)
from connectors_lib.clock import VirtualClock
from connectors_lib.errors import (
    AuthError,
    ConnectError,
    ConnectorError,
    HTTPStatusError,
    RateLimitError,
    ResponseDecodeError,
    ValidationError,
)
from connectors_lib.tokens import (
    Secret,
    TokenManager,
    TokenReply,
    effective_skew,
    make_pkce_pair,
    needs_refresh,
    read_env,
)
from mock_servers.oauth import lab_clients, pkce_s256

TOKEN_PATH = "/oauth/token"
Kind = Literal["httpx", "requests"]
KINDS: tuple[Kind, ...] = ("httpx", "requests")


def _creds(index: int = 0) -> tuple[str, str]:
    client = lab_clients(42)[index]
    assert client.client_secret is not None
    return client.client_id, client.client_secret


ETL_ID, ETL_SECRET = _creds(0)
REPORTS_ID, REPORTS_SECRET = _creds(1)


def _oauth(lab: RestLab, scope: str = "orders:read", **kwargs: Any) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        f"{lab.base_url}{TOKEN_PATH}", ETL_ID, ETL_SECRET, scope=scope, clock=lab.clock, **kwargs
    )


def _token_calls(lab: RestLab) -> int:
    return len(lab.state.journal.entries(path=TOKEN_PATH))


def _get(kind: Kind, url: str, auth: Any) -> int:
    """One GET with the named real client; returns the status."""
    if kind == "httpx":
        with httpx.Client(timeout=5) as client:
            return client.get(url, params={"limit": 1}, auth=auth).status_code
    return requests.get(url, params={"limit": 1}, auth=auth, timeout=5).status_code


def _expire_server_side(lab: RestLab) -> None:
    r = httpx.post(f"{lab.base_url}/__admin/oauth/expire", json={"client_id": ETL_ID},
                   headers=lab.admin_headers)
    assert r.status_code == 200
    assert r.json()["affected"] >= 1


# -- pure decisions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expires_at", "skew", "expected"),
    [
        (0.0, 300.0, 60.0, False),      # fresh
        (239.9, 300.0, 60.0, False),    # just before the margin
        (240.0, 300.0, 60.0, True),     # exactly at the margin: renew
        (301.0, 300.0, 60.0, True),     # expired
        (299.0, 300.0, 0.0, False),     # no margin
        (1e12, None, 60.0, False),      # no expires_in: only a 401 renews it
    ],
)
def test_needs_refresh_renews_skew_seconds_early(
    now: float, expires_at: float | None, skew: float, expected: bool
) -> None:
    """needs_refresh is true from expires_at - skew on, and never without an expiry."""
    assert needs_refresh(now, expires_at, skew) is expected


@pytest.mark.parametrize(
    ("lifetime", "skew", "expected"),
    [(300.0, 60.0, 60.0), (60.0, 60.0, 30.0), (10.0, 60.0, 5.0), (0.0, 60.0, 0.0)],
)
def test_effective_skew_never_exceeds_half_the_lifetime(
    lifetime: float, skew: float, expected: float
) -> None:
    """A short-lived token is renewed at half its life, not on every call."""
    assert effective_skew(lifetime, skew) == expected


@given(
    issued=st.floats(0, 1e10),
    lifetime=st.floats(1e-3, 1e7),
    skew=st.floats(0, 1e7),
)
def test_a_fresh_token_is_never_due_at_once(issued: float, lifetime: float, skew: float) -> None:
    """Whatever the skew, a token just issued is usable: no renewal loop on short lifetimes."""
    margin = effective_skew(lifetime, skew)
    assert not needs_refresh(issued, issued + lifetime, margin)
    assert needs_refresh(issued + lifetime, issued + lifetime, margin)


# -- secrets never show ---------------------------------------------------------------------------


def test_secret_hides_its_value_and_refuses_pickle() -> None:
    """Secret prints ***, compares in constant time, reveals on demand, cannot be pickled."""
    secret = Secret("s3cr3t-valor")
    shown = f"{secret} {secret!r} {secret!s} {[secret]}"
    assert "s3cr3t" not in shown
    assert secret.reveal() == "s3cr3t-valor"
    assert secret == Secret("s3cr3t-valor")
    assert secret != Secret("otro")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="no vacío"):
        Secret("")


def _auth_objects() -> list[Any]:
    url = "http://127.0.0.1:1/oauth/token"
    return [
        ApiKeyAuth("s3cr3t-valor"),
        ApiKeyAuth("s3cr3t-valor", location="query"),
        BearerAuth("s3cr3t-valor"),
        OAuth2ClientCredentials(url, "cliente", "s3cr3t-valor"),
        OAuth2RefreshToken(url, "cliente", "s3cr3t-valor", client_secret="s3cr3t-valor"),
        TokenManager(url, "cliente", "s3cr3t-valor"),
    ]


@pytest.mark.parametrize("obj", _auth_objects(), ids=lambda o: type(o).__name__)
def test_no_secret_in_repr_or_str(obj: Any) -> None:
    """repr and str of every auth object show *** instead of the secret."""
    assert "s3cr3t" not in repr(obj)
    assert "s3cr3t" not in str(obj)
    assert "***" in repr(obj)


def test_repr_is_stable_across_runs(rest_lab: RestLab) -> None:
    """The lab's ephemeral port never shows, so a notebook's stored output stays the same."""
    auth = _oauth(rest_lab)
    _get("httpx", rest_lab.orders_url, auth)
    shown = repr(auth)
    assert str(rest_lab.server.port) not in shown
    assert shown == (
        "OAuth2ClientCredentials(token_url='http://127.0.0.1:<puerto>/oauth/token', "
        "client_id='lab-etl', client_secret=***, scopes='orders:read', token expira en 300 s)"
    )


def test_no_secret_in_token_repr_logs_or_errors(
    rest_lab: RestLab, caplog: pytest.LogCaptureFixture
) -> None:
    """After a real token fetch, neither the token, its repr, the logs nor errors hold secrets."""
    auth = _oauth(rest_lab)
    with caplog.at_level(logging.DEBUG, logger="connectors_lib.auth"):
        assert _get("httpx", rest_lab.orders_url, auth) == 200
    token = auth.token
    assert token is not None
    value = token.access_token.reveal()
    assert "token OAuth2 obtenido" in caplog.text
    for text in (caplog.text, repr(token), repr(auth), repr(auth.events)):
        assert value not in text
        assert ETL_SECRET not in text
    wrong = OAuth2ClientCredentials(f"{rest_lab.base_url}{TOKEN_PATH}", ETL_ID, "no-es-el-secreto")
    with pytest.raises(AuthError) as info:
        _get("httpx", rest_lab.orders_url, wrong)
    assert "no-es-el-secreto" not in str(info.value)


def test_pkce_pair_matches_the_lab_s256() -> None:
    """make_pkce_pair gives an RFC 7636 verifier and the challenge the lab computes."""
    pair = make_pkce_pair()
    assert 43 <= len(pair.verifier) <= 128
    assert pair.challenge == pkce_s256(pair.verifier)
    assert pair.verifier not in repr(pair)


# -- building and reading token requests (pure) ---------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "client_auth", "form_keys", "basic"),
    [
        ("s:é/+ x", "basic", {"grant_type", "scope"}, True),
        ("s:é/+ x", "body", {"grant_type", "scope", "client_id", "client_secret"}, False),
        (None, "basic", {"grant_type", "scope", "client_id", "refresh_token"}, False),
    ],
    ids=["basic", "body", "public-client"],
)
def test_token_request_authenticates_the_client_as_told(
    secret: str | None, client_auth: Literal["basic", "body"], form_keys: set[str], basic: bool
) -> None:
    """Basic form-urlencodes id and secret before Base64 (RFC 6749 §2.3.1); body uses the form."""
    manager = TokenManager(
        "https://auth.example/token", "mi cliente", secret, scope=["a:read", "b:read"],
        client_auth=client_auth,
        grant_type="client_credentials" if secret else "refresh_token",
        refresh_token=None if secret else "rt-1",
    )
    request = manager.build_request()
    assert set(request.form) == form_keys
    assert request.form["scope"] == "a:read b:read"
    assert ("Authorization" in request.headers) is basic
    if basic:
        raw = base64.b64decode(request.headers["Authorization"].split()[1]).decode()
        user, password = raw.split(":", 1)
        assert (unquote_plus(user), unquote_plus(password)) == ("mi cliente", secret)
    assert "s:é" not in repr(request)


def _reply(body: bytes, status: int = 200, **headers: str) -> TokenReply:
    return TokenReply(status, body, headers)


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b"<html>", ResponseDecodeError, "no es JSON"),
        (b'{"token_type": "Bearer"}', ValidationError, "access_token"),
        (b'{"access_token": "x", "token_type": "mac"}', ValidationError, "no soportado"),
        (b'{"access_token": "x", "token_type": "Bearer", "expires_in": 0}', ValidationError,
         "no es positivo"),
    ],
)
def test_malformed_token_answers_are_clear_errors(
    body: bytes, error: type[Exception], match: str
) -> None:
    """A 200 that is not a usable RFC 6749 §5.1 token raises a Spanish error naming the problem."""
    manager = TokenManager("https://auth.example/token", "c", "s", clock=VirtualClock())
    with pytest.raises(error, match=match):
        manager.accept(manager.build_request(), _reply(body), "inicial")
    assert manager.token is None


@pytest.mark.parametrize(
    ("body", "expires_at", "scopes"),
    [
        (b'{"access_token": "x", "token_type": "bearer", "expires_in": 300, "scope": "b"}',
         300.0, ("b",)),
        (b'{"access_token": "x", "token_type": "Bearer", "expires_in": "120"}', 120.0, ("a",)),
        (b'{"access_token": "x", "token_type": "Bearer"}', None, ("a",)),
    ],
)
def test_token_answer_fields_are_read_as_rfc6749_says(
    body: bytes, expires_at: float | None, scopes: tuple[str, ...]
) -> None:
    """token_type ignores case; expires_in may be text or absent; scope defaults to the request."""
    clock = VirtualClock(start=0.0)
    manager = TokenManager("https://auth.example/token", "c", "s", scope="a", clock=clock)
    token = manager.accept(manager.build_request(), _reply(body), "inicial")
    assert token is not None
    assert (token.expires_at, token.scopes) == (expires_at, scopes)


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (401, b'{"error": "invalid_client"}', AuthError, "OAUTH_CLIENT_SECRET"),
        (400, b'{"error": "invalid_scope"}', AuthError, "scope pedido"),
        (400, b'{"error": "invalid_grant", "error_description": "caducado"}', AuthError,
         "servidor: caducado"),
        (400, b'{"error": "rareza"}', AuthError, "error=rareza"),
        (429, b"", RateLimitError, "Retry-After"),
        (503, b"oops", HTTPStatusError, "backoff"),
        (404, b"not found", HTTPStatusError, "token_url"),
    ],
)
def test_token_endpoint_errors_map_to_the_tree(
    status: int, body: bytes, error: type[Exception], match: str
) -> None:
    """RFC 6749 §5.2 errors become AuthError; 429 and 5xx keep their retryable classes."""
    manager = TokenManager("https://auth.example/token", "c", "s", clock=VirtualClock())
    with pytest.raises(error, match=match) as info:
        manager.accept(manager.build_request(), _reply(body, status), "inicial")
    assert type(info.value) is error
    assert manager.events[-1].ok is False


def test_refused_refresh_token_falls_back_to_client_credentials_once() -> None:
    """Under client credentials a spent refresh token is dropped and the base grant is used."""
    clock = VirtualClock(start=0.0)
    manager = TokenManager("https://auth.example/token", "c", "s", refresh_token="rt-1",
                           clock=clock)
    flow = manager.refresh_flow(None)
    first = next(flow)
    assert (first.grant_type, first.form["refresh_token"]) == ("refresh_token", "rt-1")
    second = flow.send(_reply(b'{"error": "invalid_grant"}', 400))
    assert second.grant_type == "client_credentials"
    assert "refresh_token" not in second.form
    rotated = b'{"access_token": "a2", "token_type": "Bearer", "refresh_token": "rt-2"}'
    with pytest.raises(StopIteration) as done:
        flow.send(_reply(rotated))
    assert done.value.value.access_token == Secret("a2")
    assert manager.build_request().form["refresh_token"] == "rt-2"  # rotation kept the new one
    assert [(e.grant_type, e.ok) for e in manager.events] == [
        ("refresh_token", False), ("client_credentials", True)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"token_url": "http://auth.example/token"}, "http://"),
        ({"token_url": "ftp://127.0.0.1/token"}, "http"),
        ({"skew": -1.0}, "negativo"),
        ({"client_auth": "jwt"}, "client_auth"),
        ({"client_id": ""}, "client_id"),
    ],
)
def test_unsafe_or_wrong_configuration_is_refused(kwargs: dict[str, Any], match: str) -> None:
    """Plain http outside loopback, a negative skew or an unknown client auth raise at once."""
    args: dict[str, Any] = {"token_url": "https://auth.example/t", "client_id": "c",
                            "client_secret": "s", **kwargs}
    with pytest.raises(ValueError, match=match):
        OAuth2ClientCredentials(**args)


# -- token lifecycle against the lab --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_token_is_cached_and_renewed_ahead_of_expiry(rest_lab: RestLab, kind: Kind) -> None:
    """One token serves calls until expires_in - skew (240 s of 300), then exactly one renewal."""
    auth = _oauth(rest_lab)
    for _ in range(3):
        assert _get(kind, rest_lab.orders_url, auth) == 200
    assert _token_calls(rest_lab) == 1
    rest_lab.clock.sleep(239)
    assert _get(kind, rest_lab.orders_url, auth) == 200
    assert _token_calls(rest_lab) == 1
    rest_lab.clock.sleep(1)  # now at expires_at - 60 s: renew before it dies on the way
    assert _get(kind, rest_lab.orders_url, auth) == 200
    assert _token_calls(rest_lab) == 2
    assert [e.reason for e in auth.events] == ["inicial", "caducidad"]
    assert auth.events[0].expires_in == 300.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_authenticates_by_basic_or_body(
    rest_lab: RestLab, kind: Kind, client_auth: Literal["basic", "body"]
) -> None:
    """Both client authentication methods of RFC 6749 §2.3.1 get a token from the lab."""
    auth = _oauth(rest_lab, client_auth=client_auth)
    assert _get(kind, rest_lab.orders_url, auth) == 200
    assert auth.token is not None
    assert auth.token.scopes == ("orders:read",)


@pytest.mark.parametrize("kind", KINDS)
def test_revoked_token_is_renewed_once_on_401(rest_lab: RestLab, kind: Kind) -> None:
    """A token the server expired early answers 401: one renewal, the same call succeeds."""
    auth = _oauth(rest_lab)
    assert _get(kind, rest_lab.orders_url, auth) == 200
    _expire_server_side(rest_lab)
    assert _get(kind, rest_lab.orders_url, auth) == 200
    assert _token_calls(rest_lab) == 2
    statuses = [e.status for e in rest_lab.state.journal.entries(path="/api/v1/orders")]
    assert statuses == [200, 401, 200]
    assert auth.events[-1].reason == "401"


@pytest.mark.parametrize("kind", KINDS)
def test_second_401_raises_auth_error_without_looping(rest_lab: RestLab, kind: Kind) -> None:
    """If the fresh token is refused too, AuthError says so after exactly one renewal."""
    auth = _oauth(rest_lab)
    rest_lab.state.faults.add("status=401", path="/api/v1/orders", times=2)
    with pytest.raises(AuthError, match="recién emitido") as info:
        _get(kind, rest_lab.orders_url, auth)
    assert info.value.status == 401
    assert _token_calls(rest_lab) == 2
    entries = rest_lab.state.journal.entries(path="/api/v1/orders")
    assert [(e.status, e.fault) for e in entries] == [(401, "status=401")] * 2, entries


@pytest.mark.parametrize("kind", KINDS)
def test_missing_scope_raises_a_clear_403(rest_lab: RestLab, kind: Kind) -> None:
    """A resource that needs another scope raises AuthError naming it, without renewing."""
    auth = _oauth(rest_lab, scope="orders:read")
    with pytest.raises(AuthError, match="customers:read") as info:
        _get(kind, f"{rest_lab.base_url}/api/v1/customers", auth)
    assert info.value.status == 403
    assert _token_calls(rest_lab) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("client", "scope", "match"),
    [
        ((ETL_ID, "equivocado"), "orders:read", "invalid_client"),
        ((REPORTS_ID, REPORTS_SECRET), "orders:read", "invalid_scope"),
    ],
    ids=["wrong-secret", "scope-not-allowed"],
)
def test_token_endpoint_refusals_raise_spanish_auth_errors(
    rest_lab: RestLab, kind: Kind, client: tuple[str, str], scope: str, match: str
) -> None:
    """A wrong secret or a scope the client may not have fails at the token endpoint, clearly."""
    auth = OAuth2ClientCredentials(f"{rest_lab.base_url}{TOKEN_PATH}", *client, scope=scope,
                                   clock=rest_lab.clock)
    with pytest.raises(AuthError, match=match):
        _get(kind, rest_lab.orders_url, auth)
    assert rest_lab.state.journal.entries(path="/api/v1/orders") == []


def test_unreachable_token_endpoint_is_a_connect_error_with_requests() -> None:
    """With requests, a token endpoint that refuses connections raises the library ConnectError."""
    auth = OAuth2ClientCredentials("http://127.0.0.1:1/oauth/token", ETL_ID, ETL_SECRET,
                                   timeout=2)
    with pytest.raises(ConnectError, match="no se pudo conectar") as info:
        auth(requests.Request("GET", "http://127.0.0.1:1/x").prepare())
    assert ETL_SECRET not in str(info.value)
    assert "<puerto>" in str(info.value)
    auth.close()


# -- single flight --------------------------------------------------------------------------------


def _hammer(n: int, make_call: Callable[[], Callable[[], int]]) -> list[int]:
    """Run ``n`` threads, each with its own ``make_call()``, released together; return statuses."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        call = make_call()  # build the client first, so the threads meet at the token
        barrier.wait()
        status = call()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return statuses


@pytest.mark.parametrize("kind", KINDS)
def test_fifty_threads_cause_exactly_one_token_request(rest_lab: RestLab, kind: Kind) -> None:
    """50 threads on a missing, then an expired token: one token request each time."""
    auth = _oauth(rest_lab)
    sessions: list[requests.Session] = []
    with httpx.Client(timeout=10) as shared:

        def make_call() -> Callable[[], int]:
            if kind == "httpx":
                return lambda: shared.get(rest_lab.orders_url, auth=auth).status_code
            session = requests.Session()
            sessions.append(session)
            return lambda: session.get(rest_lab.orders_url, auth=auth, timeout=10).status_code

        assert _hammer(50, make_call) == [200] * 50
        assert _token_calls(rest_lab) == 1
        rest_lab.clock.sleep(301)
        assert _hammer(50, make_call) == [200] * 50
    for session in sessions:
        session.close()
    assert _token_calls(rest_lab) == 2
    assert auth.token_requests == 2


def test_fifty_async_tasks_cause_exactly_one_token_request(rest_lab: RestLab) -> None:
    """httpx.AsyncClient: 50 concurrent tasks share one token request, also after expiry."""
    auth = _oauth(rest_lab)

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            async def call() -> int:
                r = await client.get(rest_lab.orders_url, params={"limit": 1}, auth=auth)
                return r.status_code

            first = await asyncio.gather(*(call() for _ in range(50)))
            rest_lab.clock.sleep(301)
            second = await asyncio.gather(*(call() for _ in range(50)))
            return [*first, *second]

    assert asyncio.run(main()) == [200] * 100
    assert _token_calls(rest_lab) == 2
    asyncio.run(main())  # a second event loop gets its own lock and still works
    assert _token_calls(rest_lab) == 3  # one renewal for the expiry inside main()


def test_async_401_then_still_401(rest_lab: RestLab) -> None:
    """The async flow renews once on 401 and raises AuthError if the new token is refused too."""
    auth = _oauth(rest_lab)

    async def status() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(rest_lab.orders_url, auth=auth)).status_code

    assert asyncio.run(status()) == 200
    _expire_server_side(rest_lab)
    assert asyncio.run(status()) == 200
    rest_lab.state.faults.add("status=401", path="/api/v1/orders", times=2)
    with pytest.raises(AuthError, match="recién emitido"):
        asyncio.run(status())
    assert _token_calls(rest_lab) == 3


# -- refresh-token rotation (authorization code + PKCE) ----------------------------------------

REDIRECT = "http://127.0.0.1:8765/callback"


def _refresh_token_from_pkce(lab: RestLab, scope: str) -> str:
    pair = make_pkce_pair()
    r = httpx.get(f"{lab.base_url}/oauth/authorize", params={
        "response_type": "code", "client_id": "lab-notebook", "redirect_uri": REDIRECT,
        "scope": scope, "code_challenge": pair.challenge, "code_challenge_method": "S256",
        "state": "s1",
    })
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    answer = httpx.post(f"{lab.base_url}{TOKEN_PATH}", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": "lab-notebook", "code_verifier": pair.verifier,
    })
    return str(answer.json()["refresh_token"])


@pytest.mark.parametrize("kind", KINDS)
def test_refresh_tokens_rotate_and_a_replay_is_refused(rest_lab: RestLab, kind: Kind) -> None:
    """Each renewal spends the refresh token and keeps the new one; reusing an old one fails."""
    first = _refresh_token_from_pkce(rest_lab, "orders:read")
    url = f"{rest_lab.base_url}{TOKEN_PATH}"
    auth = OAuth2RefreshToken(url, "lab-notebook", first, clock=rest_lab.clock)
    assert _get(kind, rest_lab.orders_url, auth) == 200
    rest_lab.clock.sleep(301)
    assert _get(kind, rest_lab.orders_url, auth) == 200  # works only if the rotated one was kept
    assert [e.grant_type for e in auth.events] == ["refresh_token", "refresh_token"]
    replay = OAuth2RefreshToken(url, "lab-notebook", first, clock=rest_lab.clock)
    with pytest.raises(AuthError, match="invalid_grant"):
        _get(kind, rest_lab.orders_url, replay)
    # The server saw the replay and revoked the whole family (RFC 9700): the live one dies too.
    rest_lab.clock.sleep(301)
    with pytest.raises(AuthError, match="invalid_grant"):
        _get(kind, rest_lab.orders_url, auth)


# -- static credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("location", ["header", "query"])
def test_api_key_goes_in_header_by_default_or_in_the_query(
    rest_lab: RestLab, kind: Kind, location: Literal["header", "query"]
) -> None:
    """ApiKeyAuth sends X-API-Key (default) or ?api_key=, as the lab journal shows."""
    auth = ApiKeyAuth(KEY_ANA, location=location)
    status = _get(kind, rest_lab.orders_url, auth)
    (entry,) = rest_lab.state.journal.entries(path="/api/v1/orders")
    if location == "header":
        assert status == 200
        assert entry.learner == "ana"
        assert "api_key" not in entry.query
    else:
        assert parse_qs(entry.query)["api_key"] == [KEY_ANA]


@pytest.mark.parametrize("kind", KINDS)
def test_bearer_auth_sends_a_fixed_token(rest_lab: RestLab, kind: Kind) -> None:
    """BearerAuth with a token from the lab passes; with a made-up one the lab answers 401."""
    token = httpx.post(f"{rest_lab.base_url}{TOKEN_PATH}", auth=(ETL_ID, ETL_SECRET),
                       data={"grant_type": "client_credentials", "scope": "orders:read"})
    good = BearerAuth(token.json()["access_token"])
    assert _get(kind, rest_lab.orders_url, good) == 200
    assert _get(kind, rest_lab.orders_url, BearerAuth("inventado")) == 401


# -- secrets from the environment -----------------------------------------------------------------


@pytest.fixture
def oauth_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment without OAUTH_* variables; returns where a .env file may go."""
    for name in ("OAUTH_TOKEN_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / ".env"


def test_from_env_reads_dotenv_and_the_environment_wins(
    rest_lab: RestLab, oauth_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings come from .env, the process environment overrides them, the result works."""
    oauth_env.write_text(
        f"OAUTH_TOKEN_URL={rest_lab.base_url}{TOKEN_PATH}\nOAUTH_CLIENT_ID={ETL_ID}\n"
        "OAUTH_CLIENT_SECRET=el-del-fichero\nOAUTH_SCOPE=orders:read\n", encoding="utf-8",
    )
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", ETL_SECRET)
    auth = OAuth2ClientCredentials.from_env(env_file=oauth_env, clock=rest_lab.clock)
    assert _get("httpx", rest_lab.orders_url, auth) == 200
    assert auth.manager.scopes == ("orders:read",)


def test_missing_settings_are_listed_without_values(
    oauth_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing variable raises one ConnectorError naming every missing one, no values."""
    monkeypatch.setenv("OAUTH_CLIENT_ID", "valor-visible-no")
    with pytest.raises(ConnectorError, match="OAUTH_TOKEN_URL, OAUTH_CLIENT_SECRET") as info:
        OAuth2ClientCredentials.from_env(env_file=oauth_env)
    assert "valor-visible-no" not in str(info.value)
    with pytest.raises(ConnectorError, match="API_KEY"):
        read_env(["API_KEY"], env_file=None)


def test_api_key_from_env_works_against_the_lab(
    rest_lab: RestLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ApiKeyAuth.from_env reads API_KEY (the original lesson's variable) and authenticates."""
    monkeypatch.setenv("API_KEY", KEY_ANA)
    auth = ApiKeyAuth.from_env(env_file=None)
    assert _get("requests", rest_lab.orders_url, auth) == 200
    assert KEY_ANA not in repr(auth)


# -- the learner's entry point ---------------------------------------------------------------------


def test_works_with_mock_servers_start_as_in_the_lessons(monkeypatch: pytest.MonkeyPatch) -> None:
    """mock_servers.start() + lab.token_url + lab.clock: 300 s of lab time pass in no time."""
    import mock_servers

    lab = mock_servers.start(seed=42, clock=VirtualClock(), sftp=False, proxy=False)
    try:
        monkeypatch.setenv("OAUTH_TOKEN_URL", lab.token_url)
        monkeypatch.setenv("OAUTH_CLIENT_ID", ETL_ID)
        monkeypatch.setenv("OAUTH_CLIENT_SECRET", ETL_SECRET)
        monkeypatch.setenv("OAUTH_SCOPE", "orders:read customers:read")
        auth = OAuth2ClientCredentials.from_env(env_file=None, clock=lab.clock)
        with httpx.Client(base_url=lab.base_url, auth=auth, timeout=5) as client:
            assert client.get("/api/v1/orders").json()["total"] == 1200
            lab.clock.sleep(300)
            assert client.get("/api/v1/customers").status_code == 200
        assert [e.reason for e in auth.events] == ["inicial", "caducidad"]
        assert len(lab.journal.entries(path=TOKEN_PATH)) == 2
    finally:
        lab.stop()
