"""Assemble the lab's HTTP app: REST, OAuth2, GraphQL, admin API, docs, errors.

:func:`build_app` returns a FastAPI app bound to one :class:`LabState`; run
it with :class:`~mock_servers.runner.ServerThread`. The OpenAPI pages
(``/docs``, ``/redoc``) come from ``fastapi_offline``, whose Swagger UI and
ReDoc assets are served by the app itself, so they work with no internet.

Every error leaves as ``application/problem+json`` in Spanish: FastAPI's
validation errors become 400 (not 422), unknown routes 404, wrong methods
405, and anything unexpected 500 (a bug in the lab, never a lesson's intent).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import admin, oauth, rest_api
from . import graphql_api as graphql
from .middleware import LabMiddleware
from .problems import Problem, problem_response, validation_problem
from .state import LabState

__all__ = ["build_app"]

_DESCRIPTION = """\
API de laboratorio del curso *Conectores avanzados*. Datos sembrados de una tienda
ficticia (pedidos, clientes, productos) y un catálogo público en `/entries`.

* Autenticación: cabecera `X-API-Key` o `Authorization: Bearer <token>` (OAuth2).
* Paginación: offset, page (con `Link`), cursor y keyset sobre la misma colección.
* Límite de peticiones por credencial, con `Retry-After` y cabeceras `RateLimit`.
* Fallos a demanda: cabecera `X-Mock-Fault: status=503;retry_after=2`.
* Errores: `application/problem+json` (RFC 9457), en español.
"""

_HTTP_TITLES = {404: "Recurso inexistente", 405: "Método no permitido"}
_HTTP_DETAILS = {
    404: "Esta ruta no existe en el laboratorio. Revisa la URL; la lista de rutas está en /docs.",
    405: "La ruta existe pero no admite este método HTTP. Revisa /docs para ver cuáles admite.",
}


def build_app(state: LabState) -> FastAPI:
    """A fresh FastAPI app serving ``state`` (no global state: one app per lab)."""
    app: FastAPI = FastAPIOffline(
        title="Laboratorio de conectores",
        version="1.0.0",
        description=_DESCRIPTION,
    )

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(request, validation_problem(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        problem = Problem(
            status, "error-http", _HTTP_TITLES.get(status, "Error HTTP"),
            _HTTP_DETAILS.get(status, str(exc.detail)),
            headers=list((exc.headers or {}).items()),
        )
        return problem_response(request, problem)

    async def on_crash(request: Request, exc: Exception) -> Response:
        problem = Problem(
            500, "error-interno", "Error interno del laboratorio",
            "El laboratorio falló sin que nadie lo pidiera: es un error nuestro, no tuyo. "
            "Avisa a quien mantiene el curso con el request_id de esta respuesta.",
        )
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)

    rest_api.install(app, state)
    admin.install(app, state)
    oauth.install(app, state)
    graphql.install(app, state)
    app.add_middleware(LabMiddleware, state=state)
    return app
