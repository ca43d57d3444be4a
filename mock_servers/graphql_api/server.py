"""One GraphQL request from parsed parameters to a result: parse, validate, limit, auth, execute.

No HTTP here: :mod:`.http` turns requests into :class:`GraphQLParams` and
:class:`Outcome` into responses. Every failure becomes a GraphQL error with
``extensions.code``; nothing raises out of :meth:`GraphQLServer.run`.

Request errors (no ``data`` key) and their status with
``application/graphql-response+json``:

=====================================  ======
GRAPHQL_PARSE_FAILED                   400
GRAPHQL_VALIDATION_FAILED              400
INTROSPECTION_DISABLED                 400
DEPTH_LIMIT_EXCEEDED                   400
COST_LIMIT_EXCEEDED / BAD_USER_INPUT   400
OPERATION_RESOLUTION_FAILURE           400
UNAUTHENTICATED                        401
FORBIDDEN                              403
RATE_LIMITED                           429
=====================================  ======
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)

from ..oauth.clients import GRAPHQL_SCOPE
from ..state import LabState
from . import countries, shop
from .faults import FaultRule, GraphQLFaults, middleware, parse_fault_header
from .limits import QueryCost, RateBudget, cost_rule, depth_rule
from .sdl import SDL

__all__ = ["GraphQLParams", "GraphQLServer", "Outcome", "build_lab_schema"]

#: Root fields anyone may query; every other one needs credentials.
PUBLIC_FIELDS = frozenset({
    "continent", "continents", "countries", "country", "language", "languages", "rateLimit",
    "__typename", "__schema", "__type",
})
_STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429}


def build_lab_schema() -> GraphQLSchema:
    """The schema from :data:`SDL` with the shop and countries resolvers bound."""
    schema = build_schema(SDL)
    for (type_name, field_name), resolver in {**countries.RESOLVERS, **shop.RESOLVERS}.items():
        owner = schema.type_map[type_name]
        owner.fields[field_name].resolve = resolver  # type: ignore[attr-defined]
    # Enum values as the data stores them ("pending"), names as clients write them (PENDING).
    status = schema.type_map["OrderStatus"]
    for name, value in status.values.items():  # type: ignore[attr-defined]
        value.value = name.lower()
    return schema


@dataclass(frozen=True)
class GraphQLParams:
    """A well-formed GraphQL-over-HTTP request's parameters."""

    query: str
    operation_name: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """The GraphQL response and how HTTP should carry it."""

    body: dict[str, Any]
    #: Status for ``application/graphql-response+json`` (``application/json`` uses 200).
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: False when the HTTP request itself was malformed (then ``application/json`` keeps 4xx).
    well_formed: bool = True


def request_error(message: str, code: str, status: int = 400, **headers: str) -> Outcome:
    """A request error: ``errors`` only, no ``data`` key."""
    error = {"message": message, "extensions": {"code": code}}
    return Outcome({"errors": [error]}, status, dict(headers))


def _errors_outcome(errors: list[GraphQLError], default_code: str) -> Outcome:
    formatted = []
    for error in errors:
        item: dict[str, Any] = dict(error.formatted)
        item["extensions"] = {"code": default_code, **(item.get("extensions") or {})}
        formatted.append(item)
    return Outcome({"errors": formatted}, 400)


@dataclass
class GraphQLServer:
    """The lab's GraphQL service: schema, limits, faults and the points budget."""

    state: LabState
    max_depth: int = 10
    max_nodes: int = 25_000
    #: Lexical tokens a document may have (parsing stops beyond: no giant documents).
    max_tokens: int = 5_000
    schema: GraphQLSchema = field(default_factory=build_lab_schema)
    faults: GraphQLFaults = field(default_factory=GraphQLFaults)
    budget: RateBudget = field(init=False)
    #: Overrides ``settings.graphql_introspection`` when set (Python API).
    introspection: bool | None = None

    def __post_init__(self) -> None:
        self.budget = RateBudget(self.state.clock)

    def reset(self) -> None:
        """No faults, full budgets, introspection back to the settings' value."""
        self.faults.clear()
        self.budget.reset()
        self.introspection = None

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.state.settings.graphql_introspection

    # -- credentials -------------------------------------------------------------
    def _identity(self, headers: Mapping[str, str]) -> tuple[str, bool | None, Outcome | None]:
        """(identity, may read the shop?, error). ``None`` for the second means anonymous."""
        api_key = headers.get("x-api-key")
        if api_key is not None:
            if api_key in self.state.api_keys:
                return f"key:{self.state.api_keys[api_key]}", True, None
            return "", None, request_error(
                "clave de API desconocida: revisa la cabecera X-API-Key", "UNAUTHENTICATED", 401,
                **{"WWW-Authenticate": 'Bearer realm="laboratorio"'},
            )
        authorization = headers.get("authorization")
        if authorization is None:
            return "anonimo", None, None
        scheme, _, token = authorization.partition(" ")
        info = (
            self.state.bearer_check(token.strip())
            if scheme.lower() == "bearer" and token.strip() and self.state.bearer_check
            else None
        )
        if info is None:
            return "", None, request_error(
                "token inválido, expirado o revocado: pide uno nuevo en /oauth/token",
                "UNAUTHENTICATED", 401,
                **{"WWW-Authenticate": 'Bearer realm="laboratorio", error="invalid_token"'},
            )
        allowed = GRAPHQL_SCOPE in str(info.get("scope", "")).split()
        return f"client:{info.get('client_id')}", allowed, None

    @staticmethod
    def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
        """Names of the root fields ``operation`` selects, through fragments."""
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        names: set[str] = set()
        pending = list(operation.selection_set.selections)
        while pending:
            node = pending.pop()
            if isinstance(node, FieldNode):
                names.add(node.name.value)
            elif isinstance(node, InlineFragmentNode):
                pending.extend(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                pending.extend(fragments.pop(node.name.value).selection_set.selections)
        return names

    def _authorize(self, document: DocumentNode, operation: OperationDefinitionNode,
                   headers: Mapping[str, str]) -> tuple[str, Outcome | None]:
        """(identity for the budget, error) — the shop needs credentials, countries do not."""
        identity, may_read_shop, auth_error = self._identity(headers)
        if auth_error is not None:
            return identity, auth_error
        needs_shop = operation.operation == OperationType.MUTATION or bool(
            self._root_fields(document, operation) - PUBLIC_FIELDS
        )
        if needs_shop and may_read_shop is None:
            return identity, request_error(
                "la tienda requiere autenticación: envía X-API-Key o un token Bearer con "
                "scope 'graphql' (los países son públicos)", "UNAUTHENTICATED", 401,
                **{"WWW-Authenticate": 'Bearer realm="laboratorio"'},
            )
        if needs_shop and not may_read_shop:
            return identity, request_error(
                "el token no tiene el scope 'graphql': pídelo en /oauth/token con scope=graphql",
                "FORBIDDEN", 403,
                **{"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="graphql"'},
            )
        return identity, None

    # -- the pipeline --------------------------------------------------------------
    def run(
        self, params: GraphQLParams, headers: Mapping[str, str], method: str = "POST"
    ) -> Outcome:
        """Answer one request; never raises."""
        try:
            return self._run(params, headers, method)
        except RecursionError:
            return request_error(
                "documento demasiado anidado para analizarlo: simplifica la consulta",
                "GRAPHQL_PARSE_FAILED",
            )

    def _run(self, params: GraphQLParams, headers: Mapping[str, str], method: str) -> Outcome:
        try:
            document = parse(params.query, max_tokens=self.max_tokens)
        except GraphQLError as exc:
            return _errors_outcome([exc], "GRAPHQL_PARSE_FAILED")
        rules = list(specified_rules)
        if not self.introspection_enabled:
            rules.append(NoSchemaIntrospectionCustomRule)
        errors = validate(self.schema, document, rules)
        if errors:
            code = "GRAPHQL_VALIDATION_FAILED"
            if any("introspection" in e.message.lower() for e in errors):
                code = "INTROSPECTION_DISABLED"
            return _errors_outcome(errors, code)
        costs: dict[str | None, QueryCost] = {}
        errors = validate(self.schema, document, [
            depth_rule(self.max_depth), cost_rule(self.max_nodes, params.variables, costs),
        ])
        if errors:
            return _errors_outcome(errors, "GRAPHQL_VALIDATION_FAILED")
        operation = get_operation_ast(document, params.operation_name)
        if operation is None:
            return request_error(
                "no se puede elegir la operación: con varias en el documento, indica "
                "'operationName' con una que exista", "OPERATION_RESOLUTION_FAILURE",
            )
        if method == "GET" and operation.operation != OperationType.QUERY:
            return request_error(
                "las mutaciones solo se aceptan por POST", "BAD_REQUEST", 405, Allow="POST"
            )
        identity, auth_error = self._authorize(document, operation, headers)
        if auth_error is not None:
            return auth_error
        cost = costs.get(operation.name.value if operation.name else None, QueryCost())
        rate = self.budget.charge(identity, cost.points, cost.node_count)
        rate_headers = rate.headers()
        if not rate.allowed:
            wait = max(1, int(rate.reset_at - self.state.clock.now() + 0.999))
            outcome = request_error(
                f"presupuesto de puntos agotado ({rate.limit} por hora): espera {wait} s "
                "o pide menos nodos por consulta", "RATE_LIMITED", 429,
            )
            outcome.headers.update(rate_headers, **{"Retry-After": str(wait)})
            return outcome
        outcome = self._execute(params, headers, document, identity, rate.as_graphql())
        outcome.headers.update(rate_headers)
        return outcome

    def _execute(self, params: GraphQLParams, headers: Mapping[str, str], document: DocumentNode,
                 identity: str, rate: dict[str, Any]) -> Outcome:
        rules: list[FaultRule] = self.faults.rules
        header = headers.get("x-mock-graphql-fault")
        if header is not None:
            try:
                rules = [*rules, *parse_fault_header(header)]
            except ValueError as exc:
                return request_error(str(exc), "BAD_REQUEST")
        fired: set[int] = set()
        context = shop.RequestContext(self.state, identity, rate)
        result = execute(
            self.schema, document, context_value=context, variable_values=params.variables,
            operation_name=params.operation_name,
            middleware=[middleware(rules, fired)] if rules else None,
        )
        assert isinstance(result, ExecutionResult)  # every resolver is synchronous
        self.faults.spend(fired)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # Variable coercion failed: nothing ran, a request error.
            return _errors_outcome(list(result.errors), "BAD_USER_INPUT")
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [self._format_field_error(e) for e in result.errors]
        return Outcome(body, 200)

    @staticmethod
    def _format_field_error(error: GraphQLError) -> dict[str, Any]:
        item: dict[str, Any] = dict(error.formatted)
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            # Never leak a Python exception's text; say where and what to do instead.
            item["message"] = "error interno al resolver este campo: reintenta más tarde"
        item["extensions"] = {"code": "INTERNAL_SERVER_ERROR", **(item.get("extensions") or {})}
        return item
