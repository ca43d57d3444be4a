"""Resolver-level faults: make chosen fields fail, so a response carries partial ``data``.

A fault names a *path*: the response keys from the root, list indices left
out, joined by dots (``customer.orders``, ``customers.edges.node.orders``).
Every field at that path raises a GraphQL error with ``extensions.code``
(``INTERNAL_SERVER_ERROR`` unless told otherwise); GraphQL then puts ``null``
there (or in the nearest nullable parent) and the error's ``path`` says where.

Two ways to ask for one:

* per request, header ``X-Mock-GraphQL-Fault: error_path=customer.orders``
  (several paths comma-separated; optional ``; code=SERVICE_UNAVAILABLE``);
* from Python, :meth:`GraphQLFaults.add` (optionally for the next ``times``
  requests only: "fail twice, then succeed").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

__all__ = ["FAULT_HEADER", "FaultRule", "GraphQLFaults", "parse_fault_header"]

FAULT_HEADER = "X-Mock-GraphQL-Fault"
_PATH = re.compile(r"[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)*")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


@dataclass
class FaultRule:
    """Fail every field at ``path`` with ``code``; ``times`` requests left (None: forever)."""

    path: str
    code: str = "INTERNAL_SERVER_ERROR"
    message: str | None = None
    times: int | None = None

    def error_message(self) -> str:
        return self.message or (
            f"fallo simulado al resolver '{self.path}' ({self.code}): el resto de la respuesta "
            "es válido; reintenta o sigue con los datos parciales"
        )


def parse_fault_header(value: str) -> list[FaultRule]:
    """Rules from ``error_path=a.b,c.d; code=X``; ``ValueError`` (Spanish hint) if malformed."""
    params: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, raw = part.strip().partition("=")
        if not sep or name.strip() not in ("error_path", "code"):
            raise ValueError(
                f"{FAULT_HEADER} mal formada: usa 'error_path=customer.orders' "
                "(y opcionalmente '; code=SERVICE_UNAVAILABLE')"
            )
        params[name.strip()] = raw.strip()
    code = params.get("code", "INTERNAL_SERVER_ERROR")
    paths = [p.strip() for p in params.get("error_path", "").split(",") if p.strip()]
    if not paths or not all(_PATH.fullmatch(p) for p in paths) or not _CODE.fullmatch(code):
        raise ValueError(
            f"{FAULT_HEADER}: error_path son nombres de campo separados por puntos "
            "(customer.orders) y code va en MAYÚSCULAS (SERVICE_UNAVAILABLE)"
        )
    return [FaultRule(p, code) for p in paths]


@dataclass
class GraphQLFaults:
    """The Python-side fault rules of one GraphQL server (thread-safe)."""

    _rules: list[FaultRule] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def add(self, path: str, *, code: str = "INTERNAL_SERVER_ERROR", message: str | None = None,
            times: int | None = None) -> FaultRule:
        """Make ``path`` fail (in the next ``times`` requests that reach it, or always)."""
        if not _PATH.fullmatch(path) or not _CODE.fullmatch(code):
            raise ValueError("path es 'campo.campo' (p. ej. 'customer.orders'); code en MAYÚSCULAS")
        if times is not None and times < 1:
            raise ValueError("times debe ser al menos 1 (o None para siempre)")
        rule = FaultRule(path, code, message, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def spend(self, fired: set[int]) -> None:
        """Count one use of each counted rule that fired in a request; drop the spent ones."""
        with self._lock:
            for rule in self._rules:
                if id(rule) in fired and rule.times is not None:
                    rule.times -= 1
            self._rules = [r for r in self._rules if r.times is None or r.times > 0]


def middleware(rules: list[FaultRule], fired: set[int]) -> Callable[..., Any]:
    """A graphql-core middleware that raises at the paths of ``rules``; notes which fired."""
    by_path: dict[str, FaultRule] = {}
    for rule in rules:
        by_path.setdefault(rule.path, rule)

    def inject(
        next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any
    ) -> Any:
        path = ".".join(str(k) for k in info.path.as_list() if isinstance(k, str))
        rule = by_path.get(path)
        if rule is not None:
            fired.add(id(rule))
            raise GraphQLError(rule.error_message(), extensions={"code": rule.code})
        return next_(root, info, **args)

    return inject
