"""Exercises of lesson 02 (pagination and incremental extraction).

* ``q1`` — an opaque base64 cursor that treats what comes back as untrusted input.
* ``q2`` — deduplicate by key, keeping the most recent version of each record.
* ``q3`` — the send times a token bucket imposes on a burst of requests.
* ``q4`` — an incremental extraction that resumes from a checkpoint after a crash,
  with no duplicates and no gaps.

Every checker is a pure function of the learner's answer: it builds its own
cases (an in-memory keyset source and checkpoint store for ``q4``), so the
verdict never depends on the lab or on time.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from .core import Exercise, Verdict, fail, passed

__all__ = ["q1", "q2", "q3", "q4"]

Record = dict[str, Any]


# --- q1: base64 cursors ------------------------------------------------------------------------


def _b64_json(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def _decode_reference_view(cursor: str) -> object:
    """What any correct cursor holds: URL-safe (or standard) base64 of a JSON document."""
    padded = cursor + "=" * (-len(cursor) % 4)
    raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    return json.loads(raw)


#: Cursors a client may receive: garbage, tampered or from another API. Each must be refused
#: with ``ValueError`` (what the connector maps to a clear error), never used as is.
_BAD_CURSORS: tuple[tuple[str, str], ...] = (
    ("no-es-un-cursor!", "un texto que no es base64"),
    (base64.urlsafe_b64encode(b"\xff\xfe basura").decode(), "base64 de bytes que no son JSON"),
    (_b64_json({"offset": 5}), "un JSON sin la clave 'id'"),
    (_b64_json({"id": "5; DROP TABLE orders"}), "un 'id' que es texto"),
    (_b64_json({"id": -3}), "un 'id' negativo"),
    (_b64_json({"id": True}), "un 'id' booleano (en Python, True también es un int)"),
    (_b64_json([1, 2, 3]), "un JSON que no es un objeto"),
)

_ROUND_TRIP_IDS = (0, 1, 99, 100, 1200, 987_654_321_012)


def _check_cursor(answer: Any) -> Verdict:
    if isinstance(answer, tuple) and any(part is ... for part in answer):
        return fail("aún no hay respuesta: escribe encode_cursor y decode_cursor en lugar de "
                    "`...` y vuelve a ejecutar la celda.")
    if not (isinstance(answer, tuple) and len(answer) == 2 and all(map(callable, answer))):
        return fail("pasa una tupla con tus dos funciones: "
                    "q1.check((encode_cursor, decode_cursor)).")
    encode, decode = answer
    for last_id in _ROUND_TRIP_IDS:
        cursor = encode(last_id)
        if not isinstance(cursor, str):
            return fail(f"encode_cursor({last_id}) devolvió {type(cursor).__name__}; debe devolver "
                        "texto (str), listo para ir en la URL. ¿Olvidaste .decode()?")
        try:
            document = _decode_reference_view(cursor)
        except (ValueError, binascii.Error):
            return fail(f"encode_cursor({last_id}) = {cursor!r} no es base64 de un JSON. "
                        "Codifica json.dumps({'id': last_id}) con base64.urlsafe_b64encode.")
        if document != {"id": last_id}:
            return fail(f"encode_cursor({last_id}) contiene {document!r}; se esperaba "
                        f"{{'id': {last_id}}}.")
        back = decode(cursor)
        if back != last_id or not isinstance(back, int) or isinstance(back, bool):
            return fail(f"decode_cursor(encode_cursor({last_id})) devolvió {back!r}; debe "
                        f"devolver el entero {last_id}.")
    for cursor, what in _BAD_CURSORS:
        try:
            result = decode(cursor)
        except ValueError:
            continue
        except Exception as exc:
            return fail(f"con {what}, decode_cursor lanzó {type(exc).__name__}; debe lanzar "
                        "ValueError (con un mensaje claro) para que quien llama sepa qué pasó.")
        return fail(f"con {what}, decode_cursor devolvió {result!r} en vez de lanzar "
                    "ValueError. Un cursor llega del exterior: valida que sea un objeto con un "
                    "'id' entero >= 0.")
    return passed("el cursor es base64 de un JSON, da la vuelta completa y los cursores "
                  "manipulados se rechazan con ValueError.")


q1 = Exercise(
    1,
    "Cursores base64 que no se fían de lo que reciben",
    _check_cursor,
    hint=(
        "encode: base64.urlsafe_b64encode(json.dumps({'id': last_id}).encode()).decode(). "
        "decode: envuelve b64decode + json.loads en try/except y relanza ValueError; luego "
        "comprueba que el resultado sea dict, que tenga 'id' y que "
        "type(doc['id']) is int and doc['id'] >= 0 (type(...) is int deja fuera a True)."
    ),
    solution='''
import base64, binascii, json

def encode_cursor(last_id: int) -> str:
    payload = json.dumps({"id": last_id}).encode()
    return base64.urlsafe_b64encode(payload).decode()

def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)  # admite cursores sin relleno '='
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as problem:  # includes UnicodeDecodeError
        raise ValueError(f"cursor ilegible: {problem}") from None
    if not isinstance(document, dict) or "id" not in document:
        raise ValueError("el cursor no es un objeto con 'id'")
    last_id = document["id"]
    if type(last_id) is not int or last_id < 0:  # type() deja fuera a True/False
        raise ValueError(f"'id' debe ser un entero >= 0, no {last_id!r}")
    return last_id

q1.check((encode_cursor, decode_cursor))
''',
)


# --- q2: dedup by key --------------------------------------------------------------------------


def _order(order_id: int, updated_at: str, status: str) -> Record:
    return {"id": order_id, "updated_at": updated_at, "status": status}


#: (name, input, expected). Offset pagination repeats rows; retries redeliver old versions.
_DEDUP_CASES: tuple[tuple[str, list[Record], list[Record]], ...] = (
    (
        "páginas solapadas por offset (la misma versión dos veces)",
        [_order(1, "2024-03-01T10:00:00Z", "paid"), _order(2, "2024-03-01T11:00:00Z", "paid"),
         _order(2, "2024-03-01T11:00:00Z", "paid"), _order(3, "2024-03-02T09:00:00Z", "pending")],
        [_order(1, "2024-03-01T10:00:00Z", "paid"), _order(2, "2024-03-01T11:00:00Z", "paid"),
         _order(3, "2024-03-02T09:00:00Z", "pending")],
    ),
    (
        "una versión vieja llega después de la nueva (reintento tardío)",
        [_order(7, "2024-05-02T08:00:00Z", "shipped"), _order(5, "2024-05-01T08:00:00Z", "paid"),
         _order(7, "2024-05-01T08:00:00Z", "paid")],
        [_order(5, "2024-05-01T08:00:00Z", "paid"), _order(7, "2024-05-02T08:00:00Z", "shipped")],
    ),
    (
        "la versión nueva llega después de la vieja",
        [_order(4, "2024-01-01T00:00:00Z", "pending"), _order(4, "2024-01-03T00:00:00Z",
                                                              "delivered")],
        [_order(4, "2024-01-03T00:00:00Z", "delivered")],
    ),
    (
        "empate en updated_at: gana la que llegó después",
        [_order(9, "2024-02-02T02:02:02Z", "paid"), _order(9, "2024-02-02T02:02:02Z", "shipped")],
        [_order(9, "2024-02-02T02:02:02Z", "shipped")],
    ),
    ("lista vacía", [], []),
)


def _check_dedup(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("pasa tu función: q2.check(dedup_latest).")
    for name, records, expected in _DEDUP_CASES:
        got = answer([dict(r) for r in records])
        if not isinstance(got, list):
            return fail(f"[{name}] devolviste {type(got).__name__}; devuelve una lista de "
                        "registros.")
        if got == expected:
            continue
        ids = [r["id"] for r in got if isinstance(r, dict) and isinstance(r.get("id"), int)]
        if len(ids) != len(set(ids)):
            return fail(f"[{name}] quedan ids repetidos: {ids}. Debe quedar uno por id.")
        if sorted(ids) == ids and set(ids) == {r["id"] for r in expected}:
            return fail(f"[{name}] te quedaste con la versión equivocada: {got}. Compara "
                        "updated_at: gana el mayor (y, si empatan, el último que llegó).")
        if set(ids) == {r["id"] for r in expected}:
            return fail(f"[{name}] los ids son correctos pero el orden no: {ids}. Ordena por id.")
        return fail(f"[{name}] se esperaba {expected}, y devolviste {got}.")
    return passed("un registro por id, siempre la versión más reciente, ordenados por id.")


q2 = Exercise(
    2,
    "Deduplicar por clave quedándote con la versión más reciente",
    _check_dedup,
    hint=(
        "Recorre los registros con un dict id → registro. Sustituye el guardado solo si el nuevo "
        "tiene updated_at >= que el guardado (las fechas ISO 8601 en UTC se comparan bien como "
        "texto). Al final, devuelve los valores ordenados por id."
    ),
    solution='''
def dedup_latest(records: list[dict]) -> list[dict]:
    latest: dict[int, dict] = {}
    for record in records:
        kept = latest.get(record["id"])
        # ">=": con empate gana la que llegó después (la última entrega del servidor)
        if kept is None or record["updated_at"] >= kept["updated_at"]:
            latest[record["id"]] = record
    return [latest[key] for key in sorted(latest)]

q2.check(dedup_latest)
''',
)


# --- q3: token bucket schedule -----------------------------------------------------------------


def _reference_send_times(n: int, rate: float, capacity: int) -> list[float]:
    return [max(0.0, (i + 1 - capacity) / rate) for i in range(n)]


_BUCKET_CASES: tuple[tuple[int, float, int], ...] = (
    (5, 1.0, 1),
    (12, 1.0, 10),
    (6, 2.0, 3),
    (4, 0.5, 1),
    (3, 1.0, 5),
    (0, 1.0, 2),
)


def _check_send_times(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("pasa tu función: q3.check(send_times).")
    for n, rate, capacity in _BUCKET_CASES:
        expected = _reference_send_times(n, rate, capacity)
        got = answer(n, rate, capacity)
        call = f"send_times({n}, rate={rate}, capacity={capacity})"
        try:
            values = [float(t) for t in got]
        except (TypeError, ValueError):
            return fail(f"{call} devolvió {got!r}; debe ser una lista de segundos (float).")
        if len(values) != n:
            return fail(f"{call} devolvió {len(values)} instantes; debe haber uno por "
                        f"petición ({n}).")
        if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(values, expected, strict=True)):
            continue
        if values and values[0] > 0:
            return fail(f"{call} = {values}: el cubo empieza lleno, así que la primera petición "
                        "sale en t=0 sin esperar.")
        if n > 1 and capacity > 1 and values[1] > 0:
            return fail(f"{call} = {values}: con capacity={capacity} las {min(capacity, n)} "
                        "primeras salen juntas en t=0 (la ráfaga). Después, una cada 1/rate s.")
        return fail(f"{call} = {values}; se esperaba {expected}. Cuenta las fichas: la petición "
                    "i (desde 0) necesita i + 1 fichas y el cubo tiene capacity + rate·t.")
    return passed("ráfaga de `capacity` en t=0 y después una petición cada 1/rate segundos.")


q3 = Exercise(
    3,
    "Cuándo sale cada petición con un cubo de fichas",
    _check_send_times,
    hint=(
        "En el instante t el cubo ha dado capacity + rate·t fichas en total (empieza lleno). "
        "La petición i (contando desde 0) necesita la ficha número i + 1: despeja t de "
        "capacity + rate·t = i + 1 y no dejes que salga negativo."
    ),
    solution='''
def send_times(n: int, rate: float, capacity: int) -> list[float]:
    # la petición i necesita i + 1 fichas; el cubo ha dado capacity + rate*t
    return [max(0.0, (i + 1 - capacity) / rate) for i in range(n)]

q3.check(send_times)
''',
)


# --- q4: resume from a checkpoint --------------------------------------------------------------


class SimulatedCrash(RuntimeError):
    """The failure the checker injects into the learner's extraction (a process dying)."""


class _MemoryStore:
    """A checkpoint store with the interface of ``CheckpointStore`` (``load``/``save``).

    It round-trips every state through JSON, as the real store does, so state
    that only pickle could save (sets, objects) is caught here too.
    """

    def __init__(self) -> None:
        self._text: str | None = None
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return None if self._text is None else dict(json.loads(self._text))

    def save(self, state: dict[str, Any], **_: Any) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"el estado debe ser un dict, no {type(state).__name__}")
        self._text = json.dumps(state)
        self.saves += 1


class _KeysetSource:
    """Orders with ids ``1..total`` served by keyset pages of ``size``; may crash once."""

    def __init__(self, total: int, size: int, crash_on_call: int | None) -> None:
        self.ids = list(range(1, total + 1))
        self.size = size
        self.calls = 0
        self._crash_on_call = crash_on_call

    def fetch_page(self, after: int | None) -> dict[str, Any]:
        self.calls += 1
        if self.calls == self._crash_on_call:
            raise SimulatedCrash(f"caída simulada al pedir la página {self.calls}")
        start = 0 if after is None else next(
            (i for i, key in enumerate(self.ids) if key > after), len(self.ids)
        )
        chunk = self.ids[start : start + self.size]
        more = start + self.size < len(self.ids)
        return {"data": [{"id": key} for key in chunk], "has_more": more}


class _Sink:
    """Where extracted records land; may crash (before writing anything) on one page."""

    def __init__(self, crash_on_page: int | None) -> None:
        self.received: list[int] = []
        self.pages = 0
        self._crash_on_page = crash_on_page

    def __call__(self, records: Sequence[Record]) -> None:
        self.pages += 1
        if self.pages == self._crash_on_page:
            raise SimulatedCrash(f"caída simulada al escribir la página {self.pages}")
        self.received.extend(int(r["id"]) for r in records)


def _run_until_done(
    extract: Callable[..., Any], source: _KeysetSource, store: _MemoryStore, sink: _Sink
) -> int:
    """Run the learner's extraction, restarting after each simulated crash; returns crashes."""
    crashes = 0
    for _ in range(4):
        try:
            extract(source.fetch_page, store, sink)
        except SimulatedCrash:
            crashes += 1
            continue
        return crashes
    raise SimulatedCrash("la extracción no terminó tras varios reinicios")


def _describe(received: list[int], total: int) -> str:
    counts: dict[int, int] = {}
    for key in received:
        counts[key] = counts.get(key, 0) + 1
    dupes = sorted(k for k, c in counts.items() if c > 1)
    missing = sorted(set(range(1, total + 1)) - set(counts))
    parts = []
    if dupes:
        parts.append(f"{len(dupes)} ids duplicados (p. ej. {dupes[:3]})")
    if missing:
        parts.append(f"{len(missing)} ids perdidos (p. ej. {missing[:3]})")
    return " y ".join(parts)


_RESUME_CASES: tuple[tuple[str, int | None, int | None], ...] = (
    ("sin caídas", None, None),
    ("caída al pedir la 3.ª página", 3, None),
    ("caída al escribir la 4.ª página (antes de guardar nada)", None, 4),
)


def _check_resume(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("pasa tu función: q4.check(extract).")
    total, size = 230, 50
    for name, crash_call, crash_page in _RESUME_CASES:
        source = _KeysetSource(total, size, crash_call)
        store, sink = _MemoryStore(), _Sink(crash_page)
        crashes = _run_until_done(answer, source, store, sink)
        if sink.received != list(range(1, total + 1)):
            problem = _describe(sink.received, total) or "los ids no llegaron en orden"
            advice = ("Guarda el checkpoint DESPUÉS de escribir la página, con el último id."
                      if crash_page else
                      "Al empezar, lee store.load() y continúa desde su 'after'.")
            return fail(f"[{name}, {crashes} reinicio(s)] {problem}. {advice}")
        if store.saves == 0:
            return fail(f"[{name}] nunca llamaste a store.save(...): tras una caída no habría "
                        "desde dónde seguir.")
    # An incremental run later: the checkpoint must remember where the last run ended.
    source = _KeysetSource(total, size, None)
    store, sink = _MemoryStore(), _Sink(None)
    answer(source.fetch_page, store, sink)
    calls_before = source.calls
    answer(source.fetch_page, store, sink)
    if sink.received != list(range(1, total + 1)) or source.calls - calls_before > 1:
        return fail("una segunda ejecución sin datos nuevos volvió a leer desde el principio. "
                    "No borres el checkpoint al terminar: la próxima ejecución incremental "
                    "empieza donde acabó esta.")
    return passed("tras cada caída, la reanudación no duplica ni pierde ningún id, y la "
                  "siguiente ejecución solo pide lo nuevo.")


q4 = Exercise(
    4,
    "Reanudar tras una caída sin duplicados ni huecos",
    _check_resume,
    hint=(
        "Empieza con state = store.load(); after = state['after'] si hay estado, si no None. "
        "En el bucle: page = fetch_page(after); sink(page['data']); y SOLO entonces, si la "
        "página trajo datos, after = último id y store.save({'after': after}). "
        "Termina cuando page['has_more'] sea False."
    ),
    solution='''
def extract(fetch_page, store, sink) -> None:
    state = store.load()
    after = state["after"] if state else None
    while True:
        page = fetch_page(after)
        sink(page["data"])                 # 1) escribir en el destino
        if page["data"]:
            after = page["data"][-1]["id"]
            store.save({"after": after})   # 2) y solo entonces, avanzar el checkpoint
        if not page["has_more"]:
            return

q4.check(extract)
''',
)
