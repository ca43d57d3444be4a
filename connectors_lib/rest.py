"""``RestConnector``: records out of a paginated REST API, with every safety net on.

Three lines are enough::

    conn = RestConnector("https://api.example", headers={"X-API-Key": key})
    for order in conn.extract("/api/v1/orders"):
        ...

and every default is in the signature: :data:`DEFAULT_TIMEOUTS` (connect 5 s,
read 30 s), :data:`~connectors_lib.retry.DEFAULT_HTTP_POLICY` (transient statuses
and transport errors, 5 attempts, full jitter, 60 s deadline, ``Retry-After``
honoured up to 120 s and refused above), offset pagination of 100, server
rate-limit headers obeyed, no redirects followed (credentials would travel).

What happens on each page request, in order:

1. pace: wait what the server's last rate-limit headers asked for
   (:class:`~connectors_lib.ratelimit.AdaptivePacer`), then the optional
   client-side :class:`~connectors_lib.ratelimit.TokenBucket`;
2. the optional :class:`~connectors_lib.circuit.CircuitBreaker` may refuse the call;
3. the request goes out with an ``X-Request-ID`` shared by all its attempts;
4. transport failures and 4xx/5xx become :mod:`connectors_lib.errors` exceptions;
5. :func:`~connectors_lib.retry.run_with_retry` decides, waits on the injected
   clock and records a :class:`~connectors_lib.retry.RetryDecision`
   (all of them in :attr:`RestConnector.retry_log`);
6. the page is decoded and handed to a :class:`~connectors_lib.pagination.PageWalker`
   (stop rule, cycle and silent-cap checks), and its records are yielded one by one.

Memory stays constant: one page at a time. With ``checkpoint=store`` the
position is saved atomically after each fully consumed page, and on close
(an exception in the consumer, ``break``); a rerun resumes there, dropping
records whose key was already delivered at the page boundary.

This module is the connector and the public surface; the parts it is built
from live in private modules, one concept each, and their public names are
re-exported here:

* ``_rest_transport``: :class:`Timeouts`, :func:`map_transport_error` (httpx's
  errors mapped to :mod:`connectors_lib.errors`) and JSON decoding;
* ``_rest_pacing``: pacer then token bucket, before every attempt (step 1);
* ``_rest_resume``: what a checkpoint holds, kept in step with the consumer, read back on rerun;
* ``_rest_fetchahead``: the pages :meth:`RestConnector.aextract` keeps in flight.
"""

from __future__ import annotations

import itertools
import random
import ssl
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from connectors_lib._rest_fetchahead import FetchAhead
from connectors_lib._rest_pacing import apace, pace
from connectors_lib._rest_resume import Resume, ResumeLedger
from connectors_lib._rest_transport import (
    DEFAULT_TIMEOUTS,
    Timeouts,
    decode_json,
    map_transport_error,
    timeouts_within,
)
from connectors_lib.circuit import CircuitBreaker
from connectors_lib.clock import Clock, SystemClock
from connectors_lib.errors import DeadlineExceededError, HTTPStatusError, redact_url
from connectors_lib.pagination import (
    OffsetPaginator,
    Page,
    PageRequest,
    PageWalker,
    Paginator,
    StopRule,
)
from connectors_lib.ratelimit import AdaptivePacer, TokenBucket
from connectors_lib.retry import (
    DEFAULT_HTTP_POLICY,
    RetryDecision,
    RetryPolicy,
    arun_with_retry,
    run_with_retry,
)
from connectors_lib.state import CheckpointStore
from connectors_lib.tracing import RequestTrace

__all__ = [
    "DEFAULT_PAGINATOR",
    "DEFAULT_TIMEOUTS",
    "SYSTEM_CLOCK",
    "RestConnector",
    "Timeouts",
    "map_transport_error",
]


#: ``?offset=&limit=100`` with records under ``data``.
DEFAULT_PAGINATOR: Final = OffsetPaginator()
#: Real time; pass a ``VirtualClock`` in tests and lessons.
SYSTEM_CLOCK: Final = SystemClock()


class RestConnector:
    """An httpx client plus policy, pacing, breaker and paginator: ``extract()`` yields records.

    Parameters (all keyword-only after ``base_url``):

    * ``auth`` — any :class:`httpx.Auth` (``connectors_lib.auth`` provides API key,
      bearer and OAuth2); ``headers`` — fixed headers (e.g. ``X-API-Key``).
    * ``paginator`` — how pages follow each other (:mod:`connectors_lib.pagination`).
    * ``policy`` — what to retry and how long to wait (:class:`RetryPolicy`).
    * ``clock`` / ``seed`` — time and jitter randomness, injected for reproducible runs.
    * ``timeout`` — :class:`Timeouts` per phase.
    * ``rate_limiter`` — client-side :class:`TokenBucket` (None: no client-side cap).
    * ``breaker`` — :class:`CircuitBreaker` (None: no breaker). Counts transport
      errors and 5xx as failures.
    * ``obey_rate_limit_headers`` — pause as the server's rate-limit headers ask.
    * ``max_concurrency`` — pages in flight in :meth:`aextract` (random-access styles).
    * ``record_key`` — JSON path of each record's unique key, used to deduplicate
      on resume from a checkpoint (None: positional resume only).
    * ``verify`` — TLS verification: True (system CAs), or an ``ssl.SSLContext`` (own CA).
    * ``follow_redirects`` — off by default: a redirect would carry your credentials.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        paginator: Paginator = DEFAULT_PAGINATOR,
        policy: RetryPolicy = DEFAULT_HTTP_POLICY,
        clock: Clock = SYSTEM_CLOCK,
        seed: int | None = None,
        timeout: Timeouts = DEFAULT_TIMEOUTS,
        rate_limiter: TokenBucket | None = None,
        breaker: CircuitBreaker | None = None,
        obey_rate_limit_headers: bool = True,
        max_concurrency: int = 4,
        record_key: str | None = "id",
        request_id_header: str | None = "X-Request-ID",
        log_requests: bool = False,
        verify: bool | ssl.SSLContext = True,
        follow_redirects: bool = False,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency debe ser >= 1")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.headers = dict(headers or {})
        self.paginator = paginator
        self.policy = policy
        self.clock = clock
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.rate_limiter = rate_limiter
        self.breaker = breaker
        self.pacer = (
            AdaptivePacer(clock=clock, max_wait=policy.max_retry_after)
            if obey_rate_limit_headers
            else None
        )
        self.max_concurrency = max_concurrency
        self.record_key = record_key
        self.request_id_header = request_id_header
        self.verify = verify
        self.follow_redirects = follow_redirects
        #: One record per HTTP attempt (request id, attempt, latency, waits); no secrets.
        self.trace = RequestTrace(log=log_requests)
        #: Every retry decision of every request, in order (what lessons print and plot).
        self.retry_log: list[RetryDecision] = []
        #: The rule that ended the last completed :meth:`extract` / :meth:`aextract`.
        self.last_stop: StopRule | None = None
        self._request_numbers = itertools.count(1)  # next() is atomic under the GIL
        self._client: httpx.Client | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by the sync client and each :meth:`aextract`'s async one."""
        return {
            "auth": self.auth,
            "headers": self.headers,
            "timeout": self.timeout.to_httpx(),
            "verify": self.verify,
            "follow_redirects": self.follow_redirects,
        }

    @property
    def client(self) -> httpx.Client:
        """The pooled :class:`httpx.Client`, created on first use."""
        if self._client is None:
            self._client = httpx.Client(**self._client_options())
        return self._client

    def close(self) -> None:
        """Close the pooled connections (the connector can be used again afterwards)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> RestConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RestConnector({self.base_url!r}, paginator={self.paginator!r})"

    # --- one request -----------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Absolute URL for ``path`` (absolute URLs are returned unchanged)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _new_request_id(self) -> str:
        return f"req-{next(self._request_numbers):06d}"

    def _deadline(self) -> float | None:
        """Monotonic instant by which this logical request must be over (policy deadline)."""
        if self.policy.deadline is None:
            return None
        return self.clock.monotonic() + self.policy.deadline

    def _timeout_within(self, deadline_at: float | None) -> Any:
        """Per-attempt timeouts cut to the time left, so no attempt outlives the deadline.

        Raises :class:`~connectors_lib.errors.DeadlineExceededError` when no time is left.
        """
        if deadline_at is None:
            return httpx.USE_CLIENT_DEFAULT
        left = deadline_at - self.clock.monotonic()
        if left <= 0:
            raise DeadlineExceededError(
                f"Se agotó el plazo total de {self.policy.deadline:.0f} s antes de otro intento. "
                "Amplía deadline en la RetryPolicy o revisa por qué el servicio tarda tanto."
            )
        cut = timeouts_within(self.timeout, left)
        return httpx.USE_CLIENT_DEFAULT if cut is None else cut

    def _prepare(
        self, method: str, headers: Mapping[str, str] | None
    ) -> tuple[str, dict[str, str], bool]:
        """(request id, headers to send, may it be retried) for one logical request.

        The id goes in ``request_id_header`` unless the caller set that header, so
        every attempt of the request, and the server's logs, carry the same id.
        """
        request_id = self._new_request_id()
        sent_headers = dict(headers or {})
        if self.request_id_header:
            sent_headers.setdefault(self.request_id_header, request_id)
        repeatable = self.policy.allows_repeat(method, sent_headers)
        return request_id, sent_headers, repeatable

    def _judge(
        self,
        outcome: httpx.Response | httpx.HTTPError,
        *,
        request_id: str,
        attempt: int,
        method: str,
        url: str,
        latency: float,
        waited: float,
        why: str | None,
        page: int | None,
    ) -> httpx.Response:
        """Record the attempt, feed breaker and pacer, and raise our error for a failure."""
        if isinstance(outcome, httpx.HTTPError):
            self.trace.add(
                request_id=request_id, attempt=attempt, method=method, url=url, status=None,
                error=type(outcome).__name__, latency=latency, waited_before=waited,
                wait_reason=why,
            )  # fmt: skip
            if self.breaker is not None:
                self.breaker.record_failure()
            raise map_transport_error(outcome, page=page) from outcome
        response = outcome
        self.trace.add(
            request_id=request_id, attempt=attempt, method=method, url=str(response.url),
            status=response.status_code, error=None, latency=latency, waited_before=waited,
            wait_reason=why,
        )  # fmt: skip
        if self.pacer is not None:
            self.pacer.observe(response.headers)
        failed = response.status_code >= 300
        if self.breaker is not None:
            if response.status_code >= 500:
                self.breaker.record_failure()
            else:  # a 3xx or 4xx says nothing bad about the service's health
                self.breaker.record_success()
        if failed:
            raise HTTPStatusError.from_response(response, page=page)
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        page: int | None = None,
    ) -> httpx.Response:
        """One logical request with pacing, breaker and retries; returns the 2xx response.

        Non-idempotent methods (POST, PATCH) are retried only when ``headers``
        carries the policy's idempotency header (``Idempotency-Key``).
        """
        url = self.url_for(path)
        request_id, sent_headers, repeatable = self._prepare(method, headers)
        client = self.client
        deadline_at = self._deadline()

        def attempt(number: int) -> httpx.Response:
            waited, why = pace(self.pacer, self.rate_limiter)
            timeout = self._timeout_within(deadline_at)
            if self.breaker is not None:
                self.breaker.before_call()
            started = time.perf_counter()
            try:
                response = client.request(
                    method, url, params=params, json=json_body, headers=sent_headers,
                    timeout=timeout,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                outcome: httpx.Response | httpx.HTTPError = exc
            else:
                outcome = response
            return self._judge(
                outcome, request_id=request_id, attempt=number, method=method, url=url,
                latency=time.perf_counter() - started, waited=waited, why=why, page=page,
            )  # fmt: skip

        result = run_with_retry(
            attempt, self.policy, clock=self.clock, rng=self.rng,
            idempotent=repeatable, on_decision=self.retry_log.append,
        )  # fmt: skip
        return result.value

    async def arequest(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        page: int | None = None,
    ) -> httpx.Response:
        """The asyncio twin of :meth:`request`, on a caller-owned :class:`httpx.AsyncClient`."""
        url = self.url_for(path)
        request_id, sent_headers, repeatable = self._prepare(method, headers)
        deadline_at = self._deadline()

        async def attempt(number: int) -> httpx.Response:
            waited, why = await apace(self.pacer, self.rate_limiter)
            timeout = self._timeout_within(deadline_at)
            if self.breaker is not None:
                self.breaker.before_call()
            started = time.perf_counter()
            try:
                response = await client.request(
                    method, url, params=params, json=json_body, headers=sent_headers,
                    timeout=timeout,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                outcome: httpx.Response | httpx.HTTPError = exc
            else:
                outcome = response
            return self._judge(
                outcome, request_id=request_id, attempt=number, method=method, url=url,
                latency=time.perf_counter() - started, waited=waited, why=why, page=page,
            )  # fmt: skip

        result = await arun_with_retry(
            attempt, self.policy, clock=self.clock, rng=self.rng,
            idempotent=repeatable, on_decision=self.retry_log.append,
        )  # fmt: skip
        return result.value

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON body (one request, no pagination)."""
        return decode_json(self.request("GET", path, params=params), page=None)

    # --- pages -----------------------------------------------------------------------------

    def _page_call(
        self, path: str, params: Mapping[str, Any], request: PageRequest
    ) -> tuple[str, dict[str, Any] | None]:
        if request.url is not None:  # a followed link already carries every parameter
            return request.url, None
        merged = {**params, **request.params}
        return self.url_for(path), {k: v for k, v in merged.items() if v is not None}

    def fetch_page(self, path: str, params: Mapping[str, Any], request: PageRequest) -> Page:
        """Fetch and decode the page described by ``request``."""
        url, query = self._page_call(path, params, request)
        response = self.request("GET", url, params=query, page=request.number)
        body = decode_json(response, page=request.number)
        return Page(body, response.headers, str(response.url), request)

    async def afetch_page(
        self, client: httpx.AsyncClient, path: str, params: Mapping[str, Any], request: PageRequest
    ) -> Page:
        """The asyncio twin of :meth:`fetch_page`."""
        url, query = self._page_call(path, params, request)
        response = await self.arequest(client, "GET", url, params=query, page=request.number)
        body = decode_json(response, page=request.number)
        return Page(body, response.headers, str(response.url), request)

    def stream_id(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """What a checkpoint belongs to: URL, sorted params and paginator style."""
        query = urlencode(sorted((params or {}).items()))
        url = redact_url(f"{self.url_for(path)}?{query}")  # no secrets in the checkpoint file
        return f"GET {url} [{type(self.paginator).__name__}]"

    def extract(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        checkpoint: CheckpointStore | None = None,
        max_pages: int | None = None,
    ) -> Iterator[Any]:
        """Yield every record of ``path``, page after page, lazily (one page in memory).

        ``params`` are sent with every page (not with followed ``Link`` URLs).
        With ``checkpoint``, a crashed run resumes where the consumer stopped:
        a record counts as delivered once the consumer asks for the next one,
        and the file is deleted when the run completes. ``max_pages`` ends the
        run early with the ``max_pages`` stop rule. :attr:`last_stop` holds the
        rule that ended the run.
        """
        base = dict(params or {})
        store = checkpoint.for_stream(self.stream_id(path, base)) if checkpoint else None
        resume = Resume.load(store)
        walker = PageWalker(
            self.paginator, max_pages=max_pages, start=resume.request, seen=resume.seen
        )
        ledger = (
            ResumeLedger(store, resume, self.record_key, self.clock) if store is not None else None
        )
        current: PageRequest | None = None
        completed = False
        try:
            while walker.next_request is not None:
                current = walker.next_request
                page = self.fetch_page(path, base, current)
                records = walker.feed(page)
                if ledger is None:  # no bookkeeping at all on the plain path (speed)
                    yield from records
                else:
                    yield from ledger.deliver(records, walker, current.number)
            completed = True
            self.last_stop = walker.stop
            if store is not None:
                store.clear()  # a finished run leaves no checkpoint behind
        finally:
            if ledger is not None and not completed:
                ledger.save_partial(walker, current)

    async def aextract(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield the same records as :meth:`extract`, in the same order, fetching ahead.

        With a random-access paginator (offset, page number) up to
        ``concurrency`` (default ``max_concurrency``) pages are in flight at once;
        with sequential styles (cursor, Link, keyset) pages are fetched one by
        one. Speculative pages past the end are discarded, their errors ignored.
        """
        base = dict(params or {})
        width = concurrency or self.max_concurrency
        walker = PageWalker(self.paginator, max_pages=max_pages)
        async with httpx.AsyncClient(**self._client_options()) as client:

            def fetch(request: PageRequest) -> Coroutine[Any, Any, Page]:
                return self.afetch_page(client, path, base, request)

            ahead = FetchAhead(fetch, self.paginator, width=width, max_pages=max_pages)
            try:
                while walker.next_request is not None:
                    page = await ahead.page_for(walker.next_request)
                    for record in walker.feed(page):
                        yield record
                self.last_stop = walker.stop
            finally:
                await ahead.cancel()
