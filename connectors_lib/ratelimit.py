"""Client-side pacing: a token bucket, and a reader of the server's rate-limit headers.

Two complementary tools:

* :class:`TokenBucket` — *our* promise not to exceed ``rate`` requests per
  second on average, with bursts up to ``capacity``. Time comes from an
  injected clock, so a lesson shows the pacing instantly on a ``VirtualClock``.
* :func:`read_rate_limit` + :func:`pace_delay` — what *the server* says about
  its budget. Three header families exist in the wild and all are read:

  - ``Retry-After`` (RFC 9110): seconds or an HTTP-date;
  - ``X-RateLimit-Limit/Remaining/Reset`` (GitHub, Twitter...): ``Reset`` is a
    delta in seconds for some APIs and an epoch timestamp for others — told
    apart by size (see :func:`reset_to_delay`);
  - IETF ``RateLimit`` / ``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers),
    both the structured form ``"default";r=50;t=30`` / ``"default";q=100;w=60``
    and the older ``limit=100, remaining=50, reset=30`` form, plus the
    separate ``RateLimit-Limit/Remaining/Reset`` headers of early drafts.

:class:`AdaptivePacer` ties them together: it remembers the last reading and
tells the caller how long to hold back before the next request, and why.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import NamedTuple

from connectors_lib.clock import Clock
from connectors_lib.retry import parse_retry_after

__all__ = [
    "AdaptivePacer",
    "PaceDecision",
    "RateLimitInfo",
    "TokenBucket",
    "pace_delay",
    "read_rate_limit",
    "reset_to_delay",
]

#: A ``Reset`` value at or above this is an epoch timestamp (2001-09-09), below it a delta:
#: no API announces windows of 31 years, and no epoch clock reads less.
_EPOCH_THRESHOLD = 1_000_000_000.0
#: Above this the epoch is in milliseconds (year 5138 in seconds).
_EPOCH_MS_THRESHOLD = 100_000_000_000.0


class TokenBucket:
    """Average ``rate`` tokens per second, bursts up to ``capacity``, on an injected clock.

    Starts full. :meth:`acquire` reserves tokens first and then sleeps outside
    the lock, so concurrent callers are served in arrival order (no thundering
    herd when the bucket refills). Thread-safe.

    >>> from connectors_lib.clock import VirtualClock
    >>> bucket = TokenBucket(rate=2.0, capacity=1.0, clock=VirtualClock())
    >>> [bucket.acquire() for _ in range(3)]
    [0.0, 0.5, 0.5]
    """

    def __init__(self, rate: float, capacity: float, *, clock: Clock) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("TokenBucket: rate y capacity deben ser positivos")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._last, 0.0)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._last = now

    def _reserve(self, tokens: float) -> float:
        if tokens > self.capacity:
            raise ValueError(
                f"Se piden {tokens} fichas pero el cubo solo guarda {self.capacity}: "
                "sube capacity o pide menos de una vez."
            )
        with self._lock:
            self._refill(self._clock.monotonic())
            self._tokens -= tokens  # may go negative: that debt is the caller's wait
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def time_until_available(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` could be taken without waiting (0 if now). No side effect."""
        with self._lock:
            self._refill(self._clock.monotonic())
            missing = tokens - self._tokens
            return max(missing / self.rate, 0.0)

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if available now; never waits."""
        with self._lock:
            self._refill(self._clock.monotonic())
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    def acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens``, sleeping on the clock if needed; returns the seconds waited."""
        wait = self._reserve(tokens)
        if wait > 0:
            self._clock.sleep(wait)
        return wait

    async def aacquire(self, tokens: float = 1.0) -> float:
        """The asyncio form of :meth:`acquire`."""
        wait = self._reserve(tokens)
        if wait > 0:
            await self._clock.asleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, capacity={self.capacity})"


class RateLimitInfo(NamedTuple):
    """What the server said about its budget; ``None`` means "not announced"."""

    limit: int | None
    remaining: int | None
    reset_after: float | None  #: seconds until the window resets, whichever form was sent
    reset_kind: str | None  #: "delta", "epoch", "epoch_ms" (how ``Reset`` was read)
    window: float | None  #: policy window in seconds (IETF ``w``)
    retry_after: float | None  #: parsed ``Retry-After`` (None = absent or unusable)
    source: str | None  #: "ietf", "x-ratelimit", "retry-after" or None if nothing found


def reset_to_delay(value: float, now: float) -> tuple[float, str]:
    """Turn a ``Reset`` value into seconds from ``now``, saying how it was read.

    Values below 10⁹ are deltas; from 10⁹ they are epoch seconds; from 10¹¹
    epoch milliseconds. A reset in the past means "now" (0 s).
    """
    if value >= _EPOCH_MS_THRESHOLD:
        return max(value / 1000.0 - now, 0.0), "epoch_ms"
    if value >= _EPOCH_THRESHOLD:
        return max(value - now, 0.0), "epoch"
    return max(value, 0.0), "delta"


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip().strip('"'))
    except ValueError:
        return None
    return value if value == value and value >= 0 else None  # reject NaN and negatives


_PARAM = re.compile(r"([A-Za-z][\w-]*)\s*=\s*(\"[^\"]*\"|[^,;\s]+)")


def _params(header: str | None) -> dict[str, str]:
    """Key=value pairs of an IETF structured field; the first policy wins on repeats."""
    if not header:
        return {}
    found: dict[str, str] = {}
    for key, value in _PARAM.findall(header.split(",")[0] if ";" in header else header):
        found.setdefault(key.lower(), value.strip('"'))
    return found


def read_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitInfo:
    """Read every known rate-limit header family from ``headers`` (case-insensitive).

    IETF headers win over ``X-RateLimit-*`` when both are sent. Unparsable values
    are treated as absent, never as zero: a garbage header must not stall a client.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lower.get("retry-after"), now)
    limit = remaining = None
    reset: float | None = None
    window: float | None = None
    source: str | None = None

    ietf = _params(lower.get("ratelimit"))
    policy = _params(lower.get("ratelimit-policy"))
    if ietf or policy or "ratelimit-remaining" in lower:
        source = "ietf"
        remaining_text = ietf.get("r", ietf.get("remaining", lower.get("ratelimit-remaining")))
        reset_text = ietf.get("t", ietf.get("reset", lower.get("ratelimit-reset")))
        limit_text = policy.get("q", ietf.get("limit", lower.get("ratelimit-limit")))
        remaining_f, limit_f = _number(remaining_text), _number(limit_text)
        reset = _number(reset_text)
        window = _number(policy.get("w"))
        reset_kind = "delta" if reset is not None else None  # IETF resets are always deltas
    elif "x-ratelimit-remaining" in lower or "x-ratelimit-reset" in lower:
        source = "x-ratelimit"
        remaining_f = _number(lower.get("x-ratelimit-remaining"))
        limit_f = _number(lower.get("x-ratelimit-limit"))
        raw_reset = _number(lower.get("x-ratelimit-reset"))
        reset_kind = None
        if raw_reset is not None:
            reset, reset_kind = reset_to_delay(raw_reset, now)
    else:
        remaining_f = limit_f = None
        reset_kind = None
    if remaining_f is not None:
        remaining = int(remaining_f)
    if limit_f is not None:
        limit = int(limit_f)
    if source is None and retry_after is not None:
        source = "retry-after"
    return RateLimitInfo(limit, remaining, reset, reset_kind, window, retry_after, source)


class PaceDecision(NamedTuple):
    """How long to hold back before the next request, and the reason in Spanish."""

    delay: float
    reason: str


def pace_delay(info: RateLimitInfo, *, spread: bool = False) -> PaceDecision:
    """Pure: the wait the server's headers call for before the next request.

    * ``Retry-After`` present → wait it.
    * ``remaining == 0`` with a known reset → wait until the reset.
    * ``spread=True`` and budget left → space the remaining requests evenly
      over the time to reset (smooth, never hits 0); otherwise no wait.
    """
    if info.retry_after is not None:
        return PaceDecision(info.retry_after, f"Retry-After: {info.retry_after:.2f} s")
    if info.remaining is not None and info.reset_after is not None:
        if info.remaining <= 0:
            return PaceDecision(
                info.reset_after,
                f"cupo agotado (remaining=0): esperar al reinicio en {info.reset_after:.2f} s "
                f"(reset leído como {info.reset_kind})",
            )
        if spread:
            step = info.reset_after / info.remaining
            return PaceDecision(
                step, f"repartir {info.remaining} peticiones en {info.reset_after:.2f} s"
            )
    return PaceDecision(0.0, "sin espera: queda cupo")


class AdaptivePacer:
    """Remembers the server's last rate-limit reading and enforces it on the next call.

    Call :meth:`observe` with each response's headers and :meth:`wait` before
    each request. ``max_wait`` bounds a single pause, so a bogus reset of a
    year cannot hang the client: the pause is cut and :attr:`last` says so.
    """

    def __init__(self, *, clock: Clock, spread: bool = False, max_wait: float = 300.0) -> None:
        self._clock = clock
        self.spread = spread
        self.max_wait = max_wait
        self._not_before = clock.monotonic()
        self._lock = threading.Lock()
        #: The last decision taken by :meth:`observe` (for traces and lessons).
        self.last = PaceDecision(0.0, "sin lecturas todavía")
        #: The last headers reading.
        self.info: RateLimitInfo | None = None

    def observe(self, headers: Mapping[str, str]) -> PaceDecision:
        """Read ``headers`` and schedule the next allowed request time."""
        info = read_rate_limit(headers, self._clock.now())
        decision = pace_delay(info, spread=self.spread)
        if decision.delay > self.max_wait:
            decision = PaceDecision(
                self.max_wait,
                decision.reason + f" (recortado al máximo de {self.max_wait:.0f} s del pacer)",
            )
        with self._lock:
            self.info = info
            self.last = decision
            self._not_before = max(self._not_before, self._clock.monotonic() + decision.delay)
        return decision

    def pending(self) -> float:
        """Seconds to wait now before the next request (0 if free to go)."""
        with self._lock:
            return max(self._not_before - self._clock.monotonic(), 0.0)

    def wait(self) -> tuple[float, str]:
        """Sleep on the clock as long as the last reading asks; returns (seconds, reason)."""
        delay = self.pending()
        if delay > 0:
            self._clock.sleep(delay)
        return delay, self.last.reason

    async def await_turn(self) -> tuple[float, str]:
        """The asyncio form of :meth:`wait`."""
        delay = self.pending()
        if delay > 0:
            await self._clock.asleep(delay)
        return delay, self.last.reason
