"""The two install paths (pip's pyproject.toml, conda's environment.yml) install the same thing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Conda has no use for pip's extras syntax; these names differ only by that.
_EXTRAS = re.compile(r"\[.*\]")


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~ ]", requirement.strip(), maxsplit=1)[0]
    return _EXTRAS.sub("", name).lower().replace("_", "-")


def _pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {_name(r) for r in reqs}


def _conda_packages() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    """Every package of pyproject (runtime + dev) is in environment.yml and nothing else is."""
    assert _conda_packages() == _pyproject_packages()


def test_environment_yml_installs_the_project_itself_with_pip() -> None:
    """The conda environment installs this project (with [dev]) through its pip section."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [['-e ".[dev]"']]


def test_lower_bounds_match_between_the_two_files() -> None:
    """A package pinned in both files has the same lower bound in both."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    bound = re.compile(r">=([\w.]+)")

    def bounds(items: list[str]) -> dict[str, str]:
        return {_name(r): m.group(1) for r in items if (m := bound.search(r))}

    conda = bounds([d for d in env["dependencies"] if isinstance(d, str)])
    assert conda == bounds(reqs)


def test_ci_runs_the_readme_test_command() -> None:
    """CI calls `make test`, the command the README promises."""
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
