"""Clocks: the one place where the library and the lab read time or wait.

Everything that waits (retries, rate limits, circuit breakers, token expiry)
takes a :class:`Clock` instead of calling :mod:`time` directly, so that:

* in production it is a :class:`SystemClock` (real time, real sleeps);
* in tests and lessons it is a :class:`VirtualClock`, whose ``sleep`` advances
  time at once and records the wait. A lesson then shows "waited 4.0 s" in a
  few microseconds, and its stored outputs never depend on the machine.

The lab servers (``mock_servers``) read the same clock object, so a client that
sleeps on ``lab.clock`` sees rate-limit windows and token expiry pass for real.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_EPOCH", "Clock", "SystemClock", "VirtualClock"]

#: 2025-01-01T00:00:00Z: where a virtual clock starts unless told otherwise, so
#: that HTTP dates and token expiries printed by lessons are the same every run.
DEFAULT_EPOCH = 1_735_689_600.0


@runtime_checkable
class Clock(Protocol):
    """What the library needs from time: a wall clock, a monotonic one, a wait."""

    def now(self) -> float:
        """Seconds since the Unix epoch (wall clock, for HTTP dates and expiries)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never go backwards (for durations)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the caller for ``seconds`` (negative values count as zero)."""
        ...

    async def asleep(self, seconds: float) -> None:
        """The same wait for asyncio code."""
        ...


class SystemClock:
    """Real time: :func:`time.time`, :func:`time.monotonic`, :func:`time.sleep`."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """Time that moves only when someone sleeps on it or calls :meth:`advance`.

    ``sleep(s)`` returns at once, moves both clocks forward by ``s`` and appends
    ``s`` to :attr:`waits`, the record lessons print and plot. Thread-safe: the
    lab's server threads read it while a client sleeps on it.

    >>> clock = VirtualClock()
    >>> clock.sleep(2.5); clock.monotonic()
    2.5
    >>> clock.waits
    [2.5]
    """

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._start = float(start)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        #: Every wait requested through :meth:`sleep` / :meth:`asleep`, in order.
        self.waits: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._start + self._elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        seconds = max(float(seconds), 0.0)
        with self._lock:
            self.waits.append(seconds)
            self._elapsed += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still yield, so other tasks get their turn

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a wait (someone else's time)."""
        if seconds < 0:
            raise ValueError("el reloj virtual no puede ir hacia atrás")
        with self._lock:
            self._elapsed += float(seconds)

    def reset(self) -> None:
        """Back to the start time, with no recorded waits."""
        with self._lock:
            self._elapsed = 0.0
            self.waits.clear()

    @property
    def total_waited(self) -> float:
        """Sum of all recorded waits, in seconds."""
        with self._lock:
            return sum(self.waits)

    def __repr__(self) -> str:
        return f"VirtualClock(elapsed={self.monotonic():.3f}s, waits={len(self.waits)})"
