"""Exercises of lesson 00 (puesta en marcha): a first request, the virtual clock, a fault.

::

    from connectors_lib.exercises.lesson00 import q1, q2, q3
    q1.check(count_orders)      # a function (base_url, api_key) -> int, run against the lab
    q2.check(staggered_wait)    # a function (clock) -> float, run on a fresh VirtualClock
    q3.check(headers)           # a dict of headers, read with the lab's fault grammar

``q1`` is the only check that needs the lab: it starts it with
``mock_servers.start(seed=42)``, which returns the lab the notebook already
runs (``start`` is idempotent), and compares with the lab's own data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors_lib.clock import VirtualClock

from .core import STUB_RETURNS_NONE, Exercise, Verdict, fail, passed

__all__ = ["REFERENCES", "q1", "q2", "q3", "reference_count_orders", "reference_headers",
           "reference_staggered_wait"]

#: The waits q2 asks for, in seconds.
STAGGER = (1.0, 2.0, 4.0)


# --- reference solutions -----------------------------------------------------------------------


def reference_count_orders(base_url: str, api_key: str) -> int:
    """How many orders the API announces (``total``), asking for a single record."""
    import requests

    response = requests.get(
        f"{base_url}/api/v1/orders",
        params={"limit": 1},
        headers={"X-API-Key": api_key},
        timeout=5,
    )
    response.raise_for_status()
    return int(response.json()["total"])


def reference_staggered_wait(clock: VirtualClock) -> float:
    """Wait 1, 2 and 4 s on ``clock`` and return the seconds that passed on it."""
    start = clock.monotonic()
    for seconds in STAGGER:
        clock.sleep(seconds)
    return clock.monotonic() - start


reference_headers = {"X-Mock-Fault": "status=429;retry_after=5"}


# --- q1: a first request -----------------------------------------------------------------------


def _check_count_orders(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `count_orders(base_url, api_key)`; "
                    "pásala sin llamarla: q1.check(count_orders).")
    import mock_servers

    lab = mock_servers.start(seed=42)
    # A fresh rate-limit window: a learner who re-ran cells must not fail on a 429.
    lab.state.limiter.reset()
    got = answer(lab.base_url, lab.api_key)
    want = len(lab.data.orders)
    if got is None:
        return fail(STUB_RETURNS_NONE)
    if isinstance(got, bool) or not isinstance(got, int):
        return fail(f"count_orders devolvió {got!r}; debe devolver un entero (el total).")
    if got == want:
        return passed(f"el laboratorio anuncia {want} pedidos, y lo supiste pidiendo uno solo.")
    if 0 < got < want:
        return fail(f"devolviste {got}: eso parece el tamaño de una página, no el total. La "
                    "respuesta trae un campo con el total de la colección: búscalo en r.json().")
    return fail(f"devolviste {got} y no coincide con el total de pedidos del laboratorio. "
                "Mira qué claves trae r.json().")


q1 = Exercise(
    1,
    "Tu primera petición: ¿cuántos pedidos hay?",
    _check_count_orders,
    hint="GET {base_url}/api/v1/orders con la cabecera X-API-Key; la respuesta es un objeto "
         "con 'data' (una página) y 'total' (toda la colección). Pide limit=1: no hace falta "
         "descargar todo para saber cuántos hay.",
    solution='''
import requests

def count_orders(base_url: str, api_key: str) -> int:
    """Total de pedidos que anuncia la API (pidiendo un solo registro)."""
    r = requests.get(f"{base_url}/api/v1/orders", params={"limit": 1},
                     headers={"X-API-Key": api_key}, timeout=5)
    r.raise_for_status()
    return r.json()["total"]

q1.check(count_orders)
''',
)


# --- q2: the virtual clock ---------------------------------------------------------------------


def _check_staggered_wait(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("la respuesta debe ser una función `staggered_wait(clock)`.")
    clock = VirtualClock()
    got = answer(clock)
    if got is None and not clock.waits:
        return fail(STUB_RETURNS_NONE)
    if not clock.waits:
        return fail("el reloj que recibiste no registró ninguna espera: ¿usaste time.sleep u "
                    "otro reloj? Llama a clock.sleep(...) sobre ese mismo objeto.")
    if [float(w) for w in clock.waits] != list(STAGGER):
        return fail(f"el reloj registró las esperas {clock.waits} y se pedían "
                    f"{list(STAGGER)}, en ese orden.")
    if isinstance(got, bool) or not isinstance(got, int | float):
        return fail(f"devolviste {got!r}; debe ser un número de segundos.")
    if abs(got - sum(STAGGER)) > 1e-9:
        return fail(f"devolviste {got!r}; según el reloj pasaron {sum(STAGGER):.0f} s. Resta "
                    "clock.monotonic() al final menos al principio (clock.now() es una fecha).")
    return passed("7 s de espera en microsegundos de verdad: así las lecciones son "
                  "reproducibles.")


q2 = Exercise(
    2,
    "Esperar sin esperar: el reloj virtual",
    _check_staggered_wait,
    hint="Guarda start = clock.monotonic(); llama a clock.sleep(1), clock.sleep(2) y "
         "clock.sleep(4); devuelve clock.monotonic() - start. Nada de time.sleep.",
    solution='''
def staggered_wait(clock) -> float:
    """Espera 1, 2 y 4 s en `clock` y devuelve cuánto pasó según ese reloj."""
    start = clock.monotonic()
    for seconds in (1, 2, 4):
        clock.sleep(seconds)
    return clock.monotonic() - start

q2.check(staggered_wait)
''',
)


# --- q3: asking the lab for a fault ------------------------------------------------------------


def _check_headers(answer: Any) -> Verdict:
    from mock_servers.faults import FaultSpecError, parse_fault_spec

    if not isinstance(answer, Mapping):
        return fail("la respuesta debe ser un diccionario de cabeceras, p. ej. "
                    "{'Nombre-De-Cabecera': 'valor'}.")
    found = {str(k).lower(): v for k, v in answer.items()}
    if "x-mock-fault" not in found:
        return fail(f"no hay cabecera X-Mock-Fault entre {sorted(map(str, answer))}: es la que "
                    "lee el laboratorio para inyectar un fallo (Retry-After lo pone el servidor, "
                    "no tú).")
    value = found["x-mock-fault"]
    if not isinstance(value, str):
        return fail("el valor de X-Mock-Fault debe ser texto, p. ej. 'status=503'.")
    try:
        spec = parse_fault_spec(value)
    except FaultSpecError as exc:
        return fail(f"el laboratorio rechazaría '{value}': {exc}.")
    if spec.status != 429:
        return fail(f"pides status={spec.status}; el ejercicio pide un 429 (Too Many Requests).")
    if spec.retry_after is None:
        return fail("falta retry_after=5: sin él el 429 no dice cuánto esperar.")
    if spec.retry_after != 5:
        return fail(f"retry_after={spec.retry_after:g}; el ejercicio pide 5 s.")
    if spec != type(spec)(status=429, retry_after=5.0):
        return fail(f"'{value}' añade más fallos ({spec}); pide solo el 429 con retry_after=5.")
    return passed("con esa cabecera el laboratorio responde 429 y Retry-After: 5 a esa petición.")


q3 = Exercise(
    3,
    "Pedir un fallo a medida",
    _check_headers,
    hint="Una sola cabecera, X-Mock-Fault, con la gramática 'status=...;retry_after=...' "
         "(elementos separados por punto y coma).",
    solution='''
headers = {"X-Mock-Fault": "status=429;retry_after=5"}

q3.check(headers)
''',
)


#: For tests and tooling: each exercise with the reference it must accept.
REFERENCES: dict[int, Callable[..., Any] | dict[str, str]] = {
    1: reference_count_orders,
    2: reference_staggered_wait,
    3: reference_headers,
}
