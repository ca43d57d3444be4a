"""The seeded dataset: same seed, same bytes; broken records exactly where documented."""

from __future__ import annotations

import hashlib
import json

import pytest

from mock_servers.data import BROKEN_CUSTOMERS, BROKEN_ORDERS, ShopData, build_dataset


def _digest(seed: int) -> str:
    d = build_dataset(seed)
    blob = json.dumps([d.customers, d.products, d.orders, d.entries], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def test_same_seed_gives_the_same_bytes() -> None:
    """Two builds with seed 42 serialize identically."""
    assert _digest(42) == _digest(42)


def test_other_seed_gives_other_data() -> None:
    """The seed matters: 7 and 42 give different shops."""
    assert _digest(7) != _digest(42)


def test_sizes_and_unique_ids() -> None:
    """At least 1,000 orders; ids unique and ascending."""
    d = build_dataset(42)
    ids = [o["id"] for o in d.orders]
    assert len(ids) >= 1000
    assert ids == sorted(set(ids))
    assert len({c["id"] for c in d.customers}) == len(d.customers)


def test_broken_orders_are_exactly_the_documented_ones() -> None:
    """Only the orders listed in BROKEN_ORDERS violate the basic rules."""

    def broken(o: dict[str, object]) -> bool:
        total = o.get("total")
        items = o.get("items")
        return (
            not isinstance(total, float | int) or total < 0
            or o.get("status") not in {"pending", "paid", "shipped", "delivered", "cancelled"}
            or o.get("customer_id") is None
            or "currency" not in o
            or not str(o.get("created_at", "")).endswith("Z")
            or not isinstance(items, list) or any(it["quantity"] < 1 for it in items)
        )

    found = {o["id"] for o in build_dataset(42).orders if broken(o)}
    assert found == set(BROKEN_ORDERS)


def test_broken_customers_are_exactly_the_documented_ones() -> None:
    """Only the customers in BROKEN_CUSTOMERS have a bad email or country."""
    d = build_dataset(42)
    found = {c["id"] for c in d.customers if "@" not in c["email"] or c["country"] == "XX"}
    assert found == set(BROKEN_CUSTOMERS)


def test_totals_add_up_for_valid_orders() -> None:
    """A valid order's total is the sum of its items."""
    for o in build_dataset(42).orders:
        if o["id"] in BROKEN_ORDERS:
            continue
        expected = round(sum(it["quantity"] * it["unit_price"] for it in o["items"]), 2)
        assert o["total"] == pytest.approx(expected)


def test_insert_and_delete_change_version_and_reset_restores() -> None:
    """ShopData mutations bump the version; reset brings back the seeded orders."""
    shop = ShopData(build_dataset(42))
    v0, orders0 = shop.snapshot()
    new = shop.insert_orders(3, created_at=1_735_689_600.0)
    assert [o["id"] for o in new] == [1201, 1202, 1203]
    assert new[0]["created_at"] == "2025-01-01T00:00:00Z"
    assert shop.delete_orders([1, 2, 99999]) == 2
    v1, orders1 = shop.snapshot()
    assert v1 > v0
    assert len(orders1) == len(orders0) + 1
    assert len(orders0) == 1200, "a snapshot is not changed by later writes"
    shop.reset()
    assert shop.snapshot()[1] == build_dataset(42).orders


def test_too_small_a_dataset_is_refused() -> None:
    """The documented broken records need at least 1,024 orders."""
    with pytest.raises(ValueError, match="al menos"):
        build_dataset(42, n_orders=100)
