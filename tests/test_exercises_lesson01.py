"""Lesson 01 exercises: every check accepts the reference and rejects typical wrong answers."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from connectors_lib.exercises import lesson01
from connectors_lib.exercises.core import Exercise
from connectors_lib.exercises.lesson01 import q1, q2, q3, q4, q5

EXERCISES = {1: q1, 2: q2, 3: q3, 4: q4, 5: q5}


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_reference_solution_passes(number: int) -> None:
    """The reference function of each exercise gets a ✅ verdict."""
    verdict = EXERCISES[number].verify(lesson01.REFERENCES[number])
    assert verdict.ok, verdict.message


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_printed_solution_runs_and_passes(number: int, capsys: pytest.CaptureFixture[str]) -> None:
    """The code that qN.solution() prints defines an answer that passes its own check."""
    exercise = EXERCISES[number]
    namespace: dict[str, Any] = {f"q{number}": exercise, "random": random}
    exec(exercise.solution_code, namespace)  # noqa: S102 - our own reference text
    out = capsys.readouterr().out
    assert "✅ Correcto" in out, out


@pytest.mark.parametrize("exercise", list(EXERCISES.values()), ids=repr)
@pytest.mark.parametrize("stub", [..., None], ids=["ellipsis", "none"])
def test_unanswered_stub_is_not_correct(exercise: Exercise, stub: object) -> None:
    """Leaving the stub untouched gives a 'todavía no' verdict that says what to do."""
    verdict = exercise.verify(stub)
    assert not verdict.ok
    assert "reemplaza" in verdict.message


STUBS: dict[int, Callable[..., Any]] = {
    1: lambda attempt, initial, multiplier, cap: None,
    2: lambda previous, rng: None,
    3: lambda value, now: None,
    4: lambda method, status, headers: None,
    5: lambda latencies: None,
}


@pytest.mark.parametrize("number", sorted(STUBS))
def test_a_stub_function_returning_none_is_told_to_complete_it(number: int) -> None:
    """A function whose body is still `...` (returns None) gets 'complétala', not a riddle."""
    verdict = EXERCISES[number].verify(STUBS[number])
    assert not verdict.ok
    assert "devuelve None" in verdict.message


@pytest.mark.parametrize("exercise", list(EXERCISES.values()), ids=repr)
def test_a_value_instead_of_a_function_is_rejected(exercise: Exercise) -> None:
    """Passing the result of a call (a number) instead of the function fails with guidance."""
    verdict = exercise.verify(3.0)
    assert not verdict.ok
    assert "función" in verdict.message


def test_hint_and_solution_print_spanish_text(capsys: pytest.CaptureFixture[str]) -> None:
    """hint() and solution() print something a learner can read."""
    q1.hint()
    q1.solution()
    out = capsys.readouterr().out
    assert "Pista (ejercicio 1)" in out
    assert "def exp_backoff" in out


# --- q1 ------------------------------------------------------------------------------------------

WRONG_BACKOFF: dict[str, Callable[[int, float, float, float], Any]] = {
    "off_by_one_multiplier_pow_attempt": lambda a, i, m, c: min(c, i * m**a),
    "no_cap": lambda a, i, m, c: i * m ** (a - 1),
    "always_doubles": lambda a, i, m, c: min(c, i * 2 ** (a - 1)),
    "original_lesson_2_pow_i": lambda a, i, m, c: float(2 ** (a - 1)),
    "linear": lambda a, i, m, c: min(c, i * a),
    "returns_string": lambda a, i, m, c: str(min(c, i * m ** (a - 1))),
}


@pytest.mark.parametrize("wrong", list(WRONG_BACKOFF), ids=str)
def test_q1_rejects_typical_mistakes(wrong: str) -> None:
    """Off-by-one exponents, a missing cap, a hard-coded 2 or a linear schedule are not accepted."""
    assert not q1.verify(WRONG_BACKOFF[wrong]).ok


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [("no_cap", "tope"), ("always_doubles", "multiplier"), ("off_by_one_multiplier_pow_attempt",
                                                            "attempt - 1")],
)
def test_q1_names_the_mistake(wrong: str, phrase: str) -> None:
    """The verdict says which part of the formula is wrong."""
    assert phrase in q1.verify(WRONG_BACKOFF[wrong]).message


def test_q1_reference_matches_the_library_policy() -> None:
    """The exercise's formula is RetryPolicy.backoff_base for the same parameters."""
    from connectors_lib.retry import DEFAULT_HTTP_POLICY

    for attempt, initial, multiplier, cap in lesson01.BACKOFF_CASES:
        policy = DEFAULT_HTTP_POLICY.replace(
            initial_wait=initial, multiplier=multiplier, max_wait=cap
        )
        want = policy.backoff_base(attempt)
        assert lesson01.reference_backoff(attempt, initial, multiplier, cap) == pytest.approx(want)


# --- q2 ------------------------------------------------------------------------------------------

WRONG_DECORRELATED: dict[str, Callable[[float, random.Random], float]] = {
    "full_jitter_from_zero": lambda prev, rng: min(30.0, rng.uniform(0, prev * 3)),
    "never_goes_back_down": lambda prev, rng: min(30.0, rng.uniform(prev, prev * 3)),
    "no_cap": lambda prev, rng: rng.uniform(0.5, prev * 3),
    "global_random": lambda prev, rng: min(30.0, random.uniform(0.5, prev * 3)),
    "no_jitter_triples": lambda prev, rng: min(30.0, prev * 3),
    "original_lesson_plus_uniform_0_1": lambda prev, rng: min(30.0, prev * 2 + rng.uniform(0, 1)),
}


@pytest.mark.parametrize("wrong", list(WRONG_DECORRELATED), ids=str)
def test_q2_rejects_typical_mistakes(wrong: str) -> None:
    """Starting at 0 or at the previous wait, no cap, global random or no draw all fail."""
    assert not q2.verify(WRONG_DECORRELATED[wrong]).ok


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [("full_jitter_from_zero", "base"), ("global_random", "rng"), ("no_cap", "tope"),
     ("never_goes_back_down", "no desde la espera anterior"), ("no_jitter_triples", "sorteo")],
)
def test_q2_explains_which_mistake(wrong: str, phrase: str) -> None:
    """The verdict names the specific mistake, so the learner knows what to change."""
    assert phrase in q2.verify(WRONG_DECORRELATED[wrong]).message


# --- q3 ------------------------------------------------------------------------------------------


def _seconds_only(value: str | None, now: float) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value)


def _naive_float(value: str | None, now: float) -> float | None:
    return float(value) if value is not None else None


def _date_as_epoch(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()  # forgot to subtract now
    except (TypeError, ValueError):
        return None


def _keeps_past_dates(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return email.utils.parsedate_to_datetime(text).timestamp() - now
    except (TypeError, ValueError):
        return None


WRONG_RETRY_AFTER: dict[str, Callable[[str | None, float], float | None]] = {
    "seconds_only": _seconds_only,
    "naive_float": _naive_float,
    "date_as_epoch": _date_as_epoch,
    "keeps_past_dates": _keeps_past_dates,
}


@pytest.mark.parametrize("wrong", list(WRONG_RETRY_AFTER), ids=str)
def test_q3_rejects_typical_mistakes(wrong: str) -> None:
    """Ignoring HTTP dates, crashing on garbage or returning negative waits all fail."""
    assert not q3.verify(WRONG_RETRY_AFTER[wrong]).ok


def test_q3_crash_on_garbage_is_explained() -> None:
    """A parser that raises on odd headers is told not to take the client down."""
    assert "no debe tumbar" in q3.verify(_naive_float).message


@pytest.mark.parametrize(("value", "want", "meaning"), lesson01.RETRY_AFTER_CASES)
def test_q3_cases_agree_with_the_library(
    value: str | None, want: float | None, meaning: str
) -> None:
    """The exercise's expectations match connectors_lib.retry.parse_retry_after."""
    from connectors_lib.retry import parse_retry_after

    got = parse_retry_after(value, 1_735_689_600.0)
    assert got == pytest.approx(want) if want is not None else got is None, meaning


# --- q4 ------------------------------------------------------------------------------------------


def _retries_post(method: str, status: int, headers: Mapping[str, str]) -> bool:
    return status in {429, 500, 502, 503, 504}


def _retries_every_error(method: str, status: int, headers: Mapping[str, str]) -> bool:
    return status >= 400 and method.upper() in {"GET", "PUT", "DELETE"}


def _case_sensitive_key(method: str, status: int, headers: Mapping[str, str]) -> bool:
    if status not in {408, 429, 500, 502, 503, 504}:
        return False
    return method.upper() in {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"} or (
        "Idempotency-Key" in headers
    )


def _ignores_key(method: str, status: int, headers: Mapping[str, str]) -> bool:
    return status in {408, 429, 500, 502, 503, 504} and method.upper() in {"GET", "PUT", "DELETE"}


def _all_5xx(method: str, status: int, headers: Mapping[str, str]) -> bool:
    return (status >= 500 or status == 429) and method.upper() in {"GET", "PUT", "DELETE"}


WRONG_SHOULD_RETRY: dict[str, Callable[[str, int, Mapping[str, str]], bool]] = {
    "original_lesson_retries_post": _retries_post,
    "retries_every_4xx_5xx": _retries_every_error,
    "header_name_case_sensitive": _case_sensitive_key,
    "ignores_idempotency_key": _ignores_key,
    "retries_501": _all_5xx,
}


@pytest.mark.parametrize("wrong", list(WRONG_SHOULD_RETRY), ids=str)
def test_q4_rejects_typical_mistakes(wrong: str) -> None:
    """Retrying POST blindly, retrying 404s or mishandling Idempotency-Key all fail."""
    assert not q4.verify(WRONG_SHOULD_RETRY[wrong]).ok


def test_q4_explains_why_post_is_not_retried() -> None:
    """The verdict for blind POST retries talks about duplicates."""
    assert "duplicar" in q4.verify(_retries_post).message


def test_q4_reference_agrees_with_the_library_policy() -> None:
    """The exercise's rule is the one DEFAULT_HTTP_POLICY applies."""
    from connectors_lib.retry import DEFAULT_HTTP_POLICY as POLICY

    for method, status, headers, want, _ in lesson01.SHOULD_RETRY_CASES:
        lib = status in POLICY.retry_on_status and POLICY.allows_repeat(method, headers)
        assert lib == want, (method, status, headers)


# --- q5 ------------------------------------------------------------------------------------------


def _nearest_rank(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _unsorted(values: Sequence[float]) -> float:
    rank = (len(values) - 1) * 0.95
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def _int_index(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * len(ordered)) - 1]


WRONG_P95: dict[str, Callable[[Sequence[float]], float]] = {
    "nearest_rank": _nearest_rank,
    "forgot_to_sort": _unsorted,
    "int_index": _int_index,
    "mean": lambda v: sum(v) / len(v),
    "max": max,
}


@pytest.mark.parametrize("wrong", list(WRONG_P95), ids=str)
def test_q5_rejects_typical_mistakes(wrong: str) -> None:
    """Nearest rank, unsorted input, truncated index, mean and max are not P95."""
    assert not q5.verify(WRONG_P95[wrong]).ok


def test_q5_detects_unsorted_input() -> None:
    """Forgetting to sort gets its own explanation."""
    assert "ordenaste" in q5.verify(_unsorted).message


def test_q5_reference_matches_the_library_percentile() -> None:
    """The exercise's P95 is the library's percentile(values, 95) on every case."""
    from connectors_lib.tracing import percentile

    for values in lesson01.P95_CASES:
        assert lesson01.reference_p95(values) == pytest.approx(percentile(values, 95))
