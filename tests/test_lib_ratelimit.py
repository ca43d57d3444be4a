"""Specification of connectors_lib.ratelimit: token bucket pacing and rate-limit headers."""

from __future__ import annotations

import asyncio

import pytest

from connectors_lib.clock import DEFAULT_EPOCH, VirtualClock
from connectors_lib.ratelimit import (
    AdaptivePacer,
    RateLimitInfo,
    TokenBucket,
    pace_delay,
    read_rate_limit,
    reset_to_delay,
)

NOW = DEFAULT_EPOCH


def test_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    """Capacity 3 at 2/s: three free requests, then one every 0.5 s."""
    clock = VirtualClock()
    bucket = TokenBucket(rate=2.0, capacity=3.0, clock=clock)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    assert clock.monotonic() == pytest.approx(1.5)


def test_bucket_refills_while_idle_up_to_capacity() -> None:
    """After a long pause the bucket is full again, never above capacity."""
    clock = VirtualClock()
    bucket = TokenBucket(rate=1.0, capacity=2.0, clock=clock)
    bucket.acquire(2.0)
    clock.advance(100.0)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    assert bucket.time_until_available() == pytest.approx(1.0)


def test_bucket_paces_n_requests_in_the_expected_time() -> None:
    """100 requests at 10/s with burst 1 take 9.9 s of virtual time, no real sleep."""
    clock = VirtualClock()
    bucket = TokenBucket(rate=10.0, capacity=1.0, clock=clock)
    for _ in range(100):
        bucket.acquire()
    assert clock.monotonic() == pytest.approx(9.9)


def test_bucket_refuses_impossible_requests() -> None:
    """Asking for more tokens than the capacity is a clear error, not a hang."""
    bucket = TokenBucket(rate=1.0, capacity=2.0, clock=VirtualClock())
    with pytest.raises(ValueError, match="capacity"):
        bucket.acquire(3.0)
    with pytest.raises(ValueError, match="positivos"):
        TokenBucket(rate=0.0, capacity=1.0, clock=VirtualClock())


def test_bucket_async_acquire_waits_on_the_clock() -> None:
    """aacquire paces like acquire, through clock.asleep."""
    clock = VirtualClock()
    bucket = TokenBucket(rate=4.0, capacity=1.0, clock=clock)

    async def go() -> list[float]:
        return [await bucket.aacquire() for _ in range(3)]

    assert asyncio.run(go()) == [0.0, 0.25, 0.25]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30.0, (30.0, "delta")),
        (NOW + 30, (30.0, "epoch")),
        ((NOW + 30) * 1000, (30.0, "epoch_ms")),
        (NOW - 100, (0.0, "epoch")),
    ],
)
def test_reset_delta_or_epoch_is_detected(value: float, expected: tuple[float, str]) -> None:
    """Reset values are read as deltas, epoch seconds or epoch milliseconds by size."""
    delay, kind = reset_to_delay(value, NOW)
    assert (round(delay, 6), kind) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
             "X-RateLimit-Reset": str(int(NOW) + 8)},
            RateLimitInfo(10, 0, 8.0, "epoch", None, None, "x-ratelimit"),
        ),
        (
            {"x-ratelimit-remaining": "4", "x-ratelimit-reset": "12"},
            RateLimitInfo(None, 4, 12.0, "delta", None, None, "x-ratelimit"),
        ),
        (
            {"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=50;t=30'},
            RateLimitInfo(100, 50, 30.0, "delta", 60.0, None, "ietf"),
        ),
        (
            {"RateLimit": "limit=100, remaining=0, reset=5"},
            RateLimitInfo(100, 0, 5.0, "delta", None, None, "ietf"),
        ),
        (
            {"RateLimit-Limit": "9", "RateLimit-Remaining": "1", "RateLimit-Reset": "2"},
            RateLimitInfo(9, 1, 2.0, "delta", None, None, "ietf"),
        ),
        ({"Retry-After": "3"}, RateLimitInfo(None, None, None, None, None, 3.0, "retry-after")),
        (
            {"X-RateLimit-Remaining": "muchos", "X-RateLimit-Reset": "-4"},
            RateLimitInfo(None, None, None, None, None, None, "x-ratelimit"),
        ),
        ({}, RateLimitInfo(None, None, None, None, None, None, None)),
    ],
)  # fmt: skip
def test_read_rate_limit_families(headers: dict[str, str], expected: RateLimitInfo) -> None:
    """Each header family is read; garbage is treated as absent, never as zero."""
    assert read_rate_limit(headers, NOW) == expected


def test_ietf_headers_win_over_x_ratelimit() -> None:
    """When both families are sent, the standard one is used."""
    info = read_rate_limit(
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99", "RateLimit": '"d";r=7;t=3'},
        NOW,
    )
    assert (info.remaining, info.reset_after, info.source) == (7, 3.0, "ietf")


@pytest.mark.parametrize(
    ("info", "spread", "delay"),
    [
        (RateLimitInfo(10, 0, 8.0, "delta", None, None, "ietf"), False, 8.0),
        (RateLimitInfo(10, 5, 8.0, "delta", None, None, "ietf"), False, 0.0),
        (RateLimitInfo(10, 4, 8.0, "delta", None, None, "ietf"), True, 2.0),
        (RateLimitInfo(None, None, None, None, None, 3.0, "retry-after"), False, 3.0),
        (RateLimitInfo(None, None, None, None, None, None, None), True, 0.0),
    ],
)
def test_pace_delay(info: RateLimitInfo, spread: bool, delay: float) -> None:
    """Exhausted budget waits for the reset; spread mode spaces requests evenly."""
    decision = pace_delay(info, spread=spread)
    assert decision.delay == delay
    assert decision.reason


def test_adaptive_pacer_waits_for_the_reset_and_says_why() -> None:
    """After a response with remaining=0 the next request waits until the reset."""
    clock = VirtualClock()
    pacer = AdaptivePacer(clock=clock)
    pacer.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 10)})
    waited, reason = pacer.wait()
    assert waited == 10.0
    assert clock.waits == [10.0]
    assert "remaining=0" in reason
    assert "epoch" in reason
    assert pacer.wait()[0] == 0.0  # the debt is paid once


def test_adaptive_pacer_caps_an_absurd_reset() -> None:
    """A reset a year away cannot hang the client: the pause is cut to max_wait, and said."""
    clock = VirtualClock()
    pacer = AdaptivePacer(clock=clock, max_wait=60.0)
    decision = pacer.observe({"RateLimit": '"d";r=0;t=31536000'})
    assert decision.delay == 60.0
    assert "recortado" in decision.reason
