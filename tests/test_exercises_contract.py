"""What every exercise promises whose solution cell runs in its lesson: it passes, it matches,
and an untouched stub is told to answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from exercise_support import run_solution

from connectors_lib.exercises import Exercise, lesson02, lesson03

NOTEBOOKS_PY = Path(__file__).resolve().parents[1] / "notebooks" / "py"
#: Lesson module → its py:percent source, where each solution runs in a cell of its own.
LESSONS = {
    lesson02: NOTEBOOKS_PY / "02_paginacion_incremental.py",
    lesson03: NOTEBOOKS_PY / "03_validacion_esquemas.py",
}
CASES = [
    pytest.param(module, getattr(module, name), id=f"{module.__name__[-8:]}-{name}")
    for module in LESSONS
    for name in module.__all__
]


@pytest.mark.parametrize(("module", "exercise"), CASES)
def test_reference_solution_passes_its_own_check(module: object, exercise: Exercise) -> None:
    """The solution text, run as is, prints a ✅ verdict."""
    _, printed = run_solution(exercise)
    assert printed.startswith(f"Ejercicio {exercise.number} — ✅ Correcto")


@pytest.mark.parametrize(("module", "exercise"), CASES)
def test_the_notebook_runs_the_same_solution_it_prints(module: object, exercise: Exercise) -> None:
    """The lesson's solution cell is exactly what qN.solution() prints (they cannot drift)."""
    assert exercise.solution_code.strip() in LESSONS[module].read_text(encoding="utf-8")  # type: ignore[index]


@pytest.mark.parametrize(("module", "exercise"), CASES)
def test_the_empty_stub_is_not_accepted(module: object, exercise: Exercise) -> None:
    """Leaving `...` in the stub cell gives a 'todavía no' verdict, not a crash."""
    verdict = exercise.verify(...)
    assert not verdict.ok
    assert "reemplaza" in verdict.message


@pytest.mark.parametrize("module", list(LESSONS), ids=lambda m: m.__name__[-8:])
def test_module_exports_exactly_the_exercises(module: object) -> None:
    """A lesson module exposes q1..qN and nothing else in __all__."""
    names = module.__all__  # type: ignore[attr-defined]
    assert names == [f"q{i}" for i in range(1, len(names) + 1)]
    assert all(isinstance(getattr(module, n), Exercise) for n in names)
