"""GraphQL endpoint of the lab: ``/graphql`` on graphql-core, GraphQL-over-HTTP compliant.

>>> server = install(app, state)                                   # doctest: +SKIP
>>> server.faults.add("customer.orders", times=2)                  # fail twice, then succeed
>>> server.introspection = False                                   # like many production APIs

Modules: :mod:`.sdl` (the schema), :mod:`.countries` / :mod:`.shop`
(resolvers), :mod:`.limits` (depth, cost, points budget), :mod:`.faults`,
:mod:`.server` (one request end to end), :mod:`.http` (the HTTP binding).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..state import LabState
from .faults import FAULT_HEADER, GraphQLFaults
from .http import endpoint
from .sdl import SDL
from .server import GraphQLServer, build_lab_schema

__all__ = ["FAULT_HEADER", "SDL", "GraphQLFaults", "GraphQLServer", "build_lab_schema", "install"]


def _admin_faults(server: GraphQLServer) -> Any:
    async def admin(request: Request) -> Response:
        given = request.headers.get("x-admin-token", "")
        if not hmac.compare_digest(given.encode(), server.state.admin_token.encode()):
            return JSONResponse({"detail": "falta X-Admin-Token o es incorrecto"}, status_code=401,
                                headers={"WWW-Authenticate": 'X-Admin-Token realm="admin"'})
        if request.method == "DELETE":
            server.faults.clear()
            return JSONResponse({"faults": []})
        try:
            spec = await request.json()
            rule = server.faults.add(
                spec["path"], code=spec.get("code", "INTERNAL_SERVER_ERROR"),
                message=spec.get("message"), times=spec.get("times"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse(
                {"detail": 'cuerpo JSON: {"path": "customer.orders", "code": "...", "times": 2}'},
                status_code=400,
            )
        return JSONResponse({"path": rule.path, "code": rule.code, "times": rule.times},
                            status_code=201)

    return admin


def install(app: FastAPI, state: LabState) -> GraphQLServer:
    """Add ``/graphql`` (GET, POST) and ``/__admin/graphql/faults`` to ``app``.

    The server is also kept as ``state.extras["graphql"]``.
    """
    server = GraphQLServer(state)
    app.add_api_route("/graphql", endpoint(server), methods=["GET", "POST"],
                      include_in_schema=False)
    app.add_api_route("/__admin/graphql/faults", _admin_faults(server),
                      methods=["POST", "DELETE"], include_in_schema=False)
    state.extras["graphql"] = server
    state.on_reset.append(server.reset)
    return server
