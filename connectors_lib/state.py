"""Checkpoints that survive a crash: JSON, atomic replace, owner-only, versioned.

Why not pickle (as many tutorials do): unpickling runs code chosen by whoever
can write the file, the format breaks when a class moves, and nobody can read
it. A checkpoint is a small JSON document::

    {"format": "connectors_lib.checkpoint", "version": 1,
     "stream": "GET http://host/api/v1/orders", "saved_at": 1735689600.0,
     "state": {...}}

Writes are atomic: the document goes to a temporary file in the same
directory (created with mode ``0o600``), is flushed and ``fsync``-ed, and then
``os.replace``-d over the old file, whose directory is ``fsync``-ed too. A crash
at any instant leaves either the old checkpoint or the new one, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors_lib.errors import CheckpointError

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointStore"]

#: Marks our files, so a stray JSON file is never taken for a checkpoint.
CHECKPOINT_FORMAT = "connectors_lib.checkpoint"
#: Bumped when the layout of ``state`` changes incompatibly; older files are refused.
CHECKPOINT_VERSION = 1


class CheckpointStore:
    """One checkpoint file for one stream.

    ``stream`` (optional) names what the checkpoint belongs to; loading a file
    saved for another stream raises :class:`CheckpointError` instead of resuming
    the wrong extraction. ``save(..., saved_at=clock.now())`` stamps the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, stream: str | None = None) -> None:
        self.path = Path(path)
        self.stream = stream
        #: Number of successful :meth:`save` calls (for lessons and tests).
        self.saves = 0

    def for_stream(self, stream: str) -> CheckpointStore:
        """The same file bound to ``stream`` (the connector calls this)."""
        return CheckpointStore(self.path, stream=stream)

    def load(self) -> dict[str, Any] | None:
        """The saved ``state``, or ``None`` if there is no checkpoint yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as problem:
            raise CheckpointError(
                f"No se puede leer el checkpoint ({problem.strerror}). Revisa permisos de la ruta.",
                path=str(self.path),
            ) from problem
        except UnicodeDecodeError:
            raise CheckpointError(
                "El checkpoint no es texto UTF-8 (¿un pickle u otro formato binario?). No lo "
                "cargues con pickle: bórralo y vuelve a extraer, o usa otra ruta.",
                path=str(self.path),
            ) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as problem:
            raise CheckpointError(
                f"El checkpoint no es JSON válido (línea {problem.lineno}). Bórralo para empezar "
                "de cero o restáuralo de una copia.",
                path=str(self.path),
            ) from None
        if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                "Este fichero no es un checkpoint de connectors_lib. Usa otra ruta.",
                path=str(self.path),
            )
        version = document.get("version")
        if version != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"Checkpoint con versión de formato {version!r}; esta biblioteca lee la "
                f"{CHECKPOINT_VERSION}. Empieza de cero (clear()) o usa la versión que lo "
                "escribió.",
                path=str(self.path),
            )
        saved_stream = document.get("stream")
        if self.stream is not None and saved_stream != self.stream:
            raise CheckpointError(
                f"El checkpoint es de otro flujo ({saved_stream!r}, no {self.stream!r}). "
                "Usa un fichero por flujo o bórralo.",
                path=str(self.path),
            )
        state = document.get("state")
        if not isinstance(state, dict):
            raise CheckpointError(
                "El checkpoint no tiene un 'state' válido. Bórralo para empezar de cero.",
                path=str(self.path),
            )
        return state

    def save(self, state: Mapping[str, Any], *, saved_at: float | None = None) -> None:
        """Atomically replace the checkpoint with ``state`` (must be JSON-serialisable)."""
        document = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "stream": self.stream,
            "saved_at": saved_at,
            "state": dict(state),
        }
        try:
            payload = json.dumps(document, ensure_ascii=False, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as problem:
            raise CheckpointError(
                f"El estado no se puede guardar como JSON ({problem}). Guarda solo texto, "
                "números, listas y diccionarios.",
                path=str(self.path),
            ) from None
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with 0o600 and O_EXCL: no one else can read or swap it.
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_name, 0o600)
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(directory)
        self.saves += 1

    def clear(self) -> None:
        """Delete the checkpoint (a finished run); no error if there is none."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        _fsync_directory(self.path.parent)

    def __repr__(self) -> str:
        return f"CheckpointStore({str(self.path)!r}, stream={self.stream!r})"


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
