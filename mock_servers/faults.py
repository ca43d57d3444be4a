"""Fault injection for the lab HTTP app, WireMock-style: by header, by rule, at random.

Three ways to make a request fail, checked in this order:

1. **Per request, by header** — the client sends ``X-Mock-Fault`` with a spec
   in the grammar below; only that request is affected.
2. **Rules** (counted scenarios and permanent faults) — added in Python with
   :meth:`FaultController.add` or over ``POST /__admin/faults``. A rule matches
   by path glob, optional method and optional caller key; ``times=2`` means
   "the next 2 matching requests fail, then the rule is spent" (``None`` = for
   ever, e.g. a silent page-size cap). Rules with a ``key`` touch only that
   caller, so learners in a classroom do not disturb each other.
3. **Probabilistic rules** — a rule with ``probability < 1`` fires on a draw
   from a generator seeded by (lab seed, rule id, caller): the same run of
   requests always sees the same failures, whatever other learners do.

Fault spec grammar (header value, rule ``fault`` string)::

    spec    := item (";" item)*          (commas also separate items)
    item    := "status=" 400..599        answer this status, problem+json body
             | "retry_after=" seconds    add Retry-After to that answer (0..86400)
             | "delay=" seconds          wait first, on the lab clock (0..300)
             | "truncate=" bytes         cut the body to that many bytes
             | "malformed"               send invalid JSON (single quotes)
             | "cap=" n                  silently return at most n records per page

Example: ``X-Mock-Fault: status=503;retry_after=2``. A malformed spec is the
client's mistake: the app answers 400 problem+json and names the bad item.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: paramiko is heavy and the proxy optional
    from .proxy_faults import SocketFaults
    from .sftp.faults import SFTPFaults

__all__ = ["FaultController", "FaultRule", "FaultSpec", "FaultSpecError", "parse_fault_spec"]

#: Longest delay a spec may ask for, in lab seconds: long enough for any lesson,
#: short enough that a typo on a real clock does not hang a classroom.
MAX_DELAY = 300.0
#: Longest Retry-After a spec may announce (one day), as real servers rarely exceed it.
MAX_RETRY_AFTER = 86_400.0


class FaultSpecError(ValueError):
    """A fault spec that does not follow the grammar; the message is for the learner."""


@dataclass(frozen=True)
class FaultSpec:
    """What to do to one request. Every field left at its default means "no change"."""

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    truncate: int | None = None
    malformed: bool = False
    cap: int | None = None

    def __str__(self) -> str:
        """The spec back in header grammar (what the journal shows)."""
        parts: list[str] = []
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.retry_after is not None:
            parts.append(f"retry_after={_num(self.retry_after)}")
        if self.delay:
            parts.append(f"delay={_num(self.delay)}")
        if self.truncate is not None:
            parts.append(f"truncate={self.truncate}")
        if self.malformed:
            parts.append("malformed")
        if self.cap is not None:
            parts.append(f"cap={self.cap}")
        return ";".join(parts)

    @property
    def rewrites_body(self) -> bool:
        """Whether the response body must be buffered and altered."""
        return self.truncate is not None or self.malformed


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(key: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise FaultSpecError(f"'{key}' necesita un número, recibió '{raw}'") from None
    if not low <= value <= high:  # also rejects nan and inf
        raise FaultSpecError(f"'{key}' debe estar entre {_num(low)} y {_num(high)}; recibió {raw}")
    return value


def _integer(key: str, raw: str, low: int, high: int) -> int:
    if not raw.strip().isdigit():
        raise FaultSpecError(f"'{key}' necesita un entero, recibió '{raw}'")
    value = int(raw)
    if not low <= value <= high:
        raise FaultSpecError(f"'{key}' debe estar entre {low} y {high}; recibió {raw}")
    return value


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse ``"status=503;retry_after=2"`` into a :class:`FaultSpec`.

    Raises :class:`FaultSpecError` (Spanish message) on unknown items, bad
    numbers, duplicates or an empty spec.
    """
    items = [part.strip() for part in text.replace(",", ";").split(";")]
    items = [item for item in items if item]
    if not items:
        raise FaultSpecError(
            "la especificación de fallo está vacía; ejemplo: 'status=503;retry_after=2'"
        )
    fields: dict[str, Any] = {}
    for item in items:
        key, sep, raw = (s.strip() for s in item.partition("="))
        key = key.lower()
        if key in fields:
            raise FaultSpecError(f"'{key}' aparece dos veces en la especificación de fallo")
        if key == "malformed" and not sep:
            fields[key] = True
        elif not sep or key == "malformed":
            raise FaultSpecError(
                f"elemento de fallo desconocido o mal escrito: '{item}'. Válidos: status=, "
                "retry_after=, delay=, truncate=, malformed, cap="
            )
        elif key == "status":
            fields[key] = _integer(key, raw, 400, 599)
        elif key == "retry_after":
            fields[key] = _number(key, raw, 0.0, MAX_RETRY_AFTER)
        elif key == "delay":
            fields[key] = _number(key, raw, 0.0, MAX_DELAY)
        elif key == "truncate":
            fields[key] = _integer(key, raw, 0, 10**9)
        elif key == "cap":
            fields[key] = _integer(key, raw, 1, 10**6)
        else:
            raise FaultSpecError(
                f"elemento de fallo desconocido: '{key}'. Válidos: status=, retry_after=, "
                "delay=, truncate=, malformed, cap="
            )
    if "retry_after" in fields and "status" not in fields:
        raise FaultSpecError(
            "'retry_after' solo tiene sentido junto a 'status' (p. ej. status=503)"
        )
    return FaultSpec(**fields)


@dataclass(frozen=True)
class FaultRule:
    """One rule: which requests (path glob, method, key) get which fault, how often.

    ``remaining`` counts the injections left (``None`` = unlimited); ``fired``
    how many requests it has affected so far.
    """

    id: int
    fault: FaultSpec
    path: str = "*"
    method: str | None = None
    key: str | None = None
    remaining: int | None = None
    probability: float = 1.0
    fired: int = 0

    def matches(self, method: str, path: str, key: str | None) -> bool:
        """Whether this rule applies to the request, ignoring count and chance."""
        if self.method is not None and self.method != method:
            return False
        if self.key is not None and self.key != key:
            return False
        return fnmatch.fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view, as the admin API returns it."""
        return {
            "id": self.id,
            "fault": str(self.fault),
            "path": self.path,
            "method": self.method,
            "key": self.key,
            "remaining": self.remaining,
            "probability": self.probability,
            "fired": self.fired,
        }


class FaultController:
    """Decides, per request, which fault (if any) to inject. Thread-safe.

    The same operations exist over HTTP under ``/__admin/faults``.

    >>> faults = FaultController(seed=42)
    >>> rule = faults.add("status=503", path="/api/v1/orders", times=2)
    >>> [str(faults.resolve("GET", "/api/v1/orders", None)) for _ in range(3)]
    ['status=503', 'status=503', 'None']
    """

    def __init__(self, seed: int | None = None) -> None:
        #: Seed of the probabilistic rules; the lab state sets it from its settings.
        self.seed = seed
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rngs: dict[tuple[int, str | None], random.Random] = {}
        self._lock = threading.Lock()
        #: Socket-level faults of the TCP fault proxy, when the lab runs one.
        self.socket: SocketFaults | None = None
        #: Faults of the SFTP server, when the lab runs one.
        self.sftp: SFTPFaults | None = None

    def add(
        self,
        fault: str | FaultSpec,
        *,
        path: str = "*",
        method: str | None = None,
        key: str | None = None,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> FaultRule:
        """Inject ``fault`` into the next ``times`` matching requests (``None`` = always).

        ``path`` is a glob (``/api/v1/orders`` exact, ``/api/v1/*`` prefix);
        ``key`` limits the rule to one caller (API key or OAuth2 client id);
        ``probability`` makes it fire at random, seeded, among matching requests.
        """
        spec = parse_fault_spec(fault) if isinstance(fault, str) else fault
        if times is not None and times < 1:
            raise FaultSpecError("'times' debe ser al menos 1 (o None para siempre)")
        if not 0.0 < probability <= 1.0:
            raise FaultSpecError("'probability' debe estar en (0, 1]")
        if not path.startswith(("/", "*")):
            raise FaultSpecError("'path' debe empezar por '/' o '*', p. ej. '/api/v1/orders'")
        with self._lock:
            rule = FaultRule(
                id=next(self._ids),
                fault=spec,
                path=path,
                method=method.upper() if method else None,
                key=key,
                remaining=times,
                probability=probability,
            )
            self._rules.append(rule)
            return rule

    def rules(self) -> list[FaultRule]:
        """The rules still active, oldest first."""
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        """Drop one rule; returns whether it existed."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) < before

    def clear(self) -> None:
        """Drop every rule (the seed and the rule ids keep counting)."""
        with self._lock:
            self._rules.clear()
            self._rngs.clear()

    def reset(self) -> None:
        """Back to a fresh controller with the same seed: no rules, ids from 1.

        Also clears the socket-proxy and SFTP faults hung on it, if any.
        """
        with self._lock:
            self._rules.clear()
            self._rngs.clear()
            self._ids = itertools.count(1)
        if self.socket is not None:
            self.socket.clear()
        if self.sftp is not None:
            self.sftp.reset()

    def resolve(
        self, method: str, path: str, key: str | None, header: str | None = None
    ) -> FaultSpec | None:
        """The fault for this request: the header's, else the first rule that fires.

        Consumes one use of the rule that fires. Raises :class:`FaultSpecError`
        if ``header`` is malformed.
        """
        if header is not None:
            return parse_fault_spec(header)
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path, key):
                    continue
                if rule.probability < 1.0 and self._rng(rule.id, key).random() >= rule.probability:
                    continue
                remaining = None if rule.remaining is None else rule.remaining - 1
                if remaining == 0:
                    del self._rules[index]
                else:
                    self._rules[index] = replace(rule, remaining=remaining, fired=rule.fired + 1)
                return rule.fault
        return None

    def _rng(self, rule_id: int, key: str | None) -> random.Random:
        # One generator per (rule, caller): a learner's draws do not depend on
        # how many requests the rest of the classroom made.
        rng = self._rngs.get((rule_id, key))
        if rng is None:
            rng = random.Random(f"{self.seed}:{rule_id}:{key}")
            self._rngs[(rule_id, key)] = rng
        return rng

    def __repr__(self) -> str:
        return f"FaultController(seed={self.seed}, rules={len(self.rules())})"
