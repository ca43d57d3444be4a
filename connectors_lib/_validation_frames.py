"""DataFrames against a pandera schema: :func:`validate_dataframe`, every failing row reported.

Private module: import :func:`validate_dataframe` from
:mod:`connectors_lib.validation` or the package. pandas and pandera are
imported inside the functions (pandera alone costs ~0.5 s), so importing this
module loads neither.

pandera's ``lazy=True`` collects every failure in one table of "failure
cases"; this module turns that table into the same :class:`ValidationReport`
the record validators return: a row label with failures becomes an
:class:`InvalidRecord`, a failure with no row (a missing column, a wrong dtype)
a schema error.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from connectors_lib._validation_quarantine import write_quarantine
from connectors_lib._validation_report import (
    RECORD_LEVEL,
    InvalidRecord,
    InvalidRecordError,
    Mode,
    ValidationReport,
    freeze_reasons,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["validate_dataframe"]


def validate_dataframe(
    frame: pd.DataFrame,
    schema: Any,
    *,
    mode: Mode = "fail_late",
    quarantine: str | os.PathLike[str] | None = None,
) -> ValidationReport:
    """Validate a DataFrame with a pandera schema (``DataFrameSchema`` or ``DataFrameModel``).

    Runs ``schema.validate(frame, lazy=True)`` so every failure is collected.
    Failing rows become :class:`InvalidRecord` (``index`` = row label), in the
    frame's row order; failures that belong to no row (missing column, wrong
    dtype) go to ``schema_errors``. ``report.frame`` holds the rows that passed
    (coerced by the schema only when they all pass). The failing rows are
    appended to ``quarantine`` if a path is given; no file is created when no
    row fails. ``mode="fail_fast"`` raises :class:`InvalidRecordError` instead,
    before anything is written; any other ``mode`` raises :class:`ValueError`,
    and so does a failing row whose index label other rows share (the report
    could not tell them apart).
    """
    if mode not in ("fail_late", "fail_fast"):  # a typo must not silently mean fail_late
        raise ValueError("mode debe ser 'fail_late' o 'fail_fast'")
    from pandera.errors import SchemaErrors  # lazy: see the module docstring

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
    _refuse_ambiguous_labels(frame, per_row)
    invalid = tuple(  # in the frame's row order, like the records version
        InvalidRecord(_scalar(index), _row(frame, index), freeze_reasons(per_row[index]))
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
    path = write_quarantine(invalid, quarantine, "pandera") if quarantine and invalid else None
    kept = frame.drop(index=[bad.index for bad in invalid])
    return ValidationReport(
        "pandera", (), invalid, quarantine_path=path, schema_errors=tuple(schema_errors),
        frame=kept,
    )


def _refuse_ambiguous_labels(frame: pd.DataFrame, per_row: dict[Any, Any]) -> None:
    """Raise :class:`ValueError` if a failing row's label is shared by several rows.

    pandera names a failing row by its label only, so with a repeated label
    the report could neither show the bad row nor keep its valid namesakes:
    they would all vanish from ``report.frame`` without being reported.
    """
    repeated = [
        _scalar(label)
        for label in dict.fromkeys(frame.index[frame.index.duplicated()])
        if label in per_row
    ]
    if repeated:
        raise ValueError(
            f"Fallan filas con etiquetas de índice repetidas ({repeated[:5]!r}): no se sabe "
            "cuál de las filas con esa etiqueta es la inválida. Da al DataFrame un índice "
            "único (por ejemplo frame.reset_index(drop=True)) y vuelve a validar."
        )


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON and ``==`` friendly); anything else as is."""
    return value.item() if hasattr(value, "item") and callable(value.item) else value


def _row(frame: pd.DataFrame, index: Any) -> dict[str, Any]:
    """One row as a JSON-ready record: numpy scalars unwrapped, missing values as None."""
    import pandas as pd  # lazy: see the module docstring

    row: dict[str, Any] = {}
    for key, value in frame.loc[index].to_dict().items():
        # pd.isna of a list is an array, not a bool: containers are never "missing"
        missing = not isinstance(value, list | dict | tuple) and bool(pd.isna(value))
        row[str(key)] = None if missing else _scalar(value)
    return row
