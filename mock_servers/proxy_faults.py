"""What the fault proxy can do to a connection, and the controller that schedules it.

The kinds follow `toxiproxy <https://github.com/Shopify/toxiproxy>`_, applied to
the *response* direction (server to client), one HTTP request at a time:

============ ======================================================= ===========
kind         effect on the request it hits                            parameters
============ ======================================================= ===========
reset        TCP reset (RST) after reading the request head           —
empty        close cleanly (FIN) without any reply                    —
garbage      send bytes that are not HTTP, then close                 —
hang         never answer; close after ``ms`` (0 = never)             ms >= 0
latency      the response starts ``ms`` milliseconds late             ms > 0
bandwidth    the response flows at ``kbps`` kilobytes (1000 B) a sec  kbps > 0
limit_data   pass ``bytes`` bytes of the response, then close         bytes >= 0
down         the proxy stops listening: new connections are refused   —
============ ======================================================= ===========

``reset``, ``empty``, ``garbage`` and ``hang`` are *terminal*: the request never
reaches the upstream server. ``limit_data`` is the opposite lesson: the server
did the work (maybe a ``POST``), only the reply was lost.

Two ways to ask for a fault:

* **By rule**, from Python: ``faults.add("reset", count=2)`` hits the next two
  requests, then traffic is normal again; without ``count`` the rule stays
  until :meth:`SocketFaults.remove` or :meth:`SocketFaults.clear`. Every
  matching rule applies, so ``latency`` and ``bandwidth`` stack.
* **By header**, from the client: ``X-Mock-Socket-Fault: latency;ms=200`` (the
  text form of :class:`SocketFault`, see :func:`parse_fault_header`). A header
  wins over the rules (which are then not consumed) and is removed before the
  request is forwarded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple, cast, get_args

__all__ = [
    "FAULT_HEADER",
    "TERMINAL_KINDS",
    "SocketFault",
    "SocketFaultKind",
    "SocketFaultRule",
    "SocketFaults",
    "parse_fault_header",
]

SocketFaultKind = Literal[
    "reset", "empty", "garbage", "hang", "latency", "bandwidth", "limit_data", "down"
]
_KINDS: tuple[str, ...] = get_args(SocketFaultKind)

#: The request header that selects a fault for that one request.
FAULT_HEADER = "X-Mock-Socket-Fault"

#: Faults after which the request is not forwarded and no response comes back.
TERMINAL_KINDS: frozenset[str] = frozenset({"reset", "empty", "garbage", "hang"})

_KINDS_TEXT = ", ".join(_KINDS)


@dataclass(frozen=True)
class SocketFault:
    """One fault with its parameters; build it with :meth:`make` to validate.

    ``str(fault)`` is the header form, e.g. ``"latency;ms=200"``, so a fault
    printed by a lesson can be pasted into ``X-Mock-Socket-Fault``.
    """

    kind: SocketFaultKind
    #: ``latency``: delay before the response; ``hang``: close after (0 = never).
    ms: float = 0.0
    #: ``bandwidth``: kilobytes (1000 bytes) per second, like toxiproxy's ``rate``.
    kbps: float = 0.0
    #: ``limit_data``: response bytes let through before closing.
    limit_bytes: int | None = None

    @classmethod
    def make(
        cls,
        kind: str,
        *,
        ms: float | None = None,
        kbps: float | None = None,
        limit_bytes: int | None = None,
    ) -> SocketFault:
        """Validate ``kind`` and its parameters; :class:`ValueError` in Spanish if wrong."""
        if kind not in _KINDS:
            raise ValueError(f"fallo de socket desconocido {kind!r}; usa uno de: {_KINDS_TEXT}")
        given = {"ms": ms, "kbps": kbps, "bytes": limit_bytes}
        wanted = {"latency": "ms", "hang": "ms", "bandwidth": "kbps", "limit_data": "bytes"}
        own = wanted.get(kind)
        extra = sorted(name for name, value in given.items() if value is not None and name != own)
        if extra:
            raise ValueError(
                f"el fallo {kind!r} no admite {', '.join(extra)}; "
                f"{'solo admite ' + own if own else 'no lleva parámetros'}"
            )
        if kind == "latency" and not (ms is not None and ms > 0):
            raise ValueError("latency necesita ms > 0, por ejemplo add('latency', ms=200)")
        if kind == "hang" and ms is not None and ms < 0:
            raise ValueError("hang admite ms >= 0 (0 = no cerrar nunca)")
        if kind == "bandwidth" and not (kbps is not None and kbps > 0):
            raise ValueError("bandwidth necesita kbps > 0, por ejemplo add('bandwidth', kbps=10)")
        if kind == "limit_data" and not (limit_bytes is not None and limit_bytes >= 0):
            raise ValueError(
                "limit_data necesita bytes >= 0, por ejemplo add('limit_data', bytes=100)"
            )
        return cls(
            kind=cast(SocketFaultKind, kind),
            ms=float(ms or 0.0),
            kbps=float(kbps or 0.0),
            limit_bytes=limit_bytes,
        )

    @property
    def terminal(self) -> bool:
        """True if the request is not forwarded (see :data:`TERMINAL_KINDS`)."""
        return self.kind in TERMINAL_KINDS

    def __str__(self) -> str:
        if self.kind in ("latency", "hang") and self.ms:
            return f"{self.kind};ms={self.ms:g}"
        if self.kind == "bandwidth":
            return f"bandwidth;kbps={self.kbps:g}"
        if self.kind == "limit_data":
            return f"limit_data;bytes={self.limit_bytes}"
        return self.kind


def parse_fault_header(value: str) -> SocketFault:
    """Parse ``kind[;name=value...]`` (the :data:`FAULT_HEADER` syntax).

    Examples: ``reset``, ``hang;ms=500``, ``latency; ms=200``,
    ``bandwidth;kbps=5``, ``limit_data;bytes=100``. ``down`` is refused: a
    request that arrived was, by definition, not refused.
    """
    kind, *params = (part.strip() for part in value.split(";"))
    kind = kind.lower()
    if kind == "down":
        raise ValueError(
            "'down' no se puede pedir por cabecera (la conexión ya fue aceptada); "
            "usa faults.add('down') desde Python"
        )
    numbers: dict[str, float] = {}
    for param in params:
        name, sep, raw = param.partition("=")
        name = name.strip().lower()
        if not sep or name not in ("ms", "kbps", "bytes") or name in numbers:
            raise ValueError(
                f"parámetro no válido {param!r} en {FAULT_HEADER}; "
                "usa por ejemplo 'latency;ms=200', 'bandwidth;kbps=5' o 'limit_data;bytes=100'"
            )
        try:
            numbers[name] = float(raw) if name != "bytes" else int(raw)
        except ValueError:
            raise ValueError(f"{name}={raw.strip()!r} no es un número en {FAULT_HEADER}") from None
    limit = numbers.get("bytes")
    return SocketFault.make(
        kind,
        ms=numbers.get("ms"),
        kbps=numbers.get("kbps"),
        limit_bytes=None if limit is None else int(limit),
    )


class SocketFaultRule(NamedTuple):
    """A scheduled fault as seen from outside: a snapshot, not a live handle."""

    #: Identifier to pass to :meth:`SocketFaults.remove`.
    id: int
    fault: SocketFault
    #: Requests still to hit; ``None`` means until removed.
    remaining: int | None


class SocketFaults:
    """The proxy's fault schedule: rules added from Python, consumed per request.

    Thread-safe: a lesson adds rules while the proxy's connection threads take
    them. ``on_change`` is called (outside the lock) after every change, so the
    proxy can react to ``down`` at once.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[SocketFaultRule] = []
        self._next_id = 1
        self._on_change = on_change

    def add(
        self,
        kind: SocketFaultKind,
        *,
        count: int | None = None,
        ms: float | None = None,
        kbps: float | None = None,
        bytes: int | None = None,  # toxiproxy's name for limit_data's parameter
    ) -> SocketFaultRule:
        """Schedule a fault for the next ``count`` requests (``None``: until removed).

        ``add("down")`` closes the listening socket until the rule is removed or
        :meth:`clear` is called; it has no ``count`` because refused
        connections never reach the proxy to be counted.
        """
        fault = SocketFault.make(kind, ms=ms, kbps=kbps, limit_bytes=bytes)
        if count is not None and (isinstance(count, bool) or count < 1):
            raise ValueError("count debe ser un entero >= 1, o None para un fallo permanente")
        if kind == "down" and count is not None:
            raise ValueError(
                "'down' no admite count: las conexiones rechazadas no llegan al proxy; "
                "quítalo con faults.remove(rule.id) o faults.clear()"
            )
        with self._lock:
            rule = SocketFaultRule(self._next_id, fault, count)
            self._next_id += 1
            self._rules.append(rule)
        self._changed()
        return rule

    def remove(self, rule_id: int) -> bool:
        """Remove one rule; ``False`` if it was already gone (used up or removed)."""
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            removed = len(self._rules) != before
        if removed:
            self._changed()
        return removed

    def clear(self) -> None:
        """Remove every rule, ``down`` included: traffic flows normally again."""
        with self._lock:
            self._rules.clear()
        self._changed()

    @property
    def rules(self) -> tuple[SocketFaultRule, ...]:
        """The rules still active, in the order they were added."""
        with self._lock:
            return tuple(self._rules)

    @property
    def down(self) -> bool:
        """True while a ``down`` rule is active."""
        with self._lock:
            return any(rule.fault.kind == "down" for rule in self._rules)

    def take(self) -> tuple[SocketFault, ...]:
        """The faults for one request, consuming one use of each counted rule.

        Called by the proxy once per request (once per connection for traffic
        that is not HTTP). ``down`` is a listener state, never returned here.
        """
        taken: list[SocketFault] = []
        kept: list[SocketFaultRule] = []
        with self._lock:
            for rule in self._rules:
                if rule.fault.kind == "down":
                    kept.append(rule)
                    continue
                taken.append(rule.fault)
                if rule.remaining is None:
                    kept.append(rule)
                elif rule.remaining > 1:
                    kept.append(rule._replace(remaining=rule.remaining - 1))
            self._rules = kept
        return tuple(taken)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{rule.fault}" + ("" if rule.remaining is None else f" x{rule.remaining}")
            for rule in self.rules
        )
        return f"SocketFaults([{shown}])"
