"""Resolvers of the shop part: Relay connections over :class:`~mock_servers.data.ShopData`.

Cursors are opaque to clients (Base64 of ``kind:id``) and *keyset* underneath:
``after`` means "ids greater than this one", so orders inserted or deleted
while a client paginates never make it skip or repeat a row, the property the
pagination lesson contrasts with offsets.

The one mutation, ``updateOrderStatus``, reports business-rule failures in its
payload's ``errors`` (like the original lesson's ``createUser``), not as
GraphQL errors: the request itself was fine.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from ..state import LabState
from .countries import country_by_code

__all__ = ["MAX_FIRST", "RESOLVERS", "RequestContext", "decode_cursor", "encode_cursor"]

Record = dict[str, Any]
#: Largest page a connection serves (GitHub's limit too).
MAX_FIRST = 100

#: Which status may follow which: a tiny order workflow for the mutation.
_NEXT_STATUS: dict[str, tuple[str, ...]] = {
    "pending": ("paid", "cancelled"),
    "paid": ("shipped", "cancelled"),
    "shipped": ("delivered",),
    "delivered": (),
    "cancelled": (),
}


@dataclass
class RequestContext:
    """What resolvers see as ``info.context`` for one request."""

    state: LabState
    identity: str
    #: The ``rateLimit`` answer for this request (cost already charged).
    rate: dict[str, Any] = field(default_factory=dict)


def _bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def encode_cursor(kind: str, record_id: int) -> str:
    """Opaque cursor for the record ``record_id`` of ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{record_id}".encode()).decode("ascii")


def decode_cursor(kind: str, cursor: str) -> int:
    """The id inside a cursor of ``kind``; ``BAD_USER_INPUT`` if it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        prefix, _, raw = text.partition(":")
        if prefix != kind or not raw.isdigit():
            raise ValueError(text)
        return int(raw)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise _bad_input(
            f"cursor 'after' inválido para {kind}: usa el endCursor que devolvió la página anterior"
        ) from exc


def connection(items: list[Record], kind: str, first: int, after: str | None) -> Record:
    """One Relay page of ``items`` (sorted by id) after the cursor ``after``."""
    if not 1 <= first <= MAX_FIRST:
        raise _bad_input(f"'first' debe estar entre 1 y {MAX_FIRST} (recibido: {first})")
    start = 0
    if after is not None:
        after_id = decode_cursor(kind, after)
        start = bisect.bisect_right([r["id"] for r in items], after_id)
    page = items[start:start + first]
    edges = [{"cursor": encode_cursor(kind, r["id"]), "node": r} for r in page]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": len(items),
    }


def _state(info: GraphQLResolveInfo[Any]) -> LabState:
    context: RequestContext = info.context
    return context.state


def _int_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _by_id(records: list[Record], raw: str) -> Record | None:
    wanted = _int_id(raw)
    return next((r for r in records if r["id"] == wanted), None) if wanted is not None else None


# -- Query -------------------------------------------------------------------------


def _customers(_: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Record:
    rows = [
        c for c in _state(info).data.customers
        if args.get("country") in (None, c["country"])
        and args.get("segment") in (None, c["segment"])
    ]
    return connection(rows, "customer", args["first"], args.get("after"))


def _orders(_: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Record:
    _, orders = _state(info).data.snapshot()
    rows = [
        o for o in orders
        if args.get("status") in (None, o["status"]) and args.get("country") in (None, o["country"])
    ]
    return connection(rows, "order", args["first"], args.get("after"))


def _products(_: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Record:
    rows = [
        p for p in _state(info).data.products if args.get("category") in (None, p["category"])
    ]
    return connection(rows, "product", args["first"], args.get("after"))


def _customer_orders(customer: Record, info: GraphQLResolveInfo[Any], **args: Any) -> Record:
    _, orders = _state(info).data.snapshot()
    rows = [o for o in orders if o.get("customer_id") == customer["id"]]
    return connection(rows, "order", args["first"], args.get("after"))


def _order_customer(order: Record, info: GraphQLResolveInfo[Any]) -> Record | None:
    cid = order.get("customer_id")
    customers = _state(info).data.customers
    return customers[cid - 1] if isinstance(cid, int) and 0 < cid <= len(customers) else None


def _item_product(item: Record, info: GraphQLResolveInfo[Any]) -> Record | None:
    pid = item.get("product_id")
    products = _state(info).data.products
    return products[pid - 1] if isinstance(pid, int) and 0 < pid <= len(products) else None


# -- Mutation ----------------------------------------------------------------------


def _update_order_status(_: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Record:
    state, data = _state(info), args["input"]
    payload: Record = {"order": None, "errors": [],
                       "clientMutationId": data.get("clientMutationId")}
    wanted, new_status = _int_id(data["orderId"]), data["status"]
    with state.data.lock:
        orders = state.data.orders
        index = next((i for i, o in enumerate(orders) if o["id"] == wanted), None)
        if index is None:
            payload["errors"].append({"field": ["input", "orderId"],
                                      "message": f"no existe el pedido {data['orderId']}"})
            return payload
        order = orders[index]
        if new_status not in _NEXT_STATUS.get(order["status"], ()):
            nexts = _NEXT_STATUS.get(order["status"], ())
            allowed = ", ".join(s.upper() for s in nexts) or "ninguno"
            payload["errors"].append({
                "field": ["input", "status"],
                "message": f"un pedido {str(order['status']).upper()} no puede pasar a "
                           f"{new_status.upper()}; estados siguientes posibles: {allowed}",
            })
            payload["order"] = order
            return payload
        now = datetime.fromtimestamp(state.clock.now(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        updated = {**order, "status": new_status, "updated_at": now}
        # Copy on write: snapshots other requests hold stay as they were.
        state.data.orders = [*orders[:index], updated, *orders[index + 1:]]
        state.data.version += 1
    payload["order"] = updated
    return payload


def _key(name: str) -> Any:
    return lambda record, _info: record.get(name)


#: (type, field) → resolver; fields not listed read the dict key of the same name.
RESOLVERS: dict[tuple[str, str], Any] = {
    ("Query", "customer"): lambda _, info, id: _by_id(_state(info).data.customers, id),
    ("Query", "customers"): _customers,
    ("Query", "order"): lambda _, info, id: _by_id(_state(info).data.snapshot()[1], id),
    ("Query", "orders"): _orders,
    ("Query", "product"): lambda _, info, id: _by_id(_state(info).data.products, id),
    ("Query", "products"): _products,
    ("Query", "rateLimit"): lambda _, info: info.context.rate,
    ("Mutation", "updateOrderStatus"): _update_order_status,
    ("Customer", "countryCode"): _key("country"),
    ("Customer", "country"): lambda c, _: country_by_code(c["country"]),
    ("Customer", "createdAt"): _key("created_at"),
    ("Customer", "orders"): _customer_orders,
    ("Order", "number"): _key("order_number"),
    ("Order", "countryCode"): _key("country"),
    ("Order", "createdAt"): _key("created_at"),
    ("Order", "updatedAt"): _key("updated_at"),
    ("Order", "customer"): _order_customer,
    ("OrderItem", "unitPrice"): _key("unit_price"),
    ("OrderItem", "product"): _item_product,
    ("Product", "priceUsd"): _key("price_usd"),
}
