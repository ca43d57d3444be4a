"""The files the SFTP lab serves, seeded: same seed and start day, same bytes.

Layout of the virtual root (paths as the client sees them)::

    /exportes/ventas_AAAA-MM-DD.csv   daily CSV exports, the 7 days before the start day
    /eventos/eventos_AAAA-MM-DD.jsonl one JSON object per line
    /edi/pedidos_AAAAMMDD.edi         EDI-like fixed-width records (layout below)
    /grande/volcado.bin               32 MiB, generated on first access
    /grande/volcado.bin.sha256        its published checksum (``sha256sum`` format)
    /privado/nominas_AAAA-MM.csv      a folder the server refuses to list or read
    /entrantes/pedidos_en_curso.csv   "still being written": grows on the lab clock
    /subidas/                         empty, for uploads

Every modification time is fixed relative to ``day0``, the UTC midnight of
the lab clock at start (2025-01-01 with a fresh ``VirtualClock``), so listings
in lessons are deterministic. Content comes from ``random.Random`` seeded with
``(seed, file)``, never from the global generator.

EDI fixed-width layout (one record per line, ASCII, ``\\n``)::

    HDR  cols 1-3 "HDR", 4-18 sender (15), 19-33 receiver (15), 34-41 date YYYYMMDD
    DTL  cols 1-3 "DTL", 4-13 order (10), 14-25 SKU (12), 26-31 quantity (6, zero-padded),
         32-41 unit price in cents (10, zero-padded), 42-44 currency (3)
    TRL  cols 1-3 "TRL", 4-9 number of DTL records (6, zero-padded)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BIG_FILE",
    "BIG_SIZE",
    "GROWING_FILE",
    "RESTRICTED_DIR",
    "BigFile",
    "GrowingFile",
    "SeededTree",
    "seed_tree",
]

DAY = 86_400
BIG_FILE = "/grande/volcado.bin"
#: 32 MiB: big enough that resume and throughput matter, small enough for CI.
BIG_SIZE = 32 * 1024 * 1024
GROWING_FILE = "/entrantes/pedidos_en_curso.csv"
RESTRICTED_DIR = "/privado"

_STORES = ("MAD-01", "BCN-02", "VLC-03", "SEV-04", "BIO-05")
_SKUS = tuple(f"SKU-{n:05d}" for n in range(10_000, 10_040))
_EVENTS = ("login", "vista_producto", "carrito", "compra", "logout")


def _day_name(day: float) -> str:
    return dt.datetime.fromtimestamp(day, dt.UTC).strftime("%Y-%m-%d")


def _sales_csv(rng: random.Random, date: str, rows: int) -> bytes:
    lines = ["id_venta,fecha,tienda,sku,cantidad,precio_unitario,moneda"]
    for i in range(rows):
        lines.append(
            f"{date.replace('-', '')}{i:05d},{date},{rng.choice(_STORES)},{rng.choice(_SKUS)},"
            f"{rng.randint(1, 12)},{rng.randint(199, 25_000) / 100:.2f},EUR"
        )
    return ("\n".join(lines) + "\n").encode("ascii")


def _events_jsonl(rng: random.Random, day: float, rows: int) -> bytes:
    out = []
    for i in range(rows):
        ts = dt.datetime.fromtimestamp(day + rng.randrange(DAY), dt.UTC)
        record = {
            "id": i + 1,
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tipo": rng.choice(_EVENTS),
            "usuario": f"u{rng.randint(1, 300):04d}",
            "importe": round(rng.uniform(1, 500), 2) if rng.random() < 0.3 else None,
        }
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode("utf-8")


def _edi(rng: random.Random, date: str, rows: int) -> bytes:
    lines = [f"HDR{'PROVEEDOR-ACME':<15}{'CLIENTE-LAB':<15}{date.replace('-', '')}"]
    for i in range(rows):
        lines.append(
            f"DTL{f'P{i + 1:06d}':<10}{rng.choice(_SKUS):<12}{rng.randint(1, 999):06d}"
            f"{rng.randint(100, 999_999):010d}EUR"
        )
    lines.append(f"TRL{rows:06d}")
    return ("\n".join(lines) + "\n").encode("ascii")


class BigFile:
    """The large download, written on first access so that start-up stays fast.

    Content is ``random.Random("<seed>:volcado").randbytes(BIG_SIZE)``; its
    SHA-256 is computed while writing and also published beside it.
    """

    def __init__(self, base: Path, seed: int, mtime: float, folder_mtime: float) -> None:
        self._path = base / BIG_FILE.lstrip("/")
        self._seed = seed
        self._mtime = mtime
        self._folder_mtime = folder_mtime
        self._lock = threading.Lock()
        self._sha256: str | None = None

    def touches(self, vpath: str) -> bool:
        """True when an operation on ``vpath`` needs the file to exist."""
        return vpath == "/grande" or vpath.startswith("/grande/")

    def sha256(self) -> str:
        """The published hex digest (generates the file if needed)."""
        self.sync()
        assert self._sha256 is not None
        return self._sha256

    def sync(self, _now: float = 0.0) -> None:
        with self._lock:
            if self._sha256 is not None:
                return
            data = random.Random(f"{self._seed}:volcado").randbytes(BIG_SIZE)
            digest = hashlib.sha256(data).hexdigest()
            self._path.write_bytes(data)
            side = self._path.with_name(self._path.name + ".sha256")
            side.write_text(f"{digest}  {self._path.name}\n", encoding="ascii")
            for path in (self._path, side):
                os.utime(path, (self._mtime, self._mtime))
            # Creating the files moved the folder's mtime; put back the seeded one.
            os.utime(self._path.parent, (self._folder_mtime, self._folder_mtime))
            self._sha256 = digest


@dataclass(frozen=True)
class _Growth:
    visible: int
    mtime: float


class GrowingFile:
    """A file another process is still writing, as a pure function of the lab clock.

    ``chunks`` equal slices of the final content appear one per ``step_s``
    seconds of ``clock.monotonic()`` after ``started``; its modification time is
    the moment of the last slice, in wall time (``wall_origin`` is the wall
    time at monotonic zero). The bytes are written to disk lazily, right
    before any operation that could observe them, so what a client sees is
    exactly :meth:`growth` at that instant, whatever the speed of the machine.
    """

    def __init__(
        self,
        base: Path,
        content: bytes,
        *,
        started: float,
        wall_origin: float,
        chunks: int = 10,
        step_s: float = 1.0,
    ) -> None:
        self._path = base / GROWING_FILE.lstrip("/")
        self._content = content
        self._started = started
        self._wall_origin = wall_origin
        self._chunks = chunks
        self._step = step_s
        self._lock = threading.Lock()
        self._written = -1

    @property
    def size(self) -> int:
        """The final size, once the writer is done."""
        return len(self._content)

    def growth(self, now: float) -> _Growth:
        """Visible size and mtime at monotonic time ``now``."""
        steps = min(int(max(now - self._started, 0.0) // self._step), self._chunks - 1)
        visible = -(-len(self._content) * (steps + 1) // self._chunks)
        return _Growth(visible, self._wall_origin + self._started + steps * self._step)

    def complete(self, now: float) -> bool:
        return self.growth(now).visible >= len(self._content)

    def touches(self, vpath: str) -> bool:
        return vpath in (GROWING_FILE, "/entrantes")

    def restart(self, now: float) -> None:
        """Start writing again from the first slice, as of monotonic time ``now``."""
        with self._lock:
            self._started = now
            self._written = -1
        self.sync(now)

    def sync(self, now: float) -> None:
        with self._lock:
            state = self.growth(now)
            if state.visible == self._written:
                return
            with self._path.open("r+b" if self._written >= 0 else "wb") as handle:
                handle.seek(max(self._written, 0))
                handle.write(self._content[max(self._written, 0) : state.visible])
            os.utime(self._path, (state.mtime, state.mtime))
            self._written = state.visible


@dataclass(frozen=True)
class SeededTree:
    """What :func:`seed_tree` created: the dynamic files and the start day."""

    day0: float
    big: BigFile
    growing: GrowingFile


def seed_tree(base: Path, seed: int, *, now: float, monotonic: float) -> SeededTree:
    """Fill ``base`` with the lab files; ``now`` fixes the dates, ``monotonic`` the growth."""
    day0 = (int(now) // DAY) * DAY
    files: dict[str, tuple[bytes, float]] = {}
    for back in range(7, 0, -1):
        day = day0 - back * DAY
        name = _day_name(day)
        rng = random.Random(f"{seed}:ventas:{name}")
        files[f"exportes/ventas_{name}.csv"] = (
            _sales_csv(rng, name, 150 + rng.randrange(100)),
            day + DAY - 300,
        )
    last = _day_name(day0 - DAY)
    files[f"eventos/eventos_{last}.jsonl"] = (
        _events_jsonl(random.Random(f"{seed}:eventos"), day0 - DAY, 500),
        day0 - 120,
    )
    files[f"edi/pedidos_{last.replace('-', '')}.edi"] = (
        _edi(random.Random(f"{seed}:edi"), last, 80),
        day0 - 3600,
    )
    month = dt.datetime.fromtimestamp(day0 - DAY, dt.UTC).strftime("%Y-%m")
    files[f"privado/nominas_{month}.csv"] = (
        _sales_csv(random.Random(f"{seed}:nominas"), last, 20),
        day0 - 2 * DAY,
    )
    for rel, (data, mtime) in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
    for folder in ("grande", "entrantes", "subidas"):
        (base / folder).mkdir(exist_ok=True)
    growing = GrowingFile(
        base,
        _sales_csv(random.Random(f"{seed}:en_curso"), _day_name(day0), 400),
        started=monotonic,
        wall_origin=now - monotonic,
    )
    growing.sync(monotonic)
    for folder in ("exportes", "eventos", "edi", "privado", "grande", "entrantes", "subidas"):
        os.utime(base / folder, (day0 - 60, day0 - 60))
    os.utime(base, (day0 - 60, day0 - 60))
    big = BigFile(base, seed, mtime=day0 - 6 * 3600, folder_mtime=day0 - 60)
    return SeededTree(day0=day0, big=big, growing=growing)
