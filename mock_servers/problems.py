"""Problem details (RFC 9457) for every error the lab HTTP app returns, in Spanish.

One exception, :class:`Problem`, carries status, a short slug, title, detail
(what happened and what to do next) and extra headers; the app's handlers turn
it, FastAPI's validation errors and Starlette's 404/405 into
``application/problem+json`` bodies such as::

    {"type": "https://lab.conectores.example/problemas/parametro-invalido",
     "title": "Parámetro inválido", "status": 400,
     "detail": "El parámetro 'limit' debe estar entre 1 y 500 (recibido: 1000).",
     "instance": "/api/v1/orders", "request_id": "req-000042"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "problem_bytes",
    "problem_response",
    "validation_problem",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Base of the ``type`` URIs; ``.example`` is reserved, so it never resolves to a real site.
PROBLEM_BASE = "https://lab.conectores.example/problemas/"


class Problem(Exception):
    """An error answer: raise it anywhere in an endpoint."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = list(headers)
        self.extra = extra or {}


def problem_bytes(problem: Problem, instance: str, request_id: str | None) -> bytes:
    """The JSON body of ``problem`` for the request at path ``instance``."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
    }
    if request_id is not None:
        body["request_id"] = request_id
    body.update(problem.extra)
    return orjson.dumps(body)


def problem_response(request: Request, problem: Problem) -> Response:
    """The full response for ``problem``, with its extra headers."""
    ctx = request.scope.get("lab.ctx")
    request_id = getattr(ctx, "request_id", None)
    response = Response(
        problem_bytes(problem, request.url.path, request_id),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
    )
    for name, value in problem.headers:
        response.headers.append(name, value)
    return response


_BOUND_MESSAGES = {
    "greater_than_equal": "debe ser mayor o igual que {ge}",
    "greater_than": "debe ser mayor que {gt}",
    "less_than_equal": "debe ser menor o igual que {le}",
    "less_than": "debe ser menor que {lt}",
    "string_too_long": "admite como máximo {max_length} caracteres",
    "string_too_short": "necesita al menos {min_length} caracteres",
}
_TYPE_MESSAGES = {
    "int_parsing": "debe ser un número entero",
    "int_from_float": "debe ser un número entero, sin decimales",
    "float_parsing": "debe ser un número",
    "bool_parsing": "debe ser true o false",
    "missing": "es obligatorio",
    "json_invalid": "no es JSON válido",
    "model_attributes_type": "debe ser un objeto JSON",
    "dict_type": "debe ser un objeto JSON",
    "list_type": "debe ser una lista JSON",
    "string_type": "debe ser un texto",
    "int_type": "debe ser un número entero",
    "extra_forbidden": "no está permitido",
}


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = {"query": "El parámetro", "path": "El segmento de ruta", "header": "La cabecera",
             "body": "El campo del cuerpo"}.get(loc[0] if loc else "", "El valor")
    name = ".".join(loc[1:]) or "(cuerpo)"
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in _BOUND_MESSAGES:
        what = _BOUND_MESSAGES[kind].format(**ctx)
    elif kind in ("literal_error", "enum"):
        what = f"debe ser uno de: {ctx.get('expected', '?')}"
    else:
        what = _TYPE_MESSAGES.get(kind, "no es válido")
    received = error.get("input")
    quiet = kind == "missing" or isinstance(received, dict | list)
    tail = "" if quiet else f" (recibido: {received!r})"
    return f"{where} '{name}' {what}{tail}."


def validation_problem(exc: RequestValidationError) -> Problem:
    """FastAPI's 422 turned into a 400 problem that names each bad parameter in Spanish."""
    errors = [dict(e) for e in exc.errors()]
    messages = [_describe(e) for e in errors]
    fields = [
        {"lugar": ".".join(str(p) for p in e.get("loc", ())), "mensaje": m}
        for e, m in zip(errors, messages, strict=True)
    ]
    return Problem(
        400,
        "parametro-invalido",
        "Parámetro inválido",
        " ".join(messages)
        + " Corrige la petición y vuelve a enviarla; la documentación está en /docs.",
        extra={"errores": fields},
    )
