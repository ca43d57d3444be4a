"""Relay cursor connections as a :class:`~connectors_lib.pagination.Paginator`.

Private module: import :class:`RelayPaginator` from :mod:`connectors_lib.graphql`
or the package. It is a pure strategy like the REST ones in
:mod:`connectors_lib.pagination` (no I/O, no ``gql``): it turns a page's
``data`` into nodes and the next ``$first`` / ``$after`` variables, and the
:class:`~connectors_lib.pagination.PageWalker` adds the cycle checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors_lib.errors import PaginationError
from connectors_lib.pagination import Page, PageOutcome, PageRequest, json_path

__all__ = ["RelayPaginator"]


@dataclass(frozen=True, slots=True)
class RelayPaginator:
    """Relay cursor connections: ``$first`` / ``$after`` variables, ``pageInfo`` says what follows.

    The connection is read at ``connection_path`` inside ``data`` (``"orders"``,
    ``"customer.orders"``); its nodes come from ``edges[].node`` or ``nodes``
    (null nodes are skipped: the response's errors say why they are null). The
    run ends when ``pageInfo.hasNextPage`` is false (stop rule ``has_more_false``).
    Cursors are positions, so a page shorter than ``first`` loses nothing: no
    page size is declared to the walker's silent-cap check. A connection that is
    missing, not an object, or lacks ``pageInfo`` / a next ``endCursor`` raises
    :class:`~connectors_lib.errors.PaginationError` saying what to add to the query.
    """

    connection_path: str
    page_size: int = 100
    first_var: str = "first"
    after_var: str = "after"

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size debe ser >= 1")

    def first_request(self) -> PageRequest:
        """Page 1: ``$first`` only (no ``$after``: the start of the connection)."""
        return PageRequest({self.first_var: self.page_size}, None, "after:<inicio>", None, 1)

    def parse(self, page: Page) -> PageOutcome:
        """The page's nodes, and the request for the page after ``pageInfo.endCursor``."""
        number = page.request.number
        try:
            connection = json_path(page.body, self.connection_path)
        except LookupError as missing:
            raise PaginationError(
                f"La respuesta no tiene la conexión {self.connection_path!r} (falta "
                f"{missing.args[0]!r}). Revisa connection_path: es la ruta dentro de 'data'.",
                page=number,
            ) from None
        if not isinstance(connection, Mapping):
            raise PaginationError(
                f"La conexión {self.connection_path!r} no es un objeto sino "
                f"{type(connection).__name__} ({connection!r:.40}). Revisa connection_path.",
                page=number,
            )
        nodes = self._nodes(connection, number)
        info = connection.get("pageInfo")
        if not isinstance(info, Mapping) or not isinstance(info.get("hasNextPage"), bool):
            raise PaginationError(
                f"La conexión {self.connection_path!r} no trae pageInfo {{ hasNextPage "
                "endCursor }. Añádelo a la consulta: sin él no se sabe si hay más páginas.",
                page=number,
            )
        if not info["hasNextPage"]:
            return PageOutcome(nodes, None, "has_more_false", False)
        cursor = info.get("endCursor")
        if not isinstance(cursor, str) or not cursor:
            raise PaginationError(
                f"pageInfo dice hasNextPage=true pero endCursor es {cursor!r}: no se puede "
                "pedir la página siguiente. ¿Falta endCursor en la consulta?",
                page=number,
            )
        params = {self.first_var: self.page_size, self.after_var: cursor}
        return PageOutcome(nodes, PageRequest(params, None, f"after:{cursor}", None, number + 1),
                           None, True)  # fmt: skip

    def _nodes(self, connection: Mapping[str, Any], number: int) -> list[Any]:
        """Non-null nodes from ``edges[].node`` (preferred) or ``nodes``."""
        edges = connection.get("edges")
        if isinstance(edges, list):
            found = (e.get("node") if isinstance(e, Mapping) else None for e in edges)
            return [node for node in found if node is not None]
        nodes = connection.get("nodes")
        if isinstance(nodes, list):
            return [n for n in nodes if n is not None]
        raise PaginationError(
            f"La conexión {self.connection_path!r} no trae 'edges {{ node }}' ni 'nodes'. "
            "Selecciona uno de los dos en la consulta.",
            page=number,
        )
