"""OAuth2 tokens without I/O: secrets, the refresh decision, the token cache.

This is the pure half of :mod:`connectors_lib.auth` (which carries it over
httpx and requests):

* :class:`Secret`: a string that prints ``***`` and cannot be pickled;
* :func:`needs_refresh` / :func:`effective_skew`: *when* to renew (pure);
* :class:`TokenManager`: the cached token, the token request it would send
  (:class:`TokenRequest`), the reading of the answer (RFC 6749 §5.1; §5.2
  errors mapped to :class:`~connectors_lib.errors.AuthError` in Spanish),
  refresh-token rotation, and the locks that make renewal single-flight;
* :func:`read_env`: settings from the environment or a ``.env`` file;

Nothing here imports httpx or requests, so the rules can be tested and taught
on their own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import quote_plus, urlsplit

from .clock import Clock, SystemClock
from .errors import (
    _LOOPBACK,
    AuthError,
    ConnectorError,
    HTTPStatusError,
    RateLimitError,
    ResponseDecodeError,
    ValidationError,
    shown_url,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ClientAuthMethod",
    "PKCEPair",
    "Secret",
    "Token",
    "TokenEvent",
    "TokenManager",
    "TokenReply",
    "TokenRequest",
    "effective_skew",
    "make_pkce_pair",
    "needs_refresh",
    "read_env",
]

#: Logger name stays ``connectors_lib.auth``: one place to switch auth logs on.
logger = logging.getLogger("connectors_lib.auth")

ClientAuthMethod = Literal["basic", "body"]

#: Hosts where plain ``http://`` is acceptable for a token endpoint (the lab).


# --- secrets ---------------------------------------------------------------------------------


class Secret:
    """A string that does not show itself: ``repr``/``str``/f-strings print ``***``.

    Call :meth:`reveal` at the one place the value must go on the wire.
    Comparison is constant-time; pickling is refused (a secret must not end up
    in a file by accident).

    >>> s = Secret("hunter2"); print(s, repr(s), f"{s}")
    *** Secret('***') ***
    >>> s.reveal()
    'hunter2'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("un secreto debe ser un texto no vacío")
        self._value = value

    def reveal(self) -> str:
        """The real value: use it only to build the request that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # equal secrets must not leak via hashing

    def __reduce__(self) -> Any:
        raise TypeError("un Secret no se serializa (pickle): guárdalo en un gestor de secretos")


def _secret(value: str | Secret, name: str) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} debe ser un texto no vacío (léelo del entorno, no del código)")
    return Secret(value)


# --- pure decisions --------------------------------------------------------------------------


def needs_refresh(now: float, expires_at: float | None, skew: float) -> bool:
    """True when a token that expires at ``expires_at`` must be renewed at ``now``.

    It is renewed ``skew`` seconds *before* it expires, so a request never
    leaves with a token that dies on the way. ``expires_at=None`` (the server
    sent no ``expires_in``) never expires by time: only a 401 renews it.

    >>> needs_refresh(now=100.0, expires_at=400.0, skew=60.0)
    False
    >>> needs_refresh(now=340.0, expires_at=400.0, skew=60.0)
    True
    >>> needs_refresh(now=10**9, expires_at=None, skew=60.0)
    False
    """
    if expires_at is None:
        return False
    return now >= expires_at - skew


def effective_skew(lifetime: float, skew: float) -> float:
    """The renewal margin for a token that lives ``lifetime`` s: ``min(skew, lifetime / 2)``.

    Without the cap a token living less than ``skew`` would be "due" the moment
    it arrives and every call would fetch a new one.

    >>> effective_skew(300.0, 60.0), effective_skew(30.0, 60.0)
    (60.0, 15.0)
    """
    return min(skew, max(lifetime, 0.0) / 2)


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """An access token as the server granted it (RFC 6749 §5.1). ``repr`` shows no secret.

    ``expires_at`` is on the manager's clock (``None`` if the server gave no
    ``expires_in``); ``scopes`` are the granted ones (the requested ones when
    the answer omits ``scope``, as §5.1 allows).
    """

    access_token: Secret
    token_type: str
    issued_at: float
    expires_at: float | None
    scopes: tuple[str, ...]
    refresh_token: Secret | None = None

    def expires_in(self, now: float) -> float | None:
        """Seconds left at ``now`` (negative once expired; ``None`` if unknown)."""
        return None if self.expires_at is None else self.expires_at - now


class TokenEvent(NamedTuple):
    """One token request, for lessons to print: when, why, which grant, what came back."""

    at: float
    reason: str  # "inicial", "caducidad", "401"
    grant_type: str
    ok: bool
    expires_in: float | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenRequest:
    """A token request, independent of the HTTP client (form body and headers hide secrets)."""

    url: str
    grant_type: str
    form: Mapping[str, str] = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class TokenReply:
    """The token endpoint's answer, independent of the HTTP client.

    ``raw`` is the :class:`httpx.Response` when there is one, so errors carry it.
    """

    status: int
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    raw: httpx.Response | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PKCEPair:
    """A PKCE verifier and its S256 challenge (RFC 7636 §4.1-4.2); the verifier is hidden."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"


def make_pkce_pair() -> PKCEPair:
    """A fresh random PKCE pair: a 64-character verifier and ``BASE64URL(SHA256(verifier))``."""
    verifier = secrets.token_urlsafe(48)  # 64 chars of [A-Za-z0-9-_]: inside RFC 7636's 43-128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return PKCEPair(verifier, challenge)


# --- RFC 6749 §5.2 errors, in Spanish -------------------------------------------------------

_GRANT_ERRORS = {
    "invalid_client": (
        "el servidor de tokens rechazó al cliente (invalid_client): client_id o client_secret "
        "incorrectos, o el método de autenticación no es el que espera. Revisa "
        "OAUTH_CLIENT_ID y OAUTH_CLIENT_SECRET y prueba client_auth='basic' o 'body'."
    ),
    "invalid_scope": (
        "el scope pedido ({scope}) no está permitido para este cliente (invalid_scope). "
        "Pide solo los scopes que el cliente tiene asignados en el servidor de autorización."
    ),
    "invalid_grant": (
        "la concesión ya no vale (invalid_grant): el refresh token caducó, fue revocado o ya "
        "se había usado (rotación). Vuelve a autorizar para obtener uno nuevo."
    ),
    "unauthorized_client": (
        "este cliente no puede usar grant_type={grant} (unauthorized_client). Usa el flujo "
        "para el que está registrado (p. ej. client_credentials para un cliente de máquina)."
    ),
    "unsupported_grant_type": (
        "el servidor no soporta grant_type={grant} (unsupported_grant_type). Revisa su "
        "documentación o sus metadatos (/.well-known/oauth-authorization-server)."
    ),
    "invalid_request": (
        "la petición de token está mal formada (invalid_request). Revisa token_url y los "
        "parámetros; si envías el secreto por cabecera y por cuerpo a la vez, elige uno."
    ),
}


def _grant_error(request: TokenRequest, reply: TokenReply, scope: str | None) -> ConnectorError:
    """Map a failed token answer to the library's tree, with a next step in Spanish."""
    context: dict[str, Any] = {}
    if reply.raw is not None:
        context = {"request": reply.raw.request, "response": reply.raw}
    try:
        payload = json.loads(reply.body)
    except ValueError:
        payload = None
    code = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(code, str):
        template = _GRANT_ERRORS.get(code, f"el servidor de tokens respondió error={code}.")
        message = "OAuth2: " + template.format(scope=scope or "ninguno", grant=request.grant_type)
        detail = payload.get("error_description") if isinstance(payload, dict) else None
        if isinstance(detail, str) and detail:
            message += f" (servidor: {detail})"
        return AuthError(message, status=reply.status, **context)
    where = shown_url(request.url)
    retry_after = reply.headers.get("retry-after") or reply.headers.get("Retry-After")
    if reply.status == 429:
        return RateLimitError(
            "OAuth2: el endpoint de tokens limita el ritmo (HTTP 429). Espera lo que indique "
            "Retry-After y reutiliza el token en caché en vez de pedir uno por llamada.",
            status=429, retry_after_raw=retry_after, **context,
        )
    if reply.status >= 500:
        return HTTPStatusError(
            f"OAuth2: el endpoint de tokens falló (HTTP {reply.status}), normalmente pasajero: "
            "reinténtalo con backoff.",
            status=reply.status, retry_after_raw=retry_after, **context,
        )
    return HTTPStatusError(
        f"OAuth2: el endpoint de tokens respondió HTTP {reply.status} sin un error OAuth2: "
        f"¿es correcta token_url ({where})?",
        status=reply.status, **context,
    )


# --- the token cache (no I/O) ----------------------------------------------------------------


class TokenManager:
    """One cached OAuth2 token: when to renew it, how to ask, what the answer means.

    It performs no I/O. A driver (the classes of :mod:`connectors_lib.auth`) runs
    :meth:`refresh_flow`, a generator that yields :class:`TokenRequest` and
    receives :class:`TokenReply`, under :attr:`lock` (threads) or
    :meth:`async_lock` (asyncio), after re-checking :meth:`usable` inside the
    lock: that double check is what makes the renewal single-flight.

    ``grant_type`` is how a token is obtained from scratch:
    ``"client_credentials"`` (needs ``client_secret``) or ``"refresh_token"``
    (needs ``refresh_token``). Whenever a refresh token is known it is used
    first, and replaced by the one the server returns (rotation). If a refresh
    token is refused under client credentials, the manager falls back to the
    client credentials grant once.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret | None = None,
        *,
        grant_type: Literal["client_credentials", "refresh_token"] = "client_credentials",
        refresh_token: str | Secret | None = None,
        scope: str | Sequence[str] | None = None,
        client_auth: ClientAuthMethod = "basic",
        skew: float = 60.0,
        clock: Clock | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        parts = urlsplit(token_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"token_url debe ser una URL http(s) completa, no {token_url!r}")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK and not allow_insecure_http:
            raise ValueError(
                "token_url usa http:// fuera de 127.0.0.1: el secreto viajaría en claro. "
                "Usa https:// (o allow_insecure_http=True solo en una red de pruebas)."
            )
        if not client_id:
            raise ValueError("client_id no puede estar vacío (léelo de OAUTH_CLIENT_ID)")
        if client_auth not in ("basic", "body"):
            raise ValueError("client_auth debe ser 'basic' (cabecera) o 'body' (formulario)")
        if skew < 0:
            raise ValueError("skew (margen de renovación) no puede ser negativo")
        if grant_type == "client_credentials" and client_secret is None:
            raise ValueError("client_credentials necesita client_secret (OAUTH_CLIENT_SECRET)")
        if grant_type == "refresh_token" and refresh_token is None:
            raise ValueError("grant_type='refresh_token' necesita un refresh_token inicial")
        if grant_type not in ("client_credentials", "refresh_token"):
            raise ValueError("grant_type debe ser 'client_credentials' o 'refresh_token'")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = None if client_secret is None else _secret(client_secret, "secret")
        self.grant_type = grant_type
        self.scopes: tuple[str, ...] = (
            tuple(scope.split()) if isinstance(scope, str) else tuple(scope or ())
        )
        self.client_auth: ClientAuthMethod = client_auth
        self.skew = float(skew)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._refresh = None if refresh_token is None else _secret(refresh_token, "refresh_token")
        self._token: Token | None = None
        #: Held while a thread renews the token: the others wait, then reuse it.
        self.lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_locks = weakref.WeakKeyDictionary()
        self._loop_locks_guard = threading.Lock()
        #: Every token request made, in order (no secrets): the lesson's trace.
        self.events: list[TokenEvent] = []

    # -- state -------------------------------------------------------------------
    @property
    def token(self) -> Token | None:
        """The cached token (``None`` before the first request or after :meth:`invalidate`)."""
        return self._token

    @property
    def token_requests(self) -> int:
        """How many token requests were sent (the single-flight count)."""
        return len(self.events)

    def invalidate(self) -> None:
        """Forget the cached token; the next call asks for a new one."""
        self._token = None

    def usable(self, stale: Token | None = None) -> Token | None:
        """The cached token if it can be sent now, else ``None``.

        ``stale`` is a token a server just refused with 401: it is not usable,
        but a *newer* one another thread already fetched is.
        """
        token = self._token
        if token is None or token is stale:
            return None
        if token.expires_at is not None:
            margin = effective_skew(token.expires_at - token.issued_at, self.skew)
            if needs_refresh(self.clock.now(), token.expires_at, margin):
                return None
        return token

    def async_lock(self) -> asyncio.Lock:
        """The :class:`asyncio.Lock` of the running event loop (one per loop, created on use)."""
        loop = asyncio.get_running_loop()
        with self._loop_locks_guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    # -- the protocol --------------------------------------------------------------
    def _reason(self, stale: Token | None) -> str:
        if stale is not None:
            return "401"
        return "inicial" if self._token is None else "caducidad"

    def build_request(self) -> TokenRequest:
        """The next request: the refresh grant if a refresh token is known, else the base one."""
        form: dict[str, str] = {}
        if self._refresh is not None:
            grant = "refresh_token"
            form = {"grant_type": grant, "refresh_token": self._refresh.reveal()}
        else:
            grant = "client_credentials"
            form = {"grant_type": grant}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        headers = {"Accept": "application/json"}
        secret = self._client_secret
        if secret is None:  # public client (RFC 6749 §2.1): identifies itself, no secret
            form["client_id"] = self.client_id
        elif self.client_auth == "basic":
            # RFC 6749 §2.3.1: each part is form-urlencoded *before* the Base64.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(secret.reveal())}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = secret.reveal()
        return TokenRequest(self.token_url, grant, form, headers)

    def accept(self, request: TokenRequest, reply: TokenReply, reason: str) -> Token | None:
        """Read a token answer: store and return the token, or raise a Spanish error.

        Returns ``None`` only when a refresh token was refused under client
        credentials: the refresh token is dropped and the caller asks again.
        """
        now = self.clock.now()
        if not 200 <= reply.status < 300:
            self.events.append(TokenEvent(now, reason, request.grant_type, False, None, ()))
            error = _grant_error(request, reply, " ".join(self.scopes) or None)
            if request.grant_type == "refresh_token":
                self._refresh = None  # spent or refused: never send it again
                if self.grant_type == "client_credentials" and isinstance(error, AuthError):
                    return None
            self._token = None
            raise error
        token = self._parse(reply, now)
        self._token = token
        if token.refresh_token is not None:
            self._refresh = token.refresh_token  # rotation: the old one is spent
        left = token.expires_in(now)
        self.events.append(TokenEvent(now, reason, request.grant_type, True, left, token.scopes))
        logger.debug(
            "token OAuth2 obtenido: motivo=%s grant=%s expira_en=%s scopes=%s",
            reason, request.grant_type, left, " ".join(token.scopes),
        )
        return token

    def _parse(self, reply: TokenReply, now: float) -> Token:
        context: dict[str, Any] = {}
        if reply.raw is not None:
            context = {"request": reply.raw.request, "response": reply.raw}
        try:
            payload = json.loads(reply.body)
        except ValueError as exc:
            raise ResponseDecodeError(
                "OAuth2: la respuesta del endpoint de tokens no es JSON: ¿es correcta token_url?",
                **context,
            ) from exc
        access = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(access, str) or not access:
            raise ValidationError(
                "OAuth2: la respuesta no trae access_token (RFC 6749 §5.1): ¿es correcta "
                "token_url?", **context,
            )
        assert isinstance(payload, dict)
        token_type = payload.get("token_type", "")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise ValidationError(
                f"OAuth2: token_type={token_type!r} no soportado: esta biblioteca envía tokens "
                "Bearer (RFC 6750).", **context,
            )
        expires_in = payload.get("expires_in")
        lifetime: float | None = None
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            lifetime = float(expires_in)
        elif isinstance(expires_in, str) and expires_in.strip().isdigit():
            lifetime = float(expires_in)  # some servers send it as text
        if lifetime is not None and lifetime <= 0:
            raise ValidationError(
                f"OAuth2: expires_in={expires_in!r} no es positivo: el token llegaría ya caducado.",
                **context,
            )
        scope = payload.get("scope")
        scopes = tuple(scope.split()) if isinstance(scope, str) else self.scopes
        refresh = payload.get("refresh_token")
        return Token(
            access_token=Secret(access),
            token_type="Bearer",  # noqa: S106  (the scheme name, not a secret)
            issued_at=now,
            expires_at=None if lifetime is None else now + lifetime,
            scopes=scopes,
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        )

    def refresh_flow(self, stale: Token | None) -> Generator[TokenRequest, TokenReply, Token]:
        """Yield token requests, receive replies, return the new token (hold the lock around it)."""
        reason = self._reason(stale)
        while True:  # at most twice: a refused refresh token is dropped before looping
            request = self.build_request()
            reply = yield request
            token = self.accept(request, reply, reason)
            if token is not None:
                return token

    def describe(self) -> str:
        """The fields ``repr`` shows: URL, client id, scopes, time left; never a secret."""
        token = self._token
        if token is None:
            state = "sin token"
        else:
            left = token.expires_in(self.clock.now())
            state = "token sin caducidad" if left is None else f"token expira en {left:.0f} s"
        secret = "None" if self._client_secret is None else "***"
        return (
            f"token_url={shown_url(self.token_url)!r}, client_id={self.client_id!r}, "
            f"client_secret={secret}, scopes={' '.join(self.scopes)!r}, {state}"
        )

    def __repr__(self) -> str:
        return f"TokenManager({self.describe()})"


# --- secrets from the environment -----------------------------------------------------------


def read_env(
    names: Sequence[str],
    *,
    optional: Sequence[str] = (),
    env_file: str | os.PathLike[str] | None = ".env",
) -> dict[str, str]:
    """Read settings from the environment, falling back to ``env_file`` if it exists.

    The environment wins (12-factor: the deployment decides). Missing required
    names raise one :class:`~connectors_lib.errors.ConnectorError` listing all
    of them; values are never echoed.
    """
    from_file: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # lazy: only when a .env file is there

        from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    found: dict[str, str] = {}
    for name in [*names, *optional]:
        value = os.environ.get(name) or from_file.get(name)
        if value:
            found[name] = value
    missing = [name for name in names if name not in found]
    if missing:
        where = f"ni en el entorno ni en {os.fspath(env_file)}" if env_file else "en el entorno"
        raise ConnectorError(
            f"Faltan credenciales: {', '.join(missing)} no están definidas {where}. Defínelas "
            "(export NOMBRE=... o una línea NOMBRE=... en .env, fuera de git); nunca en el código."
        )
    return found

