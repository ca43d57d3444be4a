"""Query limits: depth and cost as validation rules, and a GitHub-style points budget.

Both rules run after the standard validation (so fragments are known and
acyclic) and report ordinary GraphQL errors with ``extensions.code``:

* :func:`depth_rule`: ``DEPTH_LIMIT_EXCEEDED`` when fields nest deeper than
  ``max_depth``. Introspection (``__schema``, ``__type``) is not counted: gql's
  schema query is deep by nature and harmless.
* :func:`cost_rule`: ``BAD_USER_INPUT`` when a connection's ``first`` is outside
  1..100, ``COST_LIMIT_EXCEEDED`` when the query could return more than
  ``max_nodes`` nodes. Nodes are counted as GitHub documents it: each
  connection contributes ``first`` × the pages its parents can return; plain
  lists count their typical size (:data:`LIST_SIZES`).

The *cost* in points is GitHub's formula too: the number of connection fetches
the query needs, divided by 100, rounded, at least 1. :class:`RateBudget`
charges it per identity in fixed windows on the lab clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

from connectors_lib.clock import Clock

from .shop import MAX_FIRST

__all__ = ["LIST_SIZES", "QueryCost", "RateBudget", "RateSnapshot", "cost_rule", "depth_rule"]

#: Typical size of the plain (non-connection) lists, for node counting.
LIST_SIZES: dict[tuple[str, str], int] = {
    ("Query", "countries"): 250,
    ("Query", "languages"): 114,
    ("Query", "continents"): 7,
    ("Continent", "countries"): 60,
    ("Language", "countries"): 30,
    ("Country", "languages"): 3,
    ("Order", "items"): 4,
    ("UpdateOrderStatusPayload", "errors"): 1,
}
_INTROSPECTION = ("__schema", "__type")


@dataclass
class QueryCost:
    """What :func:`cost_rule` measured for one operation."""

    node_count: int = 0
    requests: int = 0

    @property
    def points(self) -> int:
        return max(1, round(self.requests / 100))


def _fields(ctx: ValidationContext, selection_set: SelectionSetNode) -> list[FieldNode]:
    """Fields of a selection set, looking through fragments (already validated, acyclic)."""
    out: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(ctx, selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = ctx.get_fragment(selection.name.value)
            if fragment is not None:
                out.extend(_fields(ctx, fragment.selection_set))
    return out


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """A validation rule class that rejects operations nested deeper than ``max_depth``."""

    class DepthLimitRule(ValidationRule):
        def _depth(self, selection_set: SelectionSetNode | None) -> int:
            if selection_set is None:
                return 0
            return max(
                (1 + self._depth(f.selection_set) for f in _fields(self.context, selection_set)
                 if f.name.value not in _INTROSPECTION),
                default=0,
            )

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = self._depth(node.selection_set)
            if depth > max_depth:
                self.report_error(GraphQLError(
                    f"la consulta anida {depth} niveles y el máximo es {max_depth}: "
                    "pide menos niveles o divide la consulta en varias",
                    node, extensions={"code": "DEPTH_LIMIT_EXCEEDED"},
                ))

    return DepthLimitRule


def _first(node: FieldNode, variables: dict[str, Any]) -> int | None:
    """The ``first`` argument as written (literal or variable), or None if absent/unknowable."""
    for arg in node.arguments or ():
        if arg.name.value != "first":
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            raw = variables.get(arg.value.name.value)
            return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    return None


def cost_rule(
    max_nodes: int, variables: dict[str, Any], costs: dict[str | None, QueryCost]
) -> type[ValidationRule]:
    """A validation rule class that bounds nodes and ``first``; fills ``costs`` per operation."""

    class CostLimitRule(ValidationRule):
        def _walk(self, parent: GraphQLNamedType, selection_set: SelectionSetNode,
                  fanout: int, cost: QueryCost) -> None:
            if not isinstance(parent, GraphQLObjectType):
                return
            for node in _fields(self.context, selection_set):
                field_def = parent.fields.get(node.name.value)
                if field_def is None or node.name.value in _INTROSPECTION:
                    continue
                inner = fanout
                if "first" in field_def.args:
                    first = _first(node, variables)
                    if first is not None and not 1 <= first <= MAX_FIRST:
                        self.report_error(GraphQLError(
                            f"'first' debe estar entre 1 y {MAX_FIRST} (recibido: {first}); "
                            "pagina con 'after' para traer más",
                            node, extensions={"code": "BAD_USER_INPUT"},
                        ))
                    first = MAX_FIRST if first is None or not 1 <= first <= MAX_FIRST else first
                    cost.requests += fanout
                    inner = fanout * first
                    cost.node_count += inner
                elif isinstance(get_nullable_type(field_def.type), GraphQLList):
                    size = LIST_SIZES.get((parent.name, node.name.value), 1)
                    inner = fanout * size
                    if isinstance(get_named_type(field_def.type), GraphQLObjectType):
                        cost.node_count += inner
                if node.selection_set is not None:
                    self._walk(get_named_type(field_def.type), node.selection_set, inner, cost)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            if root is None:
                return
            cost = QueryCost()
            self._walk(root, node.selection_set, 1, cost)
            costs[node.name.value if node.name else None] = cost
            if cost.node_count > max_nodes:
                self.report_error(GraphQLError(
                    f"la consulta podría devolver {cost.node_count} nodos y el máximo es "
                    f"{max_nodes}: baja los 'first' o pide menos listas anidadas",
                    node, extensions={"code": "COST_LIMIT_EXCEEDED"},
                ))

    return CostLimitRule


@dataclass(frozen=True)
class RateSnapshot:
    """One identity's budget after a charge (or a refusal)."""

    allowed: bool
    cost: int
    limit: int
    used: int
    reset_at: float
    node_count: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def as_graphql(self) -> dict[str, Any]:
        """The ``rateLimit`` object."""
        reset = datetime.fromtimestamp(self.reset_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"cost": self.cost, "limit": self.limit, "remaining": self.remaining,
                "used": self.used, "resetAt": reset, "nodeCount": self.node_count}

    def headers(self) -> dict[str, str]:
        """GitHub's ``x-ratelimit-*`` headers."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Reset": str(int(self.reset_at)),
            "X-RateLimit-Resource": "graphql",
        }


@dataclass
class RateBudget:
    """Points per identity in fixed windows that start with the identity's first query."""

    clock: Clock
    limit: int = 5000
    window: float = 3600.0
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def charge(self, identity: str, cost: int, node_count: int = 0) -> RateSnapshot:
        """Spend ``cost`` points if they are left; the snapshot says whether it was allowed."""
        with self._lock:
            now = self.clock.now()
            start, used = self._windows.get(identity, (now, 0))
            if now >= start + self.window:
                start, used = now, 0
            allowed = used + cost <= self.limit
            if allowed:
                used += cost
            self._windows[identity] = (start, used)
            return RateSnapshot(allowed, cost, self.limit, used, start + self.window, node_count)

    def reset(self) -> None:
        """Every identity back to a full budget."""
        with self._lock:
            self._windows.clear()
