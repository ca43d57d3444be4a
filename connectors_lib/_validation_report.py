"""What every validator returns: :class:`ValidationReport`, its rows, and the error it raises.

Private module: import these names from :mod:`connectors_lib.validation` or the
package. The report lives apart from the validators so that the record,
DataFrame, quarantine and drift modules can all build it (or an
:class:`InvalidRecord`) without importing one another.

Also the vocabulary they share: the ``Record`` / ``Reasons`` / ``Mode`` type
aliases, :data:`RECORD_LEVEL` and :func:`freeze_reasons`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from connectors_lib.errors import ValidationError

if TYPE_CHECKING:  # pandas is only needed by validate_dataframe, which imports it itself
    import pandas as pd

__all__ = [
    "RECORD_LEVEL",
    "Counts",
    "InvalidRecord",
    "InvalidRecordError",
    "Mode",
    "Reasons",
    "Record",
    "ValidationReport",
    "freeze_reasons",
]

Record = Mapping[str, Any]
Reasons = Mapping[str, tuple[str, ...]]
Mode = Literal["fail_late", "fail_fast"]

#: Key under which errors that belong to no single field are reported.
RECORD_LEVEL = "__registro__"


def freeze_reasons(reasons: Mapping[str, Sequence[str]]) -> Reasons:
    """The validator's field → messages, with the message lists turned into tuples.

    The report is frozen; tuples keep a caller from appending to its reasons.
    """
    return {name: tuple(messages) for name, messages in reasons.items()}


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
        """Field → number of invalid records that failed on it, most frequent first.

        Nested paths count under their top-level field (``items.0.quantity`` is
        ``items``), and a record counts once per field however many messages it has.
        Ties keep the order in which the fields first failed, so the order is
        the same on every run.
        """
        counter: Counter[str] = Counter()
        for bad in self.invalid:
            # dict.fromkeys, not a set: set order follows the per-process string
            # hash, which made summary() differ between runs
            counter.update(list(dict.fromkeys(name.split(".", 1)[0] for name in bad.reasons)))
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
    """Records that do not match the schema; ``invalid`` is the first, ``report`` all of them.

    ``report`` is ``None`` in fail-fast mode, which stops before there is one.
    """

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
