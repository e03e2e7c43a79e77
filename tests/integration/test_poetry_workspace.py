"""A poetry-only polylith-shaped workspace on the real engine (the shape of
python-polylith-example): `bases/` and `components/` without pyprojects, a project
whose `[tool.poetry] packages` take them from `../../`, no `[project]` table anywhere.
It becomes a runnable dir, its tests import the packaged components in the container,
and a component edit changes the project. No index is needed (no third-party
dependencies beyond the base image's pytest)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write
from tests.integration.conftest import ClientFactory

pytestmark = pytest.mark.integration

ROOT = """[tool.poetry]
name = "Polylith Shaped"
version = "1.0.0"
packages = [
    {include = "example/greet_api", from = "bases"},
    {include = "example/greeting", from = "components"},
]
"""
PROJECT = """[tool.poetry]
name = "greet_project"
version = "0.0.1"
packages = [
    {include = "example/greeting", from = "../../components"},
    {include = "example/greet_api", from = "../../bases"},
]

[tool.poetry.dependencies]
python = "^3.10"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""
TEST = """from example.greet_api import core


def test_the_base_uses_the_component():
    assert core.hello() == "Hello, World"
"""


def test_a_poetry_polylith_project_builds_imports_and_tracks_components(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(
        files={
            "pyproject.toml": ROOT,
            "bases/example/greet_api/__init__.py": "",
            "bases/example/greet_api/core.py": "from example.greeting import core as g\n\n\n"
            "def hello() -> str:\n    return g.greet('World')\n",
            "components/example/greeting/__init__.py": "",
            "components/example/greeting/core.py": "def greet(name: str) -> str:\n"
            "    return f'Hello, {name}'\n",
            "projects/greet_project/pyproject.toml": PROJECT,
            "projects/greet_project/tests/test_project.py": TEST,
        }
    )
    made = client.invoke("create_runnable_dir", "projects/greet_project")
    assert made.returncode == 0, made.stdout + made.stderr
    log = (client.root / "projects/greet_project/changelog.txt").read_text()
    assert log.startswith("# greet_project-0.0.1\n")
    client.commit("a runnable project")
    run = client.script("dev_scripts/main_pytest.py", "--dir", ".", "--if-missing", "build")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok     projects/greet_project  1 passed, 0 failed" in run.stdout
    # A component edit changes the project that packages it.
    write(
        client.root / "components/example/greeting/core.py",
        "def greet(name: str) -> str:\n" "    return f'Hi, {name}'\n",
    )
    changed = client.invoke("changes", "--since", "HEAD", "--format", "json")
    assert changed.returncode == 0, changed.stderr
    assert "projects/greet_project" in json.loads(changed.stdout)["changed"]
