"""``GraphQLConnector``: GraphQL over HTTP on ``gql``, with errors classified and Relay pages.

Three lines are enough::

    conn = GraphQLConnector(lab.graphql_url, auth=ApiKeyAuth(lab.api_key))
    result = conn.execute("query($id: ID!) { order(id: $id) { id status } }", {"id": "7"})
    orders = list(conn.paginate(ORDERS_QUERY, connection_path="orders"))

Requests go through ``gql``'s httpx transport, so any :class:`httpx.Auth` of
:mod:`connectors_lib.auth` plugs in, and through
:func:`~connectors_lib.retry.run_with_retry`, so every attempt leaves a
:class:`~connectors_lib.retry.RetryDecision` (all of them in
:attr:`GraphQLConnector.retry_log`).

A GraphQL server reports most failures *inside* the response, in ``errors``,
often with HTTP 200. Each error's ``extensions.code`` decides what happens:

============================================  ============================  =================
situation                                     raised                        retried (default)
============================================  ============================  =================
the query does not parse (seen before send)   GraphQLQueryError             no
validation, depth, cost, bad variables        GraphQLQueryError             no
UNAUTHENTICATED / FORBIDDEN                   GraphQLAuthError (AuthError)  no
RATE_LIMITED / THROTTLED                      GraphQLRateLimitError         yes, Retry-After
SERVICE_UNAVAILABLE                           (whichever fits the data)     yes, backoff
``data`` plus field errors (a null field)     GraphQLPartialDataError       no; or kept
HTTP 4xx/5xx without GraphQL body, timeouts   HTTPStatusError, Transport…   as ``policy`` says
a 200 that is not GraphQL JSON                ResponseDecodeError           no
============================================  ============================  =================

The errors this module adds to :mod:`connectors_lib.errors`::

    ConnectorError
    └── GraphQLQueryError            ``errors`` (``.errors``, ``.codes``, ``.data``, ``.retryable``)
        ├── GraphQLPartialDataError  ``data`` came back with field errors (``.data`` has it)
        ├── GraphQLAuthError         also an AuthError: UNAUTHENTICATED / FORBIDDEN
        └── GraphQLRateLimitError    also a RateLimitError: RATE_LIMITED / THROTTLED

(An OAuth2 auth flow that reads a 403 ``insufficient_scope`` challenge raises
its own :class:`~connectors_lib.errors.AuthError`; it passes through unchanged.)

Retryable codes are :data:`RETRYABLE_CODES` (``retry_on_codes=`` changes them);
an answer is retried when *any* of its errors is retryable, or its HTTP status
is in ``policy.retry_on_status``. Partial data — ``data`` plus errors — is
raised by default; with ``on_partial="keep"`` it is returned in a
:class:`GraphQLResult` whose ``errors`` say which fields are missing (also when
a retryable field error outlives the retries). Mutations are retried only
when ``headers`` carry the policy's ``Idempotency-Key``.

The server's budget is surfaced on :attr:`GraphQLConnector.last_rate_limit`:
``X-RateLimit-*`` headers and, when the query selects it, GitHub's
``rateLimit { cost remaining resetAt }`` field. With
``obey_rate_limit_headers`` (default) the connector also waits for the reset
when the budget is spent instead of collecting a ``RATE_LIMITED``.

Not safe for concurrent calls from several threads: use one connector per thread.
"""

from __future__ import annotations

import dataclasses
import random
import ssl
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, NoReturn

import graphql
import httpx
from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.exceptions import TransportError as GQLTransportError
from gql.transport.httpx import HTTPXTransport

from connectors_lib.clock import Clock
from connectors_lib.errors import (
    AuthError,
    ConnectorError,
    HTTPStatusError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    RetryError,
    TransportError,
)
from connectors_lib.pagination import (
    Page,
    PageOutcome,
    PageRequest,
    PageWalker,
    StopRule,
    json_path,
)
from connectors_lib.ratelimit import AdaptivePacer, read_rate_limit
from connectors_lib.rest import DEFAULT_TIMEOUTS, SYSTEM_CLOCK, Timeouts, map_transport_error
from connectors_lib.retry import (
    DEFAULT_HTTP_POLICY,
    Failure,
    RetryDecision,
    RetryPolicy,
    classify_exception,
    run_with_retry,
)

__all__ = [
    "GRAPHQL_ACCEPT",
    "RETRYABLE_CODES",
    "GraphQLAuthError",
    "GraphQLConnector",
    "GraphQLErrorInfo",
    "GraphQLPartialDataError",
    "GraphQLQueryError",
    "GraphQLRateLimit",
    "GraphQLRateLimitError",
    "GraphQLResult",
    "OnPartial",
    "RelayPaginator",
    "read_graphql_rate_limit",
]

OnPartial = Literal["raise", "keep"]
Query = str | graphql.DocumentNode | GraphQLRequest

#: Codes that announce a transient condition: asking again later can succeed.
#: ``THROTTLED`` is Shopify's name for ``RATE_LIMITED``. ``INTERNAL_SERVER_ERROR`` is
#: left out on purpose: a resolver that fails on a broken record fails the same way again.
RETRYABLE_CODES: frozenset[str] = frozenset({"RATE_LIMITED", "THROTTLED", "SERVICE_UNAVAILABLE"})
#: Codes that mean "fix the credentials".
_AUTH_CODES: Final = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
#: Codes that mean "slow down".
_RATE_CODES: Final = frozenset({"RATE_LIMITED", "THROTTLED"})
#: GraphQL-over-HTTP's media type first: servers then answer request errors with 4xx
#: (so an OAuth2 auth flow sees the 401 and refreshes its token), legacy JSON as fallback.
GRAPHQL_ACCEPT: Final = "application/graphql-response+json, application/json;q=0.9"

#: What to do next, per ``extensions.code`` (Spanish, appended to the server's message).
_ADVICE: Final[dict[str, str]] = {
    "GRAPHQL_PARSE_FAILED": "corrige la sintaxis de la consulta",
    "GRAPHQL_VALIDATION_FAILED": (
        "la consulta no encaja con el esquema: revisa campos, argumentos y tipos de "
        "variables (validate_locally=True lo detecta antes de enviar)"
    ),
    "BAD_USER_INPUT": "revisa los valores de las variables",
    "DEPTH_LIMIT_EXCEEDED": "anida menos niveles en la consulta",
    "COST_LIMIT_EXCEEDED": "pide menos nodos: baja 'first' y pagina",
    "INTROSPECTION_DISABLED": "el servidor no permite introspección: usa validate_locally=False",
    "UNAUTHENTICATED": "faltan credenciales o son inválidas: revisa la clave o el token (¿caducó?)",
    "FORBIDDEN": "las credenciales no dan permiso: pide el scope necesario (p. ej. 'graphql')",
    "RATE_LIMITED": "espera lo que indique Retry-After o pide menos nodos por consulta",
    "THROTTLED": "espera lo que indique Retry-After o pide menos nodos por consulta",
    "SERVICE_UNAVAILABLE": "fallo pasajero del servidor: suele resolverse reintentando con backoff",
}


# --- what the server said ----------------------------------------------------------------------


class GraphQLErrorInfo(NamedTuple):
    """One entry of a response's ``errors`` list, read defensively."""

    message: str
    code: str | None  #: ``extensions.code`` (None when the server sends none)
    path: tuple[str | int, ...] = ()  #: where in ``data`` (empty: not about one field)

    @classmethod
    def from_json(cls, raw: Any) -> GraphQLErrorInfo:
        """Read one error object; anything malformed still gives a readable entry."""
        if not isinstance(raw, Mapping):
            return cls(str(raw), None)
        extensions = raw.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        path = raw.get("path")
        steps = tuple(p for p in path if isinstance(p, str | int)) if isinstance(path, list) else ()
        return cls(str(raw.get("message", raw)), str(code) if code is not None else None, steps)

    @property
    def where(self) -> str:
        """The path as ``orders.edges[41].node.status`` ("" when there is none)."""
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
        return text


class GraphQLRateLimit(NamedTuple):
    """The server's budget after the last response; ``None`` means "not announced"."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: float | None  #: epoch seconds when the window renews
    cost: int | None  #: points the query cost (only from the ``rateLimit`` field)
    node_count: int | None  #: nodes the query could return (``rateLimit.nodeCount``)
    retry_after: float | None  #: parsed ``Retry-After`` seconds
    source: str  #: "headers", "field" or "headers+field"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _iso_to_epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def read_graphql_rate_limit(
    headers: Mapping[str, str] | None,
    data: Any,
    *,
    now: float,
    field_path: str | None = "rateLimit",
) -> GraphQLRateLimit | None:
    """Pure: the budget from ``X-RateLimit-*`` / ``Retry-After`` headers and the ``rateLimit``
    field of ``data`` (at ``field_path``), the field winning where both speak. ``None`` if
    neither says anything."""
    limit = remaining = used = cost = nodes = None
    reset_at = retry_after = None
    sources = []
    if headers:
        info = read_rate_limit(headers, now)
        if info.source is not None:
            sources.append("headers")
            limit, remaining, retry_after = info.limit, info.remaining, info.retry_after
            reset_at = now + info.reset_after if info.reset_after is not None else None
            lower = {k.lower(): v for k, v in headers.items()}
            used = _int(lower.get("x-ratelimit-used"))
    field: Any = None
    if field_path and isinstance(data, Mapping):
        try:
            field = json_path(data, field_path)
        except LookupError:
            field = None
    if isinstance(field, Mapping):
        sources.append("field")
        limit = _int(field.get("limit")) if "limit" in field else limit
        remaining = _int(field.get("remaining")) if "remaining" in field else remaining
        used = _int(field.get("used")) if "used" in field else used
        reset_at = _iso_to_epoch(field.get("resetAt")) or reset_at
        cost, nodes = _int(field.get("cost")), _int(field.get("nodeCount"))
    if not sources:
        return None
    return GraphQLRateLimit(
        limit, remaining, used, reset_at, cost, nodes, retry_after, "+".join(sources)
    )


@dataclass(frozen=True, slots=True)
class GraphQLResult:
    """A finished operation: ``data``, plus the field ``errors`` kept with ``on_partial="keep"``."""

    data: dict[str, Any]
    errors: tuple[GraphQLErrorInfo, ...] = ()
    extensions: Mapping[str, Any] | None = None
    status: int | None = None  #: HTTP status of the last attempt
    rate_limit: GraphQLRateLimit | None = None
    trace: tuple[RetryDecision, ...] = ()

    @property
    def partial(self) -> bool:
        """True when some fields are missing (``errors`` says which)."""
        return bool(self.errors)


# --- errors (the branch this module adds to connectors_lib.errors) ------------------------------


class GraphQLQueryError(ConnectorError):
    """The operation failed with GraphQL ``errors`` (from the server, or found before sending).

    ``errors`` are the parsed entries, ``codes`` their distinct ``extensions.code``,
    ``data`` the partial data (``None`` when nothing came back), ``status`` the
    HTTP status as received (200 for servers that answer every error in a 200;
    0 when the error was found locally, before sending),
    ``retry_after_raw`` the ``Retry-After`` header and ``retryable`` the
    connector's verdict. ``status`` and ``retry_after_raw`` have the same meaning
    as on :class:`~connectors_lib.errors.HTTPStatusError`, so the auth and
    rate-limit variants below are also :class:`AuthError` / :class:`RateLimitError`.
    """

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[GraphQLErrorInfo] = (),
        data: dict[str, Any] | None = None,
        status: int = 0,
        retry_after_raw: str | None = None,
        retryable: bool = False,
        **context: Any,
    ) -> None:
        # Not super(): in the auth / rate-limit variants the next class in the MRO is
        # HTTPStatusError, whose __init__ wants a status this error may not have.
        ConnectorError.__init__(self, message, **context)
        self.errors = tuple(errors)
        self.data = data
        self.status = status
        self.retry_after_raw = retry_after_raw
        self.retryable = retryable

    @property
    def codes(self) -> tuple[str, ...]:
        """Distinct ``extensions.code`` values, in order of appearance."""
        return tuple(dict.fromkeys(e.code for e in self.errors if e.code))


class GraphQLPartialDataError(GraphQLQueryError):
    """``data`` came back with field errors: some fields are ``null``. ``data`` has the rest."""


class GraphQLAuthError(GraphQLQueryError, AuthError):
    """``UNAUTHENTICATED`` or ``FORBIDDEN``: fix the credentials; repeating will not help."""


class GraphQLRateLimitError(GraphQLQueryError, RateLimitError):
    """``RATE_LIMITED`` / ``THROTTLED``: the points budget is spent; wait for ``Retry-After``."""


def _summary(errors: Sequence[GraphQLErrorInfo]) -> str:
    first = errors[0]
    where = f" en {first.where}" if first.path else ""
    more = f" (y {len(errors) - 1} error(es) más)" if len(errors) > 1 else ""
    return f"{first.code or 'sin código'}{where}: {first.message}{more}"


def _build_error(
    errors: Sequence[GraphQLErrorInfo],
    data: dict[str, Any] | None,
    *,
    retryable: bool,
    status: int = 0,
    retry_after_raw: str | None = None,
    response: httpx.Response | None = None,
    page: int | None = None,
    lead: str = "",
) -> GraphQLQueryError:
    """The most specific error for ``errors``, with a Spanish message that says what to do.

    ``lead`` is a sentence put before the message (the context the caller knows).
    """
    if not errors:  # "errors": [] is malformed, but must not crash the mapping
        errors = (GraphQLErrorInfo("lista 'errors' vacía", None),)
    codes = {e.code for e in errors}
    advice = next((_ADVICE[e.code] for e in errors if e.code in _ADVICE), None)
    if retryable:
        tail = "es reintentable: la política decide cuántas veces y cuánto esperar"
    elif codes & RETRYABLE_CODES:
        tail = "no se reintenta: su código no está en retry_on_codes"
    else:
        tail = "reintentar igual no lo arreglará"
    cls: type[GraphQLQueryError]
    if data is not None:
        cls = GraphQLPartialDataError
        text = (
            f"Respuesta GraphQL con datos parciales: {len(errors)} error(es) en campos "
            f"({_summary(errors)}). Esos campos vienen a null. Quédate con el resto con "
            "on_partial='keep' (result.errors dice qué falta) o corrige la consulta o los datos"
        )
    else:
        cls = (
            GraphQLAuthError if codes & _AUTH_CODES
            else GraphQLRateLimitError if codes & _RATE_CODES
            else GraphQLQueryError
        )  # fmt: skip
        text = f"El servidor GraphQL devolvió errores ({_summary(errors)})"
        if advice:
            text += f". Qué hacer: {advice}"
    return cls(
        f"{lead}{text}; {tail}.",
        errors=errors,
        data=data,
        status=status,
        retry_after_raw=retry_after_raw,
        retryable=retryable,
        request=response.request if response is not None else None,
        response=response,
        page=page,
    )


def _local_error(error: graphql.GraphQLError, code: str, *, page: int | None) -> GraphQLQueryError:
    """A query found wrong before sending (syntax, or the fetched schema): never retried."""
    where = ""
    if error.locations:
        where = f" (línea {error.locations[0].line}, columna {error.locations[0].column})"
    info = GraphQLErrorInfo(error.message + where, code)
    return GraphQLQueryError(
        f"La consulta GraphQL no es válida ({_summary([info])}); detectado localmente, no se "
        f"envió nada. Qué hacer: {_ADVICE[code]}.",
        errors=[info],
        page=page,
    )


# --- Relay pagination --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayPaginator:
    """Relay cursor connections: ``$first`` / ``$after`` variables, ``pageInfo`` says what follows.

    The connection is read at ``connection_path`` inside ``data`` (``"orders"``,
    ``"customer.orders"``); its nodes come from ``edges[].node`` or ``nodes``
    (null nodes are skipped: the response's errors say why they are null). The
    run ends when ``pageInfo.hasNextPage`` is false (stop rule ``has_more_false``).
    Cursors are positions, so a page shorter than ``first`` loses nothing: no
    page size is declared to the walker's silent-cap check.
    """

    connection_path: str
    page_size: int = 100
    first_var: str = "first"
    after_var: str = "after"

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size debe ser >= 1")

    def first_request(self) -> PageRequest:
        return PageRequest({self.first_var: self.page_size}, None, "after:<inicio>", None, 1)

    def parse(self, page: Page) -> PageOutcome:
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


# --- the connector -------------------------------------------------------------------------------


class GraphQLConnector:
    """A ``gql`` client on httpx plus policy, pacing and Relay pagination.

    Parameters (keyword-only after ``url``):

    * ``auth`` — any :class:`httpx.Auth` (API key, bearer, OAuth2 from
      :mod:`connectors_lib.auth`); ``headers`` — fixed headers.
    * ``policy`` — transport errors and HTTP statuses to retry, and how long to wait.
    * ``retry_on_codes`` — GraphQL ``extensions.code`` values worth retrying.
    * ``on_partial`` — ``"raise"`` (:class:`GraphQLPartialDataError`) or ``"keep"``
      (return the data with its ``errors``); each call may override it.
    * ``clock`` / ``seed`` — time and jitter randomness, injected for reproducible runs.
    * ``obey_rate_limit_headers`` — wait for the reset when the server says the budget is spent.
    * ``validate_locally`` — fetch the schema once (introspection) and validate every
      query before sending it.
    * ``rate_limit_path`` — where a ``rateLimit`` object is read in ``data`` (None: ignore).
    * ``verify`` / ``follow_redirects`` — TLS verification; redirects are not followed
      (the credentials would travel to the target).
    """

    def __init__(
        self,
        url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy = DEFAULT_HTTP_POLICY,
        retry_on_codes: Collection[str] = RETRYABLE_CODES,
        on_partial: OnPartial = "raise",
        clock: Clock = SYSTEM_CLOCK,
        seed: int | None = None,
        timeout: Timeouts = DEFAULT_TIMEOUTS,
        obey_rate_limit_headers: bool = True,
        validate_locally: bool = False,
        rate_limit_path: str | None = "rateLimit",
        verify: bool | ssl.SSLContext = True,
        follow_redirects: bool = False,
    ) -> None:
        _check_mode(on_partial)
        self.url = url
        self.auth = auth
        self.headers = {"Accept": GRAPHQL_ACCEPT, **(headers or {})}
        self.policy = policy
        self.retry_on_codes = frozenset(retry_on_codes)
        self.on_partial: OnPartial = on_partial
        self.clock = clock
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.pacer = (
            AdaptivePacer(clock=clock, max_wait=policy.max_retry_after)
            if obey_rate_limit_headers
            else None
        )
        self.validate_locally = validate_locally
        self.rate_limit_path = rate_limit_path
        self.verify = verify
        self.follow_redirects = follow_redirects
        #: Every retry decision of every operation, in order (what lessons print and plot).
        self.retry_log: list[RetryDecision] = []
        #: The budget announced by the last response (None until one announces it).
        self.last_rate_limit: GraphQLRateLimit | None = None
        #: Field errors kept during the last :meth:`paginate` run (``on_partial="keep"``).
        self.last_errors: list[GraphQLErrorInfo] = []
        #: The rule that ended the last completed :meth:`paginate`, and its page count.
        self.last_stop: StopRule | None = None
        self.last_pages = 0
        self._client: Client | None = None
        self._session: SyncClientSession | None = None
        self._last_response: httpx.Response | None = None
        self._endpoint = httpx.URL(url)

    # --- lifecycle -----------------------------------------------------------------------

    def _remember_response(self, response: httpx.Response) -> None:
        """httpx event hook: keep the GraphQL response (not an OAuth2 token one) for its status."""
        if response.request.url == self._endpoint:
            self._last_response = response

    def _open(self) -> SyncClientSession:
        if self._session is not None:
            return self._session
        if self._client is None:
            transport = HTTPXTransport(
                self.url, auth=self.auth, headers=self.headers, timeout=self.timeout.to_httpx(),
                verify=self.verify, follow_redirects=self.follow_redirects,
                event_hooks={"response": [self._remember_response]},
            )  # fmt: skip
            self._client = Client(
                transport=transport, fetch_schema_from_transport=self.validate_locally
            )
        # gql's connect_sync is not annotated; it returns the SyncClientSession.
        session: SyncClientSession = self._client.connect_sync()  # type: ignore[no-untyped-call]
        self._session = session
        return session

    def close(self) -> None:
        """Close the pooled connections (the connector can be used again afterwards)."""
        if self._client is not None and self._session is not None:
            self._client.close_sync()  # type: ignore[no-untyped-call]  # gql: not annotated
        self._session = None

    def __enter__(self) -> GraphQLConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GraphQLConnector({self.url!r}, on_partial={self.on_partial!r})"

    # --- one operation ---------------------------------------------------------------------

    def execute(
        self,
        query: Query,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        on_partial: OnPartial | None = None,
    ) -> GraphQLResult:
        """Run one operation with retries; returns its :class:`GraphQLResult`.

        A query that does not parse raises :class:`GraphQLQueryError` before
        anything is sent. See the module table for every other outcome.
        """
        request = _parse(query, variables, operation_name)
        return self._run(request, mode=on_partial or self.on_partial, page=None)

    def _run(self, request: GraphQLRequest, *, mode: OnPartial, page: int | None) -> GraphQLResult:
        _check_mode(mode)
        repeatable = True
        operation = graphql.get_operation_ast(request.document, request.operation_name)
        if operation is not None and operation.operation == graphql.OperationType.MUTATION:
            repeatable = self.policy.allows_repeat("POST", self.headers)

        def attempt(_number: int) -> GraphQLResult:
            session = self._connect(page)
            if self.validate_locally and self._client is not None and self._client.schema:
                problems = graphql.validate(self._client.schema, request.document)
                if problems:
                    raise _local_error(problems[0], "GRAPHQL_VALIDATION_FAILED", page=page)
            if self.pacer is not None:
                self.pacer.wait()
            return self._send(session, request, mode=mode, page=page)

        try:
            done = run_with_retry(
                attempt, self.policy, clock=self.clock, rng=self.rng, classify=self._classify,
                idempotent=repeatable,
            )  # fmt: skip
        except ConnectorError as exc:
            self.retry_log.extend(exc.trace)
            kept = exc.last_error if isinstance(exc, RetryError) else None
            if mode == "keep" and isinstance(kept, GraphQLPartialDataError) and kept.data:
                # A retryable field error outlived the retries: the caller chose partial data.
                return GraphQLResult(
                    kept.data, kept.errors, None, kept.status or None, self.last_rate_limit,
                    tuple(exc.trace),
                )  # fmt: skip
            raise
        self.retry_log.extend(done.trace)
        return dataclasses.replace(done.value, trace=done.trace)

    def _connect(self, page: int | None) -> SyncClientSession:
        try:
            return self._open()
        except TransportQueryError as exc:  # the introspection query itself failed
            errors = [GraphQLErrorInfo.from_json(e) for e in exc.errors or ()]
            lead = "No se pudo obtener el esquema para validate_locally=True. "
            raise _build_error(errors, None, retryable=False, page=page, lead=lead) from exc
        except GQLTransportError as exc:
            self._raise_mapped(exc, page)

    def _send(
        self, session: SyncClientSession, request: GraphQLRequest, *, mode: OnPartial,
        page: int | None,
    ) -> GraphQLResult:  # fmt: skip
        """One HTTP exchange; raises our errors, returns a result (possibly partial)."""
        self._last_response = None
        try:
            result = session.execute(request, get_execution_result=True)
        except TransportQueryError as exc:
            errors = tuple(GraphQLErrorInfo.from_json(e) for e in exc.errors or ())
            data = exc.data if isinstance(exc.data, dict) else None
            extensions = exc.extensions
        except GQLTransportError as exc:
            self._observe(None)
            self._raise_mapped(exc, page)
        except AssertionError:  # gql asserts on {"data": null} without errors (a broken server)
            errors, data, extensions = (), None, None
        else:
            errors, data, extensions = (), result.data, result.extensions
        response = self._response()  # set by the event hook during session.execute
        status = response.status_code if response is not None else None
        rate = self._observe(data)
        if errors:
            retryable = (status is not None and status in self.policy.retry_on_status) or any(
                e.code in self.retry_on_codes for e in errors
            )
            if data is None or retryable or mode == "raise":
                raise _build_error(
                    errors, data, retryable=retryable, status=status or 0,
                    retry_after_raw=response.headers.get("Retry-After") if response else None,
                    response=response, page=page,
                )  # fmt: skip
        if data is None:
            raise ResponseDecodeError(
                "La respuesta GraphQL no trae 'data' ni 'errors' (data: null sin errores). El "
                "servidor no cumple la especificación; avisa a su equipo.",
                request=response.request if response is not None else None, response=response,
                page=page,
            )  # fmt: skip
        return GraphQLResult(data, errors, extensions, status, rate)

    def _response(self) -> httpx.Response | None:
        return self._last_response

    def _observe(self, data: Any) -> GraphQLRateLimit | None:
        """Read the budget from the last response; feed the pacer."""
        response = self._last_response
        headers = response.headers if response is not None else None
        if headers is not None and self.pacer is not None:
            self.pacer.observe(headers)
        rate = read_graphql_rate_limit(
            headers, data, now=self.clock.now(), field_path=self.rate_limit_path
        )
        if rate is not None:
            self.last_rate_limit = rate
        return rate

    def _raise_mapped(self, exc: GQLTransportError, page: int | None) -> NoReturn:
        """Raise our error for ``exc``, chained to the original (httpx's, not gql's wrapper)."""
        mapped = self._map_failure(exc, page)
        cause = exc.__cause__
        if mapped is cause:  # already ours (an auth flow's error): keep its own chain
            raise mapped from mapped.__cause__
        raise mapped from cause or exc

    def _map_failure(self, exc: GQLTransportError, page: int | None) -> ConnectorError:
        """gql's transport exceptions → ours, at the boundary."""
        response = self._last_response
        cause = exc.__cause__
        if isinstance(exc, TransportConnectionFailed):
            if isinstance(cause, ConnectorError):  # e.g. the OAuth2 token fetch failed
                return cause
            if isinstance(cause, httpx.HTTPError):
                return map_transport_error(cause, page=page)
            return TransportError(f"La conexión falló ({cause or exc}). Reintenta más tarde.",
                                  page=page)  # fmt: skip
        if isinstance(exc, TransportServerError):
            if response is not None:
                return HTTPStatusError.from_response(response, page=page)
            return HTTPStatusError(f"HTTP {exc.code}: el servidor devolvió un error.",
                                   status=exc.code or 0, page=page)  # fmt: skip
        if isinstance(exc, TransportProtocolError):
            kind = response.headers.get("Content-Type", "sin Content-Type") if response else "?"
            return ResponseDecodeError(
                f"La respuesta no es un resultado GraphQL (Content-Type: {kind}; falta JSON con "
                "'data' o 'errors'). ¿La URL apunta al endpoint GraphQL y no a una página HTML?",
                request=response.request if response is not None else None, response=response,
                page=page,
            )  # fmt: skip
        return ConnectorError(f"Error de gql: {type(exc).__name__}: {exc}", page=page)

    def _classify(self, exc: BaseException, policy: RetryPolicy) -> Failure:
        """The retry loop's view of a failure: GraphQL errors by code, the rest as for HTTP."""
        if isinstance(exc, GraphQLQueryError):
            return Failure(
                cause=f"GraphQL {','.join(exc.codes) or 'sin código'}",
                retryable=exc.retryable,
                status=exc.status or None,  # 0: found locally, no HTTP answer
                exception=type(exc).__name__,
                retry_after_raw=exc.retry_after_raw,
            )
        return classify_exception(exc, policy)

    # --- Relay pagination ------------------------------------------------------------------

    def paginate(
        self,
        query: Query,
        variables: Mapping[str, Any] | None = None,
        *,
        connection_path: str,
        page_size: int = 100,
        first_var: str = "first",
        after_var: str = "after",
        operation_name: str | None = None,
        max_pages: int | None = None,
        on_partial: OnPartial | None = None,
    ) -> Iterator[Any]:
        """Yield the nodes of the Relay connection at ``connection_path``, page by page.

        The query declares ``$first: Int!`` and ``$after: String`` (names set by
        ``first_var`` / ``after_var``; the connector sets them, so leave them out of
        ``variables``) and selects ``pageInfo { hasNextPage endCursor }``. A cursor
        that comes back twice raises :class:`~connectors_lib.errors.PaginationError`
        (a cycle). With ``on_partial="keep"`` field errors are collected in
        :attr:`last_errors` and the nodes are yielded with their null fields.
        """
        base = dict(variables or {})
        clash = {first_var, after_var} & set(base)
        if clash:
            raise ValueError(
                f"No pases {sorted(clash)} en variables: paginate los pone en cada página "
                "(usa page_size para el tamaño)."
            )
        document = _parse(query, None, operation_name)
        mode = on_partial or self.on_partial
        walker = PageWalker(
            RelayPaginator(connection_path, page_size, first_var, after_var), max_pages=max_pages
        )
        self.last_errors, self.last_stop, self.last_pages = [], None, 0
        while walker.next_request is not None:
            wanted = walker.next_request
            request = GraphQLRequest(
                document, variable_values={**base, **wanted.params}, operation_name=operation_name
            )
            result = self._run(request, mode=mode, page=wanted.number)
            if result.errors:
                self._check_connection(result, connection_path, wanted.number)
                self.last_errors.extend(result.errors)
            response = self._last_response
            headers = dict(response.headers) if response is not None else {}
            yield from walker.feed(Page(result.data, headers, self.url, wanted))
            self.last_pages = walker.pages
        self.last_stop = walker.stop

    @staticmethod
    def _check_connection(result: GraphQLResult, path: str, page: int) -> None:
        """With partial data, a null connection means the page itself is lost: raise its errors."""
        try:
            connection = json_path(result.data, path)
        except LookupError:
            connection = None
        if connection is None:
            raise _build_error(
                result.errors, result.data, retryable=False, status=result.status or 0,
                page=page, lead=f"La conexión {path!r} vino null: esta página no se puede leer "
                "ni con on_partial='keep'. ",
            )  # fmt: skip


def _check_mode(mode: str) -> None:
    if mode not in ("raise", "keep"):
        raise ValueError("on_partial debe ser 'raise' o 'keep'")


def _parse(
    query: Query, variables: Mapping[str, Any] | None, operation_name: str | None
) -> GraphQLRequest:
    """Parse ``query`` locally (no I/O): a syntax error never reaches the server."""
    try:
        return GraphQLRequest(
            query,
            variable_values=dict(variables) if variables is not None else None,
            operation_name=operation_name,
        )
    except graphql.GraphQLError as exc:
        raise _local_error(exc, "GRAPHQL_PARSE_FAILED", page=None) from exc
