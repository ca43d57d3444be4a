"""GraphQL over HTTP (the GraphQL-over-HTTP spec) for ``/graphql``: GET and POST.

* Media types: ``application/graphql-response+json`` when the client accepts
  it, ``application/json`` otherwise (and when there is no ``Accept``, or it
  is ``*/*``, as legacy clients such as ``requests`` send); 406 if neither fits.
* Status codes: with ``application/graphql-response+json``, request errors get
  4xx (400; 401 / 403 for credentials, 429 for the points budget) and any
  response with ``data`` gets 200. With ``application/json``, every
  well-formed request gets 200 and its errors travel in the body; only a
  request that is not well-formed (bad JSON, no ``query``) gets 400.
* GET carries ``query``, ``operationName``, ``variables`` (JSON) in the URL and
  may only run queries (a mutation is 405). POST takes ``application/json``
  (else 415) up to 64 KiB (else 413).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .server import GraphQLParams, GraphQLServer, Outcome, request_error

__all__ = ["GRAPHQL_RESPONSE", "JSON", "endpoint", "negotiate"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY = 64 * 1024
_CANDIDATES = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "*/*": JSON, "application/*": JSON}


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or ``None`` when the client accepts neither."""
    if accept is None or not accept.strip():
        return JSON
    best_rank: tuple[float, int, int] | None = None
    best: str | None = None
    for position, item in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        # Wildcards mean "anything": answer with the legacy type every client reads.
        chosen = _CANDIDATES.get(media.lower())
        if chosen is None or quality <= 0:
            continue
        # Higher quality first, then the explicit graphql-response type, then first listed.
        rank = (quality, int(chosen == GRAPHQL_RESPONSE), -position)
        if best_rank is None or rank > best_rank:
            best_rank, best = rank, chosen
    return best


def _respond(outcome: Outcome, media: str) -> Response:
    status = outcome.status
    # application/json: every well-formed request is 200, the errors travel in the body.
    if media == JSON and outcome.well_formed and status in (200, 400, 401, 403, 429):
        status = 200
    body = json.dumps(outcome.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = dict(outcome.headers)
    if status == 200:
        headers.pop("WWW-Authenticate", None)  # a challenge only makes sense on a 401
    headers["Cache-Control"] = "no-store"
    headers["Vary"] = "Accept"
    return Response(body, status_code=status, headers=headers,
                    media_type=f"{media}; charset=utf-8")


def _not_well_formed(message: str, status: int = 400, **headers: str) -> Outcome:
    outcome = request_error(message, "BAD_REQUEST", status, **headers)
    outcome.well_formed = False
    return outcome


def _json_param(raw: str | None, name: str) -> tuple[Any, Outcome | None]:
    if raw is None:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, _not_well_formed(f"'{name}' debe ser JSON válido en la URL")


def _params(data: Any) -> GraphQLParams | Outcome:
    """Check the request's shape: a JSON object with a string query."""
    if isinstance(data, list):
        return _not_well_formed("no se admiten lotes (batching): envía una operación por petición")
    if not isinstance(data, dict):
        return _not_well_formed("el cuerpo debe ser un objeto JSON con 'query'")
    query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
    if not isinstance(query, str) or not query.strip():
        return _not_well_formed("falta 'query' (texto con la consulta GraphQL)")
    if name is not None and not isinstance(name, str):
        return _not_well_formed("'operationName' debe ser texto o null")
    if variables is not None and not isinstance(variables, dict):
        return _not_well_formed("'variables' debe ser un objeto JSON o null")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        return _not_well_formed("'extensions' debe ser un objeto JSON o null")
    return GraphQLParams(query, name, variables or {})


async def _read_post(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        return _not_well_formed("envía el cuerpo como application/json", 415)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return _not_well_formed(f"cuerpo de más de {MAX_BODY} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return _not_well_formed(f"cuerpo de más de {MAX_BODY} bytes", 413)
    try:
        return json.loads(bytes(body))
    except ValueError:
        return _not_well_formed("el cuerpo no es JSON válido")


def endpoint(server: GraphQLServer) -> Any:
    """The ASGI endpoint for ``/graphql`` bound to ``server``."""

    async def graphql_endpoint(request: Request) -> Response:
        media = negotiate(request.headers.get("accept"))
        if media is None:
            outcome = _not_well_formed(
                f"no puedo responder en ese formato: acepta {GRAPHQL_RESPONSE} o {JSON}", 406
            )
            return _respond(outcome, JSON)
        if request.method == "GET":
            query = request.query_params
            if any(len(query.getlist(k)) > 1 for k in query):
                return _respond(_not_well_formed("parámetro repetido en la URL"), media)
            variables, error = _json_param(query.get("variables"), "variables")
            extensions, error2 = _json_param(query.get("extensions"), "extensions")
            if error or error2:
                return _respond(error or error2, media)  # type: ignore[arg-type]
            data: Any = {"query": query.get("query"), "operationName": query.get("operationName"),
                         "variables": variables, "extensions": extensions}
        else:
            data = await _read_post(request)
            if isinstance(data, Outcome):
                return _respond(data, media)
        params = _params(data)
        if isinstance(params, Outcome):
            return _respond(params, media)
        outcome = await run_in_threadpool(server.run, params, request.headers, request.method)
        return _respond(outcome, media)

    return graphql_endpoint
