"""Shared by the exercise tests: run a printed solution the way a notebook cell would."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from connectors_lib.exercises import Exercise


def run_solution(exercise: Exercise) -> tuple[dict[str, Any], str]:
    """Execute the printed solution as a learner would paste it; return its namespace and output."""
    namespace: dict[str, Any] = {f"q{exercise.number}": exercise}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # dont_inherit: run it as a notebook cell would, without the caller's __future__ imports
        code = compile(exercise.solution_code, f"<solución q{exercise.number}>", "exec",
                       dont_inherit=True)
        exec(code, namespace)  # noqa: S102 - our own reference text
    return namespace, out.getvalue()
