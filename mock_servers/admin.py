"""The instructor's admin API under ``/__admin/``, guarded by ``X-Admin-Token``.

The same operations exist in Python on the lab objects (``lab.faults``,
``lab.journal``, ``lab.data``); this API serves a classroom where the
instructor drives a lab that learners reach over the network. Learners' API
keys cannot use it: every route needs the state's ``admin_token``. Admin
requests are not journaled and never get faults.

=======  ==============================  ==================================================
method   path                            does
=======  ==============================  ==================================================
GET      /__admin/faults                 list active fault rules
POST     /__admin/faults                 add a rule: ``{"fault", "path", "method", "key",
                                         "times", "probability"}`` → 201 with the rule
DELETE   /__admin/faults/{id}            remove one rule (404 if unknown)
DELETE   /__admin/faults                 remove every rule
GET      /__admin/requests               journal entries (``?path=&learner=&last=``)
DELETE   /__admin/requests               clear the journal
POST     /__admin/data/orders            insert ``{"count": n}`` orders, dated by the lab clock
POST     /__admin/data/orders/delete     delete ``{"ids": [...]}``
GET      /__admin/state                  summary: orders, data version, clock, rules, journal
POST     /__admin/reset                  faults, journal, rate windows and data back to seed
=======  ==============================  ==================================================
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from .faults import FaultSpecError
from .problems import Problem
from .state import LabState

__all__ = ["install"]


class FaultIn(BaseModel):
    """A rule to add; defaults: every path, every method, every caller, once, always."""

    model_config = ConfigDict(extra="forbid")

    fault: str = Field(max_length=200, examples=["status=503;retry_after=2"])
    path: str = Field(default="*", max_length=200, examples=["/api/v1/orders"])
    method: str | None = Field(default=None, max_length=10)
    key: str | None = Field(default=None, max_length=200)
    times: int | None = Field(default=1, ge=1, le=10**6)
    probability: float = Field(default=1.0, gt=0.0, le=1.0)


class InsertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=10_000)


class DeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=100_000)


def install(app: FastAPI, state: LabState) -> None:
    """Add the ``/__admin/`` routes to ``app``."""

    def require_admin(
        x_admin_token: Annotated[str | None, Header(description="lab.admin_token")] = None,
    ) -> None:
        if x_admin_token is None or not secrets.compare_digest(
            x_admin_token.encode(), state.admin_token.encode()
        ):
            raise Problem(
                401, "admin-no-autorizado", "Se necesita el token de administración",
                "La API /__admin/ es solo para quien dirige el laboratorio: envía la cabecera "
                "X-Admin-Token con lab.admin_token. Las claves de API de alumnos no sirven aquí.",
                headers=[("WWW-Authenticate", 'AdminToken realm="laboratorio"')],
            )

    router = APIRouter(prefix="/__admin", tags=["admin"], dependencies=[Depends(require_admin)])

    @router.get("/faults", summary="Reglas de fallo activas")
    def list_faults() -> list[dict[str, Any]]:
        return [rule.to_dict() for rule in state.faults.rules()]

    @router.post("/faults", status_code=201, summary="Añadir una regla de fallo")
    def add_fault(body: FaultIn) -> dict[str, Any]:
        try:
            rule = state.faults.add(
                body.fault, path=body.path, method=body.method, key=body.key,
                times=body.times, probability=body.probability,
            )
        except FaultSpecError as exc:
            raise Problem(400, "fallo-invalido", "Regla de fallo inválida", str(exc)) from None
        return rule.to_dict()

    @router.delete("/faults/{rule_id}", status_code=204, summary="Quitar una regla")
    def delete_fault(rule_id: int) -> Response:
        if not state.faults.remove(rule_id):
            raise Problem(404, "no-encontrado", "No existe esa regla",
                          f"No hay una regla activa con id {rule_id} (quizá ya se agotó). "
                          "Consulta GET /__admin/faults.")
        return Response(status_code=204)

    @router.delete("/faults", status_code=204, summary="Quitar todas las reglas")
    def clear_faults() -> Response:
        state.faults.clear()
        return Response(status_code=204)

    @router.get("/requests", summary="Diario de peticiones")
    def list_requests(
        path: Annotated[str | None, Query(max_length=500)] = None,
        learner: Annotated[str | None, Query(max_length=200)] = None,
        last: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    ) -> JSONResponse:
        return JSONResponse(state.journal.to_records(path=path, learner=learner, last=last))

    @router.delete("/requests", status_code=204, summary="Vaciar el diario")
    def clear_requests() -> Response:
        state.journal.clear()
        return Response(status_code=204)

    @router.post("/data/orders", status_code=201, summary="Insertar pedidos nuevos")
    def insert_orders(body: InsertIn) -> dict[str, Any]:
        new = state.data.insert_orders(body.count, created_at=state.clock.now())
        return {"inserted": [o["id"] for o in new], "version": state.data.version}

    @router.post("/data/orders/delete", summary="Borrar pedidos por id")
    def delete_orders(body: DeleteIn) -> dict[str, Any]:
        removed = state.data.delete_orders(body.ids)
        return {"deleted": removed, "version": state.data.version}

    @router.get("/state", summary="Resumen del laboratorio")
    def summary() -> dict[str, Any]:
        version, orders = state.data.snapshot()
        return {
            "orders": len(orders),
            "data_version": version,
            "clock_now": state.clock.now(),
            "fault_rules": len(state.faults.rules()),
            "journal_entries": len(state.journal),
        }

    @router.post("/reset", status_code=204, summary="Volver al estado sembrado")
    def reset() -> Response:
        state.reset()
        return Response(status_code=204)

    app.include_router(router)
