"""Specification of connectors_lib.circuit: closed → open → half-open → closed, on a clock."""

from __future__ import annotations

import pytest

from connectors_lib.circuit import CircuitBreaker
from connectors_lib.clock import VirtualClock
from connectors_lib.errors import CircuitOpenError

EMPTY: dict[str, int] = {}


def boom() -> None:
    """A call that always fails."""
    raise RuntimeError("caído")


def breaker(clock: VirtualClock, **kwargs: int | float) -> CircuitBreaker:
    """A breaker that opens after 3 failures and recovers after 10 s."""
    options: dict[str, int | float] = {"failure_threshold": 3, "recovery_time": 10.0}
    options.update(kwargs)
    return CircuitBreaker(clock=clock, **options)  # type: ignore[arg-type]


def state_of(cb: CircuitBreaker) -> str:
    """The state read afresh (a plain str, so type checkers do not narrow it between reads)."""
    return cb.state


def fail(cb: CircuitBreaker, times: int) -> None:
    """Feed ``times`` failures through ``cb.call``."""
    for _ in range(times):
        with pytest.raises(RuntimeError):
            cb.call(boom)


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    """Three failures open the circuit; the next call is refused without running."""
    clock = VirtualClock()
    cb = breaker(clock)
    fail(cb, 3)
    assert state_of(cb) == "open"
    ran = []
    with pytest.raises(CircuitOpenError) as caught:
        cb.call(lambda: ran.append(1))
    assert ran == []
    assert caught.value.retry_at == pytest.approx(10.0)
    assert "Circuito abierto" in str(caught.value)


def test_a_success_resets_the_failure_count() -> None:
    """Failures must be consecutive: a success in between keeps the circuit closed."""
    cb = breaker(VirtualClock())
    fail(cb, 2)
    cb.call(lambda: None)
    fail(cb, 2)
    assert state_of(cb) == "closed"


def test_half_open_after_recovery_time_then_closes_on_success() -> None:
    """After 10 s one probe goes through; its success closes the circuit."""
    clock = VirtualClock()
    cb = breaker(clock)
    fail(cb, 3)
    clock.advance(9.9)
    assert state_of(cb) == "open"
    clock.advance(0.1)
    assert state_of(cb) == "half_open"
    assert cb.call(lambda: 42) == 42
    assert state_of(cb) == "closed"
    assert [(t.old, t.new) for t in cb.transitions] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_failed_probe_reopens_for_a_full_recovery_time() -> None:
    """A failing probe sends the circuit back to open, measured from the new failure."""
    clock = VirtualClock()
    cb = breaker(clock)
    fail(cb, 3)
    clock.advance(10.0)
    fail(cb, 1)
    assert state_of(cb) == "open"
    clock.advance(5.0)
    with pytest.raises(CircuitOpenError):
        cb.before_call()
    clock.advance(5.0)
    assert state_of(cb) == "half_open"


def test_half_open_limits_concurrent_probes() -> None:
    """Only half_open_max_calls probes may be in flight at once."""
    clock = VirtualClock()
    cb = breaker(clock, half_open_max_calls=1)
    fail(cb, 3)
    clock.advance(10.0)
    cb.before_call()  # first probe admitted
    with pytest.raises(CircuitOpenError, match="prueba"):
        cb.before_call()


def test_is_failure_filter_and_reset() -> None:
    """Exceptions judged harmless count as successes; reset() closes the circuit."""
    cb = breaker(VirtualClock())
    for _ in range(5):
        with pytest.raises(KeyError):
            cb.call(lambda: EMPTY["x"], is_failure=lambda exc: not isinstance(exc, KeyError))
    assert state_of(cb) == "closed"
    fail(cb, 3)
    cb.reset()
    assert state_of(cb) == "closed"
    assert cb.transitions[-1].reason == "reinicio manual"


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0}, {"half_open_max_calls": 0}, {"success_threshold": 2}],
)
def test_invalid_thresholds(kwargs: dict[str, int]) -> None:
    """Nonsensical thresholds are refused at construction."""
    with pytest.raises(ValueError, match="CircuitBreaker"):
        CircuitBreaker(clock=VirtualClock(), **kwargs)  # type: ignore[arg-type]
