"""connectors_lib.validation on the lab's seeded data: the broken records are found, exactly.

The seed-42 shop breaks 7 orders and 2 customers on purpose
(``BROKEN_ORDERS``, ``BROKEN_CUSTOMERS``); every validator must find exactly
those, say why per field, and quarantine them without losing a line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa
import pytest
from cerberus import Validator
from pydantic import BaseModel, Field

from connectors_lib.errors import ConnectorError, ValidationError
from connectors_lib.validation import (
    CerberusValidator,
    Counts,
    InvalidRecordError,
    PydanticValidator,
    SchemaDriftError,
    SchemaDriftWarning,
    ValidationReport,
    detect_drift,
    read_quarantine,
    validate_dataframe,
    validate_records,
)
from mock_servers.data import (
    BROKEN_CUSTOMERS,
    BROKEN_ORDERS,
    COUNTRIES,
    ORDER_STATUSES,
    Dataset,
)

ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"

#: The published order schema, in cerberus terms.
ORDER_SCHEMA: dict[str, Any] = {
    "id": {"type": "integer", "required": True, "min": 1},
    "order_number": {"type": "string", "required": True, "regex": r"PED-\d{6}"},
    "customer_id": {"type": "integer", "required": True},
    "country": {"type": "string", "required": True, "allowed": sorted(COUNTRIES)},
    "currency": {"type": "string", "required": True, "regex": "[A-Z]{3}"},
    "status": {"type": "string", "required": True, "allowed": list(ORDER_STATUSES)},
    "total": {"type": "number", "required": True, "min": 0},
    "items": {
        "type": "list", "required": True, "minlength": 1,
        "schema": {"type": "dict", "schema": {
            "product_id": {"type": "integer", "required": True},
            "sku": {"type": "string", "required": True},
            "quantity": {"type": "integer", "required": True, "min": 1},
            "unit_price": {"type": "number", "required": True, "min": 0},
        }},
    },
    "created_at": {"type": "string", "required": True, "regex": ISO[1:-1]},
    "updated_at": {"type": "string", "required": True, "regex": ISO[1:-1]},
}

#: Which field each broken order must be blamed on.
BROKEN_FIELD = {57: "total", 142: "status", 333: "customer_id", 518: "currency",
                777: "created_at", 901: "items.0.quantity", 1024: "total"}


class Item(BaseModel):
    product_id: int
    sku: str
    quantity: int = Field(ge=1)
    unit_price: float = Field(ge=0)


class Order(BaseModel):
    id: int = Field(ge=1)
    order_number: str = Field(pattern=r"^PED-\d{6}$")
    customer_id: int
    country: Literal["AR", "BO", "BR", "CL", "CO", "CR", "EC", "MX", "PE", "PY", "UY"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    status: Literal["pending", "paid", "shipped", "delivered", "cancelled"]
    total: float = Field(ge=0, strict=True)
    items: list[Item] = Field(min_length=1)
    created_at: str = Field(pattern=ISO)
    updated_at: str = Field(pattern=ISO)


@pytest.fixture(scope="module")
def cerberus_report(seeded_dataset: Dataset) -> ValidationReport:
    """The orders validated once with cerberus (the slowest validator, ~0.7 s)."""
    return validate_records(seeded_dataset.orders, ORDER_SCHEMA)


# -- records: cerberus and pydantic ---------------------------------------------------------------


def test_cerberus_finds_exactly_the_broken_orders(cerberus_report: ValidationReport) -> None:
    """Every order in BROKEN_ORDERS and no other is invalid, blamed on the right field."""
    assert cerberus_report.invalid_ids() == sorted(BROKEN_ORDERS)
    assert cerberus_report.counts == Counts(1200, 1193, 7)
    blamed = {bad.record_id: set(bad.reasons) for bad in cerberus_report.invalid}
    assert blamed == {oid: {name} for oid, name in BROKEN_FIELD.items()}
    assert all(isinstance(record, dict) for record in cerberus_report.valid)


def test_summary_is_spanish_and_stable(cerberus_report: ValidationReport) -> None:
    """The summary counts, gives the share with a decimal comma and ranks the failing fields."""
    assert cerberus_report.summary() == (
        "Validación (cerberus): 1200 registros, 1193 válidos, 7 inválidos (0,6 %).\n"
        "Campos con errores: total (2), status (1), customer_id (1), currency (1), "
        "created_at (1), items (1)."
    )
    assert not cerberus_report.ok


def test_pydantic_at_the_boundary_yields_models(seeded_dataset: Dataset) -> None:
    """A pydantic model finds the same orders and returns the valid ones as Order instances."""
    report = validate_records(seeded_dataset.orders, Order)
    assert report.invalid_ids() == sorted(BROKEN_ORDERS)
    assert report.validator == "pydantic"
    assert all(isinstance(order, Order) for order in report.valid)
    assert set(report.invalid[-1].reasons) == {"total"}  # '1.234,50' is not a number
    assert "items.0.quantity" in report.invalid[5].reasons


@pytest.mark.parametrize(
    ("allow_unknown", "invalid_positions"),
    [(True, [17]), (False, list(range(60)))],
    ids=["allow_unknown", "strict"],
)
def test_original_lesson_catalogue_schema(
    seeded_dataset: Dataset, allow_unknown: bool, invalid_positions: list[int]
) -> None:
    """The lesson's cerberus schema on /entries: only HTTPS='yes' fails unless unknowns count."""
    schema = {
        "API": {"type": "string", "required": True},
        "Description": {"type": "string", "nullable": True},
        "HTTPS": {"type": "boolean"},
    }
    report = validate_records(seeded_dataset.entries, schema, allow_unknown=allow_unknown)
    assert [bad.index for bad in report.invalid] == invalid_positions
    if not allow_unknown:
        assert {"Auth", "Cors", "Link", "Category"} <= set(report.invalid[0].reasons)


def test_custom_cerberus_rules_are_supported() -> None:
    """A Validator subclass with a _validate_<rule> method plugs in through validator_class."""

    class EvenValidator(Validator):  # type: ignore[misc]
        def _validate_is_even(self, is_even: bool, field: str, value: int) -> None:
            """{'type': 'boolean'}"""
            if is_even and value % 2:
                self._error(field, "debe ser par")

    validator = CerberusValidator({"count": {"type": "integer", "is_even": True}},
                                  validator_class=EvenValidator)
    report = validate_records([{"count": 2}, {"count": 3}], validator)
    assert report.invalid_ids() == [1]
    assert report.invalid[0].reasons == {"count": ("debe ser par",)}


def test_coercing_schema_returns_normalized_records() -> None:
    """With a coerce rule, valid records come back normalized (and verdicts are unchanged)."""
    schema = {"n": {"type": "integer", "coerce": int}}
    report = validate_records([{"n": "7"}, {"n": "siete"}], schema)
    assert report.valid == ({"n": 7},)
    assert report.invalid_ids() == [1]


@pytest.mark.parametrize("record", [None, 5, "texto", ["a"]])
def test_non_objects_are_invalid_not_crashes(record: Any) -> None:
    """A record that is not a JSON object is reported at record level, with cerberus."""
    report = validate_records([record, {"a": 1}], {"a": {"type": "integer"}})
    assert report.invalid_ids() == [0]
    assert set(report.invalid[0].reasons) == {"__registro__"}
    assert report.invalid[0].record == {"__valor__": record}  # kept for the quarantine


# -- fail fast vs fail late -----------------------------------------------------------------------


def test_fail_fast_stops_at_the_first_and_writes_nothing(
    seeded_dataset: Dataset, tmp_path: Path
) -> None:
    """mode='fail_fast' raises InvalidRecordError for order 57 and leaves no quarantine file."""
    target = tmp_path / "q" / "orders.jsonl"
    with pytest.raises(InvalidRecordError, match="id=57") as info:
        validate_records(seeded_dataset.orders, Order, mode="fail_fast", quarantine=target)
    assert isinstance(info.value, ValidationError)
    assert isinstance(info.value, ConnectorError)
    assert info.value.invalid is not None
    assert info.value.invalid.record_id == 57
    assert not target.exists()


def test_raise_if_invalid_fails_late_with_the_report(cerberus_report: ValidationReport) -> None:
    """raise_if_invalid raises at the end, carrying the full report; a clean report passes."""
    with pytest.raises(InvalidRecordError, match="7 inválidos") as info:
        cerberus_report.raise_if_invalid()
    assert info.value.report is cerberus_report
    validate_records([{"a": 1}], {"a": {"type": "integer"}}).raise_if_invalid()


# -- quarantine -----------------------------------------------------------------------------------


def test_quarantine_is_json_lines_utf8_and_appends(
    seeded_dataset: Dataset, tmp_path: Path
) -> None:
    """Broken customers go to a JSON-lines file (accents kept); a second run appends."""
    schema = {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string", "regex": r"[^@\s]+@[^@\s]+\.[a-z]+"},
        "country": {"type": "string", "allowed": sorted(COUNTRIES)},
        "city": {"type": "string"},
        "segment": {"type": "string"},
        "created_at": {"type": "string", "regex": ISO[1:-1]},
    }
    target = tmp_path / "nuevo" / "dir" / "clientes.jsonl"
    report = validate_records(seeded_dataset.customers, schema, quarantine=target)
    assert report.invalid_ids() == sorted(BROKEN_CUSTOMERS)
    assert report.quarantine_path == target
    assert "Cuarentena: 2 registros en clientes.jsonl" in report.summary()
    raw = target.read_bytes().decode("utf-8")
    assert raw.endswith("\n")
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [line["record"]["id"] for line in lines] == sorted(BROKEN_CUSTOMERS)
    assert set(lines[0]) == {"index", "record", "reasons", "validator"}
    assert lines[0]["reasons"] == {"email": [
        "value does not match regex '[^@\\s]+@[^@\\s]+\\.[a-z]+'"]}
    names = [line["record"]["name"] for line in lines]
    assert all(name in raw for name in names)  # ensure_ascii=False: "García", not "Garc\\u00eda"
    validate_records(seeded_dataset.customers, schema, quarantine=target)
    assert len(read_quarantine(target)) == 4
    clean = validate_records(seeded_dataset.customers[:5], schema, quarantine=tmp_path / "x.jsonl")
    assert clean.quarantine_path is None
    assert not (tmp_path / "x.jsonl").exists()  # nothing to quarantine, no empty file


def test_read_quarantine_skips_a_line_cut_by_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A last line without its newline (the process died mid-write) is ignored, with a warning."""
    target = tmp_path / "q.jsonl"
    validate_records([{"a": "x"}, {"a": "y"}], {"a": {"type": "integer"}}, quarantine=target)
    with target.open("a", encoding="utf-8") as handle:
        handle.write('{"index": 2, "record": {"a": "z"')
    entries = read_quarantine(target)
    assert [entry["record"]["a"] for entry in entries] == ["x", "y"]
    assert "incompleta" in caplog.text


# -- DataFrames (pandera) -------------------------------------------------------------------------


def _orders_frame(dataset: Dataset) -> pd.DataFrame:
    cols = ["id", "customer_id", "currency", "status", "total", "created_at"]
    rows = [{**{c: o.get(c) for c in cols},
             "min_quantity": min(item["quantity"] for item in o["items"])}
            for o in dataset.orders]
    return pd.DataFrame(rows).set_index("id", drop=False)


ORDERS_FRAME_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(int, pa.Check.ge(1), unique=True),
        "customer_id": pa.Column("Int64", nullable=False, coerce=True),
        "currency": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$"), nullable=False),
        "status": pa.Column(str, pa.Check.isin(list(ORDER_STATUSES))),
        # Text like '1.234,50' becomes NaN, so not_nullable flags it per row.
        "total": pa.Column(float, pa.Check.ge(0), nullable=False,
                           parsers=pa.Parser(lambda s: pd.to_numeric(s, errors="coerce"))),
        "created_at": pa.Column(str, pa.Check.str_matches(ISO)),
        "min_quantity": pa.Column(int, pa.Check.ge(1)),
    },
    strict=True,
)


def test_pandera_lazy_collects_every_failing_row(
    seeded_dataset: Dataset, tmp_path: Path
) -> None:
    """All 7 broken orders are reported at once (lazy=True); the frame keeps the 1193 others."""
    target = tmp_path / "df.jsonl"
    report = validate_dataframe(_orders_frame(seeded_dataset), ORDERS_FRAME_SCHEMA,
                                quarantine=target)
    assert report.invalid_ids() == sorted(BROKEN_ORDERS)
    assert report.schema_errors == ()
    assert report.frame is not None
    assert len(report.frame) == 1193
    assert report.counts == Counts(1200, 1193, 7)
    lines = read_quarantine(target)
    assert lines[2]["record"]["customer_id"] is None  # NaN written as null, valid JSON
    assert lines[0]["index"] == 57


def test_pandera_schema_level_errors_are_not_lost(seeded_dataset: Dataset) -> None:
    """A missing column is a schema error (no row), and fail_fast raises on it."""
    frame = _orders_frame(seeded_dataset).drop(columns=["status"])
    report = validate_dataframe(frame, ORDERS_FRAME_SCHEMA)
    assert any("status" in error for error in report.schema_errors)
    assert not report.ok
    with pytest.raises(InvalidRecordError, match="errores de esquema"):
        validate_dataframe(frame, ORDERS_FRAME_SCHEMA, mode="fail_fast")


def test_pandera_model_class_works_too() -> None:
    """A DataFrameModel class validates like a schema object; a clean frame is ok."""

    class Prices(pa.DataFrameModel):
        price: float = pa.Field(ge=0)

    clean = validate_dataframe(pd.DataFrame({"price": [1.0, 2.5]}), Prices)
    assert clean.ok
    assert clean.counts == Counts(2, 2, 0)
    dirty = validate_dataframe(pd.DataFrame({"price": [1.0, -2.5]}), Prices)
    assert dirty.invalid_ids() == [1]


# -- schema drift ---------------------------------------------------------------------------------


def test_seeded_orders_drift_only_where_broken_on_purpose(seeded_dataset: Dataset) -> None:
    """Against the declared schema, only 518 (no currency), 333 (null) and 1024 (text) drift."""
    with pytest.warns(SchemaDriftWarning, match="Deriva de esquema en 3 de 1200"):
        report = detect_drift(ORDER_SCHEMA, seeded_dataset.orders)
    assert dict(report.missing_fields) == {"currency": (1, report.missing_fields["currency"][1])}
    assert report.missing_fields["currency"].example["id"] == 518
    assert {k: (v.declared, v.observed, v.example["id"]) for k, v in report.type_changes.items()} \
        == {"customer_id": ("integer", "null", 333), "total": ("number", "string", 1024)}
    assert report.new_fields == {}
    assert len(report.clean) == 1197


def _drifted_feed() -> list[dict[str, Any]]:
    """Three records: one clean, one with a new field, one with a type change; none has 'score'."""
    return [
        {"id": 1, "name": "Ana", "price": 10},
        {"id": 2, "name": "Beto", "price": 2.5, "discount": 0.1},
        {"id": 3, "name": "Caro", "price": "3,5"},
    ]


DECLARED = {"id": int, "name": "string", "price": {"type": "float"}, "score": "integer"}


def test_drift_report_names_fields_and_offending_records() -> None:
    """New, missing and retyped fields each come with their count and first offending record."""
    with pytest.warns(SchemaDriftWarning):
        report = detect_drift(DECLARED, _drifted_feed())
    assert report.new_fields["discount"].example["id"] == 2
    assert report.missing_fields["score"].occurrences == 3
    assert report.type_changes["price"] == ("float", "string", _drifted_feed()[2], 1)
    assert report.clean == ()
    assert report.summary().splitlines() == [
        "Deriva de esquema en 3 de 3 registros:",
        "  + campo nuevo 'discount': 1 registros, p. ej. id=2",
        "  - falta el campo 'score': 3 registros (en todos), p. ej. id=1",
        "  ~ 'price' declarado float, llega string: 1 registros, p. ej. id=3",
    ]


def test_drift_policy_fail_raises_a_spanish_validation_error() -> None:
    """policy='fail' raises SchemaDriftError (a ValidationError) that says what to do."""
    with pytest.raises(SchemaDriftError, match="nueva versión del esquema") as info:
        detect_drift(DECLARED, _drifted_feed(), policy="fail")
    assert isinstance(info.value, ValidationError)
    assert "discount" in str(info.value)
    assert info.value.report.has_drift


def test_drift_policy_quarantine_moves_drifted_records(tmp_path: Path) -> None:
    """policy='quarantine' writes only the drifted records and returns the clean ones."""
    declared = {"id": int, "name": "string", "price": {"type": "float"}}
    target = tmp_path / "deriva.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # quarantine must not also warn
        report = detect_drift(declared, _drifted_feed(), policy="quarantine", quarantine=target)
    assert [r["id"] for r in report.clean] == [1]
    assert report.quarantine_path == target
    entries = read_quarantine(target)
    assert [(e["record"]["id"], sorted(e["reasons"])) for e in entries] == [
        (2, ["discount"]), (3, ["price"])]


@pytest.mark.parametrize(
    ("declared", "record"),
    [
        ({"n": {"type": "float"}}, {"n": 10}),                          # JSON drops the .0
        ({"n": {"type": "number"}}, {"n": 1.5}),
        ({"n": {"type": "integer", "nullable": True}}, {"n": None}),
        ({"n": {"type": ["integer", "string"]}}, {"n": "x"}),
        ({"n": bool}, {"n": False}),
        ({"n": "array"}, {"n": [1, 2]}),                                # JSON Schema names
        ({"n": "object"}, {"n": {"a": 1}}),
    ],
)
def test_compatible_values_are_not_drift(declared: dict[str, Any], record: dict[str, Any]) -> None:
    """Ints for floats, nulls where nullable and union types raise no warning under any policy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = detect_drift(declared, [record], policy="fail")
    assert not report.has_drift
    assert report.summary() == "Sin deriva de esquema en 1 registros."


@pytest.mark.parametrize(
    ("declared", "record", "observed"),
    [
        ({"n": "integer"}, {"n": True}, "boolean"),   # bool is not an integer in JSON
        ({"n": "integer"}, {"n": None}, "null"),
        ({"n": "string"}, {"n": [1]}, "list"),
        ({"n": "array"}, {"n": {"a": 1}}, "dict"),
    ],
)
def test_incompatible_values_are_drift(
    declared: dict[str, Any], record: dict[str, Any], observed: str
) -> None:
    """A boolean for an integer, a null where not nullable, a list for a string are drift."""
    with pytest.raises(SchemaDriftError):
        detect_drift(declared, [record], policy="fail")
    with pytest.warns(SchemaDriftWarning):
        report = detect_drift(declared, [record])
    assert report.type_changes["n"].observed == observed


def test_bad_arguments_are_refused() -> None:
    """Unknown modes and policies, or quarantine without a path, raise ValueError in Spanish."""
    with pytest.raises(ValueError, match="mode"):
        validate_records([], {}, mode="fail_sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="policy"):
        detect_drift({}, [], policy="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quarantine"):
        detect_drift({}, [], policy="quarantine")


def test_pydantic_validator_repr_and_type_adapter_types() -> None:
    """PydanticValidator accepts plain types too (TypeAdapter), e.g. dict[str, int]."""
    validator = PydanticValidator(dict[str, int])
    report = validate_records([{"a": 1}, {"a": "x"}], validator)
    assert report.invalid_ids() == [1]
    assert report.invalid[0].reasons == {
        "a": ("Input should be a valid integer, unable to parse string as an integer",)}


# -- import cost ----------------------------------------------------------------------------------


def test_importing_validation_loads_no_heavy_dependency() -> None:
    """import connectors_lib.validation loads neither pandas, pandera, cerberus nor pydantic."""
    code = (
        "import sys, connectors_lib.validation\n"
        "heavy = {'pandas', 'pandera', 'cerberus', 'pydantic'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_repeated_index_labels_on_a_failing_row_are_refused_not_garbled() -> None:
    """A failing row whose index label repeats raises a Spanish ValueError (rows would be lost)."""
    schema = pa.DataFrameSchema({"v": pa.Column(float, pa.Check.ge(0))})
    with pytest.raises(ValueError, match="reset_index"):
        validate_dataframe(pd.DataFrame({"v": [1.0, -2.0, 3.0]}, index=[0, 0, 1]), schema)
    clean = validate_dataframe(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=[0, 0, 1]), schema)
    assert clean.counts.invalid == 0


def test_dataframe_mode_typo_is_refused() -> None:
    """A misspelt mode raises instead of silently failing late."""
    schema = pa.DataFrameSchema({"v": pa.Column(float)})
    with pytest.raises(ValueError, match="mode"):
        validate_dataframe(pd.DataFrame({"v": [1.0]}), schema, mode="fail-fast")  # type: ignore[arg-type]


def test_summary_order_does_not_depend_on_the_hash_seed() -> None:
    """A record failing on several fields is summarised in the same order in every process."""
    code = (
        "from connectors_lib.validation import validate_records\n"
        "schema = {n: {'type': 'integer'} for n in ('a', 'b', 'c', 'd', 'e', 'f')}\n"
        "rec = {n: 'x' for n in ('f', 'c', 'a', 'e', 'b', 'd')}\n"
        "print(validate_records([rec], schema).summary())\n"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
