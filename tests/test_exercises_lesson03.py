"""Lesson 03 exercises: each check accepts its reference solution and refuses typical mistakes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

import pandera.pandas as pa
import pytest
from exercise_support import run_solution
from pandera.typing import Series
from pydantic import AwareDatetime, BaseModel, Field

from connectors_lib.exercises.lesson03 import q1, q2, q3, q4

STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]

# --- q1: cerberus -----------------------------------------------------------------------------


def _reference_schema() -> dict[str, Any]:
    namespace, _ = run_solution(q1)
    return copy.deepcopy(namespace["order_schema"])


def _without_required(schema: dict[str, Any]) -> None:
    for rules in schema.values():
        rules.pop("required", None)


def _no_min_on_total(schema: dict[str, Any]) -> None:
    schema["total"].pop("min")


def _integer_total(schema: dict[str, Any]) -> None:
    schema["total"]["type"] = "integer"


def _no_items_schema(schema: dict[str, Any]) -> None:
    schema["items"].pop("schema")


def _no_date_regex(schema: dict[str, Any]) -> None:
    schema["created_at"].pop("regex")


def _nullable_customer(schema: dict[str, Any]) -> None:
    schema["customer_id"]["nullable"] = True


def _misspelt_rule(schema: dict[str, Any]) -> None:
    schema["status"]["allowed_values"] = schema["status"].pop("allowed")


_Q1_WRONG: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "nothing-required": (_without_required, "currency ausente"),
    "no-min-on-total": (_no_min_on_total, "total negativo"),
    "integer-total": (_integer_total, "rechazó el pedido válido 1"),
    "items-not-checked-inside": (_no_items_schema, "quantity 0"),
    "no-iso-regex": (_no_date_regex, "formato no ISO"),
    "customer-nullable": (_nullable_customer, "customer_id nulo"),
    "unknown-rule-name": (_misspelt_rule, "no acepta el esquema"),
}


@pytest.mark.parametrize("case", list(_Q1_WRONG), ids=list(_Q1_WRONG))
def test_q1_refuses_typical_mistakes(case: str) -> None:
    """Schemas missing `required`, using `float`, skipping nested items or dates fail."""
    change, clue = _Q1_WRONG[case]
    schema = _reference_schema()
    change(schema)
    verdict = q1.verify(schema)
    assert not verdict.ok
    assert clue in verdict.message


# --- q2: pydantic -----------------------------------------------------------------------------


class Item(BaseModel):
    product_id: int = Field(gt=0)
    sku: str
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)


class StatusAsText(BaseModel):
    id: int
    customer_id: int
    currency: str
    status: str
    total: float = Field(ge=0)
    items: list[Item]
    created_at: AwareDatetime


class OptionalCustomer(StatusAsText):
    customer_id: int | None  # type: ignore[assignment]
    status: Literal["pending", "paid", "shipped", "delivered", "cancelled"]


class NoRangeOnTotal(OptionalCustomer):
    customer_id: int
    total: float


class DatesAsText(OptionalCustomer):
    customer_id: int
    created_at: str  # type: ignore[assignment]


class NaiveDates(DatesAsText):
    created_at: datetime  # type: ignore[assignment]


class IntegerTotal(OptionalCustomer):
    customer_id: int
    total: int = Field(ge=0)


_Q2_WRONG: dict[str, tuple[Any, str]] = {
    "status-as-free-text": (StatusAsText, "UNKNOWN"),
    "customer-optional": (OptionalCustomer, "customer_id nulo"),
    "no-range-on-total": (NoRangeOnTotal, "total negativo"),
    "dates-left-as-text": (DatesAsText, "AwareDatetime"),
    "naive-datetime-accepted": (NaiveDates, "sin zona horaria"),
    "integer-total": (IntegerTotal, "rechazó el pedido válido 1"),
    "an-instance-not-the-class": (Item(product_id=1, sku="x", quantity=1, unit_price=1), "clase"),
}


@pytest.mark.parametrize("case", list(_Q2_WRONG), ids=list(_Q2_WRONG))
def test_q2_refuses_typical_mistakes(case: str) -> None:
    """Free-text status, optional customer, no ranges, text or naive dates are refused."""
    answer, clue = _Q2_WRONG[case]
    verdict = q2.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message


# --- q3: pandera -------------------------------------------------------------------------------


class _Lines(pa.DataFrameModel):
    order_id: Series[int] = pa.Field(gt=0)
    product_id: Series[int] = pa.Field(gt=0)
    quantity: Series[int] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(ge=0)
    line_total: Series[float] = pa.Field(ge=0)


class NoCompositeKey(_Lines):
    @pa.dataframe_check
    def line_total_matches(cls, df: Any) -> Any:  # type: ignore[misc]
        return (df["line_total"] - df["quantity"] * df["unit_price"]).abs() <= 0.01


class OrderIdAloneUnique(NoCompositeKey):
    order_id: Series[int] = pa.Field(gt=0, unique=True)


class NoCrossCheck(_Lines):
    class Config:
        unique: ClassVar[list[str]] = ["order_id", "product_id"]


class QuantityMayBeZero(NoCompositeKey):
    quantity: Series[int] = pa.Field(ge=0)

    class Config:
        unique: ClassVar[list[str]] = ["order_id", "product_id"]


class WrongColumnName(NoCrossCheck):
    amount: Series[float]


_Q3_WRONG: dict[str, tuple[Any, str]] = {
    "no-composite-key": (NoCompositeKey, "dos veces"),
    "order-id-alone-unique": (OrderIdAloneUnique, "varias líneas"),
    "no-cross-column-check": (NoCrossCheck, "quantity × unit_price"),
    "quantity-may-be-zero": (QuantityMayBeZero, "cantidad 0"),
    "column-that-does-not-exist": (WrongColumnName, "rechazó un DataFrame correcto"),
    "not-a-schema": ({"order_id": "int"}, "DataFrameModel"),
}


@pytest.mark.parametrize("case", list(_Q3_WRONG), ids=list(_Q3_WRONG))
def test_q3_refuses_typical_mistakes(case: str) -> None:
    """Missing or wrong keys, no cross-column check, loose ranges or wrong columns fail."""
    answer, clue = _Q3_WRONG[case]
    verdict = q3.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message


def test_q3_accepts_an_equivalent_dataframe_schema() -> None:
    """An object-style DataFrameSchema with the same checks passes too (either API is fine)."""
    schema = pa.DataFrameSchema(
        {
            "order_id": pa.Column(int, pa.Check.gt(0)),
            "product_id": pa.Column(int, pa.Check.gt(0)),
            "quantity": pa.Column(int, pa.Check.gt(0)),
            "unit_price": pa.Column(float, pa.Check.ge(0)),
            "line_total": pa.Column(float, pa.Check.ge(0)),
        },
        checks=pa.Check(
            lambda df: (df["line_total"] - df["quantity"] * df["unit_price"]).abs() <= 0.01
        ),
        unique=["order_id", "product_id"],
    )
    assert q3.verify(schema).ok


# --- q4: drift --------------------------------------------------------------------------------


def _json_type_naive(value: Any) -> str:
    for kind, name in ((type(None), "null"), (int, "integer"), (bool, "boolean"),
                       (float, "number"), (str, "string"), (list, "array")):
        if isinstance(value, kind):
            return name
    return "object"


def _make_drift(*, first_only: bool = False, naive_types: bool = False, strict_number: bool = False,
                nulls_count: bool = False) -> Callable[[dict[str, str], list[dict[str, Any]]], Any]:
    namespace, _ = run_solution(q4)
    json_type = _json_type_naive if naive_types else namespace["json_type"]

    def drift(declared: dict[str, str], records: list[dict[str, Any]]) -> dict[str, Any]:
        rows = records[:1] if first_only else records
        observed: dict[str, set[str]] = {}
        missing: set[str] = set()
        for record in rows:
            missing |= set(declared) - set(record)
            for field, value in record.items():
                observed.setdefault(field, set()).add(json_type(value))
        changed = {}
        for field, kinds in observed.items():
            if field in declared:
                ok = {declared[field]}
                if declared[field] == "number" and not strict_number:
                    ok.add("integer")
                if not nulls_count:
                    ok.add("null")
                if kinds - ok:
                    changed[field] = sorted(kinds - ok)
        return {"added": sorted(set(observed) - set(declared)), "missing": sorted(missing),
                "changed": changed}

    return drift


_Q4_WRONG: dict[str, tuple[Any, str]] = {
    "looks-at-the-first-record-only": (_make_drift(first_only=True), "versión 2"),
    "bool-taken-for-int": (_make_drift(naive_types=True), "'paid': ['integer']"),
    "int-is-not-a-number": (_make_drift(strict_number=True), "'total': ['integer']"),
    "null-counted-as-change": (_make_drift(nulls_count=True), "null"),
    "returns-a-list": (lambda declared, records: [], "devuelve un dict"),
}


@pytest.mark.parametrize("case", list(_Q4_WRONG), ids=list(_Q4_WRONG))
def test_q4_refuses_typical_mistakes(case: str) -> None:
    """Reading one record, bool-as-int, int-not-number or null-as-change are all caught."""
    answer, clue = _Q4_WRONG[case]
    verdict = q4.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message
