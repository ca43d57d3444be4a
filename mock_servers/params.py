"""Query parameters of the list endpoints: declared once, parsed fast, documented in OpenAPI.

FastAPI's own parameter machinery costs more than the rest of a page request
together (it runs a pydantic validation per parameter), so the hot list
endpoints read ``request.query_params`` through :func:`parse_query` instead,
and hand the same declarations to OpenAPI with :func:`openapi_parameters`.
Errors are the same 400 problems, worded like the app's validation errors:
``El parámetro 'limit' debe ser menor o igual que 500 (recibido: '1000').``
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .problems import Problem

__all__ = ["PAGING_PARAMS", "Param", "openapi_parameters", "parse_query"]

_INTEGER = re.compile(r"\s*[+-]?\d{1,30}\s*")


@dataclass(frozen=True)
class Param:
    """One optional query parameter: an integer in [low, high], a choice, or short text."""

    name: str
    description: str
    kind: str = "int"  # "int", "choice" or "text"
    low: int = 0
    high: int = 2**53
    choices: tuple[str, ...] = ()
    max_length: int = 200

    def parse(self, raw: str) -> int | str:
        """The typed value of ``raw``; raises a 400 :class:`Problem` if it does not fit."""
        if self.kind == "int":
            if not _INTEGER.fullmatch(raw):
                raise self._bad(raw, "debe ser un número entero")
            value = int(raw)
            if value < self.low:
                raise self._bad(raw, f"debe ser mayor o igual que {self.low}")
            if value > self.high:
                raise self._bad(raw, f"debe ser menor o igual que {self.high}")
            return value
        if self.kind == "choice":
            if raw not in self.choices:
                options = ", ".join(f"'{c}'" for c in self.choices)
                raise self._bad(raw, f"debe ser uno de: {options}")
            return raw
        if len(raw) > self.max_length:
            raise self._bad(raw[:20] + "…", f"admite como máximo {self.max_length} caracteres")
        return raw

    def _bad(self, raw: str, what: str) -> Problem:
        detail = (f"El parámetro '{self.name}' {what} (recibido: {raw!r}). Corrige la petición "
                  "y vuelve a enviarla; la documentación está en /docs.")
        return Problem(400, "parametro-invalido", "Parámetro inválido", detail,
                       extra={"errores": [{"lugar": f"query.{self.name}", "mensaje": detail}]})

    def schema(self) -> dict[str, Any]:
        if self.kind == "int":
            return {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.kind == "choice":
            return {"type": "string", "enum": list(self.choices)}
        return {"type": "string", "maxLength": self.max_length}


def parse_query(query: Mapping[str, str], params: tuple[Param, ...]) -> dict[str, Any]:
    """Every declared parameter by name: its typed value, or ``None`` when absent."""
    values: dict[str, Any] = {}
    for param in params:
        raw = query.get(param.name)
        values[param.name] = None if raw is None else param.parse(raw)
    return values


def openapi_parameters(params: tuple[Param, ...]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects for ``openapi_extra={"parameters": ...}``."""
    return [
        {"name": p.name, "in": "query", "required": False, "description": p.description,
         "schema": p.schema()}
        for p in params
    ]


#: The paging parameters every list endpoint accepts (see :mod:`mock_servers.rest_api`).
PAGING_PARAMS: tuple[Param, ...] = (
    Param("style", "Estilo de paginación; si falta se deduce de los parámetros.",
          kind="choice", choices=("offset", "page", "cursor", "keyset")),
    Param("offset", "offset: registros a saltar (0 por defecto).", high=10**9),
    Param("limit", "offset/cursor/keyset: tamaño de página, 1..500 (100).", low=1, high=500),
    Param("page", "page: número de página desde 1.", low=1, high=10**9),
    Param("per_page", "page: tamaño de página, 1..500 (100).", low=1, high=500),
    Param("cursor", "cursor: vacío en la 1.ª página, luego el next_cursor recibido.",
          kind="text", max_length=200),
    Param("starting_after", "keyset: id del último registro recibido."),
    Param("order", "asc (por defecto, id creciente) o desc (más nuevos primero).",
          kind="choice", choices=("asc", "desc")),
)
