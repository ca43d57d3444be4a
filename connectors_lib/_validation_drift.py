"""Schema drift: the fields a schema declares vs the fields the records carry.

Private module: import these names from :mod:`connectors_lib.validation` or
the package.

:func:`detect_drift` finds new, missing and retyped top-level fields, keeps
one offending record as the example of each finding, and applies a policy:
``"warn"`` (a :class:`SchemaDriftWarning`), ``"quarantine"`` (drifted records
to the file, the rest go on) or ``"fail"`` (:class:`SchemaDriftError`). It
compares shapes only, never values: that is the validators' job.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from connectors_lib._validation_quarantine import write_quarantine
from connectors_lib._validation_report import InvalidRecord, Record, freeze_reasons
from connectors_lib.errors import ValidationError

__all__ = [
    "DriftPolicy",
    "DriftReport",
    "FieldDrift",
    "SchemaDriftError",
    "SchemaDriftWarning",
    "TypeChange",
    "detect_drift",
]

DriftPolicy = Literal["warn", "quarantine", "fail"]

#: Python type of a JSON value → cerberus type name.
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is a subclass of int
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "list"),
    (dict, "dict"),
)
#: Declared type → observed types it accepts (JSON writes 10.0 as 10, so float takes integer).
_ACCEPTS: dict[str, frozenset[str]] = {
    "number": frozenset({"integer", "float"}),
    "float": frozenset({"integer", "float"}),
    "integer": frozenset({"integer"}),
    "boolean": frozenset({"boolean"}),
    "string": frozenset({"string"}),
    "list": frozenset({"list"}),
    "dict": frozenset({"dict"}),
    # JSON Schema / OpenAPI spellings of the same types
    "array": frozenset({"list"}),
    "object": frozenset({"dict"}),
}
#: A Python type given as the declared type → its cerberus name (``int`` → ``"integer"``).
_PY_TO_NAME = {bool: "boolean", int: "integer", float: "float", str: "string", list: "list",
               dict: "dict"}


class FieldDrift(NamedTuple):
    """A new or missing field: in how many records, and the first record where it shows."""

    occurrences: int
    example: Record


class TypeChange(NamedTuple):
    """A field whose values are not of the declared type (types as in the first example)."""

    declared: str
    observed: str
    example: Record
    occurrences: int


class SchemaDriftWarning(UserWarning):
    """Issued by :func:`detect_drift` with ``policy="warn"`` when the records drifted."""


@dataclass(frozen=True)
class DriftReport:
    """Declared vs observed fields. ``clean`` are the records without drift, in order.

    ``drifted`` holds the others, each with its reasons per field;
    ``quarantine_path`` is set when ``policy="quarantine"`` wrote them.
    """

    total: int
    new_fields: Mapping[str, FieldDrift]
    missing_fields: Mapping[str, FieldDrift]
    type_changes: Mapping[str, TypeChange]
    clean: tuple[Record, ...] = field(repr=False)
    drifted: tuple[InvalidRecord, ...] = field(repr=False)
    quarantine_path: Path | None = None

    @property
    def has_drift(self) -> bool:
        """True if any field is new, missing or of another type."""
        return bool(self.new_fields or self.missing_fields or self.type_changes)

    def summary(self) -> str:
        """What drifted, in Spanish, with one offending record id per finding."""
        if not self.has_drift:
            return f"Sin deriva de esquema en {self.total} registros."

        def where(drift: FieldDrift | TypeChange) -> str:
            ident = drift.example.get("id")
            every = " (en todos)" if drift.occurrences == self.total else ""
            shown = f", p. ej. id={ident!r}" if ident is not None else ""
            return f"{drift.occurrences} registros{every}{shown}"

        lines = [f"Deriva de esquema en {len(self.drifted)} de {self.total} registros:"]
        for name, drift in self.new_fields.items():
            lines.append(f"  + campo nuevo {name!r}: {where(drift)}")
        for name, drift in self.missing_fields.items():
            lines.append(f"  - falta el campo {name!r}: {where(drift)}")
        for name, change in self.type_changes.items():
            lines.append(
                f"  ~ {name!r} declarado {change.declared}, llega {change.observed}: "
                + where(change)
            )
        return "\n".join(lines)


class SchemaDriftError(ValidationError):
    """The records do not have the declared fields or types; ``report`` says which."""

    def __init__(self, message: str, *, report: DriftReport, **context: Any) -> None:
        super().__init__(message, **context)
        self.report = report


def detect_drift(
    declared: Mapping[str, Any],
    records: Iterable[Record],
    *,
    policy: DriftPolicy = "warn",
    quarantine: str | os.PathLike[str] | None = None,
) -> DriftReport:
    """Compare declared fields and types with what ``records`` carry (top level only).

    ``declared`` is a cerberus schema (``{"total": {"type": "number"}}``), or
    field → type name / Python type. A ``None`` value is drift only where the
    field is not ``nullable``; a field declared without a type accepts any
    value. Policies: ``"warn"`` issues a :class:`SchemaDriftWarning` and
    returns; ``"quarantine"`` needs ``quarantine=`` and appends the drifted
    records there; ``"fail"`` raises :class:`SchemaDriftError`. Without drift
    every policy just returns the report (and writes no file). A bad ``policy``
    raises :class:`ValueError` before any record is read.
    """
    if policy not in ("warn", "quarantine", "fail"):
        raise ValueError("policy debe ser 'warn', 'quarantine' o 'fail'")
    if policy == "quarantine" and quarantine is None:
        raise ValueError("policy='quarantine' necesita quarantine=<ruta del fichero JSON lines>")
    fields = _declared(declared)
    new: dict[str, _Tally] = {}
    missing: dict[str, _Tally] = {}
    changed: dict[str, _Tally] = {}
    clean: list[Record] = []
    drifted: list[InvalidRecord] = []
    total = 0
    for index, record in enumerate(records):
        total += 1
        reasons: dict[str, list[str]] = {}
        for name in record:
            if name not in fields:
                _note(new, name, record)
                reasons.setdefault(name, []).append("campo no declarado")
        for name, (accepted, nullable, declared_name) in fields.items():
            if name not in record:
                _note(missing, name, record)
                reasons.setdefault(name, []).append("campo declarado ausente")
                continue
            observed = _observed_type(record[name])
            if (observed == "null" and nullable) or not accepted or observed in accepted:
                continue
            _note(changed, name, record, declared_name, observed)
            reasons.setdefault(name, []).append(f"declarado {declared_name}, llega {observed}")
        if reasons:
            drifted.append(InvalidRecord(index, record, freeze_reasons(reasons)))
        else:
            clean.append(record)
    report = DriftReport(
        total=total,
        new_fields={k: FieldDrift(t.occurrences, t.example) for k, t in new.items()},
        missing_fields={k: FieldDrift(t.occurrences, t.example) for k, t in missing.items()},
        type_changes={
            k: TypeChange(t.declared, t.observed, t.example, t.occurrences)
            for k, t in changed.items()
        },
        clean=tuple(clean),
        drifted=tuple(drifted),
    )
    if not report.has_drift:
        return report
    if policy == "fail":
        raise SchemaDriftError(
            report.summary() + "\nSi el cambio es legítimo, publica una nueva versión del "
            "esquema declarado; si no, avisa al proveedor. Para seguir con los registros "
            "sanos usa policy='quarantine'.",
            report=report,
        )
    if policy == "quarantine":
        assert quarantine is not None  # checked above
        path = write_quarantine(report.drifted, quarantine, "deriva")
        return dataclasses.replace(report, quarantine_path=path)
    # stacklevel=2: the warning points at the caller's line, not at this module
    warnings.warn(report.summary(), SchemaDriftWarning, stacklevel=2)
    return report


def _observed_type(value: Any) -> str:
    """The cerberus name of a JSON value's type; ``"null"`` for None, else the class name."""
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _declared(schema: Mapping[str, Any]) -> dict[str, tuple[frozenset[str], bool, str]]:
    """Field → (types it accepts, nullable, name as declared). Cerberus rules, names or types.

    A field declared with no type accepts any type (an empty set). Names this
    module does not know (``"datetime"``) accept only themselves.
    """
    out: dict[str, tuple[frozenset[str], bool, str]] = {}
    for name, rule in schema.items():
        nullable = False
        if isinstance(rule, Mapping):
            declared = rule.get("type")
            nullable = bool(rule.get("nullable", False))
        else:
            declared = rule
        names = declared if isinstance(declared, list | tuple) else [declared]
        accepted: set[str] = set()
        shown: list[str] = []
        for item in names:
            if item is None:
                continue
            text = _PY_TO_NAME.get(item, item.__name__) if isinstance(item, type) else str(item)
            accepted |= _ACCEPTS.get(text, frozenset({text}))
            shown.append(text)
        out[str(name)] = (frozenset(accepted), nullable, "|".join(shown))
    return out


@dataclass
class _Tally:
    """One finding so far: how often it showed, and the first record (and types) it showed in."""

    example: Record
    declared: str = ""
    observed: str = ""
    occurrences: int = 1


def _note(
    table: dict[str, _Tally], name: str, record: Record, declared: str = "", observed: str = ""
) -> None:
    """Count one occurrence of ``name``; the first record (and types) stays as the example."""
    tally = table.get(name)
    if tally is None:
        table[name] = _Tally(record, declared, observed)
    else:
        tally.occurrences += 1
