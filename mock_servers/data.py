"""The lab's seeded dataset: a fictional LATAM online shop, plus a public-APIs catalogue.

Same seed, same data, byte for byte: everything comes from one
``random.Random(seed)`` and fixed lists below (no Faker, whose output changes
between versions). Timestamps are in 2024, UTC, so no lesson depends on today.

A few records break the published schema *on purpose* (see
:data:`BROKEN_ORDERS` and :data:`BROKEN_CUSTOMERS`): the validation lesson
finds them. Everything else is valid.

:class:`ShopData` is the mutable view the servers read: a lesson can insert or
delete orders while a client paginates, to show offset pagination skipping or
repeating rows while cursor and keyset pagination stay correct.
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "BROKEN_CUSTOMERS",
    "BROKEN_ORDERS",
    "COUNTRIES",
    "Dataset",
    "ShopData",
    "build_dataset",
    "make_order",
]

Record = dict[str, Any]

#: ISO code → (country name in Spanish, currency, cities, units of currency per USD).
#: Rates are round, fixed numbers: this is a lab, not a finance feed.
COUNTRIES: dict[str, tuple[str, str, tuple[str, ...], float]] = {
    "AR": ("Argentina", "ARS", ("Buenos Aires", "Córdoba", "Rosario", "Mendoza"), 900.0),
    "BO": ("Bolivia", "BOB", ("La Paz", "Santa Cruz", "Cochabamba"), 6.9),
    "BR": ("Brasil", "BRL", ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"), 5.0),
    "CL": ("Chile", "CLP", ("Santiago", "Valparaíso", "Concepción"), 900.0),
    "CO": ("Colombia", "COP", ("Bogotá", "Medellín", "Cali", "Barranquilla"), 4000.0),
    "CR": ("Costa Rica", "CRC", ("San José", "Alajuela"), 520.0),
    "EC": ("Ecuador", "USD", ("Quito", "Guayaquil", "Cuenca"), 1.0),
    "MX": ("México", "MXN", ("Ciudad de México", "Guadalajara", "Monterrey", "Puebla"), 17.0),
    "PE": ("Perú", "PEN", ("Lima", "Arequipa", "Trujillo", "Cusco"), 3.7),
    "PY": ("Paraguay", "PYG", ("Asunción", "Ciudad del Este"), 7300.0),
    "UY": ("Uruguay", "UYU", ("Montevideo", "Salto"), 39.0),
}

_FIRST_NAMES = (
    "Ana", "Bruno", "Camila", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Isabel",
    "Javier", "Karina", "Luis", "María", "Nicolás", "Olga", "Pablo", "Renata", "Santiago",
    "Teresa", "Valentina", "Ximena", "Yolanda", "Andrés", "Beatriz", "Carlos", "Daniela",
    "Esteban", "Fernanda", "Gonzalo", "Lucía", "Mateo", "Paula", "Sofía", "Tomás",
)
_LAST_NAMES = (
    "García", "Rodríguez", "Martínez", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes", "Gutiérrez",
    "Ortiz", "Castillo", "Vargas", "Rojas", "Silva", "Mendoza", "Herrera", "Aguilar",
    "Medina", "Castro", "Suárez", "Romero", "Navarro",
)
_EMAIL_DOMAINS = ("correo.example", "mail.example", "tienda.example")
_SEGMENTS = ("minorista", "mayorista", "corporativo")

#: (category, product names, price range in USD).
_CATALOGUE: tuple[tuple[str, tuple[str, ...], tuple[float, float]], ...] = (
    ("café", ("Café de Colombia 500 g", "Café de Veracruz 1 kg", "Café del Cusco 250 g",
              "Cápsulas de espresso x20", "Café de Minas Gerais 500 g"), (6.0, 28.0)),
    ("alimentos", ("Yerba mate 1 kg", "Dulce de leche 450 g", "Quinoa orgánica 1 kg",
                   "Harina de maíz 1 kg", "Chocolate de Tabasco 100 g", "Miel de abeja 500 g"),
     (2.0, 15.0)),
    ("hogar", ("Hamaca de algodón", "Manta de alpaca", "Olla de barro", "Set de mates",
               "Cesta de mimbre", "Tapete tejido a mano"), (12.0, 120.0)),
    ("electrónica", ("Audífonos inalámbricos", "Cargador USB-C 65 W", "Parlante portátil",
                     "Teclado mecánico", "Mouse ergonómico", "Cámara web HD"), (15.0, 180.0)),
    ("libros", ("Cien años de soledad", "Rayuela", "Pedro Páramo", "Ficciones",
                "La casa de los espíritus", "Los detectives salvajes"), (8.0, 30.0)),
    ("deportes", ("Camiseta de fútbol", "Balón n.º 5", "Botella térmica 1 L",
                  "Mochila de trekking 30 L", "Esterilla de yoga"), (10.0, 90.0)),
)

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
_STATUS_WEIGHTS = (0.08, 0.17, 0.20, 0.50, 0.05)

#: Orders that break the published schema on purpose: id → what is wrong.
BROKEN_ORDERS: dict[int, str] = {
    57: "total negativo",
    142: "status fuera del catálogo ('UNKNOWN')",
    333: "customer_id nulo",
    518: "currency ausente",
    777: "created_at con formato no ISO ('31/12/2024 10:00')",
    901: "item con quantity 0",
    1024: "total como texto ('1.234,50')",
}

#: Customers that break the published schema on purpose: id → what is wrong.
BROKEN_CUSTOMERS: dict[int, str] = {
    13: "email sin arroba",
    88: "country fuera del catálogo ('XX')",
}

_EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_accents(text: str) -> str:
    table = str.maketrans("áéíóúñãçÁÉÍÓÚÑ", "aeiounacAEIOUN")
    return text.translate(table)


@dataclass(frozen=True)
class Dataset:
    """The seeded collections, as plain JSON-ready dicts."""

    seed: int
    customers: list[Record]
    products: list[Record]
    orders: list[Record]
    entries: list[Record]


def _customers(rng: random.Random, n: int) -> list[Record]:
    codes = sorted(COUNTRIES)
    out: list[Record] = []
    for cid in range(1, n + 1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        country = rng.choice(codes)
        city = rng.choice(COUNTRIES[country][2])
        handle = _strip_accents(f"{first}.{last}").lower()
        email = f"{handle}{cid}@{rng.choice(_EMAIL_DOMAINS)}"
        signup = _EPOCH_2024 - timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399))
        out.append({
            "id": cid,
            "name": f"{first} {last}",
            "email": email,
            "country": country,
            "city": city,
            "segment": rng.choices(_SEGMENTS, weights=(0.8, 0.15, 0.05))[0],
            "created_at": _iso(signup),
        })
    out[13 - 1]["email"] = out[13 - 1]["email"].replace("@", " en ")
    out[88 - 1]["country"] = "XX"
    return out


def _products(rng: random.Random) -> list[Record]:
    out: list[Record] = []
    pid = 0
    for category, names, (low, high) in _CATALOGUE:
        for name in names:
            pid += 1
            out.append({
                "id": pid,
                "sku": f"SKU-{pid:04d}",
                "name": name,
                "category": category,
                "price_usd": round(rng.uniform(low, high), 2),
                "active": rng.random() > 0.1,
            })
    return out


def make_order(
    rng: random.Random,
    order_id: int,
    created: datetime,
    customers: list[Record],
    products: list[Record],
) -> Record:
    """One valid order placed at ``created`` (also used for orders inserted live)."""
    customer = rng.choice(customers)
    country = customer["country"] if customer["country"] in COUNTRIES else "MX"
    currency, rate = COUNTRIES[country][1], COUNTRIES[country][3]
    items: list[Record] = []
    for product in rng.sample(products, k=rng.randint(1, 4)):
        unit_price = round(product["price_usd"] * rate, 2)
        items.append({
            "product_id": product["id"],
            "sku": product["sku"],
            "quantity": rng.randint(1, 5),
            "unit_price": unit_price,
        })
    total = round(sum(it["quantity"] * it["unit_price"] for it in items), 2)
    status = rng.choices(ORDER_STATUSES, weights=_STATUS_WEIGHTS)[0]
    updated = created + timedelta(minutes=rng.randint(0, 60 * 24 * 5))
    return {
        "id": order_id,
        "order_number": f"PED-{order_id:06d}",
        "customer_id": customer["id"],
        "country": country,
        "currency": currency,
        "status": status,
        "total": total,
        "items": items,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
    }


def _break_orders(orders: list[Record]) -> None:
    by_id = {o["id"]: o for o in orders}
    by_id[57]["total"] = -abs(by_id[57]["total"])
    by_id[142]["status"] = "UNKNOWN"
    by_id[333]["customer_id"] = None
    del by_id[518]["currency"]
    by_id[777]["created_at"] = "31/12/2024 10:00"
    by_id[901]["items"][0]["quantity"] = 0
    by_id[1024]["total"] = "1.234,50"


def _orders(
    rng: random.Random, n: int, customers: list[Record], products: list[Record]
) -> list[Record]:
    year = 366 * 24 * 3600  # 2024 is a leap year
    moments = sorted(rng.randrange(year) for _ in range(n))
    out = [
        make_order(rng, oid, _EPOCH_2024 + timedelta(seconds=sec), customers, products)
        for oid, sec in enumerate(moments, start=1)
    ]
    _break_orders(out)
    return out


_API_WORDS = (
    ("Clima", "Pronóstico del tiempo por ciudad", "Weather"),
    ("Tasas", "Tipos de cambio de monedas latinoamericanas", "Currency Exchange"),
    ("Feriados", "Días festivos por país", "Calendar"),
    ("Libros", "Catálogo abierto de libros", "Books"),
    ("Transporte", "Horarios de transporte público", "Transportation"),
    ("Geocodificación", "Direcciones a coordenadas", "Geocoding"),
    ("Noticias", "Titulares de medios regionales", "News"),
    ("Música", "Metadatos de canciones y artistas", "Music"),
    ("Salud", "Establecimientos de salud abiertos", "Health"),
    ("Fútbol", "Resultados y tablas de ligas", "Sports & Fitness"),
    ("Recetas", "Recetas de cocina latinoamericana", "Food & Drink"),
    ("Museos", "Colecciones de museos", "Art & Design"),
)
_AUTH_KINDS = ("", "apiKey", "OAuth", "X-Mashape-Key")
_CORS = ("yes", "no", "unknown")


def _entries(rng: random.Random, n: int) -> list[Record]:
    """Rows in the shape of the public-APIs catalogue (``API``, ``Description``, ``HTTPS``...)."""
    out: list[Record] = []
    for i in range(n):
        name, description, category = _API_WORDS[i % len(_API_WORDS)]
        suffix = i // len(_API_WORDS)
        api = name if suffix == 0 else f"{name} {suffix + 1}"
        slug = _strip_accents(api).lower().replace(" ", "-")
        out.append({
            "API": api,
            "Description": description,
            "Auth": rng.choice(_AUTH_KINDS),
            "HTTPS": rng.random() > 0.15,
            "Cors": rng.choice(_CORS),
            "Link": f"https://{slug}.api.example/",
            "Category": category,
        })
    # Like the real catalogue, not every row is clean: one null description
    # (allowed) and one HTTPS flag typed as text (breaks the lesson's schema).
    out[5]["Description"] = None
    out[17]["HTTPS"] = "yes"
    return out


def build_dataset(
    seed: int = 42, *, n_customers: int = 200, n_orders: int = 1200, n_entries: int = 60
) -> Dataset:
    """Build the whole dataset from ``seed``; the same seed always gives the same bytes."""
    if n_orders < 1024 or n_customers < 88 or n_entries < 18:
        raise ValueError("el dataset necesita al menos 1024 pedidos, 88 clientes y 18 entradas")
    rng = random.Random(seed)
    customers = _customers(rng, n_customers)
    products = _products(rng)
    orders = _orders(rng, n_orders, customers, products)
    entries = _entries(rng, n_entries)
    return Dataset(seed, customers, products, orders, entries)


@dataclass
class ShopData:
    """The live, mutable shop the servers read, guarded by a lock.

    ``version`` grows on every change, so ETags and caches can tell.
    """

    dataset: Dataset
    orders: list[Record] = field(init=False)
    version: int = field(init=False, default=0)
    _lock: threading.RLock = field(init=False, repr=False, default_factory=threading.RLock)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def customers(self) -> list[Record]:
        return self.dataset.customers

    @property
    def products(self) -> list[Record]:
        return self.dataset.products

    @property
    def entries(self) -> list[Record]:
        return self.dataset.entries

    def reset(self) -> None:
        """Back to the seeded orders (drops inserted ones, restores deleted ones)."""
        with self._lock:
            self.orders = copy.deepcopy(self.dataset.orders)
            self._rng = random.Random(self.dataset.seed + 1)
            self.version += 1

    def insert_orders(self, n: int, *, created_at: float) -> list[Record]:
        """Append ``n`` new valid orders created at epoch ``created_at``; returns them."""
        if n < 1:
            raise ValueError("n debe ser al menos 1")
        with self._lock:
            next_id = max((o["id"] for o in self.orders), default=0) + 1
            created = datetime.fromtimestamp(created_at, tz=UTC)
            new = [
                make_order(self._rng, next_id + i, created, self.customers, self.products)
                for i in range(n)
            ]
            self.orders = [*self.orders, *new]  # copy on write: snapshots stay valid
            self.version += 1
            return new

    def delete_orders(self, ids: list[int]) -> int:
        """Delete the orders with these ids; returns how many were there."""
        wanted = set(ids)
        with self._lock:
            before = len(self.orders)
            self.orders = [o for o in self.orders if o["id"] not in wanted]
            self.version += 1
            return before - len(self.orders)

    def snapshot(self) -> tuple[int, list[Record]]:
        """(version, orders) as one consistent pair; the list must not be mutated."""
        with self._lock:
            return self.version, self.orders
