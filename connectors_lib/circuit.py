"""A circuit breaker: stop calling a service that keeps failing, probe it, then resume.

States and transitions::

            failures >= failure_threshold
    CLOSED ───────────────────────────────▶ OPEN
      ▲                                      │ recovery_time passed (on the clock)
      │ probe_successes >= success_threshold  ▼
      └──────────────────────────────── HALF_OPEN ──── a probe fails ───▶ OPEN

* **closed**: calls go through; consecutive failures are counted (a success resets them).
* **open**: calls are refused at once with :class:`~connectors_lib.errors.CircuitOpenError`
  (no network, no waiting) until ``recovery_time`` has passed.
* **half-open**: up to ``half_open_max_calls`` probes are let through; enough
  successes close the circuit, a single failure opens it again.

Time is read from an injected clock, and every change is kept in
:attr:`CircuitBreaker.transitions` so a lesson can print the story.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, NamedTuple, TypeVar

from connectors_lib.clock import Clock
from connectors_lib.errors import CircuitOpenError

__all__ = ["CircuitBreaker", "CircuitState", "Transition"]

T = TypeVar("T")
CircuitState = Literal["closed", "open", "half_open"]


class Transition(NamedTuple):
    """One state change: when (clock monotonic seconds), from, to, and why (Spanish)."""

    at: float
    old: CircuitState
    new: CircuitState
    reason: str


class CircuitBreaker:
    """Closed / open / half-open breaker on an injected clock. Thread-safe.

    Use :meth:`call`, or the three steps :meth:`before_call`,
    :meth:`record_success`, :meth:`record_failure` when the call is async or
    when only some failures should count (the REST connector counts transport
    errors and 5xx, not 4xx: a bad request says nothing about the service's health).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        failure_threshold: int = 5,
        recovery_time: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        name: str = "servicio",
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or success_threshold < 1:
            raise ValueError("CircuitBreaker: los umbrales deben ser >= 1")
        if success_threshold > half_open_max_calls:
            raise ValueError(
                "CircuitBreaker: success_threshold no puede superar half_open_max_calls"
            )
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.recovery_time = recovery_time
        self.half_open_max_calls = half_open_max_calls
        self.success_threshold = success_threshold
        self.name = name
        self._state: CircuitState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0
        self._probe_successes = 0
        self._lock = threading.Lock()
        #: Every state change, in order.
        self.transitions: list[Transition] = []

    def _move(self, new: CircuitState, reason: str) -> None:
        self.transitions.append(Transition(self._clock.monotonic(), self._state, new, reason))
        self._state = new
        if new == "open":
            self._opened_at = self._clock.monotonic()
        if new == "half_open":
            self._probes = self._probe_successes = 0
        if new == "closed":
            self._failures = 0

    @property
    def state(self) -> CircuitState:
        """Current state, moving open → half-open if the recovery time has passed."""
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _maybe_half_open(self) -> None:
        waited = self._clock.monotonic() - self._opened_at
        if self._state == "open" and waited >= self.recovery_time:
            self._move("half_open", f"pasaron {self.recovery_time:.1f} s: se permite una prueba")

    def before_call(self) -> None:
        """Raise :class:`CircuitOpenError` if a call may not go through now."""
        with self._lock:
            self._maybe_half_open()
            if self._state == "open":
                retry_at = self._opened_at + self.recovery_time
                raise CircuitOpenError(
                    f"Circuito abierto para {self.name}: tras {self.failure_threshold} fallos "
                    f"seguidos no se llama hasta dentro de "
                    f"{retry_at - self._clock.monotonic():.1f} s. Espera o revisa el servicio.",
                    retry_at=retry_at,
                )
            if self._state == "half_open":
                if self._probes >= self.half_open_max_calls:
                    raise CircuitOpenError(
                        f"Circuito medio abierto para {self.name}: ya hay "
                        f"{self._probes} prueba(s) en curso; espera a su resultado.",
                        retry_at=self._clock.monotonic(),
                    )
                self._probes += 1

    def record_success(self) -> None:
        """Count a success: resets failures; in half-open, may close the circuit."""
        with self._lock:
            if self._state == "half_open":
                self._probe_successes += 1
                if self._probe_successes >= self.success_threshold:
                    self._move("closed", "la prueba salió bien: se reanudan las llamadas")
            else:
                self._failures = 0

    def record_failure(self) -> None:
        """Count a failure: may open the circuit (always, from half-open)."""
        with self._lock:
            if self._state == "half_open":
                self._move("open", "la prueba falló: se vuelve a abrir")
            elif self._state == "closed":
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._move("open", f"{self._failures} fallos seguidos")

    def call(
        self, fn: Callable[[], T], *, is_failure: Callable[[BaseException], bool] | None = None
    ) -> T:
        """Run ``fn`` through the breaker; exceptions are failures unless ``is_failure`` says no."""
        self.before_call()
        try:
            result = fn()
        except Exception as exc:
            if is_failure is None or is_failure(exc):
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result

    def reset(self) -> None:
        """Back to closed with no failures (for instructors and tests)."""
        with self._lock:
            if self._state != "closed":
                self._move("closed", "reinicio manual")
            self._failures = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state!r})"
