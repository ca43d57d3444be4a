"""Exercises of lesson 03 (schema validation).

* ``q1`` — a cerberus schema for an order that catches every kind of broken record.
* ``q2`` — a pydantic model for the same order, at the boundary.
* ``q3`` — a pandera schema for the order-lines DataFrame: composite key, cross-column check.
* ``q4`` — a schema-drift report: declared fields versus the fields that arrive.

The checkers carry their own small datasets (valid orders and one broken
variant per defect the lab seeds on purpose), so a verdict never depends on the
lab. Heavy libraries (cerberus, pydantic, pandas, pandera) are imported inside
the checkers: importing this module stays cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .core import Exercise, Verdict, fail, passed

__all__ = ["q1", "q2", "q3", "q4"]

Record = dict[str, Any]

# --- shared orders: valid ones, and one broken variant per seeded defect ----------------------

_VALID_ORDERS: tuple[Record, ...] = (
    {
        "id": 1, "order_number": "PED-000001", "customer_id": 144, "country": "BR",
        "currency": "BRL", "status": "pending", "total": 1236.55,
        "items": [
            {"product_id": 20, "sku": "SKU-0020", "quantity": 1, "unit_price": 446.05},
            {"product_id": 2, "sku": "SKU-0002", "quantity": 2, "unit_price": 51.7},
            {"product_id": 26, "sku": "SKU-0026", "quantity": 5, "unit_price": 59.0},
            {"product_id": 17, "sku": "SKU-0017", "quantity": 1, "unit_price": 392.1},
        ],
        "created_at": "2024-01-01T14:34:50Z", "updated_at": "2024-01-03T13:36:50Z",
    },
    {
        # a whole-number total arrives as a JSON integer: a valid number all the same
        "id": 2, "order_number": "PED-000002", "customer_id": 7, "country": "EC",
        "currency": "USD", "status": "cancelled", "total": 120,
        "items": [{"product_id": 5, "sku": "SKU-0005", "quantity": 4, "unit_price": 30.0}],
        "created_at": "2024-06-30T23:59:59Z", "updated_at": "2024-07-01T08:00:00Z",
    },
    {
        "id": 1200, "order_number": "PED-001200", "customer_id": 1, "country": "MX",
        "currency": "MXN", "status": "delivered", "total": 0.0,
        "items": [{"product_id": 9, "sku": "SKU-0009", "quantity": 1, "unit_price": 0.0}],
        "created_at": "2024-12-31T10:00:00Z", "updated_at": "2024-12-31T10:00:00Z",
    },
)


def _broken(change: Callable[[Record], None]) -> Record:
    record = copy.deepcopy(_VALID_ORDERS[0])
    change(record)
    return record


def _set(key: str, value: Any) -> Callable[[Record], None]:
    return lambda r: r.__setitem__(key, value)


def _zero_quantity(record: Record) -> None:
    record["items"][0]["quantity"] = 0


#: (what is wrong, record): the seven defects of ``mock_servers.data.BROKEN_ORDERS``, plus one.
_BROKEN_ORDERS: tuple[tuple[str, Record], ...] = (
    ("total negativo", _broken(_set("total", -1236.55))),
    ("status fuera del catálogo ('UNKNOWN')", _broken(_set("status", "UNKNOWN"))),
    ("customer_id nulo", _broken(_set("customer_id", None))),
    ("currency ausente", _broken(lambda r: r.pop("currency"))),
    ("created_at con formato no ISO ('31/12/2024 10:00')",
     _broken(_set("created_at", "31/12/2024 10:00"))),
    ("un item con quantity 0", _broken(_zero_quantity)),
    ("total como texto ('1.234,50')", _broken(_set("total", "1.234,50"))),
    # Not in the lab, but just as common: a timestamp with no zone is ambiguous.
    ("created_at sin zona horaria ('2024-01-01T14:34:50')",
     _broken(_set("created_at", "2024-01-01T14:34:50"))),
)


# --- q1: cerberus ------------------------------------------------------------------------------


def _check_cerberus(answer: Any) -> Verdict:
    from cerberus import Validator
    from cerberus.schema import SchemaError

    if not isinstance(answer, dict):
        return fail("pasa el esquema como diccionario: q1.check(order_schema).")
    try:
        validator = Validator(answer, allow_unknown=True)
    except SchemaError as bad_schema:
        return fail(f"cerberus no acepta el esquema: {bad_schema}. Revisa los nombres de las "
                    "reglas.")
    for record in _VALID_ORDERS:
        if not validator.validate(record):
            return fail(f"rechazó el pedido válido {record['id']} con {validator.errors}. "
                        "Alguna regla es más estricta que los datos válidos (un total entero "
                        "como 120, o 0.0, también vale).")
    for problem, record in _BROKEN_ORDERS:
        if validator.validate(record):
            return fail(f"aceptó un pedido con {problem}. Añade la regla que lo detecta.")
    return passed("acepta los pedidos válidos y rechaza los ocho defectos (los siete del "
                  "laboratorio y la fecha sin zona horaria).")


q1 = Exercise(
    1,
    "Un esquema cerberus para los pedidos",
    _check_cerberus,
    hint=(
        "Cada defecto pide una regla: 'required': True (currency ausente), 'nullable' es False "
        "por defecto (customer_id nulo), 'type': 'number' + 'min': 0 (total negativo o texto), "
        "'allowed' (status), 'regex' (created_at), y para items: 'type': 'list', 'minlength': 1, "
        "'schema': {'type': 'dict', 'schema': {'quantity': {'type': 'integer', 'min': 1}}}."
    ),
    solution=r'''
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]
ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"

order_schema = {
    "id": {"type": "integer", "required": True, "min": 1},
    "customer_id": {"type": "integer", "required": True, "min": 1},
    "currency": {"type": "string", "required": True, "regex": "^[A-Z]{3}$"},
    "status": {"type": "string", "required": True, "allowed": STATUSES},
    "total": {"type": "number", "required": True, "min": 0},
    "created_at": {"type": "string", "required": True, "regex": ISO_UTC},
    "items": {
        "type": "list", "required": True, "minlength": 1,
        "schema": {"type": "dict", "schema": {
            "quantity": {"type": "integer", "required": True, "min": 1},
            "unit_price": {"type": "number", "required": True, "min": 0},
        }},
    },
}

q1.check(order_schema)
''',
)


# --- q2: pydantic ------------------------------------------------------------------------------


def _check_pydantic(answer: Any) -> Verdict:
    from datetime import datetime

    from pydantic import BaseModel, ValidationError

    if not (isinstance(answer, type) and issubclass(answer, BaseModel)):
        return fail("pasa la clase (no una instancia) de tu modelo: q2.check(Order).")
    for record in _VALID_ORDERS:
        try:
            model = answer.model_validate(record)
        except ValidationError as problem:
            first = problem.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return fail(f"rechazó el pedido válido {record['id']}: {where}: {first['msg']}. "
                        "Un total entero (120) y un total de 0.0 son válidos.")
        created = getattr(model, "created_at", None)
        if not isinstance(created, datetime) or created.tzinfo is None:
            return fail("created_at debe quedar como datetime con zona horaria (AwareDatetime): "
                        "convertir en la frontera es parte del trabajo del modelo.")
    for problem_text, record in _BROKEN_ORDERS:
        try:
            answer.model_validate(record)
        except ValidationError:
            continue
        return fail(f"aceptó un pedido con {problem_text}. Ajusta el tipo o la restricción "
                    "del campo (Literal, Field(ge=...), AwareDatetime...).")
    return passed("el modelo deja pasar los pedidos válidos, convierte created_at y lanza "
                  "ValidationError con los ocho defectos.")


q2 = Exercise(
    2,
    "Un modelo pydantic en la frontera",
    _check_pydantic,
    hint=(
        "status: Literal['pending', 'paid', 'shipped', 'delivered', 'cancelled']; "
        "total: float = Field(ge=0); customer_id: int = Field(gt=0) (sin None); currency: str "
        "= Field(pattern='^[A-Z]{3}$') sin valor por defecto; created_at: AwareDatetime; "
        "items: list[Item] = Field(min_length=1) con Item.quantity: int = Field(gt=0)."
    ),
    solution='''
from typing import Literal
from pydantic import AwareDatetime, BaseModel, Field

class Item(BaseModel):
    product_id: int = Field(gt=0)
    sku: str
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)

class Order(BaseModel):
    id: int = Field(gt=0)
    order_number: str
    customer_id: int = Field(gt=0)
    country: str = Field(pattern="^[A-Z]{2}$")
    currency: str = Field(pattern="^[A-Z]{3}$")
    status: Literal["pending", "paid", "shipped", "delivered", "cancelled"]
    total: float = Field(ge=0)
    items: list[Item] = Field(min_length=1)
    created_at: AwareDatetime
    updated_at: AwareDatetime

q2.check(Order)
''',
)


# --- q3: pandera -------------------------------------------------------------------------------


def _frames() -> tuple[Any, list[tuple[str, Any]]]:
    """The good order-lines frame and (defect, frame) pairs a good schema must refuse."""
    import pandas as pd

    good = pd.DataFrame({
        # order 1 has two lines: order_id alone is NOT unique, (order_id, product_id) is
        "order_id": [1, 1, 2, 3],
        "product_id": [20, 2, 5, 9],
        "quantity": [1, 2, 4, 1],
        "unit_price": [446.05, 51.7, 30.0, 0.0],
        "line_total": [446.05, 103.4, 120.0, 0.0],
    })

    def variant(**changes: Any) -> Any:
        frame = good.copy()
        for column, values in changes.items():
            frame[column] = values
        return frame

    bad = [
        ("la misma línea dos veces (mismo order_id y product_id)",
         variant(product_id=[20, 20, 5, 9], line_total=[446.05, 103.4, 120.0, 0.0])),
        ("una cantidad 0", variant(quantity=[1, 0, 4, 1], line_total=[446.05, 0.0, 120.0, 0.0])),
        ("un precio negativo", variant(unit_price=[446.05, -51.7, 30.0, 0.0],
                                       line_total=[446.05, -103.4, 120.0, 0.0])),
        ("un line_total que no es quantity × unit_price",
         variant(line_total=[446.05, 51.7, 120.0, 0.0])),
        ("un product_id que no es positivo", variant(product_id=[20, 2, 0, 9])),
    ]
    return good, bad


def _check_pandera(answer: Any) -> Verdict:
    from pandera.errors import SchemaError, SchemaErrors

    validate = getattr(answer, "validate", None)
    if validate is None:
        return fail("pasa tu DataFrameModel (la clase) o tu DataFrameSchema: "
                    "q3.check(OrderLines).")
    good, bad = _frames()
    try:
        validate(good, lazy=True)
    except (SchemaError, SchemaErrors) as problem:
        return fail("rechazó un DataFrame correcto (ojo: un pedido puede tener varias líneas, "
                    f"así que order_id solo no es único): {str(problem).splitlines()[0]}")
    for defect, frame in bad:
        try:
            validate(frame, lazy=True)
        except (SchemaError, SchemaErrors):
            continue
        return fail(f"aceptó un DataFrame con {defect}. Añade la comprobación que falta.")
    return passed("rangos, unicidad de la pareja (order_id, product_id) y la comprobación "
                  "entre columnas line_total == quantity × unit_price.")


q3 = Exercise(
    3,
    "Un esquema pandera para las líneas de pedido",
    _check_pandera,
    hint=(
        "Rangos con pa.Field (gt=0 en los ids y quantity, ge=0 en los importes). La unicidad de "
        "dos columnas a la vez va en la configuración: class Config: unique = ['order_id', "
        "'product_id']. Y la comprobación entre columnas, en un método con @pa.dataframe_check "
        "que devuelva (df['line_total'] - df['quantity'] * df['unit_price']).abs() <= 0.01."
    ),
    solution='''
import pandera.pandas as pa
from pandera.typing import Series

class OrderLines(pa.DataFrameModel):
    order_id: Series[int] = pa.Field(gt=0)
    product_id: Series[int] = pa.Field(gt=0)
    quantity: Series[int] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(ge=0)
    line_total: Series[float] = pa.Field(ge=0)

    class Config:
        unique = ["order_id", "product_id"]  # una línea por producto y pedido

    @pa.dataframe_check
    def line_total_matches(cls, df):
        return (df["line_total"] - df["quantity"] * df["unit_price"]).abs() <= 0.01

q3.check(OrderLines)
''',
)


# --- q4: schema drift --------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: True is an int in Python, not in JSON Schema
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reference_drift(declared: dict[str, str], records: list[Record]) -> dict[str, Any]:
    accepts = {"number": {"number", "integer"}}
    observed: dict[str, set[str]] = {}
    missing: set[str] = set()
    for record in records:
        missing |= set(declared) - set(record)
        for field, value in record.items():
            observed.setdefault(field, set()).add(_json_type(value))
    changed = {}
    for field, kinds in observed.items():
        if field in declared:
            odd = kinds - accepts.get(declared[field], {declared[field]}) - {"null"}
            if odd:
                changed[field] = sorted(odd)
    return {"added": sorted(set(observed) - set(declared)), "missing": sorted(missing),
            "changed": changed}


_DECLARED = {"id": "integer", "customer_id": "integer", "status": "string", "total": "number",
             "paid": "boolean"}


#: Marks a field to leave out of a test record (a renamed or removed field).
_DROP = object()


def _rec(**fields: Any) -> Record:
    base: Record = {"id": 1, "customer_id": 10, "status": "paid", "total": 10.5, "paid": True}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


#: (what the case shows, records). Expected results come from the reference.
_DRIFT_CASES: tuple[tuple[str, list[Record]], ...] = (
    ("sin deriva", [_rec(), _rec(id=2, total=3)]),
    ("la versión 2 añade 'channel', renombra total → amount y pasa customer_id a texto",
     [_rec(), _rec(id=2, total=_DROP, amount=10.5, channel="web", customer_id="C-10")]),
    ("un entero declarado llega como booleano", [_rec(customer_id=True)]),
    ("un number declarado llega como entero (no es deriva)", [_rec(total=12)]),
    ("la deriva solo aparece en el último registro",
     [_rec(), _rec(id=2), _rec(id=3, status=3, coupon="XMAS")]),
    ("un null no es un cambio de tipo", [_rec(customer_id=None)]),
    ("sin registros", []),
)


def _check_drift(answer: Any) -> Verdict:
    if not callable(answer):
        return fail("pasa tu función: q4.check(drift_report).")
    for name, records in _DRIFT_CASES:
        expected = _reference_drift(_DECLARED, records)
        got = answer(dict(_DECLARED), copy.deepcopy(records))
        if not isinstance(got, dict):
            return fail(f"[{name}] devolviste {type(got).__name__}; devuelve un dict con "
                        "'added', 'missing' y 'changed'.")
        for key in ("added", "missing", "changed"):
            if key not in got:
                return fail(f"[{name}] falta la clave {key!r} en el informe.")
            if got[key] != expected[key]:
                return fail(f"[{name}] {key!r} = {got[key]!r}; se esperaba {expected[key]!r}.")
    return passed("el informe encuentra campos nuevos, ausentes y cambios de tipo en cualquier "
                  "registro, sin confundir bool con int ni int con number.")


q4 = Exercise(
    4,
    "Un informe de deriva de esquema",
    _check_drift,
    hint=(
        "Recorre TODOS los registros acumulando, por campo, el conjunto de tipos JSON vistos. "
        "Comprueba bool antes que int (isinstance(True, int) es True). 'number' admite también "
        "'integer', y 'null' nunca cuenta como cambio. Devuelve listas ordenadas (sorted)."
    ),
    solution='''
def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # antes que int: True también es int en Python
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"

def drift_report(declared: dict[str, str], records: list[dict]) -> dict:
    observed: dict[str, set[str]] = {}
    missing: set[str] = set()
    for record in records:
        missing |= set(declared) - set(record)
        for field, value in record.items():
            observed.setdefault(field, set()).add(json_type(value))
    changed = {}
    for field, kinds in observed.items():
        if field in declared:
            compatible = {"number", "integer"} if declared[field] == "number" else {declared[field]}
            odd = kinds - compatible - {"null"}
            if odd:
                changed[field] = sorted(odd)
    return {"added": sorted(set(observed) - set(declared)),
            "missing": sorted(missing), "changed": changed}

q4.check(drift_report)
''',
)
