"""The httpx boundary of :class:`~connectors_lib.rest.RestConnector`: timeouts, errors, JSON.

Private module: import :class:`Timeouts`, :data:`DEFAULT_TIMEOUTS` and
:func:`map_transport_error` from :mod:`connectors_lib.rest` or the package
(``connectors_lib.graphql`` shares them too). Everything httpx-specific that is
not the request loop itself lives here, so that the rest of the library speaks
only :mod:`connectors_lib.errors`:

* :class:`Timeouts` and :func:`timeouts_within`: per-phase timeouts, cut to what
  is left of a total deadline;
* :func:`map_transport_error`: httpx's exception tree mapped to ours;
* :func:`decode_json`: a response body as JSON, or a
  :class:`~connectors_lib.errors.ResponseDecodeError` that says what came instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from connectors_lib.errors import (
    ConnectError,
    ConnectorError,
    RequestTimeout,
    ResponseDecodeError,
    TransportError,
)

__all__ = [
    "DEFAULT_TIMEOUTS",
    "Timeouts",
    "decode_json",
    "map_transport_error",
    "timeouts_within",
]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase timeouts in seconds (httpx semantics: each phase, not the whole request)."""

    connect: float = 5.0  #: TCP + TLS handshake: a healthy server answers in well under 1 s
    read: float = 30.0  #: silence allowed between bytes of the response
    write: float = 30.0  #: silence allowed while sending the body
    pool: float = 5.0  #: waiting for a free connection from the pool

    def to_httpx(self) -> httpx.Timeout:
        """The same values as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


#: Timeouts used unless told otherwise.
DEFAULT_TIMEOUTS: Final = Timeouts()


def timeouts_within(timeouts: Timeouts, left: float) -> httpx.Timeout | None:
    """``timeouts`` with every phase cut to ``left`` seconds, or None if none needs cutting.

    None means "use the client's own timeouts" (the caller passes
    ``httpx.USE_CLIENT_DEFAULT``), which keeps the common case allocation-free.
    ``left`` must be positive: the caller decides what an exhausted deadline means.
    """
    if left >= max(timeouts.connect, timeouts.read, timeouts.write, timeouts.pool):
        return None
    return httpx.Timeout(
        connect=min(timeouts.connect, left),
        read=min(timeouts.read, left),
        write=min(timeouts.write, left),
        pool=min(timeouts.pool, left),
    )


def map_transport_error(exc: httpx.HTTPError, *, page: int | None) -> ConnectorError:
    """httpx's exception tree → ours, at the boundary (the original stays as ``__cause__``).

    Returns (does not raise) the error; the caller raises it ``from exc``.
    Timeouts become :class:`~connectors_lib.errors.RequestTimeout` with the phase
    in ``kind``; refused connections :class:`~connectors_lib.errors.ConnectError`;
    other mid-exchange failures :class:`~connectors_lib.errors.TransportError`
    (retryable); a bad URL scheme and anything else a plain ``ConnectorError``.
    """
    request: httpx.Request | None
    try:
        request = exc.request
    except RuntimeError:  # httpx raises when the error was built without a request
        request = None
    context: dict[str, Any] = {"request": request, "page": page}
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "read")
        return RequestTimeout(
            f"Tiempo de espera agotado ({kind}). Si el servidor es lento sube "
            f"Timeouts({kind}=...); si no responde, revisa que esté en marcha.",
            kind=kind,
            **context,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConnectorError("La URL no usa http:// ni https://. Revisa base_url.", **context)
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(
            f"No se pudo conectar ({exc}). ¿Está el servidor en marcha y la URL/puerto bien?",
            **context,
        )
    if isinstance(exc, httpx.TransportError):
        return TransportError(
            f"La conexión falló a mitad del intercambio ({type(exc).__name__}: {exc}). "
            "Suele ser pasajero: la política lo reintenta si incluye TransportError.",
            **context,
        )
    return ConnectorError(f"Error de httpx: {type(exc).__name__}: {exc}", **context)


def decode_json(response: httpx.Response, *, page: int | None) -> Any:
    """The body of ``response`` as JSON; :class:`ResponseDecodeError` if it is not JSON.

    The error quotes the ``Content-Type`` and the first 40 bytes, because the
    usual culprit is an HTML page (wrong URL, proxy or login page) answering 200.
    """
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        kind = response.headers.get("Content-Type", "sin Content-Type")
        start = response.content[:40].decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"La respuesta no es JSON válido (Content-Type: {kind}; empieza por {start!r}). "
            "¿La URL apunta a la API y no a una página HTML? ¿Un proxy devolvió un error?",
            request=response.request,
            response=response,
            page=page,
        ) from None
