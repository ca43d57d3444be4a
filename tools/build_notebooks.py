"""Rebuild ``notebooks/NN_*.ipynb`` from their py:percent pairs and store fresh outputs.

The ``.py`` file under ``notebooks/py/`` is the source humans review; the
``.ipynb`` beside the lessons is generated from it, executed top to bottom in a
fresh kernel (working directory ``notebooks/``), and committed with its outputs:
that is the reference nbval compares against.

    python tools/build_notebooks.py                 # every lesson
    python tools/build_notebooks.py 01 02           # lessons whose name starts so
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _coalesce_streams(outputs: list[Any]) -> list[Any]:
    """Merge consecutive stdout/stderr chunks: how a kernel splits them varies run to run."""
    merged: list[Any] = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == out.name):
            previous.text += out.text
        else:
            merged.append(out)
    return merged


def build(source: Path) -> float:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata.pop("jupytext", None)
    began = time.perf_counter()
    resources = {"metadata": {"path": str(NOTEBOOKS)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=resources).execute()
    elapsed = time.perf_counter() - began
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number:03d}"  # stable ids: a rebuild changes only what changed
        cell.get("metadata", {}).pop("execution", None)  # execution times change every run
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    target = NOTEBOOKS / f"{source.stem}.ipynb"
    nbformat.write(notebook, target)
    return elapsed


def main(prefixes: list[str]) -> int:
    sources = sorted((NOTEBOOKS / "py").glob("[0-9][0-9]_*.py"))
    if prefixes:
        sources = [s for s in sources if any(s.name.startswith(p) for p in prefixes)]
    for source in sources:
        print(f"{source.stem:<32} ", end="", flush=True)
        print(f"{build(source):6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
