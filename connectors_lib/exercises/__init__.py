"""Exercises of the lessons: ``from connectors_lib.exercises import lesson00``.

Each lesson module exposes ``q1``, ``q2``... (:class:`Exercise`) with
``check(answer)``, ``hint()`` and ``solution()``.
"""

from .core import Exercise, Verdict, fail, passed

__all__ = ["Exercise", "Verdict", "fail", "passed"]
