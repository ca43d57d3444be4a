# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 03 · Validación de esquemas
#
# Una API te promete una forma de datos; no siempre la cumple. Un total como texto, un
# estado que no existe, una fecha en otro formato, un campo que desaparece en la versión
# nueva… Si nadie lo mira en la **frontera**, el problema aparece días después, en un
# informe con cifras raras. En esta lección validas lo que llega con tres herramientas, cada
# una en su sitio, y decides qué hacer con lo que no pasa.
#
# **Objetivos**
#
# 1. Ejecutar el esquema cerberus de la lección original y ver lo que **no** te dice.
# 2. Escribir reglas propias en cerberus (`check_with` y una regla nueva en un `Validator`).
# 3. Usar modelos pydantic en la frontera: conversión de tipos, modo estricto y errores claros.
# 4. Validar un DataFrame con pandera: tipos, rangos, unicidad y comprobaciones entre columnas,
#    recogiendo **todos** los fallos con `lazy=True`.
# 5. Elegir entre fallar pronto (*fail fast*) y fallar tarde (*fail late*), con un fichero de
#    **cuarentena**.
# 6. Detectar la **deriva de esquema** cuando la API añade, renombra o cambia un campo.
#
# **Duración estimada:** 70–90 minutos.
#
# **Requisitos:** [02 · Paginación e ingesta incremental](02_paginacion_incremental.ipynb).

# %% [markdown]
# ## 0. Puesta en marcha

# %%
# %matplotlib inline
import os

# pydantic añade a cada error un enlace a su documentación que incluye su versión; lo
# quitamos para que los mensajes de esta lección no cambien al actualizar la biblioteca.
os.environ["PYDANTIC_ERRORS_INCLUDE_URL"] = "0"

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pandera.pandas as pa
import requests
from cerberus import Validator
from pandera.typing import Series
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

import mock_servers
from connectors_lib.exercises.lesson03 import q1, q2, q3, q4
from connectors_lib.pagination import KeysetPaginator
from connectors_lib.rest import RestConnector
from connectors_lib.validation import detect_drift, read_quarantine, validate_records

pd.set_option("display.width", 110)
pd.set_option("display.max_columns", 12)
pd.set_option("display.max_colwidth", 60)
plt.rcParams.update({"figure.figsize": (9, 3.6), "figure.dpi": 100, "axes.grid": True})

lab = mock_servers.start(seed=42)
lab.state.reset()
os.environ.update(lab.env())  # lo que lee el código de la lección original
workdir = Path(tempfile.mkdtemp(prefix="leccion03-"))
print(lab)

# La celda de la lección original se ejecuta tal cual, con su estilo; también las soluciones
# de los ejercicios, escritas para copiarse en una celda aislada. Solo ese código incumple:
# ruff: noqa: F811, I001, RUF012

# %% [markdown]
# ## 1. El esquema de la lección original, tal cual
#
# La lección original validaba el catálogo público de APIs (`/entries`) con cerberus. Su celda
# usa una lista `items` con las entradas; la llenamos con **todo** el catálogo del laboratorio
# (en la lección 02 viste que su `fetch_paginated` se quedaba con 40 de 60):

# %%
items = requests.get(f"{os.environ['API_BASE_URL']}/entries", timeout=10).json()["entries"]
len(items)

# %% [markdown]
# Y ahora su celda, sin cambiar nada:

# %%
from cerberus import Validator
schema = {
  'API': {'type':'string', 'required': True},
  'Description': {'type':'string', 'nullable': True},
  'HTTPS': {'type':'boolean'},
}
v = Validator(schema, allow_unknown=True)
valid_count = sum(1 for it in items if v.validate(it))
valid_count, len(items)

# %% [markdown]
# 59 de 60. ¿Cuál falla y por qué? La celda no lo dice: **cuenta** y sigue. Preguntémosle a
# cerberus registro a registro:

# %%
for position, entry in enumerate(items):
    if not v.validate(entry):
        received = {field: entry.get(field) for field in v.errors}
        print(f"posición {position} ({entry['API']}): llegó {received} → {v.errors}")

# %% [markdown]
# Un `HTTPS` que llega como el texto `"yes"` en vez de `true`. Lo que le falta a esa celda:
#
# * **No separa**: la entrada mala sigue su camino junto a las buenas. Contar no es validar.
# * **No dice por qué**: sin `v.errors` nadie puede corregir el origen.
# * `allow_unknown=True` deja pasar **cualquier campo nuevo** sin avisar: la deriva de esquema
#   (sección 7) pasa inadvertida.
# * `HTTPS` no es `required`: si desaparece, el registro sigue siendo "válido".
#
# La lección original también enumeraba `EmailStr`, `@validator` o `class Config` de
# pydantic 1; aquí usamos pydantic 2 (`field_validator`, `model_config`), la versión actual.

# %% [markdown]
# ## 2. Los datos de esta lección
#
# Pedidos y clientes de la tienda del laboratorio, extraídos con `RestConnector` de la
# biblioteca (paginación *keyset*, reintentos y ritmo incluidos: lo construiste a mano en las
# lecciones 01 y 02). Algunos registros están rotos **a propósito**; vamos a encontrarlos.

# %%
connector = RestConnector(lab.base_url, headers=lab.headers(),
                          paginator=KeysetPaginator(limit=500), clock=lab.clock)
orders = list(connector.extract("/api/v1/orders", {"style": "keyset"}))
customers = list(connector.extract("/api/v1/customers", {"style": "keyset"}))
print(len(orders), "pedidos y", len(customers), "clientes")
print({k: v for k, v in orders[0].items() if k != "items"})
print("items[0] =", orders[0]["items"][0], f"(y {len(orders[0]['items']) - 1} líneas más)")

# %% [markdown]
# ## 3. cerberus: esquemas como diccionarios, y reglas propias
#
# cerberus describe cada campo con un diccionario de reglas (`type`, `required`, `nullable`,
# `min`, `allowed`, `regex`, `schema` para lo anidado…). Su fuerte: el esquema **es un dato**,
# se puede guardar en JSON, versionar y generar. Un esquema para los **clientes**:

# %%
LATAM = ["AR", "BO", "BR", "CL", "CO", "CR", "EC", "MX", "PE", "PY", "UY"]
SEGMENTS = ["minorista", "mayorista", "corporativo"]
EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]+$"

customer_schema = {
    "id": {"type": "integer", "required": True, "min": 1},
    "name": {"type": "string", "required": True, "empty": False},
    "email": {"type": "string", "required": True, "regex": EMAIL},
    "country": {"type": "string", "required": True, "allowed": LATAM},
    "city": {"type": "string", "required": True},
    "segment": {"type": "string", "required": True, "allowed": SEGMENTS},
    "created_at": {"type": "string", "required": True},
}
customer_validator = Validator(customer_schema)  # sin allow_unknown: un campo nuevo es un error
for customer in customers:
    if not customer_validator.validate(customer):
        print(f"cliente {customer['id']}: {customer_validator.errors}")

# %% [markdown]
# ### 3.1 Reglas propias
#
# Cuando no basta con las reglas de serie, cerberus ofrece dos caminos:
#
# * **`check_with`**: una función `(field, value, error)` que llama a `error(...)` si el valor
#   no vale. Ideal para formatos (una fecha ISO 8601 de verdad, no solo "parece una fecha").
# * **Una regla nueva** en una subclase de `Validator`: un método `_validate_<regla>` que puede
#   mirar **otros campos** del documento (`self.document`). Así se comprueban relaciones entre
#   campos, como que el total de un pedido sea la suma de sus líneas.

# %%
def iso_utc(field: str, value: Any, error: Any) -> None:
    """check_with: fecha y hora ISO 8601 en UTC, p. ej. 2024-01-01T14:34:50Z."""
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        error(field, "no es una fecha ISO 8601 en UTC (AAAA-MM-DDTHH:MM:SSZ)")


class OrderValidator(Validator):
    """Validator de cerberus con una regla de negocio: `matches_items`."""

    def _validate_matches_items(self, matches_items: bool, field: str, value: Any) -> None:
        """El total debe ser la suma de quantity × unit_price de sus líneas (±0,01).

        The rule's arguments are validated against this schema:
        {'type': 'boolean'}
        """
        if not matches_items or not isinstance(value, int | float):
            return  # si el total no es un número, ya lo dirá la regla `type`
        lines = self.document.get("items") or []
        expected = round(sum(i.get("quantity", 0) * i.get("unit_price", 0) for i in lines), 2)
        if abs(value - expected) > 0.01:
            self._error(field, f"no coincide con la suma de las líneas ({expected:.2f})")


order_rules = {
    "total": {"type": "number", "required": True, "matches_items": True},
    "created_at": {"type": "string", "required": True, "check_with": iso_utc},
}
order_validator = OrderValidator(order_rules, allow_unknown=True)
for order in orders:
    if not order_validator.validate(order):
        print(f"pedido {order['id']:>4}: {order_validator.errors}")

# %% [markdown]
# Fíjate en el pedido 901: su total **es** un número positivo y su fecha es correcta, pero no
# cuadra con sus líneas (una tiene `quantity` 0). Ninguna regla "de tipo" lo habría visto.
# Y el 1024 (`"1.234,50"`) falla por tipo: la regla propia ni se ejecuta, como debe ser.

# %% [markdown]
# ## 4. pydantic en la frontera
#
# pydantic describe los datos como **clases con tipos**. Ventajas frente a un diccionario de
# reglas: el editor y `mypy` conocen los campos, los valores se **convierten** al tipo
# declarado (un `AwareDatetime` de verdad, no un texto) y el resto de tu código trabaja con
# objetos ya validados. Se usa en la **frontera**: justo al recibir el JSON, antes de que
# nada más lo toque.

# %%
class Customer(BaseModel):
    """Un cliente tal como lo promete la API."""

    id: int = Field(gt=0)
    name: str = Field(min_length=1)
    email: str = Field(pattern=EMAIL)
    country: Literal["AR", "BO", "BR", "CL", "CO", "CR", "EC", "MX", "PE", "PY", "UY"]
    city: str
    segment: Literal["minorista", "mayorista", "corporativo"]
    created_at: AwareDatetime


first = Customer.model_validate(customers[0])
print(repr(first.created_at))
print(first.model_dump_json())

# %% [markdown]
# **Fallar pronto** (*fail fast*): validar cada registro según llega y detenerse en el primero
# que no cumple. La celda siguiente lo hace a propósito, y se detiene en el cliente 13.
# `%xmode Minimal` le pide a IPython que muestre solo el error, sin la pila de llamadas
# interna de pydantic (que no te dice nada sobre tus datos):

# %% tags=["raises-exception"]
# %xmode Minimal
for raw in customers:
    Customer.model_validate(raw)  # lanza ValidationError en el primer cliente inválido

# %% [markdown]
# El mensaje dice **qué campo**, **qué regla** y **qué valor** llegó. Pero los 187 clientes que
# venían detrás no se han mirado. Con un `TypeAdapter` validas el lote entero y pydantic
# reúne **todos** los errores en una sola excepción:

# %%
batch = TypeAdapter(list[Customer])
try:
    batch.validate_python(customers)
except ValidationError as problem:
    for error in problem.errors():
        position, field = error["loc"]
        print(f"posición {position}, campo {field}: llegó {error['input']!r} → {error['type']}")

# %% [markdown]
# ### 4.1 Conversión de tipos: cómoda y peligrosa
#
# Por defecto (modo *lax*), pydantic convierte lo razonable: el texto `"1"` pasa a ser el
# entero 1. Cómodo… hasta que oculta que la API ha empezado a mandar ids como texto. Con
# `strict=True` no convierte nada. Ojo: en modo estricto, validando un `dict` de Python,
# tampoco un texto vale como fecha; valida el JSON crudo con `model_validate_json`, donde
# rigen las reglas de JSON y una fecha ISO en texto **sí** es válida.

# %%
as_text = {**customers[0], "id": "1"}  # el id llega como texto
print("lax   :", repr(as_text["id"]), "→", repr(Customer.model_validate(as_text).id))
try:
    Customer.model_validate_json(json.dumps(as_text), strict=True)
except ValidationError as problem:
    error = problem.errors()[0]
    print("strict:", error["loc"], "→", error["msg"])

# %% [markdown]
# ## 5. pandera: el DataFrame entero
#
# cerberus y pydantic miran **registro a registro**. Cuando los datos ya son una tabla, pandera
# valida **columnas** (tipo, rango, catálogo, nulos), **unicidad** y comprobaciones **entre
# columnas**, vectorizadas. Primero aplanamos los pedidos a un DataFrame. La conversión a
# número o fecha con `errors="coerce"` convierte lo ilegible en nulo (`NaN`, `NaT`): es
# peligrosa **solo** si después nadie prohíbe los nulos. Aquí el esquema los prohíbe.

# %%
def orders_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Un pedido por fila; las líneas se resumen en items_total y min_quantity."""
    rows = [{
        "id": o["id"],
        "customer_id": o.get("customer_id"),
        "currency": o.get("currency"),
        "status": o.get("status"),
        "total": o.get("total"),
        "items_total": round(sum(i["quantity"] * i["unit_price"] for i in o["items"]), 2),
        "min_quantity": min(i["quantity"] for i in o["items"]),
        "created_at": o.get("created_at"),
    } for o in records]
    frame = pd.DataFrame(rows)
    frame["customer_id"] = frame["customer_id"].astype("Int64")  # entero que admite nulos
    frame["total"] = pd.to_numeric(frame["total"], errors="coerce")  # "1.234,50" → NaN
    frame["created_at"] = pd.to_datetime(frame["created_at"], format="%Y-%m-%dT%H:%M:%SZ",
                                         utc=True, errors="coerce")  # "31/12/2024 10:00" → NaT
    return frame


df = orders_frame(orders)
print(df.dtypes.to_string())

# %% [markdown]
# El esquema, como clase (`DataFrameModel`): cada columna con su tipo y sus `Field`, y un
# método `@pa.dataframe_check` para la regla que relaciona columnas.

# %%
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]


class OrdersFrame(pa.DataFrameModel):
    id: Series[int] = pa.Field(gt=0, unique=True)
    customer_id: Series[pd.Int64Dtype] = pa.Field(gt=0)  # nullable=False por defecto
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")
    status: Series[str] = pa.Field(isin=STATUSES)
    total: Series[float] = pa.Field(ge=0)
    items_total: Series[float] = pa.Field(ge=0)
    min_quantity: Series[int] = pa.Field(ge=1)
    created_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})

    @pa.dataframe_check
    def total_matches_items(cls, frame: pd.DataFrame) -> Series[bool]:
        """El total de cada pedido es la suma de sus líneas (±0,01)."""
        return (frame["total"] - frame["items_total"]).abs() <= 0.01

# %% [markdown]
# **Fail fast** en pandera es el modo por defecto (`lazy=False`): se detiene en el primer
# problema que encuentra.

# %%
try:
    OrdersFrame.validate(df)
except pa.errors.SchemaError as problem:
    print(type(problem).__name__, "→", str(problem).splitlines()[0].rstrip(":"))

# %% [markdown]
# **Fail late** con `lazy=True`: recorre todas las comprobaciones y devuelve todos los fallos
# en `failure_cases` (una fila por valor que falla). Lo resumimos por pedido:

# %%
try:
    OrdersFrame.validate(df, lazy=True)
except pa.errors.SchemaErrors as problem:
    cases = problem.failure_cases
cases = cases[cases["index"].notna()]
cases = cases.assign(id=df.loc[cases["index"].astype(int), "id"].to_numpy())
failures = (cases.groupby("id")["check"]
            .agg(lambda checks: ", ".join(sorted(set(checks))))
            .rename("comprobaciones que falla"))
failures.to_frame()

# %% [markdown]
# Exactamente los siete pedidos que el laboratorio estropeó a propósito; el propio laboratorio
# los declara en `mock_servers.data.BROKEN_ORDERS`, así que podemos comprobarlo:

# %%
from mock_servers.data import BROKEN_ORDERS

print("¿Encontramos exactamente los rotos?", set(failures.index) == set(BROKEN_ORDERS))
pd.Series(BROKEN_ORDERS, name="lo que el laboratorio rompió").to_frame()

# %% [markdown]
# Un gráfico para ver de un vistazo **qué reglas** están fallando (en un panel de calidad de
# datos, este es el primer gráfico que se mira):

# %%
per_check = cases.groupby("check")["id"].nunique().sort_values()
labels = [text if len(text) < 40 else text[:37] + "…" for text in per_check.index]
fig, ax = plt.subplots(figsize=(9, 3.4))
ax.barh(labels, per_check.to_numpy(), color="tab:red")
ax.set_xlabel("pedidos que fallan la comprobación")
ax.set_title("pandera, lazy=True: todos los fallos de una pasada")
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.tight_layout()
plt.show()

# %% [markdown]
# La **unicidad** importa por lo que viste en la lección 02: paginar por *offset* mientras
# cambian los datos repite filas. Si dos páginas se solapan, `unique=True` lo detecta:

# %%
overlapping = pd.concat([df.iloc[95:100], df.iloc[98:103]])  # dos páginas que se pisan
try:
    OrdersFrame.validate(overlapping, lazy=True)
except pa.errors.SchemaErrors as problem:
    repeated = problem.failure_cases.query("check == 'field_uniqueness'")["failure_case"]
    print("ids repetidos:", sorted(set(repeated)))

# %% [markdown]
# ## 6. Fail fast, fail late y la cuarentena
#
# | | *Fail fast* | *Fail late* |
# |---|---|---|
# | Qué hace | se detiene en el primer registro inválido | valida todo y aparta los inválidos |
# | Ventaja | nada malo entra; el error es inmediato y claro | unos pocos registros malos no bloquean el resto |
# | Riesgo | un solo registro malo detiene toda la carga | lo apartado se olvida si nadie lo mira |
# | Cuándo | contratos entre equipos, configuración, pagos | extracciones de APIs de terceros, lotes grandes |
#
# Fallar tarde **no** es ignorar: lo inválido va a un fichero de **cuarentena** (JSON Lines:
# un objeto por línea, fácil de añadir, leer y reprocesar) con el registro **original** y los
# **motivos**. Y conviene un **presupuesto**: si falla más de un 1 %, algo ha cambiado en el
# origen y hay que parar.

# %%
MAX_INVALID_SHARE = 0.01  # más de un 1 % de inválidos: no es ruido, es un cambio en el origen

reasons = cases.groupby("id")["check"].agg(lambda checks: sorted(set(checks))).to_dict()
valid_orders = [o for o in orders if o["id"] not in reasons]
quarantine = workdir / "cuarentena-pedidos.jsonl"
with quarantine.open("w", encoding="utf-8") as sink:
    for order in orders:
        if order["id"] in reasons:
            entry = {"id": order["id"], "motivos": reasons[order["id"]],
                     "fuente": "GET /api/v1/orders",
                     "apartado_en": datetime.fromtimestamp(lab.clock.now(), UTC).isoformat(),
                     "registro": order}
            sink.write(json.dumps(entry, ensure_ascii=False) + "\n")

share = len(reasons) / len(orders)
percent = f"{share * 100:.2f} %".replace(".", ",")  # como lo escribe el informe de la biblioteca
print(f"válidos: {len(valid_orders)} | en cuarentena: {len(reasons)} ({percent})")
print(f"fichero: {quarantine.name}")
if share > MAX_INVALID_SHARE:
    raise RuntimeError("demasiados inválidos: se detiene la carga")
print("dentro del presupuesto: la carga sigue con los válidos")

# %% [markdown]
# Así se ve una línea de la cuarentena (sin el registro completo, que también está):

# %%
first_line = json.loads(quarantine.read_text(encoding="utf-8").splitlines()[0])
print(json.dumps({k: v for k, v in first_line.items() if k != "registro"}, ensure_ascii=False))

# %% [markdown]
# Lo que queda, validado de nuevo, pasa limpio: es lo que se carga.

# %%
clean = OrdersFrame.validate(orders_frame(valid_orders), lazy=True)
print(len(clean), "pedidos listos para cargar")

# %% [markdown]
# ### 6.1 Lo mismo con `connectors_lib.validation`
#
# La biblioteca empaqueta este patrón: `validate_records` acepta un esquema cerberus, un modelo
# pydantic o un validador propio, y en modo `fail_late` devuelve un informe y escribe la
# cuarentena (JSON Lines, cada línea escrita entera y el fichero sincronizado a disco).
# Con los clientes y el modelo pydantic de la sección 4:

# %%
report = validate_records(customers, Customer, mode="fail_late",
                          quarantine=workdir / "cuarentena-clientes.jsonl")
print(report.summary())
for entry in read_quarantine(report.quarantine_path):
    print(entry["record"]["id"], entry["reasons"])

# %% [markdown]
# ## 7. Deriva de esquema: cuando la API cambia
#
# Un día el proveedor publica la versión 2 de su API y, a mitad de tu extracción, los pedidos
# llegan distintos: un campo **nuevo** (`channel`), uno **renombrado** (`total` → `amount`) y
# uno que **cambia de tipo** (`customer_id` pasa a texto, `"C-144"`). Lo simulamos con las
# 12 páginas de pedidos válidos: las 6 primeras en v1 y las 6 últimas en v2.

# %%
def as_v2(order: dict[str, Any]) -> dict[str, Any]:
    """Cómo llegaría un pedido de la versión 2 de la API."""
    changed = {k: v for k, v in order.items() if k != "total"}
    changed["amount"] = order["total"]
    changed["customer_id"] = f"C-{order['customer_id']}"
    changed["channel"] = "web"
    return changed


pages = [valid_orders[i:i + 100] for i in range(0, len(valid_orders), 100)]
stream = pages[:6] + [[as_v2(o) for o in page] for page in pages[6:]]
print(len(stream), "páginas;", sum(map(len, stream)), "pedidos")

# %% [markdown]
# Un **informe de deriva** compara los campos **declarados** (con su tipo JSON) con los
# **observados**. Lo escribimos a mano: para cada campo, qué tipos llegan y en qué
# proporción de registros.

# %%
DECLARED = {"id": "integer", "order_number": "string", "customer_id": "integer",
            "country": "string", "currency": "string", "status": "string", "total": "number",
            "items": "array", "created_at": "string", "updated_at": "string"}
COMPATIBLE = {"number": {"number", "integer"}}  # un entero es un número válido


def json_type(value: Any) -> str:
    """El tipo JSON de un valor de Python (bool antes que int: True también es un int)."""
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"),
                              (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, python_type):
            return name
    return "null"


def drift_table(declared: dict[str, str], records: list[dict[str, Any]]) -> pd.DataFrame:
    seen = pd.DataFrame([{k: json_type(v) for k, v in r.items()} for r in records])
    rows = []
    for field in sorted(set(declared) | set(seen.columns)):
        observed = seen[field].dropna() if field in seen else pd.Series(dtype=str)
        types = ", ".join(sorted(set(observed)))
        expected = COMPATIBLE.get(declared.get(field, ""), {declared.get(field)})
        if field not in declared:
            verdict = "nuevo"
        elif len(observed) < len(records):
            verdict = "falta en algunos" if len(observed) else "desaparecido"
        elif not set(observed) <= expected:
            verdict = "cambia de tipo"
        else:
            verdict = "ok"
        rows.append({"campo": field, "declarado": declared.get(field, "—"), "observado": types,
                     "presente en": f"{len(observed) / len(records):.0%}", "estado": verdict})
    return pd.DataFrame(rows).set_index("campo")


all_records = [o for page in stream for o in page]
drift = drift_table(DECLARED, all_records)
drift[drift["estado"] != "ok"]

# %% [markdown]
# El gráfico cuenta **cuándo** cambió: por página, qué parte de los registros cumple lo
# declarado en cada campo (presente y del tipo declarado; o, si no está declarado, ausente).
# Lo rojo es deriva, y salta a la vista en la página 7.

# %%
def as_declared(record: dict[str, Any], field: str) -> bool:
    """¿Cumple este registro lo declarado para `field`?"""
    if field not in DECLARED:
        return field not in record  # un campo no declarado no debería venir
    expected = COMPATIBLE.get(DECLARED[field], {DECLARED[field]})
    return field in record and json_type(record[field]) in expected


fields = [*DECLARED, "amount", "channel"]
matrix = np.array([[np.mean([as_declared(r, f) for r in page]) for f in fields]
                   for page in stream]).T
fig, ax = plt.subplots(figsize=(9, 4.2))
image = ax.imshow(matrix, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
ax.set_yticks(range(len(fields)), fields)
ax.set_xticks(range(len(stream)), [str(n) for n in range(1, len(stream) + 1)])
ax.set_xlabel("página")
ax.set_title("Proporción de registros que cumplen lo declarado (rojo = deriva)")
ax.grid(False)
fig.colorbar(image, ax=ax, label="proporción")
plt.tight_layout()
plt.show()

# %% [markdown]
# ¿Y qué hacen los validadores ante la deriva? Depende de cómo los configures, y esa
# configuración **es** tu política:

# %%
class OrderContract(BaseModel):
    """Solo lo que el pipeline usa (lector tolerante): lo demás se ignora."""

    model_config = ConfigDict(extra="ignore")
    id: int
    customer_id: int
    total: float
    status: str


class StrictOrderContract(OrderContract):
    """Lo mismo, pero un campo no declarado es un error."""

    model_config = ConfigDict(extra="forbid")


# Un pedido v2 reducido a los campos del contrato y los dos nuevos (con el registro entero,
# el estricto se quejaría también de order_number, items... que el pipeline no usa).
v2_order = {k: v for k, v in stream[-1][0].items()
            if k in {"id", "customer_id", "status", "amount", "channel"}}
for model in (OrderContract, StrictOrderContract):
    try:
        model.model_validate(v2_order)
    except ValidationError as problem:
        found = [f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in problem.errors()]
        print(f"{model.__name__:<20}", "; ".join(found))

# %% [markdown]
# * Un **lector tolerante** (`extra="ignore"`, o cerberus con `allow_unknown=True`) no se
#   entera de `channel`: bien si no lo necesitas, mal si era importante. Sí se entera de que
#   falta `total` y de que `customer_id` ya no es un entero.
# * Un contrato **estricto** (`extra="forbid"`) lo ve todo, pero una novedad inocente
#   detiene la carga.
# * Lo sensato: validar **lo que usas** con rigor, **medir** la deriva de lo demás (el informe
#   de arriba) y alertar; no romper por un campo opcional nuevo.
#
# En producción, el contrato se publica en un **registro de esquemas** (Confluent Schema
# Registry con Avro, Protobuf o JSON Schema) con reglas de **compatibilidad**: *BACKWARD* (los
# lectores nuevos leen datos viejos), *FORWARD* (los viejos leen datos nuevos) o *FULL*.
# Añadir un campo opcional con valor por defecto es compatible; renombrar o cambiar un tipo,
# no: el registro rechaza esa versión antes de que llegue a ti.
#
# La biblioteca trae el informe listo, `detect_drift`, con tres políticas (`"warn"`,
# `"quarantine"`, `"fail"`). Acepta el esquema cerberus tal cual o un diccionario de tipos,
# con los nombres de cerberus (`list`, `dict`) o los de JSON Schema (`array`, `object`):

# %%
library_drift = detect_drift(DECLARED, all_records, policy="quarantine",
                             quarantine=workdir / "cuarentena-deriva.jsonl")
print(library_drift.summary())
print(f"sanos: {len(library_drift.clean)} | apartados: {len(library_drift.drifted)} "
      f"en {library_drift.quarantine_path.name}")

# %% [markdown]
# ## 8. Ejercicios
#
# Cada ejercicio tiene una celda para tu respuesta (`...`), una comprobación automática
# (`qN.check`), una pista (`qN.hint()`) y la solución (`qN.solution()`). Aquí verás la celda
# vacía, la pista y la solución de referencia ejecutada; escribe la tuya en la celda vacía.
#
# ### Ejercicio 1 · Un esquema cerberus para los pedidos
#
# Escribe `order_schema`, un esquema cerberus para los pedidos que acepte los válidos y
# rechace cada defecto del laboratorio (total negativo o como texto, `status` fuera del
# catálogo, `customer_id` nulo, `currency` ausente, fecha no ISO, una línea con cantidad 0) y
# también una fecha **sin zona horaria**. La comprobación usa
# `Validator(order_schema, allow_unknown=True)`: basta con declarar `id`, `customer_id`,
# `currency`, `status`, `total`, `created_at` e `items`.

# %%
order_schema = ...
q1.check(order_schema)

# %%
q1.hint()

# %%
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

# %% [markdown]
# ### Ejercicio 2 · Un modelo pydantic en la frontera
#
# Escribe un modelo `Order` (con un modelo `Item` para las líneas) que acepte los pedidos
# válidos, convierta `created_at` en un `datetime` **con zona horaria** y lance
# `ValidationError` con los mismos defectos del ejercicio 1.

# %%
Order = ...
q2.check(Order)

# %%
q2.hint()

# %%
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

# %% [markdown]
# ### Ejercicio 3 · Un esquema pandera para las líneas de pedido
#
# Un DataFrame con una fila por **línea** de pedido: `order_id`, `product_id`, `quantity`,
# `unit_price`, `line_total`. Escribe `OrderLines` para que exija ids positivos, cantidad ≥ 1,
# importes ≥ 0, que la pareja `(order_id, product_id)` no se repita (¡un pedido **sí** puede
# tener varias líneas!) y que `line_total` sea `quantity × unit_price` (±0,01).

# %%
OrderLines = ...
q3.check(OrderLines)

# %%
q3.hint()

# %%
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

# %% [markdown]
# ### Ejercicio 4 · Un informe de deriva de esquema
#
# Escribe `drift_report(declared, records)`. `declared` asocia cada campo con su tipo JSON
# (`"integer"`, `"number"`, `"string"`, `"boolean"`, `"array"`, `"object"`). Devuelve un dict:
#
# * `"added"`: campos que aparecen en algún registro y no están declarados (lista ordenada);
# * `"missing"`: campos declarados que faltan en algún registro (lista ordenada);
# * `"changed"`: `{campo: [tipos observados que no encajan]}` para los declarados. Un
#   `"integer"` encaja en `"number"`, y `null` nunca cuenta como cambio.

# %%
drift_report = ...
q4.check(drift_report)

# %%
q4.hint()

# %%
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

# %% [markdown]
# ## Resumen
#
# | | cerberus | pydantic | pandera |
# |---|---|---|---|
# | Valida | registros (dict) | registros → objetos tipados | DataFrames (columnas, filas, tabla) |
# | El esquema es | un diccionario (dato: se guarda, se genera) | una clase (código: IDE y mypy la entienden) | una clase o un objeto `DataFrameSchema` |
# | Convierte tipos | no (salvo `coerce` explícito) | sí, en modo *lax*; `strict=True` para no hacerlo | con `coerce=True` |
# | Reglas propias | `check_with`, `_validate_<regla>` | `field_validator`, `model_validator` | `Check`, `@pa.check`, `@pa.dataframe_check` |
# | Todos los errores | sí (`v.errors`) | sí, por documento o lote (`TypeAdapter`) | con `lazy=True` |
# | Dónde brilla | esquemas dinámicos, configurables | la frontera de tu código, contratos | calidad de datos en tablas |
#
# (Sobre velocidad: pydantic 2 valida con un núcleo escrito en Rust, `pydantic-core`, y suele
# ser mucho más rápido que cerberus, que es Python puro.)
#
# * Valida **en la frontera** y di **por qué** falla cada registro: contar no es validar.
# * *Fail fast* para contratos que no pueden romperse; *fail late* con **cuarentena** y un
#   **presupuesto** de inválidos para fuentes de terceros.
# * Los nulos que produce `errors="coerce"` solo son seguros si el esquema los prohíbe.
# * La **unicidad** por clave atrapa los duplicados de la paginación.
# * Mide la **deriva** (declarado contra observado) y decide una política: avisar, apartar o
#   fallar. En producción, un registro de esquemas con reglas de compatibilidad.

# %% [markdown]
# ---
#
# **← Anterior:** [02 · Paginación e ingesta incremental](02_paginacion_incremental.ipynb) ·
# **Siguiente →:** 04 · Autenticación y OAuth2 *(en preparación; mientras tanto, vuelve al
# [índice](00_puesta_en_marcha.ipynb))*
