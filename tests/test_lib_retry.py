"""Specification of connectors_lib.retry: pure delays, Retry-After, and the traced loop."""

from __future__ import annotations

import asyncio
import email.utils
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors_lib.clock import DEFAULT_EPOCH, VirtualClock
from connectors_lib.errors import (
    ConnectError,
    ConnectorError,
    DeadlineExceededError,
    HTTPStatusError,
    RequestTimeout,
    RetryAfterTooLongError,
    RetryExhaustedError,
    TransportError,
)
from connectors_lib.retry import (
    DEFAULT_HTTP_POLICY,
    RetryDecision,
    RetryPolicy,
    arun_with_retry,
    classify_exception,
    format_trace,
    parse_retry_after,
    run_with_retry,
)

HTTP = DEFAULT_HTTP_POLICY


def policy(**changes: object) -> RetryPolicy:
    """The default HTTP policy with deterministic waits unless a test says otherwise."""
    base = HTTP.replace(jitter="none", initial_wait=1.0, multiplier=2.0, max_wait=8.0)
    return base.replace(**changes)


def status_error(status: int, retry_after: str | None = None) -> HTTPStatusError:
    """An HTTP error as the REST connector raises it, without a real response."""
    return HTTPStatusError(f"HTTP {status}", status=status, retry_after_raw=retry_after)


class Script:
    """A callable that raises the given errors in order, then returns ``"ok"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[int] = []

    def __call__(self, attempt: int) -> str:
        self.calls.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


# --- the policy value ------------------------------------------------------------------------


def test_policy_has_no_silent_default_for_what_to_retry() -> None:
    """Building a policy without saying what to retry on is a TypeError."""
    with pytest.raises(TypeError):
        RetryPolicy()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "changes",
    [
        {"attempts": 0},
        {"initial_wait": -1.0},
        {"multiplier": 0.5},
        {"jitter": "half"},
        {"deadline": 0.0},
        {"on_long_retry_after": "ignore"},
    ],
)
def test_policy_rejects_nonsense(changes: dict[str, object]) -> None:
    """Invalid knobs are refused with a Spanish ValueError."""
    with pytest.raises(ValueError, match="RetryPolicy inválida"):
        HTTP.replace(**changes)


def test_policy_is_immutable_and_replace_returns_a_copy() -> None:
    """A policy cannot be mutated; replace() leaves the original untouched."""
    other = HTTP.replace(attempts=2)
    assert HTTP.attempts == 5
    assert other.attempts == 2
    with pytest.raises(AttributeError):
        HTTP.attempts = 3  # type: ignore[misc]


def test_exponential_schedule_without_jitter_is_capped() -> None:
    """With jitter 'none' the delays are 1, 2, 4, 8, 8... (capped at max_wait)."""
    rng = random.Random(0)
    assert [policy().compute_delay(n, rng) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """A retry number in the thousands still gives max_wait, not an OverflowError."""
    assert policy().compute_delay(5000, random.Random(0)) == 8.0


def test_same_seed_same_delays() -> None:
    """compute_delay is pure: the same seed draws the same schedule."""
    jittered = HTTP.replace(jitter="full")
    first = [jittered.compute_delay(n, random.Random(7)) for n in range(1, 6)]
    second = [jittered.compute_delay(n, random.Random(7)) for n in range(1, 6)]
    assert first == second


@given(
    attempt=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32),
    initial=st.floats(min_value=0.0, max_value=10.0),
    multiplier=st.floats(min_value=1.0, max_value=5.0),
    max_wait=st.floats(min_value=0.0, max_value=100.0),
)
def test_jitter_bounds(
    attempt: int, seed: int, initial: float, multiplier: float, max_wait: float
) -> None:
    """Full jitter lies in [0, base]; equal jitter in [base/2, base]; none equals base."""
    base_policy = HTTP.replace(initial_wait=initial, multiplier=multiplier, max_wait=max_wait)
    base = base_policy.backoff_base(attempt)
    assert 0.0 <= base <= max_wait
    full = base_policy.replace(jitter="full").compute_delay(attempt, random.Random(seed))
    equal = base_policy.replace(jitter="equal").compute_delay(attempt, random.Random(seed))
    none = base_policy.replace(jitter="none").compute_delay(attempt, random.Random(seed))
    assert 0.0 <= full <= base
    assert base / 2 <= equal <= base
    assert none == base


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", None, True),
        ("put", None, True),
        ("POST", None, False),
        ("PATCH", {"X-Other": "1"}, False),
        ("POST", {"idempotency-key": "abc"}, True),
        ("POST", {"Idempotency-Key": ""}, False),
    ],
)
def test_allows_repeat(method: str, headers: dict[str, str] | None, expected: bool) -> None:
    """Only idempotent methods, or requests carrying a non-empty Idempotency-Key, repeat."""
    assert HTTP.allows_repeat(method, headers) is expected


# --- Retry-After ---------------------------------------------------------------------------

NOW = DEFAULT_EPOCH


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("1e3", None),
        ("٣", None),  # a non-ASCII digit is not delay-seconds
        ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0),
        ("Tue, 31 Dec 2024 23:59:00 GMT", None),  # in the past
        ("Wed, 01 Jan 2025 00:00:30", None),  # no zone: not an HTTP-date
        ("Mon, 99 Foo 2025 00:00:30 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Both RFC 9110 forms parse; garbage, zero, negative and past dates mean 'no hint'."""
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_of_a_year_is_returned_for_the_policy_to_judge() -> None:
    """A year-long Retry-After is parsed as is; clamping is the policy's explicit job."""
    year = 365 * 24 * 3600
    assert parse_retry_after(str(year), NOW) == year
    date = email.utils.formatdate(NOW + year, usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(year)
    assert parse_retry_after("9" * 400, NOW) == 10.0**12  # finite, huge


# --- the loop ------------------------------------------------------------------------------


def run(fn: Script, pol: RetryPolicy, clock: VirtualClock, **kwargs: object) -> object:
    """run_with_retry with a fresh seeded generator."""
    return run_with_retry(fn, pol, clock=clock, rng=random.Random(1), **kwargs)  # type: ignore[arg-type]


def test_retries_transient_failures_then_succeeds() -> None:
    """Two 503s then success: waits 1 s and 2 s on the virtual clock, three decisions."""
    clock = VirtualClock()
    fn = Script(status_error(503), status_error(503))
    result = run_with_retry(fn, policy(), clock=clock, rng=random.Random(1))
    assert result.value == "ok"
    assert clock.waits == [1.0, 2.0]
    assert [d.verdict for d in result.trace] == ["retry", "retry", "success"]
    assert [d.status for d in result.trace] == [503, 503, None]
    assert result.total_wait == 3.0
    assert fn.calls == [1, 2, 3]


def test_retry_after_replaces_backoff_and_is_recorded() -> None:
    """A valid Retry-After is waited instead of the backoff; raw and parsed are traced."""
    clock = VirtualClock()
    result = run_with_retry(
        Script(status_error(429, "7")), policy(), clock=clock, rng=random.Random(1)
    )
    first = result.trace[0]
    assert clock.waits == [7.0]
    assert (first.retry_after_raw, first.retry_after, first.delay_drawn) == ("7", 7.0, 1.0)
    assert "Retry-After '7'" in first.explain()


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    """A garbage Retry-After is recorded verbatim but the backoff is used."""
    clock = VirtualClock()
    result = run_with_retry(
        Script(status_error(503, "mañana")), policy(), clock=clock, rng=random.Random(1)
    )
    assert clock.waits == [1.0]
    assert result.trace[0].retry_after is None
    assert "ignorado" in result.trace[0].explain()


def test_long_retry_after_fails_by_default() -> None:
    """A Retry-After above the cap raises RetryAfterTooLongError without waiting."""
    clock = VirtualClock()
    with pytest.raises(RetryAfterTooLongError) as caught:
        run(Script(status_error(429, "31536000")), policy(), clock)
    assert clock.waits == []
    assert caught.value.retry_after == 31536000
    assert caught.value.trace[-1].verdict == "give_up:retry_after_too_long"
    assert isinstance(caught.value.__cause__, HTTPStatusError)


def test_long_retry_after_can_be_capped_explicitly() -> None:
    """With on_long_retry_after='wait_cap' the cap is waited and the trace says so."""
    clock = VirtualClock()
    pol = policy(on_long_retry_after="wait_cap", max_retry_after=50.0)
    result = run_with_retry(
        Script(status_error(429, "31536000")), pol, clock=clock, rng=random.Random(1)
    )
    assert clock.waits == [50.0]
    assert result.trace[0].cap_applied == "max_retry_after"
    assert "recortado al máximo" in result.trace[0].explain()


def test_attempts_exhausted() -> None:
    """After `attempts` failures the loop raises RetryExhaustedError with the full trace."""
    clock = VirtualClock()
    fn = Script(*[status_error(500) for _ in range(3)])
    with pytest.raises(RetryExhaustedError) as caught:
        run(fn, policy(attempts=3), clock)
    assert fn.calls == [1, 2, 3]
    assert [d.verdict for d in caught.value.trace] == ["retry", "retry", "give_up:attempts"]
    assert clock.waits == [1.0, 2.0]


def test_deadline_stops_before_a_wait_that_would_cross_it() -> None:
    """With a 5 s deadline, waits of 1+2 fit, the next 4 s does not: DeadlineExceededError."""
    clock = VirtualClock()
    fn = Script(*[status_error(503) for _ in range(10)])
    with pytest.raises(DeadlineExceededError) as caught:
        run(fn, policy(attempts=10, deadline=5.0), clock)
    assert clock.waits == [1.0, 2.0]
    assert clock.monotonic() <= 5.0
    last = caught.value.trace[-1]
    assert last.verdict == "give_up:deadline"
    assert last.time_left == pytest.approx(2.0)


def test_deadline_counts_time_spent_inside_attempts() -> None:
    """Time the attempts themselves take (here 4 s each) counts against the deadline."""
    clock = VirtualClock()

    def slow(attempt: int) -> str:
        clock.advance(4.0)
        raise status_error(503)

    with pytest.raises(DeadlineExceededError):
        run_with_retry(slow, policy(attempts=10, deadline=6.0), clock=clock, rng=random.Random(1))
    assert clock.monotonic() <= 6.0 + 4.0  # never waits past the deadline


def test_post_is_not_retried_without_idempotency_key() -> None:
    """A non-idempotent request that failed after being sent is raised at once."""
    clock = VirtualClock()
    fn = Script(status_error(503))
    with pytest.raises(HTTPStatusError) as caught:
        run(fn, policy(), clock, idempotent=False)
    assert fn.calls == [1]
    assert caught.value.trace[-1].verdict == "give_up:not_idempotent"
    assert clock.waits == []


def test_connect_errors_are_retried_even_for_post() -> None:
    """A request that never left (ConnectError, connect timeout) is safe to repeat."""
    clock = VirtualClock()
    fn = Script(ConnectError("no"), RequestTimeout("t", kind="connect"))
    result = run_with_retry(fn, policy(), clock=clock, rng=random.Random(1), idempotent=False)
    assert result.value == "ok"
    read_timeout = Script(RequestTimeout("t", kind="read"))
    with pytest.raises(RequestTimeout):
        run(read_timeout, policy(), clock, idempotent=False)


@pytest.mark.parametrize("error", [status_error(404), status_error(401), ValueError("bug")])
def test_not_retryable_failures_propagate_unchanged(error: Exception) -> None:
    """4xx and unrelated exceptions are raised as they are after one attempt."""
    fn = Script(error)
    with pytest.raises(type(error)) as caught:
        run(fn, policy(), VirtualClock())
    assert caught.value is error
    assert fn.calls == [1]


def test_classifier_is_pluggable() -> None:
    """A custom classify (e.g. GraphQL errors in a 200) decides what is retryable."""

    class GraphQLBusy(Exception):
        pass

    def classify(exc: BaseException, pol: RetryPolicy) -> object:
        base = classify_exception(exc, pol)
        return base._replace(retryable=isinstance(exc, GraphQLBusy), cause="GraphQL ocupado")

    result = run_with_retry(
        Script(GraphQLBusy()), policy(), clock=VirtualClock(), rng=random.Random(1),
        classify=classify,  # type: ignore[arg-type]
    )  # fmt: skip
    assert result.trace[0].cause == "GraphQL ocupado"


def test_exception_types_from_the_policy_are_retried() -> None:
    """Transport errors are retried because DEFAULT_HTTP_POLICY lists TransportError."""
    clock = VirtualClock()
    result = run_with_retry(
        Script(TransportError("reset")), policy(), clock=clock, rng=random.Random(1)
    )
    assert result.trace[0].cause == "TransportError"
    assert result.value == "ok"


def test_on_decision_sees_every_decision() -> None:
    """The on_decision hook receives the same decisions as the trace, in order."""
    seen: list[RetryDecision] = []
    result = run_with_retry(
        Script(status_error(502)), policy(), clock=VirtualClock(), rng=random.Random(1),
        on_decision=seen.append,
    )  # fmt: skip
    assert tuple(seen) == result.trace


def test_format_trace_is_spanish_and_numbered() -> None:
    """format_trace prints one line per attempt that says why it waited or stopped."""
    with pytest.raises(ConnectorError) as caught:
        run(Script(status_error(503), status_error(503)), policy(attempts=2), VirtualClock())
    text = format_trace(caught.value.trace)
    assert text.splitlines() == [
        "intento 1: HTTP 503 → espera 1.00 s (backoff con jitter) y reintenta",
        "intento 2: HTTP 503 → se abandona: se agotaron los intentos",
    ]


def test_async_loop_matches_sync_loop() -> None:
    """arun_with_retry waits the same schedule with clock.asleep and returns the value."""
    clock = VirtualClock()
    script = Script(status_error(503), status_error(429, "3"))

    async def fn(attempt: int) -> str:
        return script(attempt)

    result = asyncio.run(arun_with_retry(fn, policy(), clock=clock, rng=random.Random(1)))
    assert result.value == "ok"
    assert clock.waits == [1.0, 3.0]
