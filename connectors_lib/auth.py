"""Authentication for HTTP connectors: API key, static bearer, OAuth2 with a token cache.

Every class here works the same way with both HTTP clients of the course:

* **httpx** (sync and async): pass it as ``auth=``. It is an :class:`httpx.Auth`
  whose ``auth_flow`` *yields* the token request itself (``response = yield
  request``), so the token is fetched through the very client that sends the API
  call: no second client, no hidden connection pool, the same transport, proxy
  and TLS settings.
* **requests**: pass it as ``auth=``. ``requests`` only calls ``auth(prepared)``
  (a callable, the :class:`requests.auth.AuthBase` contract); a response hook
  renews the token and repeats the request once on a 401.

The OAuth2 part is split in two, the pure part apart from the effect. In
:mod:`connectors_lib.tokens` (no I/O, no httpx): :func:`needs_refresh` decides
*when* to renew; :class:`TokenManager` caches the token, builds the token
request, reads the answer (RFC 6749 §5.1 success, §5.2 errors mapped to
:class:`~connectors_lib.errors.AuthError` in Spanish) and owns the
single-flight locks. Here: the drivers that carry its requests over httpx or
requests, and the 401 / 403 handling of the API calls themselves (RFC 6750).
Those names are re-exported here, so ``connectors_lib.auth`` is the one import.

Guarantees:

* the token is renewed ``skew`` seconds before it expires (never less than half
  its lifetime early, so a short-lived token is not renewed on every call);
* **single flight**: 50 threads that find an expired token cause exactly one
  token request (a :class:`threading.Lock`, double-checked); asyncio tasks share
  one :class:`asyncio.Lock` per event loop;
* a 401 renews the token once and repeats the request; a second 401 raises
  :class:`~connectors_lib.errors.AuthError`. A 403 with
  ``error="insufficient_scope"`` (RFC 6750 §3.1) raises at once, naming the scope;
* refresh-token rotation: when the server issues a refresh token it is used
  (``grant_type=refresh_token``) and replaced by the new one it returns;
* secrets (:class:`Secret`) never appear in ``repr``, ``str``, messages or logs,
  and cannot be pickled.

Credentials come from the environment or a ``.env`` file
(:meth:`OAuth2ClientCredentials.from_env`: ``OAUTH_TOKEN_URL``,
``OAUTH_CLIENT_ID``, ``OAUTH_CLIENT_SECRET``, ``OAUTH_SCOPE``), never from code.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

# httpx.Auth must be a real base class: httpx recognises an auth object by
# isinstance(), and a plain callable would lose the 401 retry. httpx is the
# course's HTTP client, so it is already loaded wherever this module is used.
import httpx

from .clock import Clock
from .errors import AuthError, ConnectError, RequestTimeout, shown_url
from .tokens import (
    ClientAuthMethod,
    Secret,
    Token,
    TokenEvent,
    TokenManager,
    TokenReply,
    TokenRequest,
    _secret,
    read_env,
)

if TYPE_CHECKING:  # requests is imported lazily, only when it is used (import speed)
    import requests

# The token machinery (TokenManager, Secret, PKCE...) lives in .tokens and is
# importable from here too; __all__ names what this module defines.
__all__ = [
    "ApiKeyAuth",
    "BearerAuth",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
]

ApiKeyLocation = Literal["header", "query"]

#: ``key="value"`` pairs inside a ``WWW-Authenticate`` challenge (RFC 6750 §3).
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


# --- bearer challenges (RFC 6750 §3) ---------------------------------------------------------


def _challenge(headers: Mapping[str, str]) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` challenge (empty if none)."""
    value = headers.get("www-authenticate") or headers.get("WWW-Authenticate") or ""
    return dict(_CHALLENGE_PARAM.findall(value)) if "bearer" in value.lower() else {}


def _scope_error(headers: Mapping[str, str], token: Token, **context: Any) -> AuthError | None:
    """An :class:`AuthError` for a 403 ``insufficient_scope`` (RFC 6750 §3.1), else ``None``."""
    params = _challenge(headers)
    if params.get("error") != "insufficient_scope":
        return None
    needed = params.get("scope", "?")
    have = " ".join(token.scopes) or "ninguno"
    return AuthError(
        f"HTTP 403: el token no tiene el scope que pide este recurso ({needed}); el token "
        f"tiene: {have}. Pídelo en scope=... al crear la autenticación (y comprueba que el "
        "cliente lo tenga permitido). Renovar el mismo token no lo arreglará.",
        status=403, **context,
    )


def _still_unauthorized(headers: Mapping[str, str], **context: Any) -> AuthError:
    detail = _challenge(headers).get("error_description")
    return AuthError(
        "HTTP 401 también con un token recién emitido: el recurso no acepta los tokens de "
        "este cliente (¿revocado?, ¿otra audiencia o token_url?). Revisa las credenciales; "
        "reintentar no lo arreglará." + (f" (servidor: {detail})" if detail else ""),
        status=401, **context,
    )


# --- drivers: httpx and requests ---------------------------------------------------------------


def _to_httpx(request: TokenRequest) -> httpx.Request:
    return httpx.Request(
        "POST", request.url, data=dict(request.form), headers=dict(request.headers)
    )


def _from_httpx(response: httpx.Response) -> TokenReply:
    return TokenReply(response.status_code, response.content, response.headers, raw=response)


def _apply_bearer(headers: Any, token: Token) -> None:
    headers["Authorization"] = f"Bearer {token.access_token.reveal()}"


class _OAuth2Auth(httpx.Auth):
    """The shared drivers: httpx sync/async flows and the requests callable + hook."""

    # The request may be sent twice (401 retry), so httpx must buffer its body.
    requires_request_body = True

    def __init__(self, manager: TokenManager, *, timeout: float) -> None:
        self.manager = manager
        self.timeout = timeout
        self._session: requests.Session | None = None

    # -- what lessons look at ----------------------------------------------------------
    @property
    def token(self) -> Token | None:
        """The cached token (its ``repr`` hides the value)."""
        return self.manager.token

    @property
    def token_requests(self) -> int:
        """How many token requests this object has sent."""
        return self.manager.token_requests

    @property
    def events(self) -> list[TokenEvent]:
        """Every token request, in order: when, why, grant, result."""
        return self.manager.events

    def invalidate(self) -> None:
        """Forget the cached token; the next request fetches a new one."""
        self.manager.invalidate()

    def close(self) -> None:
        """Close the requests session used for token calls (httpx needs nothing)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> _OAuth2Auth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- httpx, sync -------------------------------------------------------------------
    def _sync_fetch(self, stale: Token | None) -> Generator[httpx.Request, httpx.Response, Token]:
        manager = self.manager
        token = manager.usable(stale)
        if token is not None:
            return token
        with manager.lock:  # held across the yield: the same thread sends the token request
            token = manager.usable(stale)
            if token is not None:
                return token
            flow = manager.refresh_flow(stale)
            pending = next(flow)
            while True:
                response = yield _to_httpx(pending)
                response.read()
                try:
                    pending = flow.send(_from_httpx(response))
                except StopIteration as done:
                    fetched: Token = done.value
                    return fetched

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if self.requires_request_body:
            request.read()
        stale: Token | None = None
        for attempt in (1, 2):
            token = yield from self._sync_fetch(stale)
            _apply_bearer(request.headers, token)
            response = yield request
            if response.status_code == 403:
                error = _scope_error(response.headers, token, request=request, response=response)
                if error is not None:
                    response.read()
                    raise error
            if response.status_code != 401:
                return
            if attempt == 2:
                response.read()
                raise _still_unauthorized(response.headers, request=request, response=response)
            stale = token

    # -- httpx, async ------------------------------------------------------------------
    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.requires_request_body:
            await request.aread()
        manager = self.manager
        stale: Token | None = None
        for attempt in (1, 2):
            token = manager.usable(stale)
            if token is None:
                async with manager.async_lock():
                    token = manager.usable(stale)
                    if token is None:
                        flow = manager.refresh_flow(stale)
                        pending = next(flow)
                        while token is None:
                            response = yield _to_httpx(pending)
                            await response.aread()
                            try:
                                pending = flow.send(_from_httpx(response))
                            except StopIteration as done:
                                token = done.value
            _apply_bearer(request.headers, token)
            response = yield request
            if response.status_code == 403:
                error = _scope_error(response.headers, token, request=request, response=response)
                if error is not None:
                    await response.aread()
                    raise error
            if response.status_code != 401:
                return
            if attempt == 2:
                await response.aread()
                raise _still_unauthorized(response.headers, request=request, response=response)
            stale = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # httpx always calls sync_auth_flow / async_auth_flow, which are overridden.
        raise RuntimeError("usa esta autenticación como auth= de httpx.Client o AsyncClient")

    # -- requests ----------------------------------------------------------------------
    def _requests_fetch(self, stale: Token | None) -> Token:
        import requests

        manager = self.manager
        token = manager.usable(stale)
        if token is not None:
            return token
        with manager.lock:
            token = manager.usable(stale)
            if token is not None:
                return token
            if self._session is None:
                self._session = requests.Session()
            flow = manager.refresh_flow(stale)
            pending = next(flow)
            while True:
                try:
                    answer = self._session.post(
                        pending.url, data=dict(pending.form), headers=dict(pending.headers),
                        timeout=self.timeout, allow_redirects=False,
                    )
                except requests.Timeout as exc:
                    raise RequestTimeout(
                        f"OAuth2: el endpoint de tokens no respondió en {self.timeout} s: "
                        "reinténtalo o sube timeout=.", kind="read",
                    ) from exc
                except requests.ConnectionError as exc:
                    raise ConnectError(
                        f"OAuth2: no se pudo conectar con {shown_url(pending.url)}: ¿está en "
                        "marcha el servidor de autorización? ¿es correcta token_url?",
                    ) from exc
                reply = TokenReply(answer.status_code, answer.content, dict(answer.headers))
                try:
                    pending = flow.send(reply)
                except StopIteration as done:
                    fetched: Token = done.value
                    return fetched

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """The requests side: set the bearer header and hook the 401 retry."""
        token = self._requests_fetch(None)
        _apply_bearer(request.headers, token)
        hook = partial(self._requests_on_response, token)
        request.register_hook("response", hook)  # type: ignore[no-untyped-call]
        return request

    def _requests_on_response(
        self, used: Token, response: requests.Response, **send_kwargs: Any
    ) -> requests.Response:
        if response.status_code == 403:
            error = _scope_error(response.headers, used)
            if error is not None:
                _ = response.content
                response.close()
                raise error
        if response.status_code != 401:
            return response
        # As requests' own HTTPDigestAuth does: drain and release the connection,
        # then send a copy of the request through the same adapter.
        _ = response.content
        response.close()
        token = self._requests_fetch(used)
        retry = response.request.copy()
        _apply_bearer(retry.headers, token)
        connection = getattr(response, "connection", None)
        if connection is None:  # not sent by a requests adapter: nothing to resend through
            return response
        second: requests.Response = connection.send(retry, **send_kwargs)
        second.history.append(response)
        second.request = retry
        failure: AuthError | None = None
        if second.status_code == 401:
            failure = _still_unauthorized(second.headers)
        elif second.status_code == 403:
            failure = _scope_error(second.headers, token)
        if failure is None:
            return second
        _ = second.content  # drain, so the connection goes back to the pool
        second.close()
        raise failure

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.manager.describe()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("una autenticación con secretos no se serializa (pickle)")


class OAuth2ClientCredentials(_OAuth2Auth):
    """OAuth2 client credentials (RFC 6749 §4.4) for httpx and requests, with a token cache.

    >>> auth = OAuth2ClientCredentials.from_env(clock=lab.clock)    # doctest: +SKIP
    >>> httpx.get(f"{lab.base_url}/api/v1/orders", auth=auth)      # doctest: +SKIP

    Defaults: client authentication by HTTP Basic (``client_auth="basic"``;
    ``"body"`` sends ``client_id``/``client_secret`` in the form), renewal 60 s
    before expiry (``skew``), real time (``clock=None`` → :class:`SystemClock`),
    10 s timeout for token calls made through requests (httpx uses the client's).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret,
        *,
        scope: str | Sequence[str] | None = None,
        client_auth: ClientAuthMethod = "basic",
        skew: float = 60.0,
        clock: Clock | None = None,
        timeout: float = 10.0,
        allow_insecure_http: bool = False,
    ) -> None:
        manager = TokenManager(
            token_url, client_id, client_secret, grant_type="client_credentials", scope=scope,
            client_auth=client_auth, skew=skew, clock=clock,
            allow_insecure_http=allow_insecure_http,
        )
        super().__init__(manager, timeout=timeout)

    @classmethod
    def from_env(
        cls,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        prefix: str = "OAUTH_",
        client_auth: ClientAuthMethod = "basic",
        skew: float = 60.0,
        clock: Clock | None = None,
        timeout: float = 10.0,
    ) -> OAuth2ClientCredentials:
        """Build it from ``{prefix}TOKEN_URL``, ``CLIENT_ID``, ``CLIENT_SECRET`` and ``SCOPE``.

        The process environment wins over ``env_file`` (a ``.env`` file that is
        read if it exists). ``SCOPE`` is optional; the rest are required.
        """
        values = read_env(
            [f"{prefix}TOKEN_URL", f"{prefix}CLIENT_ID", f"{prefix}CLIENT_SECRET"],
            optional=[f"{prefix}SCOPE"], env_file=env_file,
        )
        return cls(
            values[f"{prefix}TOKEN_URL"],
            values[f"{prefix}CLIENT_ID"],
            Secret(values[f"{prefix}CLIENT_SECRET"]),
            scope=values.get(f"{prefix}SCOPE") or None,
            client_auth=client_auth, skew=skew, clock=clock, timeout=timeout,
        )


class OAuth2RefreshToken(_OAuth2Auth):
    """Access tokens from a refresh token (RFC 6749 §6), rotating it on every use.

    Start it with the refresh token an authorization-code + PKCE exchange gave
    you. Each renewal spends the current refresh token and keeps the new one
    the server returns (never store the old one: a replay revokes the family).
    ``client_secret=None`` is a public client, which identifies itself by
    ``client_id`` in the form.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        refresh_token: str | Secret,
        *,
        client_secret: str | Secret | None = None,
        scope: str | Sequence[str] | None = None,
        client_auth: ClientAuthMethod = "basic",
        skew: float = 60.0,
        clock: Clock | None = None,
        timeout: float = 10.0,
        allow_insecure_http: bool = False,
    ) -> None:
        manager = TokenManager(
            token_url, client_id, client_secret, grant_type="refresh_token",
            refresh_token=refresh_token, scope=scope, client_auth=client_auth, skew=skew,
            clock=clock, allow_insecure_http=allow_insecure_http,
        )
        super().__init__(manager, timeout=timeout)


# --- static credentials ------------------------------------------------------------------------


class ApiKeyAuth(httpx.Auth):
    """An API key in a header (default ``X-API-Key``) or a query parameter (``api_key``).

    Prefer the header: query strings end up in proxy and server logs.
    """

    def __init__(
        self,
        key: str | Secret,
        *,
        location: ApiKeyLocation = "header",
        header: str = "X-API-Key",
        param: str = "api_key",
    ) -> None:
        if location not in ("header", "query"):
            raise ValueError("location debe ser 'header' o 'query'")
        self._key = _secret(key, "la clave de API")
        self.location: ApiKeyLocation = location
        self.header = header
        self.param = param

    @classmethod
    def from_env(
        cls,
        name: str = "API_KEY",
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        location: ApiKeyLocation = "header",
        header: str = "X-API-Key",
        param: str = "api_key",
    ) -> ApiKeyAuth:
        """Read the key from the environment variable ``name`` (or ``env_file``)."""
        key = read_env([name], env_file=env_file)[name]
        return cls(key, location=location, header=header, param=param)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.location == "header":
            request.headers[self.header] = self._key.reveal()
        else:
            request.url = request.url.copy_merge_params({self.param: self._key.reveal()})
        yield request

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.location == "header":
            request.headers[self.header] = self._key.reveal()
        else:
            request.prepare_url(request.url, {self.param: self._key.reveal()})
        return request

    def __repr__(self) -> str:
        where = self.header if self.location == "header" else f"?{self.param}="
        return f"ApiKeyAuth(location={self.location!r}, en={where!r}, key=***)"

    __str__ = __repr__


class BearerAuth(httpx.Auth):
    """A fixed bearer token (RFC 6750 §2.1). It cannot renew itself: a 401 is returned as is."""

    def __init__(self, token: str | Secret) -> None:
        self._token = _secret(token, "el token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    __str__ = __repr__
