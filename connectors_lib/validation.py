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

This module holds the record validators and :func:`validate_records`, and is
the public surface; the other parts live in private modules, one concept
each, and their public names are re-exported here:

* ``_validation_report``: :class:`ValidationReport`, :class:`InvalidRecord`,
  :class:`Counts`, :class:`InvalidRecordError`;
* ``_validation_quarantine``: :class:`QuarantineWriter`, :func:`read_quarantine`;
* ``_validation_frames``: :func:`validate_dataframe` (pandera);
* ``_validation_drift``: :func:`detect_drift`, :class:`DriftReport`,
  :class:`FieldDrift`, :class:`TypeChange`, :class:`SchemaDriftWarning`,
  :class:`SchemaDriftError`.

cerberus, pydantic, pandas and pandera are imported inside the functions that
use them: ``import connectors_lib`` must stay fast (pandera alone costs ~0.5 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from connectors_lib._validation_drift import (
    DriftReport,
    FieldDrift,
    SchemaDriftError,
    SchemaDriftWarning,
    TypeChange,
    detect_drift,
)
from connectors_lib._validation_frames import validate_dataframe
from connectors_lib._validation_quarantine import (
    QuarantineWriter,
    read_quarantine,
    write_quarantine,
)
from connectors_lib._validation_report import (
    RECORD_LEVEL,
    Counts,
    InvalidRecord,
    InvalidRecordError,
    Mode,
    Record,
    ValidationReport,
    freeze_reasons,
)

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
        """See :meth:`RecordValidator.check`; a non-object is rejected at record level."""
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
        """See :meth:`RecordValidator.check`; the value kept is the parsed one."""
        from pydantic import ValidationError as PydanticError  # lazy: see the module docstring

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


# --- records ------------------------------------------------------------------------------------


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
        bad = InvalidRecord(index, kept, freeze_reasons(reasons))
        if mode == "fail_fast":
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in bad.reasons.items())
            raise InvalidRecordError(
                f"Registro inválido (posición {index}, id={bad.record_id!r}): {detail}. "
                "Modo fail_fast: se detuvo en el primero. Corrige el origen o usa "
                "mode='fail_late' con quarantine=... para apartar los inválidos y seguir.",
                invalid=bad,
            )
        invalid.append(bad)
    path = write_quarantine(invalid, quarantine, validator.name) if quarantine and invalid else None
    return ValidationReport(validator.name, tuple(valid), tuple(invalid), quarantine_path=path)
