"""A poetry-only polylith-shaped workspace on the real engine (the shape of
python-polylith-example): `bases/` and `components/` without pyprojects, a project
whose `[tool.poetry] packages` take them from `../../`, no `[project]` table anywhere.
It becomes a runnable dir, its tests import the packaged components in the container,
and a component edit changes the project. No index is needed (no third-party
dependencies beyond the base image's pytest)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory, one_line_error
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture
from tests.integration.test_release import REG, delete_repo, docker, labels

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


COMPONENT = "components/example/greeting/core.py"
FILES = {
    "pyproject.toml": ROOT,
    "bases/example/greet_api/__init__.py": "",
    "bases/example/greet_api/core.py": "from example.greeting import core as g\n\n\n"
    "def hello() -> str:\n    return g.greet('World')\n",
    "components/example/greeting/__init__.py": "",
    COMPONENT: "def greet(name: str) -> str:\n    return f'Hello, {name}'\n",
    "components/example/unused/__init__.py": "",  # in components/, packaged by no project
    "projects/greet_project/pyproject.toml": PROJECT,
    "projects/greet_project/tests/test_project.py": TEST,
}


def test_a_poetry_polylith_project_builds_imports_and_tracks_components(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(files=FILES)
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


# Passes only with the packaged code inside the image: nothing is mounted at /app.
BAKED = """import os


def test_the_packaged_component_is_inside_the_image():
    from example.greet_api import core

    assert core.hello() == "Hello, World"
    assert core.__file__ == "/app/bases/example/greet_api/core.py"
    assert "/app" not in [line.split()[4] for line in open("/proc/self/mountinfo")]
"""


@pytest.fixture()
def poly_release(client_factory: ClientFactory, registry: str) -> Iterator[Client]:  # noqa: F811
    """The polylith shape with its project a runnable dir releasing to the local registry."""
    client = client_factory(files=FILES)
    made = client.invoke("create_runnable_dir", "projects/greet_project")
    assert made.returncode == 0, made.stdout + made.stderr
    write(client.root / "projects/greet_project/tests/test_baked.py", BAKED)
    write(client.root / "repo_config.yaml", f"registry: {REG}\nplatforms: [linux/amd64]\n")
    client.commit("a runnable project that releases")
    yield client
    delete_repo(f"{client.name}-projects-greet_project")


def test_a_polylith_prod_image_holds_the_components_its_project_packages(
    poly_release: Client,
) -> None:
    client, where = poly_release, ("--dir", "projects/greet_project")
    dev = client.invoke("docker_release_dev_image", *where, "--skip-tests")
    assert dev.returncode == 0, dev.stderr
    prod = client.invoke("docker_release_prod_image", *where)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert "2 passed" in prod.stdout and "no mount" in prod.stderr
    repo = f"{client.name}-projects-greet_project"
    assert labels(repo, "prod-0.0.1")["io.helpers.tests"] == "passed"
    listing = docker("run", "--rm", f"{REG}/{repo}:prod", "find", "/app", "-name", "*.py")
    found = set(listing.stdout.split())
    assert {f"/app/{COMPONENT}", "/app/bases/example/greet_api/core.py"} <= found
    assert "/app/components/example/unused/__init__.py" not in found  # not packaged

    # The component is an input of the prod image: the same version is not re-released.
    write(client.root / COMPONENT, "def greet(name: str) -> str:\n    return f'Hi, {name}'\n")
    client.commit("the component changed")
    again = one_line_error(client.invoke("docker_release_prod_image", *where))
    assert COMPONENT in again, again
