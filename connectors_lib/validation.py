"""Validation at the boundary: records, models, DataFrames; a report; quarantine; schema drift.

Three validators, one report:

* **cerberus** for records described by a dict schema (the original lesson's
  tool): :class:`CerberusValidator`, or just pass the dict;
* **pydantic** for typed models at the boundary: :class:`PydanticValidator`, or
  pass the model class (the valid side then holds model instances);
* **pandera** for DataFrames: :func:`validate_dataframe` runs the schema with
  ``lazy=True`` so *every* failing row is reported, not just the first.

:func:`validate_records` returns a :class:`ValidationReport` (valid records,
invalid ones with the reasons per field, counts, a Spanish ``summary()``).
Fail fast or fail late is the caller's choice (``mode``): fail fast raises
:class:`InvalidRecordError` at the first bad record; fail late keeps going and
can move the bad ones to a **quarantine** file instead of failing.

The quarantine file is JSON lines (UTF-8, one object per line: ``index``,
``record``, ``reasons``, ``validator``). Each line goes out in a single write
followed by a flush, and the file is fsynced before the report is returned, so
a crash leaves at most one incomplete last line, which :func:`read_quarantine`
recognises and skips.

:func:`detect_drift` compares the fields a schema declares with the fields the
records carry (new, missing, type changed), shows an offending record for
each, and applies a policy: ``"warn"`` (a :class:`SchemaDriftWarning`),
``"quarantine"`` (drifted records to the file, the rest go on) or ``"fail"``
(:class:`SchemaDriftError`).

cerberus, pydantic, pandas and pandera are imported inside the functions that
use them: ``import connectors_lib`` must stay fast (pandera alone costs ~0.5 s).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

from .errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CerberusValidator",
    "Counts",
    "DriftReport",
    "FieldDrift",
    "InvalidRecord",
    "InvalidRecordError",
    "PydanticValidator",
    "QuarantineWriter",
    "RecordValidator",
    "SchemaDriftError",
    "SchemaDriftWarning",
    "TypeChange",
    "ValidationReport",
    "as_validator",
    "detect_drift",
    "read_quarantine",
    "validate_dataframe",
    "validate_records",
]

logger = logging.getLogger(__name__)

Record = Mapping[str, Any]
Reasons = Mapping[str, tuple[str, ...]]
Mode = Literal["fail_late", "fail_fast"]
DriftPolicy = Literal["warn", "quarantine", "fail"]

#: Key under which errors that belong to no single field are reported.
RECORD_LEVEL = "__registro__"


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidRecord:
    """One record that failed: where it was, what it held, and why, field by field.

    ``index`` is its position in the input (the row label for DataFrames);
    ``reasons`` maps a field (dotted for nested ones: ``items.0.quantity``) to
    the validator's messages.
    """

    index: Any
    record: Record
    reasons: Reasons

    @property
    def record_id(self) -> Any:
        """The record's ``id`` field if it has one, else its index (for messages)."""
        return self.record.get("id", self.index)


class Counts(NamedTuple):
    """How many records were checked, passed and failed."""

    total: int
    valid: int
    invalid: int


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """The outcome of validating a batch: nothing is dropped silently.

    ``valid`` holds what passed (records; model instances with pydantic);
    ``frame`` the valid rows as a DataFrame (pandera only); ``schema_errors``
    failures that belong to no row (a missing column, a wrong dtype).
    """

    validator: str
    valid: tuple[Any, ...]
    invalid: tuple[InvalidRecord, ...]
    quarantine_path: Path | None = None
    schema_errors: tuple[str, ...] = ()
    frame: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def counts(self) -> Counts:
        """Totals: ``Counts(total, valid, invalid)``."""
        valid = len(self.valid) if self.frame is None else len(self.frame)
        return Counts(valid + len(self.invalid), valid, len(self.invalid))

    @property
    def ok(self) -> bool:
        """True when every record passed and the schema itself matched."""
        return not self.invalid and not self.schema_errors

    def invalid_ids(self, key: str = "id") -> list[Any]:
        """The ``key`` field of every invalid record (its index when it has none)."""
        return [bad.record.get(key, bad.index) for bad in self.invalid]

    def errors_by_field(self) -> dict[str, int]:
        """Field → number of invalid records that failed on it, most frequent first."""
        counter: Counter[str] = Counter()
        for bad in self.invalid:
            counter.update({name.split(".", 1)[0] for name in bad.reasons})
        return dict(counter.most_common())

    def summary(self) -> str:
        """A short Spanish summary, stable across runs (no absolute paths, no times)."""
        total, valid, invalid = self.counts
        share = f"{100 * invalid / total:.1f}".replace(".", ",") if total else "0,0"
        lines = [
            f"Validación ({self.validator}): {total} registros, {valid} válidos, "
            f"{invalid} inválidos ({share} %)."
        ]
        if self.invalid:
            fields = ", ".join(f"{name} ({n})" for name, n in self.errors_by_field().items())
            lines.append(f"Campos con errores: {fields}.")
        for error in self.schema_errors:
            lines.append(f"Error de esquema: {error}")
        if self.quarantine_path is not None:
            lines.append(
                f"Cuarentena: {invalid} registros en {self.quarantine_path.name} (JSON lines)."
            )
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        """Raise :class:`InvalidRecordError` (fail late, at the end) if anything failed."""
        if self.ok:
            return
        first = self.invalid[0] if self.invalid else None
        raise InvalidRecordError(
            self.summary() + "\nCorrige el origen o revisa la cuarentena antes de cargar.",
            invalid=first,
            report=self,
        )


class InvalidRecordError(ValidationError):
    """Records that do not match the schema; ``invalid`` is the first, ``report`` all of them."""

    def __init__(
        self,
        message: str,
        *,
        invalid: InvalidRecord | None = None,
        report: ValidationReport | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.invalid = invalid
        self.report = report


# --- validators ---------------------------------------------------------------------------------


@runtime_checkable
class RecordValidator(Protocol):
    """What :func:`validate_records` needs: a name and a per-record check."""

    name: str

    def check(self, record: Record) -> tuple[Any, dict[str, list[str]]]:
        """``(value, {})`` if the record passes (value: what to keep), else ``(None, reasons)``."""
        ...


def _flatten(errors: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Flatten cerberus's nested errors (``{'items': [{0: [{'quantity': [..]}]}]}``) to paths."""
    flat: dict[str, list[str]] = {}

    def walk(path: str, node: Any) -> None:
        if isinstance(node, str):
            flat.setdefault(path or RECORD_LEVEL, []).append(node)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{path}.{key}" if path else str(key), value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(path, value)

    walk(prefix, errors)
    return flat


#: Cerberus rules that change the document (normalization) rather than check it.
_NORMALIZATION_RULES = frozenset({
    "coerce", "default", "default_setter", "rename", "rename_handler", "purge_unknown",
    "purge_readonly",
})


def _uses_normalization(schema: Any) -> bool:
    """True if any rule, at any depth of a cerberus schema, normalizes the document."""
    if isinstance(schema, Mapping):
        return any(
            key in _NORMALIZATION_RULES or _uses_normalization(value)
            for key, value in schema.items()
        )
    if isinstance(schema, list | tuple):
        return any(_uses_normalization(item) for item in schema)
    return False


class CerberusValidator:
    """Records against a cerberus schema (a dict), the original lesson's way.

    ``allow_unknown=False`` (default) reports fields the schema does not name;
    ``True`` lets them through, as the lesson does for the public-APIs catalogue.
    ``validator_class`` takes a :class:`cerberus.Validator` subclass with custom
    rules (``_validate_is_even``...). Not thread-safe: one instance per thread.
    When the schema normalizes (``coerce``, ``default``...), the valid side of
    the report holds the normalized documents; otherwise the records as given.
    """

    name = "cerberus"

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        allow_unknown: bool = False,
        require_all: bool = False,
        validator_class: type[Any] | None = None,
    ) -> None:
        from cerberus import Validator  # lazy: see the module docstring

        cls = validator_class or Validator
        self.schema = dict(schema)
        self._validator = cls(self.schema, allow_unknown=allow_unknown, require_all=require_all)
        # Normalization (coerce, default, rename...) is most of cerberus's cost: ~6x
        # slower per record. Skip it when the schema asks for none, same verdicts.
        self.normalize = _uses_normalization(self.schema)

    def check(self, record: Record) -> tuple[Any, dict[str, list[str]]]:
        candidate: object = record  # JSON input may hold anything, whatever the type says
        if not isinstance(candidate, Mapping):
            return None, {RECORD_LEVEL: [f"no es un objeto JSON sino {type(candidate).__name__}"]}
        if self._validator.validate(dict(candidate), normalize=self.normalize):
            return (self._validator.document if self.normalize else record), {}
        return None, _flatten(self._validator.errors)

    def __repr__(self) -> str:
        return f"CerberusValidator(campos={sorted(self.schema)})"


class PydanticValidator:
    """Records against a pydantic model or any type a :class:`pydantic.TypeAdapter` accepts.

    The valid side of the report then holds the parsed values (model
    instances), which is the point of validating at the boundary.
    """

    name = "pydantic"

    def __init__(self, model: Any) -> None:
        from pydantic import TypeAdapter  # lazy: see the module docstring

        self.model = model
        self._adapter: Any = TypeAdapter(model)

    def check(self, record: Record) -> tuple[Any, dict[str, list[str]]]:
        from pydantic import ValidationError as PydanticError

        try:
            return self._adapter.validate_python(record), {}
        except PydanticError as exc:
            reasons: dict[str, list[str]] = {}
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or RECORD_LEVEL
                reasons.setdefault(where, []).append(str(error["msg"]))
            return None, reasons

    def __repr__(self) -> str:
        return f"PydanticValidator({getattr(self.model, '__name__', self.model)!r})"


def as_validator(schema: Any, *, allow_unknown: bool = False) -> RecordValidator:
    """A dict is a cerberus schema; a validator is used as is; anything else goes to pydantic."""
    if isinstance(schema, RecordValidator):
        return schema
    if isinstance(schema, Mapping):
        return CerberusValidator(schema, allow_unknown=allow_unknown)
    return PydanticValidator(schema)


# --- quarantine ---------------------------------------------------------------------------------


class QuarantineWriter:
    """Append invalid records to a JSON-lines file, one complete line per write.

    The directory is created if needed. Each line is written in one call and
    flushed; :meth:`close` fsyncs, so once it returns the lines are on disk.
    Values JSON cannot encode (dates, decimals) are written as text.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", newline="\n")
        self.written = 0

    def write(self, bad: InvalidRecord, *, validator: str) -> None:
        line = json.dumps(
            {
                "index": bad.index,
                "record": dict(bad.record),
                "reasons": {k: list(v) for k, v in bad.reasons.items()},
                "validator": validator,
            },
            ensure_ascii=False,
            default=_json_default,
        )
        self._file.write(line + "\n")  # one write per line: a crash cuts at most the last one
        self._file.flush()
        self.written += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    """numpy scalars as Python numbers, dates as ISO 8601, anything else as text."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_quarantine(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The quarantined entries of ``path``; an unfinished last line (a crash) is skipped."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1]:
        logger.warning("la última línea de %s está incompleta y se ignora", Path(path).name)
    return [json.loads(line) for line in lines[:-1] if line]


def _quarantine(
    bad: Sequence[InvalidRecord], path: str | os.PathLike[str], validator: str
) -> Path:
    with QuarantineWriter(path) as writer:
        for item in bad:
            writer.write(item, validator=validator)
    return writer.path


# --- records ------------------------------------------------------------------------------------


def _freeze(reasons: Mapping[str, Sequence[str]]) -> Reasons:
    return {name: tuple(messages) for name, messages in reasons.items()}


def validate_records(
    records: Iterable[Record],
    schema: Any,
    *,
    mode: Mode = "fail_late",
    quarantine: str | os.PathLike[str] | None = None,
    allow_unknown: bool = False,
) -> ValidationReport:
    """Validate every record against ``schema`` and report; never drop one silently.

    ``schema``: a cerberus dict, a pydantic model/type, or a
    :class:`RecordValidator`. ``mode="fail_late"`` (default) checks them all and
    returns the report (bad ones appended to ``quarantine`` if a path is given);
    ``mode="fail_fast"`` raises :class:`InvalidRecordError` at the first bad
    record, before anything is written. No file is created when nothing is
    invalid (``quarantine_path`` stays ``None``). ``allow_unknown`` applies to
    dict schemas.
    """
    if mode not in ("fail_late", "fail_fast"):
        raise ValueError("mode debe ser 'fail_late' o 'fail_fast'")
    validator = as_validator(schema, allow_unknown=allow_unknown)
    valid: list[Any] = []
    invalid: list[InvalidRecord] = []
    for index, record in enumerate(records):
        value, reasons = validator.check(record)
        if not reasons:
            valid.append(value)
            continue
        kept = record if isinstance(record, Mapping) else {"__valor__": record}
        bad = InvalidRecord(index, kept, _freeze(reasons))
        if mode == "fail_fast":
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in bad.reasons.items())
            raise InvalidRecordError(
                f"Registro inválido (posición {index}, id={bad.record_id!r}): {detail}. "
                "Modo fail_fast: se detuvo en el primero. Corrige el origen o usa "
                "mode='fail_late' con quarantine=... para apartar los inválidos y seguir.",
                invalid=bad,
            )
        invalid.append(bad)
    path = _quarantine(invalid, quarantine, validator.name) if quarantine and invalid else None
    return ValidationReport(validator.name, tuple(valid), tuple(invalid), quarantine_path=path)


# --- DataFrames ---------------------------------------------------------------------------------


def validate_dataframe(
    frame: pd.DataFrame,
    schema: Any,
    *,
    mode: Mode = "fail_late",
    quarantine: str | os.PathLike[str] | None = None,
) -> ValidationReport:
    """Validate a DataFrame with a pandera schema (``DataFrameSchema`` or ``DataFrameModel``).

    Runs ``schema.validate(frame, lazy=True)`` so every failure is collected.
    Failing rows become :class:`InvalidRecord` (``index`` = row label); failures
    that belong to no row (missing column, wrong dtype) go to ``schema_errors``.
    ``report.frame`` holds the rows that passed (coerced by the schema when they
    all pass). ``mode="fail_fast"`` raises :class:`InvalidRecordError` instead.
    """
    from pandera.errors import SchemaErrors  # lazy: pandera costs ~0.5 s to import

    try:
        checked = schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return ValidationReport("pandera", (), (), frame=checked)
    per_row: dict[Any, dict[str, list[str]]] = {}
    schema_errors: list[str] = []
    for case in cases.to_dict("records"):
        column = case.get("column")
        column = RECORD_LEVEL if not isinstance(column, str) else column
        message = f"{case.get('check')}: {case.get('failure_case')!r}"
        index = case.get("index")
        if index is None or index != index:  # None or NaN: not tied to a row
            schema_errors.append(f"{column}: {message}")
        else:
            per_row.setdefault(index, {}).setdefault(column, []).append(message)
    invalid = tuple(  # in the frame's row order, like the records version
        InvalidRecord(_scalar(index), _row(frame, index), _freeze(per_row[index]))
        for index in dict.fromkeys(frame.index)
        if index in per_row
    )
    if mode == "fail_fast" and (invalid or schema_errors):
        first = invalid[0] if invalid else None
        raise InvalidRecordError(
            f"El DataFrame no cumple el esquema: {len(invalid)} filas inválidas, "
            f"{len(schema_errors)} errores de esquema. Revisa report.invalid con "
            "mode='fail_late' o corrige el origen.",
            invalid=first,
        )
    path = _quarantine(invalid, quarantine, "pandera") if quarantine and invalid else None
    kept = frame.drop(index=[bad.index for bad in invalid])
    return ValidationReport(
        "pandera", (), invalid, quarantine_path=path, schema_errors=tuple(schema_errors),
        frame=kept,
    )


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON and ``==`` friendly)."""
    return value.item() if hasattr(value, "item") and callable(value.item) else value


def _row(frame: pd.DataFrame, index: Any) -> dict[str, Any]:
    """One row as a JSON-ready record: numpy scalars unwrapped, missing values as None."""
    import pandas as pd

    row: dict[str, Any] = {}
    for key, value in frame.loc[index].to_dict().items():
        missing = not isinstance(value, list | dict | tuple) and bool(pd.isna(value))
        row[str(key)] = None if missing else _scalar(value)
    return row


# --- schema drift -------------------------------------------------------------------------------

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
_PY_TO_NAME = {bool: "boolean", int: "integer", float: "float", str: "string", list: "list",
               dict: "dict"}


def _observed_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _declared(schema: Mapping[str, Any]) -> dict[str, tuple[frozenset[str], bool, str]]:
    """Field → (types it accepts, nullable, name as declared). Cerberus rules, names or types."""
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


class FieldDrift(NamedTuple):
    """A new or missing field: in how many records, and the first record where it shows."""

    occurrences: int
    example: Record


class TypeChange(NamedTuple):
    """A field whose values are not of the declared type."""

    declared: str
    observed: str
    example: Record
    occurrences: int


class SchemaDriftWarning(UserWarning):
    """Issued by :func:`detect_drift` with ``policy="warn"`` when the records drifted."""


@dataclass(frozen=True)
class DriftReport:
    """Declared vs observed fields. ``clean`` are the records without drift, in order.

    ``quarantine_path`` is set when ``policy="quarantine"`` wrote the drifted ones.
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
    field is not ``nullable``. Policies: ``"warn"`` issues a
    :class:`SchemaDriftWarning` and returns; ``"quarantine"`` needs
    ``quarantine=`` and writes the drifted records there; ``"fail"`` raises
    :class:`SchemaDriftError`. Without drift every policy just returns the report.
    """
    if policy not in ("warn", "quarantine", "fail"):
        raise ValueError("policy debe ser 'warn', 'quarantine' o 'fail'")
    if policy == "quarantine" and quarantine is None:
        raise ValueError("policy='quarantine' necesita quarantine=<ruta del fichero JSON lines>")
    fields = _declared(declared)
    new: dict[str, list[Any]] = {}
    missing: dict[str, list[Any]] = {}
    changed: dict[str, list[Any]] = {}
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
            drifted.append(InvalidRecord(index, record, _freeze(reasons)))
        else:
            clean.append(record)
    report = DriftReport(
        total=total,
        new_fields={k: FieldDrift(v[0], v[1]) for k, v in new.items()},
        missing_fields={k: FieldDrift(v[0], v[1]) for k, v in missing.items()},
        type_changes={k: TypeChange(v[2], v[3], v[1], v[0]) for k, v in changed.items()},
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
        path = _quarantine(report.drifted, quarantine, "deriva")
        return DriftReport(
            report.total, report.new_fields, report.missing_fields, report.type_changes,
            report.clean, report.drifted, quarantine_path=path,
        )
    warnings.warn(report.summary(), SchemaDriftWarning, stacklevel=2)
    return report


def _note(table: dict[str, list[Any]], name: str, record: Record, *extra: str) -> None:
    """Count one occurrence; keep the first record (and types) as the example."""
    entry = table.get(name)
    if entry is None:
        table[name] = [1, record, *extra]
    else:
        entry[0] += 1
