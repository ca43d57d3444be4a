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

This module is the connector and the public surface; the parts it is built
from live in private modules, one concept each, and their public names are
re-exported here:

* ``_graphql_errors``: :class:`GraphQLErrorInfo`, the error classes above, and
  how a response's ``errors`` pick one (codes, advice, retryability);
* ``_graphql_ratelimit``: :class:`GraphQLRateLimit`, :func:`read_graphql_rate_limit`;
* ``_graphql_relay``: :class:`RelayPaginator`, the pure Relay paging strategy;
* ``_graphql_transport``: the boundary with ``gql`` (parsing, its exceptions mapped to ours).
"""

from __future__ import annotations

import dataclasses
import random
import ssl
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import graphql
import httpx
from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportError as GQLTransportError
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from connectors_lib._graphql_errors import (
    RETRYABLE_CODES,
    GraphQLAuthError,
    GraphQLErrorInfo,
    GraphQLPartialDataError,
    GraphQLQueryError,
    GraphQLRateLimitError,
    build_error,
    classify_failure,
    local_error,
)
from connectors_lib._graphql_ratelimit import GraphQLRateLimit, read_graphql_rate_limit
from connectors_lib._graphql_relay import RelayPaginator
from connectors_lib._graphql_transport import Query, parse_request, raise_mapped
from connectors_lib.clock import Clock
from connectors_lib.errors import ConnectorError, ResponseDecodeError, RetryError
from connectors_lib.pagination import Page, PageWalker, StopRule, json_path
from connectors_lib.ratelimit import AdaptivePacer
from connectors_lib.rest import DEFAULT_TIMEOUTS, SYSTEM_CLOCK, Timeouts
from connectors_lib.retry import DEFAULT_HTTP_POLICY, RetryDecision, RetryPolicy, run_with_retry

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

#: GraphQL-over-HTTP's media type first: servers then answer request errors with 4xx
#: (so an OAuth2 auth flow sees the 401 and refreshes its token), legacy JSON as fallback.
GRAPHQL_ACCEPT: Final = "application/graphql-response+json, application/json;q=0.9"


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
        """The open gql session, created on first use (and again after :meth:`close`).

        With ``validate_locally`` gql fetches the schema here, by introspection.
        """
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
        request = parse_request(query, variables, operation_name)
        return self._run(request, mode=on_partial or self.on_partial, page=None)

    def _run(self, request: GraphQLRequest, *, mode: OnPartial, page: int | None) -> GraphQLResult:
        """``request`` under the retry policy; every decision lands in :attr:`retry_log`.

        A mutation counts as repeatable only with the policy's idempotency header.
        """
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
                    raise local_error(problems[0], "GRAPHQL_VALIDATION_FAILED", page=page)
            if self.pacer is not None:
                self.pacer.wait()
            return self._send(session, request, mode=mode, page=page)

        try:
            done = run_with_retry(
                attempt, self.policy, clock=self.clock, rng=self.rng, classify=classify_failure,
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
        """:meth:`_open`, with a failed connection or introspection raised as our errors."""
        try:
            return self._open()
        except TransportQueryError as exc:  # the introspection query itself failed
            errors = [GraphQLErrorInfo.from_json(e) for e in exc.errors or ()]
            lead = "No se pudo obtener el esquema para validate_locally=True. "
            raise build_error(errors, None, retryable=False, page=page, lead=lead) from exc
        except GQLTransportError as exc:
            raise_mapped(exc, self._response(), page=page)

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
            raise_mapped(exc, self._response(), page=page)
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
                raise build_error(
                    errors, data, retryable=retryable, status=status or 0,
                    retry_after_raw=(
                        response.headers.get("Retry-After") if response is not None else None
                    ),
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
        """The endpoint's last response, as the event hook left it.

        A method rather than the attribute: after ``self._last_response = None`` mypy
        would take the attribute for ``None`` for the rest of :meth:`_send`, not
        knowing that ``session.execute`` runs the hook that sets it.
        """
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
        document = parse_request(query, None, operation_name)
        # A GraphQLRequest may carry its own variables: keep them, ``variables`` wins.
        base = {**(document.variable_values or {}), **(variables or {})}
        clash = {first_var, after_var} & set(base)
        if clash:
            raise ValueError(
                f"No pases {sorted(clash)} en variables: paginate los pone en cada página "
                "(usa page_size para el tamaño)."
            )
        # Checked above, at the call; the pages are fetched lazily, on iteration.
        return self._pages(
            document, base, connection_path=connection_path,
            paginator=RelayPaginator(connection_path, page_size, first_var, after_var),
            operation_name=operation_name, max_pages=max_pages,
            mode=on_partial or self.on_partial,
        )

    def _pages(
        self,
        document: GraphQLRequest,
        base: dict[str, Any],
        *,
        connection_path: str,
        paginator: RelayPaginator,
        operation_name: str | None,
        max_pages: int | None,
        mode: OnPartial,
    ) -> Iterator[Any]:
        walker = PageWalker(paginator, max_pages=max_pages)
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
            raise build_error(
                result.errors, result.data, retryable=False, status=result.status or 0,
                page=page, lead=f"La conexión {path!r} vino null: esta página no se puede leer "
                "ni con on_partial='keep'. ",
            )  # fmt: skip


def _check_mode(mode: str) -> None:
    """Refuse an ``on_partial`` other than ``"raise"`` / ``"keep"`` (a typo must not pass)."""
    if mode not in ("raise", "keep"):
        raise ValueError("on_partial debe ser 'raise' o 'keep'")
