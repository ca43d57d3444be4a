"""The exercise mechanism: ``qN.check(answer)``, ``qN.hint()``, ``qN.solution()``.

Each lesson module builds a few :class:`Exercise` objects. A checker is a pure
function from the learner's answer to a :class:`Verdict`, so pytest can test
it against the reference solution *and* against typical wrong answers; the
notebook-facing methods only print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["STUB_RETURNS_NONE", "Exercise", "Verdict", "fail", "passed"]


@dataclass(frozen=True)
class Verdict:
    """What a check concluded: ``ok`` and a message in Spanish."""

    ok: bool
    message: str

    def __str__(self) -> str:
        mark = "✅ Correcto" if self.ok else "❌ Todavía no"
        return f"{mark}: {self.message}"


def passed(message: str) -> Verdict:
    return Verdict(True, message)


def fail(message: str) -> Verdict:
    return Verdict(False, message)


#: Verdict for a function whose body is still ``...`` (so it returns None).
STUB_RETURNS_NONE = ("tu función aún devuelve None (¿sigue ahí el `...`?): complétala con tu "
                     "código y vuelve a ejecutar la celda.")

#: What a learner leaves in a stub cell before answering.
_UNANSWERED = (Ellipsis, None, NotImplemented)


class Exercise:
    """One exercise of a lesson.

    ``checker`` receives the learner's answer and returns a :class:`Verdict`;
    it may raise, and the exception is turned into a verdict that names it.
    """

    def __init__(
        self,
        number: int,
        title: str,
        checker: Callable[[Any], Verdict],
        *,
        hint: str,
        solution: str,
    ) -> None:
        self.number = number
        self.title = title
        self._checker = checker
        self._hint = hint
        self._solution = solution.strip("\n")

    def verify(self, answer: Any) -> Verdict:
        """The verdict for ``answer``, without printing (what the tests call)."""
        if any(answer is missing for missing in _UNANSWERED):
            return fail("aún no hay respuesta: reemplaza `...` por tu solución y vuelve a "
                        "ejecutar la celda.")
        try:
            return self._checker(answer)
        except NotImplementedError:
            return fail("tu función aún lanza NotImplementedError: complétala.")
        except Exception as exc:  # the learner's code may raise anything
            return fail(f"al comprobarla, tu respuesta lanzó {type(exc).__name__}: {exc}. "
                        "Revisa el mensaje y prueba tu código en una celda aparte.")

    def check(self, answer: Any) -> None:
        """Print the verdict for ``answer`` (and where to look next when it fails)."""
        verdict = self.verify(answer)
        print(f"Ejercicio {self.number} — {verdict}")
        if not verdict.ok:
            print(f"   ¿Atascado? Ejecuta q{self.number}.hint() o q{self.number}.solution().")

    def hint(self) -> None:
        """Print a hint that points the way without giving the answer."""
        print(f"💡 Pista (ejercicio {self.number}): {self._hint}")

    def solution(self) -> None:
        """Print the reference solution."""
        print(f"Solución del ejercicio {self.number}:\n\n{self._solution}")

    @property
    def solution_code(self) -> str:
        return self._solution

    def __repr__(self) -> str:
        return f"<Ejercicio {self.number}: {self.title}>"
