"""The quarantine file: invalid or drifted records set aside as JSON lines, crash-safe.

Private module: import :class:`QuarantineWriter` and :func:`read_quarantine`
from :mod:`connectors_lib.validation` or the package.

Format: UTF-8, one JSON object per line with ``index``, ``record``,
``reasons`` and ``validator``. Each line goes out in a single write followed
by a flush, and the file is fsynced on close, so a crash leaves at most one
incomplete last line, which :func:`read_quarantine` recognises and skips.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connectors_lib._validation_report import InvalidRecord

__all__ = ["QuarantineWriter", "read_quarantine", "write_quarantine"]

#: The public module's name, not this one's: a learner who configures
#: ``logging.getLogger("connectors_lib.validation")`` still gets these warnings.
logger = logging.getLogger("connectors_lib.validation")


class QuarantineWriter:
    """Append invalid records to a JSON-lines file, one complete line per write.

    The directory is created if needed and an existing file is appended to,
    never truncated. Each line is written in one call and flushed;
    :meth:`close` fsyncs, so once it returns the lines are on disk. Values JSON
    cannot encode (dates, decimals) are written as text. Use it as a context
    manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", newline="\n")
        #: Lines written by this writer (not counting what the file already held).
        self.written = 0

    def write(self, bad: InvalidRecord, *, validator: str) -> None:
        """Append ``bad`` as one line, tagged with the ``validator`` that rejected it."""
        line = json.dumps(
            {
                "index": bad.index,
                "record": dict(bad.record),
                "reasons": {k: list(v) for k, v in bad.reasons.items()},
                "validator": validator,
            },
            ensure_ascii=False,
            default=_json_default,
        )
        self._file.write(line + "\n")  # one write per line: a crash cuts at most the last one
        self._file.flush()
        self.written += 1

    def close(self) -> None:
        """Flush, fsync and close; calling it again does nothing."""
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    """numpy scalars as Python numbers, dates as ISO 8601, anything else as text."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_quarantine(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The quarantined entries of ``path``; an unfinished last line (a crash) is skipped.

    Every complete line ends in a newline, so text after the last one is a
    write cut short: it is dropped with a warning on the
    ``connectors_lib.validation`` logger.
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")  # never empty: "" splits to [""]
    if lines[-1]:
        logger.warning("la última línea de %s está incompleta y se ignora", Path(path).name)
    return [json.loads(line) for line in lines[:-1] if line]


def write_quarantine(
    bad: Sequence[InvalidRecord], path: str | os.PathLike[str], validator: str
) -> Path:
    """Append every record of ``bad`` to ``path`` and fsync; the file's path is returned."""
    with QuarantineWriter(path) as writer:
        for item in bad:
            writer.write(item, validator=validator)
    return writer.path
