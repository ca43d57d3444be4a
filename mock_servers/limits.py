"""Per-key rate limiting on the lab clock (fixed window), and the headers that announce it.

Each caller key gets ``limit`` requests per window of ``window`` lab seconds;
the window opens with the key's first request and closes ``window`` seconds
later. Because time is read from the lab clock, a client that waits on that
same clock (``lab.clock.sleep(n)``) gets through at once and deterministically.

Every response to a known caller carries, so clients can pace themselves:

* GitHub style: ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
  ``X-RateLimit-Reset`` (epoch seconds of the lab clock);
* IETF draft-ietf-httpapi-ratelimit-headers (structured fields):
  ``RateLimit-Policy: "default";q=10;w=10`` and ``RateLimit: "default";r=9;t=7``
  (``r`` remaining, ``t`` seconds until reset);
* on 429 only, ``Retry-After`` in delay-seconds (or an HTTP-date, by setting).
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import NamedTuple

from connectors_lib.clock import Clock

__all__ = ["RateDecision", "RateLimiter", "rate_headers", "retry_after_value"]


class RateDecision(NamedTuple):
    """The state of one key's window after a check."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds (lab clock) until the window resets; > 0.
    reset_after: float
    #: Lab-clock epoch time at which it resets.
    reset_at: float
    window: float


class RateLimiter:
    """Fixed-window counters per key. Thread-safe; reads time only from ``clock``."""

    def __init__(self, clock: Clock, limit: int = 10, window: float = 10.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("el límite necesita limit >= 1 y window > 0")
        self.clock = clock
        self.limit = limit
        self.window = float(window)
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (start, used)
        self._lock = threading.Lock()

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(key, (now, 0))
        if now >= start + self.window:
            start, used = now, 0
        return start, used

    def _decision(self, allowed: bool, start: float, used: int, now: float) -> RateDecision:
        reset_at = start + self.window
        return RateDecision(
            allowed=allowed,
            limit=self.limit,
            remaining=max(self.limit - used, 0),
            reset_after=max(reset_at - now, 0.0),
            reset_at=reset_at,
            window=self.window,
        )

    def peek(self, key: str) -> RateDecision:
        """The key's state now, without spending a request (``allowed`` = one is left)."""
        now = self.clock.now()
        with self._lock:
            start, used = self._current(key, now)
            return self._decision(used < self.limit, start, used, now)

    def hit(self, key: str) -> RateDecision:
        """Spend one request if the window has room; ``allowed`` says whether it had."""
        now = self.clock.now()
        with self._lock:
            start, used = self._current(key, now)
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[key] = (start, used)
            return self._decision(allowed, start, used, now)

    def reset(self, key: str | None = None) -> None:
        """Forget one key's window, or every key's."""
        with self._lock:
            if key is None:
                self._windows.clear()
            else:
                self._windows.pop(key, None)


def retry_after_value(decision: RateDecision, fmt: str = "seconds") -> str:
    """``Retry-After`` for a refused request: whole seconds (>= 1) or an HTTP-date."""
    if fmt == "http-date":
        moment = datetime.fromtimestamp(math.ceil(decision.reset_at), tz=UTC)
        return format_datetime(moment, usegmt=True)
    return str(max(math.ceil(decision.reset_after), 1))


def rate_headers(decision: RateDecision) -> list[tuple[str, str]]:
    """The rate-limit headers every response to a known caller carries."""
    reset_in = max(math.ceil(decision.reset_after), 0)
    window = _num(decision.window)
    return [
        ("X-RateLimit-Limit", str(decision.limit)),
        ("X-RateLimit-Remaining", str(decision.remaining)),
        ("X-RateLimit-Reset", str(math.ceil(decision.reset_at))),
        ("RateLimit-Policy", f'"default";q={decision.limit};w={window}'),
        ("RateLimit", f'"default";r={decision.remaining};t={reset_in}'),
    ]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
