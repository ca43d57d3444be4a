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
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from connectors_lib.circuit import CircuitBreaker
from connectors_lib.clock import Clock, SystemClock
from connectors_lib.errors import (
    CheckpointError,
    ConnectError,
    ConnectorError,
    DeadlineExceededError,
    HTTPStatusError,
    RequestTimeout,
    ResponseDecodeError,
    TransportError,
    ValidationError,
    redact_url,
)
from connectors_lib.pagination import (
    OffsetPaginator,
    Page,
    PageRequest,
    PageWalker,
    Paginator,
    RandomAccessPaginator,
    StopRule,
    json_path,
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


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase timeouts in seconds (httpx semantics: each phase, not the whole request)."""

    connect: float = 5.0  #: TCP + TLS handshake: a healthy server answers in well under 1 s
    read: float = 30.0  #: silence allowed between bytes of the response
    write: float = 30.0  #: silence allowed while sending the body
    pool: float = 5.0  #: waiting for a free connection from the pool

    def to_httpx(self) -> httpx.Timeout:
        """The same values as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


#: Timeouts used unless told otherwise.
DEFAULT_TIMEOUTS: Final = Timeouts()
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
        """Per-attempt timeouts cut to the time left, so no attempt outlives the deadline."""
        if deadline_at is None:
            return httpx.USE_CLIENT_DEFAULT
        left = deadline_at - self.clock.monotonic()
        if left <= 0:
            raise DeadlineExceededError(
                f"Se agotó el plazo total de {self.policy.deadline:.0f} s antes de otro intento. "
                "Amplía deadline en la RetryPolicy o revisa por qué el servicio tarda tanto."
            )
        t = self.timeout
        if left >= max(t.connect, t.read, t.write, t.pool):
            return httpx.USE_CLIENT_DEFAULT
        return httpx.Timeout(
            connect=min(t.connect, left),
            read=min(t.read, left),
            write=min(t.write, left),
            pool=min(t.pool, left),
        )

    def _prepare(
        self, method: str, headers: Mapping[str, str] | None
    ) -> tuple[str, dict[str, str], bool]:
        request_id = self._new_request_id()
        sent_headers = dict(headers or {})
        if self.request_id_header:
            sent_headers.setdefault(self.request_id_header, request_id)
        repeatable = self.policy.allows_repeat(method, sent_headers)
        return request_id, sent_headers, repeatable

    def _pace(self) -> tuple[float, str | None]:
        waited, reasons = 0.0, []
        if self.pacer is not None:
            delay, why = self.pacer.wait()
            if delay > 0:
                waited += delay
                reasons.append(why)
        if self.rate_limiter is not None:
            delay = self.rate_limiter.acquire()
            if delay > 0:
                waited += delay
                reasons.append(_bucket_reason(delay, self.rate_limiter))
        return waited, "; ".join(reasons) or None

    async def _apace(self) -> tuple[float, str | None]:
        waited, reasons = 0.0, []
        if self.pacer is not None:
            delay, why = await self.pacer.await_turn()
            if delay > 0:
                waited += delay
                reasons.append(why)
        if self.rate_limiter is not None:
            delay = await self.rate_limiter.aacquire()
            if delay > 0:
                waited += delay
                reasons.append(_bucket_reason(delay, self.rate_limiter))
        return waited, "; ".join(reasons) or None

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
            else:  # a 4xx says nothing bad about the service's health
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
            waited, why = self._pace()
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
            waited, why = await self._apace()
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
        return _decode(self.request("GET", path, params=params), page=None)

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
        body = _decode(response, page=request.number)
        return Page(body, response.headers, str(response.url), request)

    async def afetch_page(
        self, client: httpx.AsyncClient, path: str, params: Mapping[str, Any], request: PageRequest
    ) -> Page:
        """The asyncio twin of :meth:`fetch_page`."""
        url, query = self._page_call(path, params, request)
        response = await self.arequest(client, "GET", url, params=query, page=request.number)
        body = _decode(response, page=request.number)
        return Page(body, response.headers, str(response.url), request)

    def stream_id(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """What a checkpoint belongs to: URL, sorted params and paginator style."""
        query = urlencode(sorted((params or {}).items()))
        url = redact_url(f"{self.url_for(path)}?{query}")  # no secrets in the checkpoint file
        return f"GET {url} [{type(self.paginator).__name__}]"

    def _key(self, record: Any, page: int) -> Any:
        assert self.record_key is not None
        try:
            key = json_path(record, self.record_key)
        except LookupError:
            raise ValidationError(
                f"Un registro de la página {page} no tiene la clave {self.record_key!r}, "
                "necesaria para reanudar sin duplicados. Indica record_key=<ruta> o None.",
                page=page,
            ) from None
        if isinstance(key, str | int) and not isinstance(key, bool):
            return key
        return json.dumps(key, sort_keys=True, default=str)

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
        resume = _Resume.load(store)
        walker = PageWalker(
            self.paginator, max_pages=max_pages, start=resume.request, seen=resume.seen
        )
        done_keys = set(resume.done_keys)  # keys delivered just before this page
        skip = resume.skip  # positional resume when there are no keys
        delivered: list[Any] = []  # keys (or positions) of this page the consumer has taken
        keyed = self.record_key is not None
        current: PageRequest | None = None
        completed = False
        try:
            while walker.next_request is not None:
                current = walker.next_request
                page = self.fetch_page(path, base, current)
                records = walker.feed(page)
                if store is None:  # no bookkeeping at all on the plain path (speed)
                    yield from records
                    continue
                page_keys: list[Any] = []
                delivered = []
                for position, record in enumerate(records):
                    if keyed:
                        key = self._key(record, current.number)
                        page_keys.append(key)
                        if key in done_keys:
                            continue
                    elif position < skip:
                        continue
                    yield record  # resumes only when the consumer asks for the next one
                    delivered.append(key if keyed else position)
                # The whole page is delivered: its keys guard the next page's start.
                skip = 0
                done_keys = set(page_keys)
                _Resume.save(store, walker, done_keys, 0, self.clock)
                delivered = []
            completed = True
            self.last_stop = walker.stop
            if store is not None:
                store.clear()
        finally:
            if store is not None and not completed and delivered and current is not None:
                # Closed mid-page (consumer raised or broke): keep what it already took.
                keys = (done_keys | set(delivered)) if keyed else set()
                count = 0 if keyed else int(delivered[-1]) + 1
                _Resume.save_at(store, walker, current, keys, count, self.clock)

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
            random_access = isinstance(self.paginator, RandomAccessPaginator) and width > 1
            ahead: deque[tuple[PageRequest, asyncio.Task[Page]]] = deque()
            index = 0
            try:
                while walker.next_request is not None:
                    expected = walker.next_request
                    if random_access:
                        pager: RandomAccessPaginator = self.paginator  # type: ignore[assignment]
                        while len(ahead) < width and (max_pages is None or index < max_pages):
                            request = pager.request_at(index)
                            index += 1
                            task = asyncio.ensure_future(
                                self.afetch_page(client, path, base, request)
                            )
                            ahead.append((request, task))
                        if ahead and ahead[0][0].token == expected.token:
                            page = await ahead.popleft()[1]
                        else:  # the run left the planned grid: go on one page at a time
                            random_access = False
                            await _cancel_all(ahead)
                            page = await self.afetch_page(client, path, base, expected)
                    else:
                        page = await self.afetch_page(client, path, base, expected)
                    for record in walker.feed(page):
                        yield record
                self.last_stop = walker.stop
            finally:
                await _cancel_all(ahead)


class _Resume:
    """Where a checkpoint says to resume: request, seen tokens, delivered keys, skip."""

    def __init__(
        self,
        request: PageRequest | None = None,
        seen: tuple[str, ...] = (),
        done_keys: tuple[Any, ...] = (),
        skip: int = 0,
    ) -> None:
        self.request, self.seen, self.done_keys, self.skip = request, seen, done_keys, skip

    @classmethod
    def load(cls, store: CheckpointStore | None) -> _Resume:
        state = store.load() if store is not None else None
        if not state:
            return cls()
        try:
            raw = state["next"]
            request = PageRequest(
                params=dict(raw["params"]), url=raw["url"], token=str(raw["token"]),
                page_size=raw["page_size"], number=int(raw["number"]),
            )  # fmt: skip
            return cls(
                request,
                tuple(str(t) for t in state["seen"]),
                tuple(state["done_keys"]),
                int(state["skip"]),
            )
        except (KeyError, TypeError, ValueError) as problem:
            raise CheckpointError(
                f"El checkpoint no tiene la forma esperada ({problem!r}). Bórralo (clear()) "
                "para empezar de cero.",
                path=str(store.path) if store else None,
            ) from None

    @staticmethod
    def save(
        store: CheckpointStore, walker: PageWalker, keys: set[Any], skip: int, clock: Clock
    ) -> None:
        if walker.next_request is None:
            return  # the run is complete; the caller clears the file
        _Resume.save_at(store, walker, walker.next_request, keys, skip, clock)

    @staticmethod
    def save_at(
        store: CheckpointStore,
        walker: PageWalker,
        request: PageRequest,
        keys: set[Any],
        skip: int,
        clock: Clock,
    ) -> None:
        state = {
            "next": {
                "params": dict(request.params), "url": request.url, "token": request.token,
                "page_size": request.page_size, "number": request.number,
            },
            # Only tokens of pages before ``request``: it is remembered again on start, and
            # the walker may already have looked one page ahead of it.
            "seen": [t for t, number in walker.seen.items() if number < request.number],
            "done_keys": sorted(keys, key=lambda k: (str(type(k)), k)),
            "skip": skip,
            "pages": walker.pages,
            "records": walker.records,
        }  # fmt: skip
        store.save(state, saved_at=clock.now())


def _bucket_reason(delay: float, bucket: TokenBucket) -> str:
    return f"TokenBucket: {delay:.2f} s para no pasar de {bucket.rate:g} peticiones/s"


async def _cancel_all(ahead: deque[tuple[PageRequest, asyncio.Task[Page]]]) -> None:
    """Cancel speculative fetches and swallow their outcome (they are not needed)."""
    tasks = [task for _, task in ahead]
    ahead.clear()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


def _decode(response: httpx.Response, *, page: int | None) -> Any:
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        kind = response.headers.get("Content-Type", "sin Content-Type")
        start = response.content[:40].decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"La respuesta no es JSON válido (Content-Type: {kind}; empieza por {start!r}). "
            "¿La URL apunta a la API y no a una página HTML? ¿Un proxy devolvió un error?",
            request=response.request,
            response=response,
            page=page,
        ) from None


def map_transport_error(exc: httpx.HTTPError, *, page: int | None) -> ConnectorError:
    """httpx's exception tree → ours, at the boundary (the original stays as ``__cause__``)."""
    request: httpx.Request | None
    try:
        request = exc.request
    except RuntimeError:  # httpx raises when the error was built without a request
        request = None
    context: dict[str, Any] = {"request": request, "page": page}
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "read")
        return RequestTimeout(
            f"Tiempo de espera agotado ({kind}). Si el servidor es lento sube "
            f"Timeouts({kind}=...); si no responde, revisa que esté en marcha.",
            kind=kind,
            **context,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConnectorError("La URL no usa http:// ni https://. Revisa base_url.", **context)
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(
            f"No se pudo conectar ({exc}). ¿Está el servidor en marcha y la URL/puerto bien?",
            **context,
        )
    if isinstance(exc, httpx.TransportError):
        return TransportError(
            f"La conexión falló a mitad del intercambio ({type(exc).__name__}: {exc}). "
            "Suele ser pasajero: la política lo reintenta si incluye TransportError.",
            **context,
        )
    return ConnectorError(f"Error de httpx: {type(exc).__name__}: {exc}", **context)
