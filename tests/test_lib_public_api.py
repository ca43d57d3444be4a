"""connectors_lib's public surface: complete, lazy, and cheap to import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import connectors_lib

MODULES = sorted(connectors_lib._EXPORTS)


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_of_a_module_is_re_exported(module: str) -> None:
    """Each module's __all__ is exactly what the package re-exports from it."""
    mod = importlib.import_module(f"connectors_lib.{module}")
    assert tuple(sorted(mod.__all__)) == tuple(sorted(connectors_lib._EXPORTS[module]))


def test_every_name_in_all_resolves_to_the_module_object() -> None:
    """connectors_lib.X is the very object defined in its home module."""
    for name in connectors_lib.__all__:
        home = importlib.import_module(f"connectors_lib.{connectors_lib._HOME[name]}")
        assert getattr(connectors_lib, name) is getattr(home, name)


def test_no_library_module_is_left_out() -> None:
    """Every public module of the package (not exercises) appears in _EXPORTS."""
    from pathlib import Path

    here = Path(connectors_lib.__file__).parent
    modules = {p.stem for p in here.glob("*.py") if not p.stem.startswith("_")}
    assert modules == set(MODULES)


def test_unknown_attribute_raises_attribute_error() -> None:
    """A typo gives AttributeError, not a confusing ImportError."""
    with pytest.raises(AttributeError, match="RetryPolicyy"):
        _ = connectors_lib.RetryPolicyy  # type: ignore[attr-defined]


def test_import_loads_no_heavy_dependency() -> None:
    """`import connectors_lib` loads neither httpx nor pandas, pandera, paramiko or gql."""
    code = (
        "import sys, connectors_lib\n"
        "heavy = {'httpx', 'pandas', 'pandera', 'paramiko', 'gql', 'requests', 'cerberus'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
