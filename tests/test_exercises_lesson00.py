"""Lesson 00 exercises: every check accepts the reference and rejects typical wrong answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import mock_servers
from connectors_lib.clock import VirtualClock
from connectors_lib.exercises import lesson00
from connectors_lib.exercises.core import Exercise
from connectors_lib.exercises.lesson00 import q1, q2, q3

EXERCISES = {1: q1, 2: q2, 3: q3}


@pytest.fixture(scope="module")
def lab() -> Iterator[mock_servers.Lab]:
    """The lab q1's checker talks to (the same one start(seed=42) returns)."""
    already = {id(running) for running in mock_servers.running_labs()}
    lab = mock_servers.start(seed=42)
    yield lab
    if id(lab) not in already:  # stop it only if this module started it
        lab.stop()


@pytest.fixture(autouse=True)
def _fresh_quota(lab: mock_servers.Lab) -> None:
    """Each test starts with an untouched rate-limit window, whatever ran before."""
    lab.state.limiter.reset()


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_reference_solution_passes(number: int) -> None:
    """The reference answer of each exercise gets a ✅ verdict."""
    verdict = EXERCISES[number].verify(lesson00.REFERENCES[number])
    assert verdict.ok, verdict.message


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_printed_solution_runs_and_passes(number: int, capsys: pytest.CaptureFixture[str]) -> None:
    """The code that qN.solution() prints passes its own check."""
    exercise = EXERCISES[number]
    namespace: dict[str, Any] = {f"q{number}": exercise}
    exec(exercise.solution_code, namespace)  # noqa: S102 - our own reference text
    assert "✅ Correcto" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", list(EXERCISES.values()), ids=repr)
def test_unanswered_stub_is_not_correct(exercise: Exercise) -> None:
    """Leaving `...` in the stub gives a 'todavía no' verdict that says what to do."""
    verdict = exercise.verify(...)
    assert not verdict.ok
    assert "reemplaza" in verdict.message


@pytest.mark.parametrize("number", [1, 2])
def test_a_stub_function_returning_none_is_told_to_complete_it(number: int) -> None:
    """A function whose body is still `...` (returns None) gets 'complétala'."""

    def stub(*args: object) -> None:
        return None

    verdict = EXERCISES[number].verify(stub)
    assert not verdict.ok
    assert "devuelve None" in verdict.message


# --- q1 ------------------------------------------------------------------------------------------


def _first_page_length(base_url: str, api_key: str) -> int:
    r = requests.get(f"{base_url}/api/v1/orders", headers={"X-API-Key": api_key}, timeout=5)
    return len(r.json()["data"])


def _no_key(base_url: str, api_key: str) -> int:
    r = requests.get(f"{base_url}/api/v1/orders", params={"limit": 1}, timeout=5)
    r.raise_for_status()
    return int(r.json()["total"])


def _catalogue_count(base_url: str, api_key: str) -> int:
    return int(requests.get(f"{base_url}/entries", timeout=5).json()["count"])


WRONG_COUNT: dict[str, Callable[[str, str], Any]] = {
    "first_page_length": _first_page_length,
    "forgot_api_key": _no_key,
    "counted_the_catalogue": _catalogue_count,
    "returns_string": lambda base_url, api_key: "1200",
}


@pytest.mark.parametrize("wrong", list(WRONG_COUNT), ids=str)
def test_q1_rejects_typical_mistakes(wrong: str) -> None:
    """A page length, a 401 for a missing key, another collection or a string all fail."""
    assert not q1.verify(WRONG_COUNT[wrong]).ok


def test_q1_says_a_page_is_not_the_total() -> None:
    """Counting the first page is told apart from the total."""
    assert "página" in q1.verify(_first_page_length).message


# --- q2 ------------------------------------------------------------------------------------------


def _own_clock(clock: VirtualClock) -> float:
    mine = VirtualClock()
    for s in (1, 2, 4):
        mine.sleep(s)
    return mine.monotonic()


def _returns_now(clock: VirtualClock) -> float:
    for s in (1, 2, 4):
        clock.sleep(s)
    return clock.now()


def _wrong_waits(clock: VirtualClock) -> float:
    for s in (1, 2, 3):
        clock.sleep(s)
    return clock.monotonic()


def _real_sleep(clock: VirtualClock) -> float:
    for _ in (1, 2, 4):
        time.sleep(0)  # stands for time.sleep(s): the clock it was given never hears of it
    return 7.0


WRONG_WAIT: dict[str, Callable[[VirtualClock], Any]] = {
    "sleeps_on_its_own_clock": _own_clock,
    "returns_clock_now": _returns_now,
    "wrong_waits": _wrong_waits,
    "sleeps_for_real": _real_sleep,
}


@pytest.mark.parametrize("wrong", list(WRONG_WAIT), ids=str)
def test_q2_rejects_typical_mistakes(wrong: str) -> None:
    """Another clock, an epoch instead of elapsed time, other waits or a real sleep all fail."""
    assert not q2.verify(WRONG_WAIT[wrong]).ok


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [("sleeps_for_real", "time.sleep"), ("sleeps_on_its_own_clock", "mismo objeto"),
     ("returns_clock_now", "monotonic")],
)
def test_q2_explains_which_mistake(wrong: str, phrase: str) -> None:
    """The verdict names the mistake so the learner knows what to change."""
    assert phrase in q2.verify(WRONG_WAIT[wrong]).message


# --- q3 ------------------------------------------------------------------------------------------

WRONG_HEADERS: dict[str, Any] = {
    "no_retry_after": {"X-Mock-Fault": "status=429"},
    "bare_number": {"X-Mock-Fault": "429"},
    "retry_after_header_instead": {"Retry-After": "5"},
    "wrong_status": {"X-Mock-Fault": "status=503;retry_after=5"},
    "wrong_seconds": {"X-Mock-Fault": "status=429;retry_after=50"},
    "extra_delay": {"X-Mock-Fault": "status=429;retry_after=5;delay=1"},
    "a_string_not_a_dict": "X-Mock-Fault: status=429;retry_after=5",
}


@pytest.mark.parametrize("wrong", list(WRONG_HEADERS), ids=str)
def test_q3_rejects_typical_mistakes(wrong: str) -> None:
    """Missing retry_after, bad grammar, the wrong header or extra faults all fail."""
    assert not q3.verify(WRONG_HEADERS[wrong]).ok


@pytest.mark.parametrize("name", ["X-Mock-Fault", "x-mock-fault"])
def test_q3_header_name_is_case_insensitive(name: str) -> None:
    """HTTP header names ignore case, and so does the check."""
    assert q3.verify({name: "status=429; retry_after=5"}).ok


def test_q3_reference_really_makes_the_lab_answer_429(lab: mock_servers.Lab) -> None:
    """The accepted header, sent to the lab, yields 429 with Retry-After: 5."""
    r = requests.get(f"{lab.base_url}/entries", headers=lesson00.reference_headers, timeout=5)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "5"
