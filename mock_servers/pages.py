"""Pre-serialized collections and the pure arithmetic of the four pagination styles.

Speed comes from doing the JSON work once: a :class:`Collection` keeps each
record serialized by orjson, sorted by id, so a page is a slice of byte
strings joined with commas. Orders change while a lesson runs, so
:class:`LiveOrders` rebuilds their collection when ``ShopData.version`` moves.

Positions are counted in *listing order* (ascending id, or descending with
``order=desc``), which is what offset and page numbers index; cursors and
keyset pagination instead remember the last id seen, so inserts and deletes
elsewhere in the list cannot make them skip or repeat a record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from .data import ShopData

__all__ = ["Collection", "CursorError", "LiveOrders", "Order", "decode_cursor", "encode_cursor"]

Order = Literal["asc", "desc"]


class CursorError(ValueError):
    """A cursor the server did not issue (or one that was edited); message in Spanish."""


class Collection:
    """Records sorted by ``id``, each serialized once; immutable after construction."""

    def __init__(self, records: Sequence[dict[str, Any]], version: int = 0) -> None:
        ordered = sorted(records, key=lambda r: int(r["id"]))
        self.version = version
        self.ids: list[int] = [int(r["id"]) for r in ordered]
        self.blobs: list[bytes] = [orjson.dumps(r) for r in ordered]
        #: Fingerprint of the whole content: equal digests mean byte-identical pages.
        self.digest = hashlib.blake2b(b"\n".join(self.blobs), digest_size=16).hexdigest().encode()

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, record_id: int) -> bytes | None:
        """The serialized record with this id, or ``None``."""
        index = bisect_left(self.ids, record_id)
        if index < len(self.ids) and self.ids[index] == record_id:
            return self.blobs[index]
        return None

    def window(self, start: int, count: int, order: Order = "asc") -> list[bytes]:
        """``count`` records from listing position ``start`` (``[]`` past the end)."""
        n = len(self.blobs)
        if start >= n or count <= 0:
            return []
        if order == "asc":
            return self.blobs[start : start + count]
        high = n - start
        return self.blobs[max(high - count, 0) : high][::-1]

    def position_after(self, after_id: int | None, order: Order = "asc") -> int:
        """Listing position of the first record that comes after id ``after_id``."""
        if after_id is None:
            return 0
        if order == "asc":
            return bisect_right(self.ids, after_id)
        return len(self.ids) - bisect_left(self.ids, after_id)

    def id_at(self, position: int, order: Order = "asc") -> int:
        """Id of the record at listing ``position`` (which must exist)."""
        return self.ids[position] if order == "asc" else self.ids[len(self.ids) - 1 - position]


class LiveOrders:
    """The orders of a :class:`ShopData` as a :class:`Collection`, rebuilt on change."""

    def __init__(self, data: ShopData) -> None:
        self._data = data
        self._lock = threading.Lock()
        self._current: Collection | None = None

    def current(self) -> Collection:
        """A consistent collection for the data's present version."""
        version, orders = self._data.snapshot()
        cached = self._current
        if cached is not None and cached.version == version:
            return cached
        with self._lock:
            if self._current is None or self._current.version != version:
                self._current = Collection(orders, version)
            return self._current


def encode_cursor(after_id: int, order: Order) -> str:
    """Opaque cursor: URL-safe base64 (no padding) of a small JSON object."""
    raw = orjson.dumps({"v": 1, "after": after_id, "order": order})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[int | None, Order]:
    """``(after_id, order)`` from a cursor; ``""`` means the first page, ascending.

    Raises :class:`CursorError` for anything this server did not issue.
    """
    if cursor == "":
        return None, "asc"
    hint = "Usa el valor de 'next_cursor' tal cual lo devolvió la respuesta anterior."
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise CursorError(f"El cursor no es válido (no es base64 de un JSON). {hint}") from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise CursorError(f"El cursor no es válido (formato desconocido). {hint}")
    after, order = payload.get("after"), payload.get("order")
    if type(after) is not int or after < 0 or order not in ("asc", "desc"):
        raise CursorError(f"El cursor no es válido (contenido alterado). {hint}")
    return after, order
