"""Every lesson is a committed notebook with outputs and a py:percent twin that says the same."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PAIRS = sorted((NOTEBOOKS / "py").glob("[0-9][0-9]_*.py"))


def _sources(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.stem)
def test_every_py_pair_has_its_notebook(pair: Path) -> None:
    """A lesson written as py:percent has its executed .ipynb beside the others."""
    assert (NOTEBOOKS / f"{pair.stem}.ipynb").exists(), "ejecuta `make notebooks`"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_notebook_and_py_pair_have_the_same_cells(lesson: Path) -> None:
    """The .ipynb and its notebooks/py twin hold the same cells (run `make notebooks` if not)."""
    pair = NOTEBOOKS / "py" / f"{lesson.stem}.py"
    assert pair.exists(), f"falta {pair.name}"
    assert _sources(nbformat.read(lesson, as_version=4)) == _sources(jupytext.read(pair))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_outputs_and_no_errors(lesson: Path) -> None:
    """Every code cell ran, in order, and only cells tagged raises-exception show an error."""
    notebook = nbformat.read(lesson, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    assert code, "un cuaderno sin código no es una lección"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "reejecútalo de arriba abajo"
    for cell in code:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors) == tagged, cell.source[:80]
