"""The shared clock: a virtual one that waits instantly and remembers every wait."""

from __future__ import annotations

import asyncio
import threading

import pytest

from connectors_lib.clock import DEFAULT_EPOCH, Clock, SystemClock, VirtualClock


def test_virtual_clock_starts_at_the_fixed_epoch() -> None:
    """A new virtual clock reads 2025-01-01T00:00:00Z and zero elapsed time."""
    clock = VirtualClock()
    assert clock.now() == DEFAULT_EPOCH
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize(("waits", "total"), [([1.0, 2.0, 4.0], 7.0), ([0.5], 0.5), ([], 0.0)])
def test_sleep_advances_both_clocks_and_records_each_wait(waits: list[float], total: float) -> None:
    """Each sleep moves wall and monotonic time by its amount and is appended to waits."""
    clock = VirtualClock()
    for w in waits:
        clock.sleep(w)
    assert clock.waits == waits
    assert clock.monotonic() == total
    assert clock.now() == DEFAULT_EPOCH + total


def test_negative_sleep_counts_as_zero() -> None:
    """Sleeping a negative time neither moves the clock back nor fails."""
    clock = VirtualClock()
    clock.sleep(-3)
    assert clock.monotonic() == 0.0
    assert clock.waits == [0.0]


def test_advance_moves_time_without_recording_a_wait() -> None:
    """advance() is someone else's time passing: no entry in waits."""
    clock = VirtualClock(start=100.0)
    clock.advance(5)
    assert (clock.now(), clock.waits) == (105.0, [])
    with pytest.raises(ValueError, match="hacia atrás"):
        clock.advance(-1)


def test_reset_returns_to_start() -> None:
    """reset() forgets elapsed time and recorded waits."""
    clock = VirtualClock()
    clock.sleep(3)
    clock.reset()
    assert (clock.monotonic(), clock.waits) == (0.0, [])


def test_async_sleep_is_recorded_too() -> None:
    """asleep() waits on the same virtual time as sleep()."""
    clock = VirtualClock()
    asyncio.run(clock.asleep(2.0))
    assert clock.waits == [2.0]


def test_concurrent_sleeps_add_up_exactly() -> None:
    """Sleeps from many threads are all counted (the clock is thread-safe)."""
    clock = VirtualClock()
    threads = [threading.Thread(target=lambda: [clock.sleep(0.25) for _ in range(100)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.monotonic() == 200.0
    assert len(clock.waits) == 800


def test_both_clocks_satisfy_the_protocol() -> None:
    """SystemClock and VirtualClock are both Clocks."""
    assert isinstance(SystemClock(), Clock)
    assert isinstance(VirtualClock(), Clock)


def test_system_clock_sleep_of_zero_returns_at_once() -> None:
    """The real clock reads real time and does not sleep for non-positive waits."""
    clock = SystemClock()
    before = clock.monotonic()
    clock.sleep(0)
    clock.sleep(-1)
    assert clock.monotonic() - before < 0.5
