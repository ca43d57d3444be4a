"""REST resources of the lab: orders, customers, products, and the public ``/entries``.

Every list endpoint speaks four pagination styles over the same collection
(chosen by ``style`` or by which parameters arrive; mixing styles is a 400):

=========  =====================================  =========================================
style      request                                response
=========  =====================================  =========================================
offset     ``?offset=0&limit=100`` (default)      ``{"data", "total", "offset", "limit"}``
page       ``?page=1&per_page=100``               JSON list + ``Link`` (RFC 8288), ``X-Total-Count``
cursor     ``?cursor=&limit=100``                 ``{"data", "next_cursor"}`` (opaque, or null)
keyset     ``?starting_after=<id>&limit=100``     ``{"data", "has_more"}``
=========  =====================================  =========================================

``order=desc`` lists newest first in every style. Requests pass, in order:
authentication (``X-API-Key``, or ``Authorization: Bearer`` with the resource
scope: RFC 6750 401/403), parameter checks (400), ``If-None-Match`` (304,
free of quota), the per-key rate limit (429 with ``Retry-After``), then 200
with ``ETag`` and rate-limit headers. A ``cap`` fault silently shortens pages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import Response
from starlette.routing import Route

from connectors_lib.clock import VirtualClock

from .limits import rate_headers, retry_after_value
from .middleware import CTX_KEY, RequestContext
from .pages import Collection, CursorError, LiveOrders, Order, decode_cursor, encode_cursor
from .params import PAGING_PARAMS, openapi_parameters, parse_query
from .problems import PROBLEM_MEDIA_TYPE, Problem
from .state import LabState

__all__ = ["MAX_LIMIT", "install"]

#: Largest page any style serves; larger requests are refused, never silently cut.
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
Style = Literal["offset", "page", "cursor", "keyset"]
#: What a body builder returns: body, extra headers, and the bytes the ETag hashes.
Built = tuple[bytes, dict[str, str], bytes]

_PARAMS_BY_STYLE: dict[str, set[str]] = {
    "offset": {"offset", "limit"},
    "page": {"page", "per_page"},
    "cursor": {"cursor", "limit"},
    "keyset": {"starting_after", "limit"},
}
_PROBLEM_DOC = {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"type": "object"}}}}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Parámetro inválido (problem+json en español)", **_PROBLEM_DOC},
    401: {"description": "Falta la clave o el token, o no es válido", **_PROBLEM_DOC},
    403: {"description": "El token no tiene el scope necesario (RFC 6750)", **_PROBLEM_DOC},
    429: {"description": "Límite de peticiones superado; ver Retry-After", **_PROBLEM_DOC},
}
_LIST_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Una página; la forma depende del estilo (ver la descripción).",
        "content": {"application/json": {"schema": {"oneOf": [
            {"type": "object", "title": "offset",
             "properties": {"data": {"type": "array"}, "total": {"type": "integer"},
                            "offset": {"type": "integer"}, "limit": {"type": "integer"}}},
            {"type": "array", "title": "page"},
            {"type": "object", "title": "cursor",
             "properties": {"data": {"type": "array"},
                            "next_cursor": {"type": ["string", "null"]}}},
            {"type": "object", "title": "keyset",
             "properties": {"data": {"type": "array"}, "has_more": {"type": "boolean"}}},
        ]}}},
        "headers": {"Link": {"description": "RFC 8288 next/prev/first/last (estilo page)",
                             "schema": {"type": "string"}}},
    },
    304: {"description": "No cambió desde el ETag enviado en If-None-Match (no gasta cuota)"},
    **_ERROR_RESPONSES,
}
_LIST_DESCRIPTION = """\
Cuatro estilos de paginación sobre la misma colección (se elige con `style` o se deduce
de los parámetros; mezclar estilos es un 400):

| estilo | petición | respuesta |
|---|---|---|
| offset (por defecto) | `?offset=0&limit=100` | `{"data", "total", "offset", "limit"}` |
| page | `?page=1&per_page=100` | lista JSON + `Link` (RFC 8288) y `X-Total-Count` |
| cursor | `?cursor=&limit=100`, luego `?cursor=<next_cursor>` | `{"data", "next_cursor"}` |
| keyset | `?style=keyset&limit=100`, luego `?starting_after=<id>` | `{"data", "has_more"}` |

`order=desc` lista primero los más nuevos, en todos los estilos. `limit` y `per_page`
van de 1 a 500; fuera de rango la respuesta es 400, nunca un recorte silencioso.
"""


def _problem_400(title: str, detail: str) -> Problem:
    return Problem(400, "parametro-invalido", title, detail)


def _authorize(state: LabState, ctx: RequestContext | None, scope: str) -> str:
    """The rate-limit key of an allowed caller; raises 401/403 problems otherwise."""
    challenges = [("WWW-Authenticate", 'ApiKey realm="laboratorio", header="X-API-Key"')]
    if state.bearer_check is not None:
        challenges.append(("WWW-Authenticate", 'Bearer realm="laboratorio"'))
    if ctx is None or ctx.auth == "none":
        raise Problem(
            401, "no-autenticado", "Falta la credencial",
            "Envía tu clave en la cabecera X-API-Key (p. ej. headers={'X-API-Key': lab.api_key}) "
            "o un token OAuth2 en 'Authorization: Bearer <token>'.",
            headers=challenges,
        )
    if ctx.auth == "api_key":
        if ctx.caller is None:
            raise Problem(
                401, "clave-invalida", "Clave de API no válida",
                "La clave enviada en X-API-Key no existe en este laboratorio. Copia la de "
                "lab.api_key (sin espacios) y vuelve a intentarlo.",
                headers=challenges,
            )
        return f"key:{ctx.caller}"
    if ctx.token is None:
        raise Problem(
            401, "token-invalido", "Token no válido o caducado",
            "El token Bearer no existe, caducó o fue revocado. Pide uno nuevo al endpoint de "
            "tokens OAuth2 y repite la petición una sola vez.",
            headers=[("WWW-Authenticate", 'Bearer realm="laboratorio", error="invalid_token", '
                      'error_description="token desconocido o caducado"')],
        )
    granted = str(ctx.token.get("scope", "")).split()
    if scope not in granted:
        raise Problem(
            403, "scope-insuficiente", "Permiso insuficiente",
            f"El token no incluye el scope '{scope}'. Pide un token con scope='{scope}' "
            "(no sirve reintentar con el mismo token).",
            headers=[("WWW-Authenticate", f'Bearer realm="laboratorio", '
                      f'error="insufficient_scope", scope="{scope}"')],
        )
    return f"client:{ctx.caller}"


def _etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _serve(
    request: Request,
    state: LabState,
    scope: str,
    build: Callable[[RequestContext | None], Built],
) -> Response:
    """Authenticate, build the body, answer 304 or 429 or 200 with validators and rate headers."""
    ctx: RequestContext | None = request.scope.get(CTX_KEY)
    rate_key = _authorize(state, ctx, scope)
    body, headers, seed = build(ctx)
    etag = '"' + hashlib.blake2b(seed, digest_size=12).hexdigest() + '"'
    condition = request.headers.get("if-none-match")
    if condition is not None and _etag_matches(condition, etag):
        decision = state.limiter.peek(rate_key)
        return Response(status_code=304, headers={"ETag": etag, **dict(rate_headers(decision))})
    decision = state.limiter.hit(rate_key)
    if not decision.allowed:
        wait = max(math.ceil(decision.reset_after), 1)
        how = (f"lab.clock.sleep({wait}) (el laboratorio usa un reloj virtual: time.sleep no lo "
               "avanza y seguirías recibiendo 429)") if isinstance(state.clock, VirtualClock) \
            else f"time.sleep({wait})"
        raise Problem(
            429, "demasiadas-peticiones", "Demasiadas peticiones",
            f"Superaste el límite de {decision.limit} peticiones cada {decision.window:g} s para "
            f"esta credencial. Espera {wait} s antes de reintentar: {how}. La cabecera "
            "Retry-After dice cuánto esperar.",
            headers=[
                *rate_headers(decision),
                ("Retry-After", retry_after_value(decision, state.settings.retry_after_format)),
            ],
            extra={"retry_after": wait},
        )
    return Response(body, media_type="application/json",
                    headers={"ETag": etag, **headers, **dict(rate_headers(decision))})


def _seed(coll: Collection, order: Order, start: int, count: int, tail: bytes) -> bytes:
    # The body is a pure function of these, so hashing them (a few dozen bytes)
    # gives the same validator as hashing the body (tens of kB) at a fraction of the cost.
    return b"%s|%s|%d|%d|%s" % (coll.digest, order.encode(), start, count, tail)


def _join(blobs: list[bytes]) -> bytes:
    return b"[" + b",".join(blobs) + b"]"


def _page_links(request: Request, page: int, per_page: int, total: int) -> str:
    last = max(math.ceil(total / per_page), 1)
    rels = [("first", 1), ("last", last)]
    if page > 1:
        rels.insert(0, ("prev", min(page - 1, last)))
    if page < last:
        rels.insert(0, ("next", page + 1))
    url = request.url
    return ", ".join(
        f'<{url.include_query_params(page=p, per_page=per_page)}>; rel="{rel}"' for rel, p in rels
    )


def _list_builder(
    request: Request,
    coll: Collection,
    *,
    style: Style | None,
    given: dict[str, Any],
    order: Order | None,
) -> Callable[[RequestContext | None], Built]:
    """Check the paging parameters now (400) and return the page builder."""
    present = {name for name, value in given.items() if value is not None}
    if style is None:
        style = ("cursor" if "cursor" in present else "keyset" if "starting_after" in present
                 else "page" if present & {"page", "per_page"} else "offset")
    stray = present - _PARAMS_BY_STYLE[style]
    if stray:
        raise _problem_400(
            "Estilos de paginación mezclados",
            f"Con el estilo '{style}' no se admite {', '.join(sorted(stray))}. Usa solo "
            f"{' y '.join(sorted(_PARAMS_BY_STYLE[style]))} (más 'order').",
        )
    limit = given["limit"] or DEFAULT_LIMIT
    after: int | None = given["starting_after"]
    if style == "cursor" and given["cursor"] is not None:
        try:
            after, cursor_order = decode_cursor(given["cursor"])
        except CursorError as exc:
            raise _problem_400("Cursor inválido", str(exc)) from None
        if given["cursor"] != "":
            if order is not None and order != cursor_order:
                raise _problem_400("Orden incompatible con el cursor",
                                   f"Este cursor recorre en orden '{cursor_order}'; quita 'order'.")
            order = cursor_order
    direction: Order = order or "asc"

    def build(ctx: RequestContext | None) -> Built:
        cap = ctx.fault.cap if ctx is not None and ctx.fault is not None else None
        total = len(coll)
        if style == "page":
            page, per_page = given["page"] or 1, given["per_page"] or DEFAULT_LIMIT
            start = (page - 1) * per_page
            data = coll.window(start, min(per_page, cap or per_page), direction)
            headers = {"Link": _page_links(request, page, per_page, total),
                       "X-Total-Count": str(total)}
            return _join(data), headers, _seed(coll, direction, start, len(data), b"page")
        if style == "offset":
            start = given["offset"] or 0
            data = coll.window(start, min(limit, cap or limit), direction)
            tail = b',"total":%d,"offset":%d,"limit":%d}' % (total, start, limit)
        else:
            start = coll.position_after(after, direction)
            data = coll.window(start, min(limit, cap or limit), direction)
            has_more = start + len(data) < total
            if style == "keyset":
                tail = b',"has_more":' + (b"true" if has_more else b"false") + b"}"
            else:
                last = coll.id_at(start + len(data) - 1, direction) if has_more else None
                token = encode_cursor(last, direction) if last is not None else None
                tail = b',"next_cursor":' + orjson.dumps(token) + b"}"
        body = b'{"data":' + _join(data) + tail
        return body, {}, _seed(coll, direction, start, len(data), tail)

    return build


def install(app: FastAPI, state: LabState) -> None:
    """Add ``/api/v1/{orders,customers,products}`` and the public ``/entries`` to ``app``."""
    live_orders = LiveOrders(state.data)
    customers = Collection(state.data.customers)
    products = Collection(state.data.products)
    entries = [orjson.dumps(e) for e in state.data.entries]
    sources: dict[str, Callable[[], Collection]] = {
        "orders": live_orders.current,
        "customers": lambda: customers,
        "products": lambda: products,
    }
    router = APIRouter(prefix="/api/v1", responses=_ERROR_RESPONSES)

    def add_resource(name: str, singular: str) -> None:
        source, scope = sources[name], f"{name}:read"

        async def list_records(request: Request) -> Response:
            ctx = request.scope.get(CTX_KEY)
            _authorize(state, ctx, scope)  # 401/403 before any parameter complaint
            given = parse_query(request.query_params, PAGING_PARAMS)
            style, order = given.pop("style"), given.pop("order")
            build = _list_builder(request, source(), style=style, given=given, order=order)
            return _serve(request, state, scope, build)

        async def get_record(request: Request, record_id: int) -> Response:
            coll = source()

            def build(_: RequestContext | None) -> Built:
                blob = coll.get(record_id)
                if blob is None:
                    raise Problem(404, "no-encontrado", "No existe",
                                  f"No hay ningún registro en '{name}' con id {record_id}. "
                                  f"Lista /api/v1/{name} para ver los ids disponibles.")
                return blob, {}, coll.digest + b"|%d" % record_id

            return _serve(request, state, scope, build)

        fast_routes.append(Route(f"/api/v1/{name}", list_records, methods=["GET"]))
        router.add_api_route(
            f"/{name}", list_records, methods=["GET"], name=f"list_{name}",
            summary=f"Lista {name} (cuatro estilos de paginación)", response_class=Response,
            description=_LIST_DESCRIPTION, responses=_LIST_DOC, tags=[name],
            openapi_extra={"parameters": openapi_parameters(PAGING_PARAMS)},
        )
        router.add_api_route(
            f"/{name}/{{record_id}}", get_record, methods=["GET"], name=f"get_{singular}",
            summary=f"Un registro de {name} por id", response_class=Response, tags=[name],
            responses={200: {"description": "El registro",
                             "content": {"application/json": {"schema": {"type": "object"}}}},
                       404: {"description": "No existe", **_PROBLEM_DOC}},
        )

    fast_routes: list[Route] = []
    for name, singular in (("orders", "order"), ("customers", "customer"), ("products", "product")):
        add_resource(name, singular)
    app.include_router(router)
    # The hot list endpoints take only the Request and parse their own query,
    # so FastAPI's per-request dependency machinery buys them nothing. Plain
    # Starlette routes placed first serve them; the FastAPI routes above stay
    # for the OpenAPI document (same handler, same parameters, never reached).
    app.router.routes[0:0] = fast_routes

    @app.get(
        "/entries", tags=["catálogo"], response_class=Response,
        summary="Catálogo público de APIs (sin autenticación)",
        description="Como el catálogo público de la lección original: `{count, entries}`. Con "
                    "`page`/`per_page` devuelve esa página y `count` sigue siendo el total.",
        responses={200: {"description": "count y entries",
                         "content": {"application/json": {"schema": {"type": "object"}}}},
                   400: _ERROR_RESPONSES[400]},
    )
    async def list_entries(
        page: Annotated[int | None, Query(ge=1, le=10**9)] = None,
        per_page: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
    ) -> Response:
        chosen = entries
        if page is not None or per_page is not None:
            size = per_page or 20
            start = ((page or 1) - 1) * size
            chosen = entries[start : start + size]
        body = b'{"count":%d,"entries":%s}' % (len(entries), _join(chosen))
        return Response(body, media_type="application/json")
