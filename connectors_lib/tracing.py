"""Per-request trace and latency percentiles, with no secrets in them.

:class:`RequestTrace` keeps one :class:`RequestRecord` per HTTP attempt: the
request id (the same for every attempt of one logical request, so server logs
can be joined), the attempt number, method, URL with credential-looking query
values masked, status or error, latency, and any wait taken before it and why.
Headers and bodies are never recorded.

:func:`latency_summary` turns a run's latencies into P50/P95/P99 using linear
interpolation between closest ranks (NumPy's default, "type 7"), so the figures
match what a learner gets from ``numpy.percentile``.

Logging is opt-in: records go to the ``connectors_lib.http`` logger at DEBUG
level, which prints nothing unless the application configures logging.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from connectors_lib.errors import redact_url

__all__ = [
    "LatencySummary",
    "RequestRecord",
    "RequestTrace",
    "latency_summary",
    "percentile",
]

_log = logging.getLogger("connectors_lib.http")


class RequestRecord(NamedTuple):
    """One HTTP attempt as the trace keeps it (safe to print and to share)."""

    request_id: str
    attempt: int
    method: str
    url: str  #: redacted
    status: int | None  #: None when no response arrived
    error: str | None  #: exception class name, when the attempt raised
    latency: float  #: seconds from sending to the response headers (or the error)
    waited_before: float  #: seconds of client-side pacing just before this attempt
    wait_reason: str | None  #: why it waited (token bucket, rate-limit headers)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not 0 <= p <= 100:
        raise ValueError("p debe estar entre 0 y 100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class LatencySummary(NamedTuple):
    """Number of requests and P50/P95/P99/maximum/mean of a run's latencies, in seconds."""

    requests: int
    p50: float
    p95: float
    p99: float
    maximum: float
    mean: float

    def describe(self) -> str:
        """Spanish one-liner in milliseconds."""
        if not self.requests:
            return "sin peticiones medidas"
        return (
            f"{self.requests} peticiones: P50 {self.p50 * 1000:.1f} ms, "
            f"P95 {self.p95 * 1000:.1f} ms, P99 {self.p99 * 1000:.1f} ms, "
            f"máx {self.maximum * 1000:.1f} ms"
        )


def latency_summary(latencies: Iterable[float]) -> LatencySummary:
    """P50/P95/P99 (and count, max, mean) of ``latencies``."""
    values = list(latencies)
    if not values:
        return LatencySummary(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    return LatencySummary(
        len(values),
        percentile(values, 50),
        percentile(values, 95),
        percentile(values, 99),
        max(values),
        sum(values) / len(values),
    )


class RequestTrace:
    """An append-only, thread-safe list of :class:`RequestRecord`; optional DEBUG logging."""

    def __init__(self, *, log: bool = False) -> None:
        self.log = log
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(
        self,
        *,
        request_id: str,
        attempt: int,
        method: str,
        url: str,
        status: int | None,
        error: str | None,
        latency: float,
        waited_before: float = 0.0,
        wait_reason: str | None = None,
    ) -> RequestRecord:
        """Record one attempt (the URL is redacted here, whatever the caller passed)."""
        record = RequestRecord(
            request_id, attempt, method, redact_url(url), status, error, latency,
            waited_before, wait_reason,
        )  # fmt: skip
        with self._lock:
            self._records.append(record)
        if self.log and _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "%s intento=%d %s %s -> %s en %.1f ms",
                record.request_id, record.attempt, record.method, record.url,
                record.status if record.status is not None else record.error,
                record.latency * 1000,
            )  # fmt: skip
        return record

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of the records, in order."""
        with self._lock:
            return list(self._records)

    def latencies(self) -> list[float]:
        """Latencies of every attempt, in order."""
        with self._lock:
            return [r.latency for r in self._records]

    def summary(self) -> LatencySummary:
        """Latency percentiles of the run so far."""
        return latency_summary(self.latencies())

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
