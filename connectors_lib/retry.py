"""Retries that explain themselves: an immutable policy, pure delays, a traced loop.

Three parts, kept apart so each can be tested and taught alone:

1. :class:`RetryPolicy` — a frozen value. Nothing in it sleeps or draws random
   numbers; :meth:`RetryPolicy.compute_delay` is a pure function of the attempt
   number and an injected :class:`random.Random`.
2. :func:`parse_retry_after` — pure reading of the ``Retry-After`` header
   (RFC 9110 §10.2.3: delay-seconds or HTTP-date).
3. :func:`run_with_retry` / :func:`arun_with_retry` — the loop. Time comes from
   an injected :class:`~connectors_lib.clock.Clock`, randomness from a seeded
   ``random.Random``, and every attempt appends one :class:`RetryDecision` to
   the trace that lessons print and plot. Nothing here knows about HTTP: the
   REST, GraphQL and SFTP connectors reuse it with their own ``classify``.

Backoff formula (attempt ``n`` = the n-th retry, starting at 1)::

    base(n)  = min(max_wait, initial_wait * multiplier ** (n - 1))
    "none":  delay = base(n)
    "full":  delay = uniform(0, base(n))                     (AWS "full jitter")
    "equal": delay = base(n) / 2 + uniform(0, base(n) / 2)

When the failure carries a usable ``Retry-After`` and ``respect_retry_after``
is on, the server's figure replaces the drawn delay (it knows its own load).
A figure above ``max_retry_after`` is never clamped silently: the policy says
``on_long_retry_after="wait_cap"`` (wait the cap, recorded as ``cap_applied``)
or ``"fail"`` (raise :class:`~connectors_lib.errors.RetryAfterTooLongError`).
A wait that would cross the total ``deadline`` is not started.

Only idempotent methods are repeated unless the request carries an
``Idempotency-Key``; a failure known to have happened before the request left
(:class:`~connectors_lib.errors.ConnectError`) is safe to repeat for any method.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple, TypeVar

from connectors_lib.clock import Clock
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

__all__ = [
    "DEFAULT_HTTP_POLICY",
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "Classifier",
    "Failure",
    "Jitter",
    "LongRetryAfter",
    "RetryDecision",
    "RetryPolicy",
    "RetryResult",
    "Verdict",
    "arun_with_retry",
    "classify_exception",
    "format_trace",
    "parse_retry_after",
    "run_with_retry",
]

T = TypeVar("T")

Jitter = Literal["full", "equal", "none"]
LongRetryAfter = Literal["wait_cap", "fail"]
Verdict = Literal[
    "success",
    "retry",
    "give_up:not_retryable",
    "give_up:not_idempotent",
    "give_up:attempts",
    "give_up:deadline",
    "give_up:retry_after_too_long",
]

#: RFC 9110 §9.2.2: methods whose repetition has the same effect as one request.
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

#: Statuses that usually mean "try again later": rate limit and transient server faults.
#: 501 (not implemented) and 505 are left out on purpose: they never heal by waiting.
RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

#: Upper bound for a parsed Retry-After, so an absurd value stays a finite float.
_MAX_PARSED_SECONDS = 10.0**12


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or ``None`` for "no hint".

    ``value`` is either delay-seconds (``"120"``) or an HTTP-date
    (``"Wed, 01 Jan 2025 00:00:10 GMT"``), compared with ``now`` (epoch seconds,
    from ``clock.now()``). Garbage, negative, zero and dates in the past give
    ``None``: the caller then falls back to its own backoff. Large values are
    returned as they are: deciding what is "too long" is the policy's job.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.replace(".", "", 1).isdigit():
        # RFC 9110 says 1*DIGIT; a decimal point is tolerated because real servers send it.
        seconds = min(float(text), _MAX_PARSED_SECONDS)
        return seconds if seconds > 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT; a naive date is garbage
        return None
    delta = when.timestamp() - now
    return min(delta, _MAX_PARSED_SECONDS) if delta > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How to retry: an immutable value; derive variants with :meth:`replace`.

    ``retry_on_status`` and ``retry_on_exceptions`` have no default on purpose:
    what is safe to repeat depends on the API, so you must say it (or start from
    :data:`DEFAULT_HTTP_POLICY`, whose choice is written next to it).

    ``attempts`` counts the first try (``attempts=1`` means never retry).
    ``deadline`` (seconds, ``None`` = none) bounds the whole loop, waits included.
    """

    retry_on_status: frozenset[int]
    retry_on_exceptions: tuple[type[BaseException], ...]
    attempts: int = 5
    initial_wait: float = 0.5
    multiplier: float = 2.0
    max_wait: float = 30.0
    jitter: Jitter = "full"
    deadline: float | None = 60.0
    respect_retry_after: bool = True
    max_retry_after: float = 120.0
    on_long_retry_after: LongRetryAfter = "fail"
    idempotent_methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)
    idempotency_header: str = "Idempotency-Key"

    def __post_init__(self) -> None:
        problems = []
        if self.attempts < 1:
            problems.append("attempts debe ser >= 1 (1 = sin reintentos)")
        if self.initial_wait < 0 or self.max_wait < 0 or self.max_retry_after < 0:
            problems.append("las esperas no pueden ser negativas")
        if self.multiplier < 1:
            problems.append("multiplier debe ser >= 1 (si no, la espera decrece)")
        if self.jitter not in ("full", "equal", "none"):
            problems.append("jitter debe ser 'full', 'equal' o 'none'")
        if self.on_long_retry_after not in ("wait_cap", "fail"):
            problems.append("on_long_retry_after debe ser 'wait_cap' o 'fail'")
        if self.deadline is not None and self.deadline <= 0:
            problems.append("deadline debe ser positivo o None")
        if problems:
            raise ValueError("RetryPolicy inválida: " + "; ".join(problems))
        # Accept any iterable of statuses / methods but store canonical, hashable forms.
        object.__setattr__(self, "retry_on_status", frozenset(self.retry_on_status))
        object.__setattr__(self, "retry_on_exceptions", tuple(self.retry_on_exceptions))
        methods = frozenset(m.upper() for m in self.idempotent_methods)
        object.__setattr__(self, "idempotent_methods", methods)

    def replace(self, **changes: object) -> RetryPolicy:
        """A copy with ``changes`` applied (the policy itself never changes)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def backoff_base(self, attempt: int) -> float:
        """``min(max_wait, initial_wait * multiplier ** (attempt - 1))``, overflow-safe."""
        if attempt < 1:
            raise ValueError("attempt empieza en 1 (el primer reintento)")
        try:
            base = self.initial_wait * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.max_wait
        return min(self.max_wait, base)

    def compute_delay(self, attempt: int, rng: random.Random) -> float:
        """Pure: the jittered wait before retry number ``attempt`` (see module formula)."""
        base = self.backoff_base(attempt)
        if self.jitter == "none":
            return base
        if self.jitter == "full":
            return rng.uniform(0.0, base)
        return base / 2 + rng.uniform(0.0, base / 2)

    def allows_repeat(self, method: str, headers: Mapping[str, str] | None = None) -> bool:
        """True if ``method`` may be repeated: idempotent, or sent with an idempotency key."""
        if method.upper() in self.idempotent_methods:
            return True
        if not headers:
            return False
        wanted = self.idempotency_header.lower()
        return any(k.lower() == wanted and v for k, v in headers.items())


#: Safe HTTP default: transient statuses (:data:`RETRYABLE_STATUSES`) and transport
#: errors, 5 attempts, full jitter from 0.5 s doubling to 30 s, 60 s deadline,
#: Retry-After honoured up to 120 s and refused above (no silent clamp).
DEFAULT_HTTP_POLICY = RetryPolicy(
    retry_on_status=RETRYABLE_STATUSES,
    retry_on_exceptions=(TransportError,),
)


class Failure(NamedTuple):
    """What a classifier says about one failed attempt."""

    cause: str  #: short label for people, e.g. ``"HTTP 503"`` or ``"ReadTimeout"``
    retryable: bool
    status: int | None = None
    exception: str | None = None  #: exception class name, if the failure was an exception
    retry_after_raw: str | None = None
    sent: bool = True  #: False when the request surely never left (safe for any method)


Classifier = Callable[[BaseException, RetryPolicy], Failure]


def classify_exception(exc: BaseException, policy: RetryPolicy) -> Failure:
    """Default classifier: HTTP errors by status, everything else by exception type."""
    name = type(exc).__name__
    if isinstance(exc, HTTPStatusError):
        return Failure(
            cause=f"HTTP {exc.status}",
            retryable=exc.status in policy.retry_on_status,
            status=exc.status,
            exception=name,
            retry_after_raw=exc.retry_after_raw,
        )
    cause = exc.__cause__ if isinstance(exc, ConnectorError) and exc.__cause__ else exc
    return Failure(
        cause=type(cause).__name__,
        retryable=isinstance(exc, policy.retry_on_exceptions),
        exception=name,
        sent=not _never_sent(exc),
    )


def _never_sent(exc: BaseException) -> bool:
    """True if the failure happened before any byte of the request could reach the server."""
    if isinstance(exc, ConnectError):
        return True
    return isinstance(exc, RequestTimeout) and exc.kind in ("connect", "pool")


class RetryDecision(NamedTuple):
    """One attempt and what the loop decided after it: the line a lesson prints."""

    attempt: int  #: 1 = the first try
    cause: str  #: "ok", "HTTP 503", "ReadTimeout"...
    status: int | None
    exception: str | None
    retry_after_raw: str | None  #: the header exactly as received
    retry_after: float | None  #: parsed seconds (None = no usable hint)
    delay_drawn: float | None  #: what the backoff formula drew for this retry
    delay: float  #: what the loop actually waited (0 when it did not wait)
    cap_applied: str | None  #: "max_retry_after" when a long Retry-After was cut
    time_left: float | None  #: deadline budget left when deciding (None = no deadline)
    verdict: Verdict

    def explain(self) -> str:
        """One Spanish sentence saying why the loop waited (or stopped)."""
        head = f"intento {self.attempt}: {self.cause}"
        if self.verdict == "success":
            return head + " → éxito"
        if self.verdict == "retry":
            if self.retry_after is not None and self.cap_applied:
                why = (
                    f"Retry-After {self.retry_after_raw!r} = {self.retry_after:.0f} s, "
                    "recortado al máximo aceptado"
                )
            elif self.retry_after is not None:
                why = f"Retry-After {self.retry_after_raw!r}"
            else:
                why = "backoff con jitter"
                if self.retry_after_raw is not None:
                    why += f"; Retry-After {self.retry_after_raw!r} ignorado: no es válido"
            return f"{head} → espera {self.delay:.2f} s ({why}) y reintenta"
        reasons = {
            "give_up:not_retryable": "no es reintentable según la política",
            "give_up:not_idempotent": "método no idempotente sin Idempotency-Key: no se repite",
            "give_up:attempts": "se agotaron los intentos",
            "give_up:deadline": "la espera cruzaría el plazo total",
            "give_up:retry_after_too_long": (
                f"Retry-After de {self.retry_after or 0:.0f} s supera el máximo aceptado"
            ),
        }
        return f"{head} → se abandona: {reasons[self.verdict]}"


def format_trace(trace: Collection[RetryDecision]) -> str:
    """The trace as numbered Spanish lines, ready for ``print``."""
    return "\n".join(d.explain() for d in trace)


@dataclass(frozen=True, slots=True)
class RetryResult(Generic[T]):
    """The value returned by the successful attempt and the decisions that led to it."""

    value: T
    trace: tuple[RetryDecision, ...]

    @property
    def total_wait(self) -> float:
        """Seconds spent waiting between attempts."""
        return sum(d.delay for d in self.trace)


class _Plan(NamedTuple):
    decision: RetryDecision
    error: BaseException | None  # what to raise instead of retrying (None = wait and retry)


def _decide(
    *,
    attempt: int,
    exc: BaseException,
    policy: RetryPolicy,
    classify: Classifier,
    rng: random.Random,
    clock: Clock,
    started: float,
    idempotent: bool,
    trace: list[RetryDecision],
) -> _Plan:
    """Pure-ish core shared by the sync and async loops: what to do after a failure."""
    failure = classify(exc, policy)
    time_left = None
    if policy.deadline is not None:
        time_left = max(policy.deadline - (clock.monotonic() - started), 0.0)
    hint = parse_retry_after(failure.retry_after_raw, clock.now())
    if not policy.respect_retry_after:
        hint = None

    def record(
        verdict: Verdict, drawn: float | None, delay: float, cap: str | None
    ) -> RetryDecision:
        decision = RetryDecision(
            attempt, failure.cause, failure.status, failure.exception,
            failure.retry_after_raw, hint, drawn, delay, cap, time_left, verdict,
        )  # fmt: skip
        trace.append(decision)
        return decision

    if not failure.retryable:
        record("give_up:not_retryable", None, 0.0, None)
        return _Plan(trace[-1], exc)
    if failure.sent and not idempotent:
        record("give_up:not_idempotent", None, 0.0, None)
        return _Plan(trace[-1], exc)
    if attempt >= policy.attempts:
        decision = record("give_up:attempts", None, 0.0, None)
        return _Plan(
            decision,
            RetryExhaustedError(
                f"Se agotaron los intentos ({policy.attempts}; último fallo: {failure.cause}). "
                "Revisa el estado del servicio o amplía attempts/deadline en la RetryPolicy.",
                last_error=exc,
                trace=tuple(trace),
            ),
        )
    drawn = policy.compute_delay(attempt, rng)
    delay, cap = drawn, None
    if hint is not None:
        delay = hint
        if hint > policy.max_retry_after:
            if policy.on_long_retry_after == "fail":
                decision = record("give_up:retry_after_too_long", drawn, 0.0, None)
                return _Plan(
                    decision,
                    RetryAfterTooLongError(
                        f"El servidor pide esperar {hint:.0f} s (Retry-After "
                        f"{failure.retry_after_raw!r}), más que el máximo de "
                        f"{policy.max_retry_after:.0f} s. Vuelve más tarde, o acepta esperar el "
                        "máximo con on_long_retry_after='wait_cap'.",
                        retry_after=hint,
                        last_error=exc,
                        trace=tuple(trace),
                    ),
                )
            delay, cap = policy.max_retry_after, "max_retry_after"
    if time_left is not None and delay > time_left:
        decision = record("give_up:deadline", drawn, 0.0, cap)
        return _Plan(
            decision,
            DeadlineExceededError(
                f"Esperar {delay:.2f} s más cruzaría el plazo total de {policy.deadline:.0f} s "
                f"(quedan {time_left:.2f} s; último fallo: {failure.cause}). Amplía deadline o "
                "revisa por qué el servicio falla tanto.",
                last_error=exc,
                trace=tuple(trace),
            ),
        )
    return _Plan(record("retry", drawn, delay, cap), None)


def _success(attempt: int, trace: list[RetryDecision], policy: RetryPolicy, clock: Clock,
             started: float) -> None:  # fmt: skip
    time_left = None
    if policy.deadline is not None:
        time_left = max(policy.deadline - (clock.monotonic() - started), 0.0)
    trace.append(
        RetryDecision(attempt, "ok", None, None, None, None, None, 0.0, None, time_left, "success")
    )


def run_with_retry(
    fn: Callable[[int], T],
    policy: RetryPolicy,
    *,
    clock: Clock,
    rng: random.Random,
    classify: Classifier = classify_exception,
    idempotent: bool = True,
    on_decision: Callable[[RetryDecision], None] | None = None,
) -> RetryResult[T]:
    """Call ``fn(attempt)`` until it returns, the policy gives up, or the deadline nears.

    ``fn`` receives the attempt number (1-based) and signals failure by raising.
    ``classify`` turns an exception into a :class:`Failure` (retryable or not).
    ``idempotent=False`` forbids repeating a request that may have reached the
    server (use :meth:`RetryPolicy.allows_repeat` to compute it). Exceptions that
    are not :class:`BaseException` subclasses of ``Exception`` (KeyboardInterrupt)
    pass straight through. Every error raised carries ``.trace``; the original
    error is re-raised as is when it is not retryable.
    """
    trace: list[RetryDecision] = []
    started = clock.monotonic()
    attempt = 1
    while True:
        try:
            value = fn(attempt)
        except Exception as exc:
            plan = _decide(
                attempt=attempt, exc=exc, policy=policy, classify=classify, rng=rng,
                clock=clock, started=started, idempotent=idempotent, trace=trace,
            )  # fmt: skip
            if on_decision is not None:
                on_decision(plan.decision)
            if plan.error is not None:
                error = plan.error
                if isinstance(error, ConnectorError):
                    error.trace = tuple(trace)
                if error is exc:
                    raise
                raise error from exc
            clock.sleep(plan.decision.delay)
            attempt += 1
            continue
        _success(attempt, trace, policy, clock, started)
        if on_decision is not None:
            on_decision(trace[-1])
        return RetryResult(value, tuple(trace))


async def arun_with_retry(
    fn: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    clock: Clock,
    rng: random.Random,
    classify: Classifier = classify_exception,
    idempotent: bool = True,
    on_decision: Callable[[RetryDecision], None] | None = None,
) -> RetryResult[T]:
    """The asyncio twin of :func:`run_with_retry` (waits with ``clock.asleep``)."""
    trace: list[RetryDecision] = []
    started = clock.monotonic()
    attempt = 1
    while True:
        try:
            value = await fn(attempt)
        except Exception as exc:
            plan = _decide(
                attempt=attempt, exc=exc, policy=policy, classify=classify, rng=rng,
                clock=clock, started=started, idempotent=idempotent, trace=trace,
            )  # fmt: skip
            if on_decision is not None:
                on_decision(plan.decision)
            if plan.error is not None:
                error = plan.error
                if isinstance(error, ConnectorError):
                    error.trace = tuple(trace)
                if error is exc:
                    raise
                raise error from exc
            await clock.asleep(plan.decision.delay)
            attempt += 1
            continue
        _success(attempt, trace, policy, clock, started)
        if on_decision is not None:
            on_decision(trace[-1])
        return RetryResult(value, tuple(trace))
