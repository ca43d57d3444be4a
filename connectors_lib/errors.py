"""Every error the library raises, in one tree, each with its context and a next step.

A connector fails for a handful of reasons, and the caller's reaction depends
on which one: retry later, fix the credentials, change the paginator, repair
the data. So each reason is its own class, and every instance carries what a
person needs to act on it: the request, the response, the page number, the
path, and a Spanish message that ends with *what to do next*.

The tree::

    ConnectorError                      base: message + context (request, response, page, path)
    ├── TransportError                  the exchange never completed (DNS, TCP, TLS, timeouts)
    │   ├── ConnectError                never reached the server: always safe to repeat
    │   └── RequestTimeout              connect/read/write/pool timeout
    ├── HTTPStatusError                 server answered 4xx/5xx (``.status``, ``.retry_after_raw``)
    │   ├── RateLimitError              429 Too Many Requests
    │   └── AuthError                   401 / 403: credentials missing, wrong or expired
    ├── RetryError                      the retry loop gave up (``.trace``, ``.last_error``)
    │   ├── RetryExhaustedError         every allowed attempt failed
    │   ├── DeadlineExceededError       the next wait would cross the total deadline
    │   └── RetryAfterTooLongError      the server asked to wait longer than the cap
    ├── CircuitOpenError                the breaker is open: calls are refused until ``retry_at``
    ├── PaginationError                 missing field, unparsable Link, repeated token, silent cap
    ├── ValidationError                 data that does not have the promised shape
    │   ├── ResponseDecodeError         a body that is not valid JSON
    │   ├── InvalidRecordError*         records that break their schema (fail fast)
    │   └── SchemaDriftError*           declared and observed fields disagree (policy "fail")
    ├── GraphQLQueryError*              errors inside a GraphQL answer (``.errors``, ``.data``)
    │   ├── GraphQLPartialDataError*    data came back with field errors
    │   ├── GraphQLAuthError*           UNAUTHENTICATED / FORBIDDEN (also an AuthError)
    │   └── GraphQLRateLimitError*      RATE_LIMITED / THROTTLED (also a RateLimitError)
    ├── CheckpointError                 a checkpoint file that cannot be read, written or trusted
    └── SFTPError                       SFTP failures
        ├── SFTPHostKeyError*           unknown, changed or unpinned host key: never trusted
        ├── SFTPAuthError*              password or key refused
        ├── SFTPConnectionError*        connection lost (the only one retried)
        ├── SFTPPermissionError*        the server refused the path
        ├── SFTPNotFoundError*          no such file or folder
        ├── SFTPFileChangedError*       still being written, or changed while read
        └── SFTPIntegrityError*         size or SHA-256 does not match

``*``: defined next to the connector that raises it (``validation``, ``graphql``,
``sftp``), so that this module imports nothing heavy.

Foreign exceptions (``httpx``, ``paramiko``) are mapped to this tree at the
boundary and kept as ``__cause__``, so ``except ConnectorError`` is enough for
callers and the original traceback is still there for debugging.

Secrets never reach a message: URLs are shown with credential-looking query
parameters masked (:func:`redact_url`), and headers are never shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:  # httpx is imported only by rest.py at run time (import speed)
    import httpx

__all__ = [
    "AuthError",
    "CheckpointError",
    "CircuitOpenError",
    "ConnectError",
    "ConnectorError",
    "DeadlineExceededError",
    "HTTPStatusError",
    "PaginationError",
    "RateLimitError",
    "RequestTimeout",
    "ResponseDecodeError",
    "RetryAfterTooLongError",
    "RetryError",
    "RetryExhaustedError",
    "SFTPError",
    "TransportError",
    "ValidationError",
    "redact_url",
    "shown_url",
]

#: Query parameter names whose values are masked in messages and traces.
_SECRET_PARAM = re.compile(
    r"(key|token|secret|password|passwd|signature|sig|auth|credential|session)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """Return ``url`` with user info and credential-looking query values replaced by ``***``.

    >>> redact_url("https://u:p@api.example/x?api_key=abc&page=2")
    'https://***@api.example/x?api_key=%2A%2A%2A&page=2'
    """
    if "@" not in url and not _SECRET_PARAM.search(url.partition("?")[2]):
        return url  # the common case, kept cheap: this runs once per request in traces
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url ilegible>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


#: Hosts whose port the OS picks per run (the lab listens on port 0).
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def shown_url(url: str) -> str:
    """``url`` fit for messages and ``repr``: credentials masked, loopback port hidden.

    A loopback port is chosen by the OS at every run (the lab listens on port
    0), so showing it would make a notebook's stored output differ each time.

    >>> shown_url("http://127.0.0.1:49152/oauth/token?client_secret=x")
    'http://127.0.0.1:<puerto>/oauth/token?client_secret=%2A%2A%2A'
    """
    safe = redact_url(url)
    parts = urlsplit(safe)
    if parts.hostname in _LOOPBACK and parts.port is not None:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{host}:<puerto>"))
    return safe


class ConnectorError(Exception):
    """Base of every library error: a Spanish message plus the context it happened in.

    Attributes are ``None`` when they do not apply. ``trace`` is filled by the
    retry loop with its :class:`~connectors_lib.retry.RetryDecision` list, so
    any error that escaped a retry loop shows what was tried before.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
        page: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response
        self.page = page
        self.path = path
        self.trace: Sequence[Any] = ()

    def __str__(self) -> str:
        where = []
        if self.request is not None:
            where.append(f"{self.request.method} {shown_url(str(self.request.url))}")
        if self.page is not None:
            where.append(f"página {self.page}")
        if self.path is not None:
            where.append(f"ruta {self.path!r}")
        return self.message + (f" [{'; '.join(where)}]" if where else "")


# --- the exchange did not complete -------------------------------------------------------------


class TransportError(ConnectorError):
    """The HTTP exchange did not complete (DNS, TCP, TLS, protocol, timeouts)."""


class ConnectError(TransportError):
    """The request never reached the server, so repeating it cannot duplicate an effect."""


class RequestTimeout(TransportError):
    """A connect, read, write or pool timeout expired (``kind`` says which)."""

    def __init__(self, message: str, *, kind: str = "read", **context: Any) -> None:
        super().__init__(message, **context)
        self.kind = kind


# --- the server answered with an error ---------------------------------------------------------


class HTTPStatusError(ConnectorError):
    """The server answered with a 4xx or 5xx status.

    ``status`` is the code; ``retry_after_raw`` is the ``Retry-After`` header as
    sent (or ``None``), left unparsed so the retry trace can show it verbatim.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after_raw: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.status = status
        self.retry_after_raw = retry_after_raw

    @classmethod
    def from_response(cls, response: httpx.Response, *, page: int | None = None) -> HTTPStatusError:
        """Build the most specific error for ``response`` (429 → RateLimit, 401/403 → Auth).

        3xx (redirects not followed), other 4xx and 5xx become a plain :class:`HTTPStatusError`.
        """
        status = response.status_code
        retry_after = response.headers.get("Retry-After")
        request = response.request
        if status == 429:
            return RateLimitError(
                "HTTP 429: la API limita el ritmo de peticiones. Espera lo que indique "
                "Retry-After, baja el ritmo (TokenBucket) o incluye 429 en retry_on_status.",
                status=status,
                retry_after_raw=retry_after,
                request=request,
                response=response,
                page=page,
            )
        if status in (401, 403):
            what = "faltan credenciales o son inválidas" if status == 401 else "sin permiso"
            return AuthError(
                f"HTTP {status}: {what}. Revisa la clave o el token (¿caducó?, ¿tiene el scope?); "
                "reintentar igual no lo arreglará.",
                status=status,
                retry_after_raw=retry_after,
                request=request,
                response=response,
                page=page,
            )
        if 300 <= status < 400:
            target = response.headers.get("Location", "?")
            return cls(
                f"HTTP {status}: redirección a {redact_url(target)!r} que no se sigue por "
                "seguridad (las cabeceras con credenciales viajarían al destino). Usa la URL "
                "final o, si confías en el destino, follow_redirects=True.",
                status=status,
                retry_after_raw=retry_after,
                request=request,
                response=response,
                page=page,
            )
        if status >= 500:
            advice = (
                "fallo del servidor, normalmente pasajero: reinténtalo con backoff "
                "(incluye el código en retry_on_status)."
            )
        else:
            advice = "la petición no es válida para el servidor: revisa ruta, parámetros y cuerpo."
        return cls(
            f"HTTP {status}: {advice}",
            status=status,
            retry_after_raw=retry_after,
            request=request,
            response=response,
            page=page,
        )


class RateLimitError(HTTPStatusError):
    """429 Too Many Requests: slow down; ``Retry-After`` says how long, when present."""


class AuthError(HTTPStatusError):
    """401 or 403: fix the credentials; repeating the same request will not help."""


# --- the retry loop gave up ----------------------------------------------------------------------


class RetryError(ConnectorError):
    """The retry loop stopped; ``last_error`` is the final failure, ``trace`` the decisions."""

    def __init__(
        self,
        message: str,
        *,
        last_error: BaseException | None = None,
        trace: Sequence[Any] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.last_error = last_error
        self.trace = trace


class RetryExhaustedError(RetryError):
    """Every allowed attempt failed."""


class DeadlineExceededError(RetryError):
    """Waiting once more would cross the policy's total deadline."""


class RetryAfterTooLongError(RetryError):
    """The server's ``Retry-After`` is longer than the policy accepts (``retry_after`` seconds)."""

    def __init__(self, message: str, *, retry_after: float, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


# --- other branches ------------------------------------------------------------------------------


class CircuitOpenError(ConnectorError):
    """The circuit breaker is open; no call is attempted until ``retry_at`` (monotonic s)."""

    def __init__(self, message: str, *, retry_at: float, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_at = retry_at


class PaginationError(ConnectorError):
    """The pages do not follow the declared pagination (missing field, cycle, silent cap...)."""


class ValidationError(ConnectorError):
    """Data that does not have the promised shape."""


class ResponseDecodeError(ValidationError):
    """A response body that should be JSON and is not."""


class CheckpointError(ConnectorError):
    """A checkpoint file that cannot be read, written, or belongs to another stream/version."""


class SFTPError(ConnectorError):
    """SFTP failures; ``path`` is the remote path involved."""
