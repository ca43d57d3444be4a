"""The boundary with ``gql``: queries go in parsed, gql's exceptions come out as ours.

Private module, used by :class:`~connectors_lib.graphql.GraphQLConnector`.
Nothing of ``gql``'s exception hierarchy leaks past it: a caller catches
:class:`~connectors_lib.errors.ConnectorError` subclasses only, and the chained
``__cause__`` is httpx's original exception rather than gql's wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import graphql
import httpx
from gql import GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportServerError,
)
from gql.transport.exceptions import TransportError as GQLTransportError

from connectors_lib._graphql_errors import local_error
from connectors_lib.errors import (
    ConnectorError,
    HTTPStatusError,
    ResponseDecodeError,
    TransportError,
)
from connectors_lib.rest import map_transport_error

__all__ = ["Query", "map_gql_failure", "parse_request", "raise_mapped"]

#: What an operation may be given as: source text, a parsed document, or a ready request.
Query = str | graphql.DocumentNode | GraphQLRequest


def parse_request(
    query: Query, variables: Mapping[str, Any] | None, operation_name: str | None
) -> GraphQLRequest:
    """Parse ``query`` locally (no I/O): a syntax error never reaches the server.

    Raises :class:`~connectors_lib.graphql.GraphQLQueryError` with code
    ``GRAPHQL_PARSE_FAILED`` (status 0, never retried) when it does not parse.
    """
    try:
        return GraphQLRequest(
            query,
            variable_values=dict(variables) if variables is not None else None,
            operation_name=operation_name,
        )
    except graphql.GraphQLError as exc:
        raise local_error(exc, "GRAPHQL_PARSE_FAILED", page=None) from exc


def map_gql_failure(
    exc: GQLTransportError, response: httpx.Response | None, *, page: int | None
) -> ConnectorError:
    """Our error for one of gql's transport exceptions.

    ``response`` is the GraphQL endpoint's last HTTP response, if any arrived: it
    gives an HTTP error its status and headers, and a non-GraphQL body its
    Content-Type. An error already ours (an auth flow's, wrapped by gql) is
    returned as it is.
    """
    cause = exc.__cause__
    if isinstance(exc, TransportConnectionFailed):
        if isinstance(cause, ConnectorError):  # e.g. the OAuth2 token fetch failed
            return cause
        if isinstance(cause, httpx.HTTPError):
            return map_transport_error(cause, page=page)
        return TransportError(f"La conexión falló ({cause or exc}). Reintenta más tarde.",
                              page=page)  # fmt: skip
    if isinstance(exc, TransportServerError):
        if response is not None:
            return HTTPStatusError.from_response(response, page=page)
        return HTTPStatusError(f"HTTP {exc.code}: el servidor devolvió un error.",
                               status=exc.code or 0, page=page)  # fmt: skip
    if isinstance(exc, TransportProtocolError):
        kind = (
            response.headers.get("Content-Type", "sin Content-Type")
            if response is not None
            else "?"
        )
        return ResponseDecodeError(
            f"La respuesta no es un resultado GraphQL (Content-Type: {kind}; falta JSON con "
            "'data' o 'errors'). ¿La URL apunta al endpoint GraphQL y no a una página HTML?",
            request=response.request if response is not None else None, response=response,
            page=page,
        )  # fmt: skip
    return ConnectorError(f"Error de gql: {type(exc).__name__}: {exc}", page=page)


def raise_mapped(
    exc: GQLTransportError, response: httpx.Response | None, *, page: int | None
) -> NoReturn:
    """Raise :func:`map_gql_failure`'s error, chained to the original (httpx's, not gql's)."""
    mapped = map_gql_failure(exc, response, page=page)
    cause = exc.__cause__
    if mapped is cause:  # already ours (an auth flow's error): keep its own chain
        raise mapped from mapped.__cause__
    raise mapped from cause or exc
