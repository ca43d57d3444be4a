"""Exercises of lesson 01 (REST resiliente): backoff, jitter, Retry-After, what to retry, P95.

Every answer is a function; each checker calls it on cases it chooses and
compares with the reference, so the checks are pure and need no lab::

    from connectors_lib.exercises.lesson01 import q1, q2, q3, q4, q5
    q1.check(exp_backoff)

The reference solutions live here as code (``reference_*``) and as the text
``qN.solution()`` prints; the tests keep both in agreement.
"""

from __future__ import annotations

import email.utils
import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .core import STUB_RETURNS_NONE, Exercise, Verdict, fail, passed

__all__ = [
    "BASE_WAIT",
    "MAX_WAIT",
    "REFERENCES",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "reference_backoff",
    "reference_decorrelated_jitter",
    "reference_p95",
    "reference_parse_retry_after",
    "reference_should_retry",
]

#: First wait of the exercises' backoff, in seconds.
BASE_WAIT = 0.5
#: Cap of the exercises' backoff: without one, attempt 20 would wait six days.
MAX_WAIT = 30.0
#: A fixed "now" for Retry-After dates (2025-01-01T00:00:00Z, the lab clock's epoch).
_NOW = 1_735_689_600.0
#: Float comparisons: the answers do arithmetic the reference may do in another order.
_TOL = 1e-9


# --- reference solutions -----------------------------------------------------------------------


def reference_backoff(
    attempt: int, initial: float = BASE_WAIT, multiplier: float = 2.0, cap: float = MAX_WAIT
) -> float:
    """Exponential backoff without jitter: ``min(cap, initial * multiplier ** (attempt - 1))``."""
    return float(min(cap, initial * multiplier ** (attempt - 1)))


def reference_decorrelated_jitter(previous: float, rng: random.Random) -> float:
    """AWS "decorrelated jitter": uniform between the base and 3x the previous wait, capped."""
    return min(MAX_WAIT, rng.uniform(BASE_WAIT, previous * 3))


def reference_parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
        return seconds if seconds > 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    delta = when.timestamp() - now
    return delta if delta > 0 else None


#: Statuses that usually heal by waiting.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
#: Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def reference_should_retry(method: str, status: int, headers: Mapping[str, str]) -> bool:
    """Retry transient statuses, and only for idempotent methods or with an Idempotency-Key."""
    if status not in RETRYABLE:
        return False
    if method.upper() in IDEMPOTENT:
        return True
    return any(k.lower() == "idempotency-key" and v for k, v in headers.items())


def _interpolate(values: Sequence[float], p: float) -> float:
    """Linear interpolation at rank (n - 1) * p over ``values`` in the order given."""
    rank = (len(values) - 1) * p
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def reference_p95(latencies: Sequence[float]) -> float:
    """95th percentile with linear interpolation between closest ranks (NumPy's default)."""
    return _interpolate(sorted(latencies), 0.95)



# --- q1: exponential backoff with parameters ------------------------------------------------

#: (attempt, initial, multiplier, cap) cases: defaults, another base, another growth, a low cap.
BACKOFF_CASES: tuple[tuple[int, float, float, float], ...] = tuple(
    (attempt, initial, multiplier, cap)
    for initial, multiplier, cap in ((0.5, 2.0, 30.0), (1.0, 3.0, 60.0), (0.2, 1.5, 2.0))
    for attempt in range(1, 13)
)


def _check_backoff(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `exp_backoff(attempt, initial, "
                    "multiplier, cap)`; pásala sin llamarla: q1.check(exp_backoff).")
    for attempt, initial, multiplier, cap in BACKOFF_CASES:
        got = answer(attempt, initial, multiplier, cap)
        want = reference_backoff(attempt, initial, multiplier, cap)
        if got is None:
            return fail(STUB_RETURNS_NONE)
        if not isinstance(got, int | float) or isinstance(got, bool):
            return fail(f"exp_backoff devolvió {got!r}; debe devolver segundos (un número).")
        if abs(got - want) <= _TOL:
            continue
        call = f"exp_backoff({attempt}, {initial}, {multiplier}, {cap})"
        if attempt == 1:
            return fail(f"{call} devolvió {got!r} y el primer reintento debe esperar `initial` "
                        f"({initial} s). ¿Usaste multiplier ** attempt en vez de "
                        "multiplier ** (attempt - 1)?")
        if got > cap:
            return fail(f"{call} devolvió {got!r}: supera el tope `cap` ({cap} s); usa min(...).")
        if abs(got - min(cap, initial * 2 ** (attempt - 1))) <= _TOL:
            return fail(f"{call} devolvió {got!r}: parece que multiplicas por 2 en lugar de por "
                        "`multiplier`.")
        return fail(f"{call} devolvió {got!r} y se esperaba {want!r}: initial · "
                    "multiplier^(attempt − 1), sin pasar de cap.")
    return passed("tu backoff sirve para cualquier base, crecimiento y tope.")


q1 = Exercise(
    1,
    "Backoff exponencial configurable",
    _check_backoff,
    hint="Para el intento n (desde 1) la espera es initial * multiplier ** (n - 1); "
         "envuélvela en min(cap, ...) para que nunca supere el tope.",
    solution='''
def exp_backoff(attempt: int, initial: float = 0.5, multiplier: float = 2.0,
                cap: float = 30.0) -> float:
    """Espera antes del reintento número `attempt` (1, 2, 3...)."""
    return min(cap, initial * multiplier ** (attempt - 1))

q1.check(exp_backoff)
''',
)


# --- q2: decorrelated jitter ---------------------------------------------------------------------

#: Previous waits the checker feeds to decorrelated_jitter.
_PREVIOUS = (0.5, 1.0, 4.0, 9.0, 20.0, 30.0)


def _check_decorrelated(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `decorrelated_jitter(previous, rng)`.")
    first = [answer(p, random.Random(7)) for p in _PREVIOUS]
    if all(d is None for d in first):
        return fail(STUB_RETURNS_NONE)
    again = [answer(p, random.Random(7)) for p in _PREVIOUS]
    if first != again:
        return fail("con el mismo generador sembrado salieron esperas distintas: usa el `rng` que "
                    "recibes (rng.uniform), no el módulo random global. Así tu código es "
                    "reproducible y se puede probar.")
    rng = random.Random(2024)
    for previous in _PREVIOUS:
        high = min(MAX_WAIT, previous * 3)
        draws = [answer(previous, rng) for _ in range(400)]
        if any(not isinstance(d, int | float) or isinstance(d, bool) for d in draws):
            return fail("decorrelated_jitter debe devolver segundos (un número).")
        if max(draws) > MAX_WAIT + _TOL:
            return fail(f"tras una espera de {previous} s salió {max(draws):.2f} s: falta el tope "
                        f"de {MAX_WAIT:.0f} s.")
        if min(draws) < BASE_WAIT - _TOL:
            return fail(f"tras una espera de {previous} s salió {min(draws):.3f} s, por debajo de "
                        f"la base ({BASE_WAIT} s): el sorteo empieza en la base, no en 0.")
        if max(draws) > high + _TOL:
            return fail(f"tras una espera de {previous} s salió {max(draws):.2f} s; como mucho "
                        f"debe ser el triple de la anterior ({high:g} s).")
        if statistics.pstdev(draws) < (high - BASE_WAIT) * 0.05:
            return fail(f"tras una espera de {previous} s todas las esperas son casi iguales: "
                        "falta el sorteo.")
        if previous >= 4 and min(draws) > BASE_WAIT + (high - BASE_WAIT) * 0.25:
            return fail(f"tras una espera de {previous} s ninguna espera baja de "
                        f"{min(draws):.2f} s: el sorteo va desde la base ({BASE_WAIT} s), no desde "
                        "la espera anterior. Así una racha larga puede volver a esperas cortas.")
        if max(draws) < BASE_WAIT + (high - BASE_WAIT) * 0.75:
            return fail(f"tras una espera de {previous} s el sorteo no cubre todo el intervalo "
                        f"[{BASE_WAIT}, {high:g}].")
    return passed("cada espera depende de la anterior y del azar: sin contador de intentos y sin "
                  "sincronía entre clientes.")


q2 = Exercise(
    2,
    "Decorrelated jitter",
    _check_decorrelated,
    hint="Sortea con rng.uniform(0.5, previous * 3) y aplica el tope: min(30.0, ...). El "
         "intervalo empieza en la base, no en la espera anterior.",
    solution='''
def decorrelated_jitter(previous: float, rng: random.Random) -> float:
    """Siguiente espera: al azar entre la base y el triple de la anterior, con tope."""
    return min(30.0, rng.uniform(0.5, previous * 3))

q2.check(decorrelated_jitter)
''',
)


# --- q3: Retry-After -----------------------------------------------------------------------------


def _http_date(offset: float) -> str:
    return email.utils.formatdate(_NOW + offset, usegmt=True)


#: (value, expected, what the case means) — the checker's cases for parse_retry_after.
RETRY_AFTER_CASES: tuple[tuple[str | None, float | None, str], ...] = (
    ("5", 5.0, "segundos"),
    ("120", 120.0, "segundos"),
    (" 7 ", 7.0, "segundos con espacios"),
    (_http_date(30), 30.0, "fecha HTTP 30 s en el futuro"),
    (_http_date(3600), 3600.0, "fecha HTTP una hora en el futuro"),
    (_http_date(-60), None, "fecha HTTP ya pasada"),
    ("pronto", None, "texto que no es ni número ni fecha"),
    ("-3", None, "número negativo"),
    ("", None, "cabecera vacía"),
    (None, None, "sin cabecera"),
)


def _always_none(answer: Callable[[str | None, float], Any]) -> bool:
    """Whether ``answer`` returns None for every case (a stub), without letting it raise."""
    try:
        return all(answer(v, _NOW) is None for v, _, _ in RETRY_AFTER_CASES)
    except Exception:  # a crash is judged case by case below, with a better message
        return False


def _check_parse_retry_after(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `parse_retry_after(value, now)`.")
    if _always_none(answer):
        return fail(STUB_RETURNS_NONE)
    for value, want, meaning in RETRY_AFTER_CASES:
        try:
            got = answer(value, _NOW)
        except Exception as exc:
            return fail(f"con {value!r} ({meaning}) tu función lanzó {type(exc).__name__}. Una "
                        "cabecera rara no debe tumbar el cliente: devuelve None y usa tu backoff.")
        if want is None:
            if got is not None:
                return fail(f"con {value!r} ({meaning}) devolviste {got!r}; debe ser None "
                            "(no hay una espera utilizable).")
            continue
        if got is None or not isinstance(got, int | float) or abs(got - want) > 1e-6:
            return fail(f"con {value!r} ({meaning}) devolviste {got!r} y se esperaba {want}. "
                        "Retry-After puede ser segundos o una fecha HTTP (resta `now`).")
    return passed("lees los dos formatos de Retry-After y descartas lo inservible sin romperte.")


q3 = Exercise(
    3,
    "Leer Retry-After (segundos o fecha HTTP)",
    _check_parse_retry_after,
    hint="Si el texto (sin espacios) son solo dígitos, son segundos. Si no, prueba "
         "email.utils.parsedate_to_datetime(texto) dentro de try/except y resta `now` a su "
         ".timestamp(). Cero, negativo, pasado o ilegible → None.",
    solution='''
import email.utils

def parse_retry_after(value: str | None, now: float) -> float | None:
    """Segundos a esperar según Retry-After, o None si no sirve."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
        return seconds if seconds > 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    delta = when.timestamp() - now
    return delta if delta > 0 else None

q3.check(parse_retry_after)
''',
)


# --- q4: what to retry ---------------------------------------------------------------------------

#: (method, status, headers, expected, why) — the checker's cases for should_retry.
SHOULD_RETRY_CASES: tuple[tuple[str, int, dict[str, str], bool, str], ...] = (
    ("GET", 503, {}, True, "un 503 es pasajero y GET es idempotente"),
    ("GET", 429, {}, True, "un 429 pide esperar y volver"),
    ("GET", 502, {}, True, "un 502 suele ser pasajero"),
    ("get", 504, {}, True, "el método puede venir en minúsculas"),
    ("PUT", 500, {}, True, "PUT es idempotente"),
    ("DELETE", 503, {}, True, "DELETE es idempotente"),
    ("GET", 404, {}, False, "un 404 no se arregla esperando"),
    ("GET", 400, {}, False, "un 400 es un error de la petición"),
    ("GET", 401, {}, False, "un 401 se arregla con credenciales, no reintentando"),
    ("GET", 501, {}, False, "501 significa 'no implementado': no sana con el tiempo"),
    ("GET", 200, {}, False, "un 200 no es un fallo"),
    ("POST", 503, {}, False, "POST no es idempotente: repetirlo puede duplicar un pedido"),
    ("PATCH", 502, {}, False, "PATCH no es idempotente"),
    ("POST", 503, {"Idempotency-Key": "pedido-42"}, True,
     "con Idempotency-Key el servidor deduplica y repetir es seguro"),
    ("POST", 503, {"idempotency-key": "pedido-42"}, True,
     "las cabeceras HTTP no distinguen mayúsculas"),
    ("POST", 404, {"Idempotency-Key": "pedido-42"}, False,
     "la clave no vuelve reintentable un 404"),
)


def _check_should_retry(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `should_retry(method, status, headers)`.")
    for method, status, headers, want, why in SHOULD_RETRY_CASES:
        got = answer(method, status, dict(headers))
        if got is None:
            return fail(STUB_RETURNS_NONE)
        if not isinstance(got, bool):
            return fail(f"should_retry({method!r}, {status}, ...) devolvió {got!r}; debe "
                        "devolver True o False.")
        if got != want:
            shown = f" con cabeceras {headers}" if headers else ""
            verb = "reintentar" if want else "NO reintentar"
            return fail(f"{method} → {status}{shown}: había que {verb} ({why}).")
    return passed("reintentas lo pasajero, solo donde repetir no duplica efectos.")


q4 = Exercise(
    4,
    "Qué se reintenta y qué no",
    _check_should_retry,
    hint="Dos condiciones a la vez: el estado es pasajero (408, 429, 500, 502, 503, 504) Y el "
         "método es idempotente (GET, HEAD, OPTIONS, PUT, DELETE) o la petición lleva "
         "Idempotency-Key (compara nombres de cabecera sin distinguir mayúsculas).",
    solution='''
RETRYABLE = {408, 429, 500, 502, 503, 504}
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}

def should_retry(method: str, status: int, headers: dict[str, str]) -> bool:
    """¿Es seguro y útil repetir esta petición fallida?"""
    if status not in RETRYABLE:
        return False
    if method.upper() in IDEMPOTENT:
        return True
    return any(k.lower() == "idempotency-key" and v for k, v in headers.items())

q4.check(should_retry)
''',
)


# --- q5: P95 --------------------------------------------------------------------------------------

#: Latency samples (seconds) chosen so that unsorted input, nearest-rank and
#: off-by-one formulas all give a different answer from the interpolated one.
P95_CASES: tuple[tuple[float, ...], ...] = (
    (0.12, 0.05, 0.30, 0.07, 0.09, 0.11, 2.50, 0.08, 0.10, 0.06, 0.13, 0.95),
    tuple(float(i) for i in range(1, 101)),
    (0.2, 0.1, 0.4, 0.3, 1.7, 0.25, 0.22),
    (0.42,),
)


def _check_p95(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `p95(latencies)`.")
    for values in P95_CASES:
        sample = list(values)
        got = answer(list(sample))
        want = reference_p95(sample)
        if got is None:
            return fail(STUB_RETURNS_NONE)
        if not isinstance(got, int | float) or isinstance(got, bool):
            return fail(f"p95 devolvió {got!r}; debe devolver un número.")
        if abs(got - want) > 1e-9:
            if abs(got - _interpolate(sample, 0.95)) < 1e-12:
                return fail("parece que no ordenaste las latencias antes de buscar la posición.")
            return fail(f"para {len(sample)} valores se esperaba {want:.6g} y devolviste "
                        f"{got:.6g}. Ordena, calcula la posición (n - 1) * 0.95 e interpola entre "
                        "los dos vecinos.")
    return passed("coincide con numpy.percentile(x, 95): ya puedes leer la cola de latencias.")


q5 = Exercise(
    5,
    "P95 con interpolación lineal",
    _check_p95,
    hint="Ordena; la posición es r = (n - 1) * 0.95; toma los vecinos floor(r) y floor(r) + 1 "
         "(sin salirte de la lista) e interpola: v[lo] + (v[hi] - v[lo]) * (r - lo).",
    solution='''
import math

def p95(latencies: list[float]) -> float:
    """Percentil 95 con interpolación lineal (como numpy.percentile)."""
    ordered = sorted(latencies)
    rank = (len(ordered) - 1) * 0.95
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

q5.check(p95)
''',
)


#: For tests and tooling: each exercise with the reference it must accept.
REFERENCES: dict[int, Callable[..., Any]] = {
    1: reference_backoff,
    2: reference_decorrelated_jitter,
    3: reference_parse_retry_after,
    4: reference_should_retry,
    5: reference_p95,
}
