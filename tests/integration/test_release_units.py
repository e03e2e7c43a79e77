"""Releases of a runnable dir that ships an in-repo dependency unit's code (issue 16.4):
an edit to that unit alone never passes as "nothing to release"; the dirty check and the
refusals name its files."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory, one_line_error
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture
from tests.integration.test_release import REG, delete_repo, tags

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # many builds: the slow time-out

LIB = "libs/a/src/pkg_a/__init__.py"
TEST = "import pkg_a\n\n\ndef test_greets():\n    assert pkg_a.greet() == {word!r}\n"


def _pyproject(name: str, deps: list[str]) -> str:
    return (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'\n[project]\nname = "{name}"\nversion = "1.4.0"\ndependencies = {json.dumps(deps)}\n'
    )


@pytest.fixture()
def uclient(client_factory: ClientFactory, registry: str) -> Iterator[Client]:  # noqa: F811
    client = client_factory(
        files={
            "repo_config.yaml": f"registry: {REG}\nplatforms: [linux/amd64]\n",
            "libs/a/pyproject.toml": _pyproject("pkg-a", []),
            LIB: 'def greet() -> str:\n    return "hello"\n',
            "apps/b/pyproject.toml": _pyproject("pkg-b", ["pkg-a"]),
            "apps/b/src/pkg_b/__init__.py": "",
            "apps/b/tests/test_b.py": TEST.format(word="hello"),
        }
    )
    made = client.invoke("create_runnable_dir", "apps/b")
    assert made.returncode == 0, made.stdout + made.stderr
    client.commit("apps/b ships libs/a")
    yield client
    delete_repo(f"{client.name}-apps-b")


def _release(client: Client, stage: str) -> str:
    done = client.invoke(f"docker_release_{stage}_image", "--dir", "apps/b")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_dependency_unit_edit_is_never_nothing_to_release(uclient: Client) -> None:
    repo = f"{uclient.name}-apps-b"
    _release(uclient, "dev")
    assert "1 passed" in _release(uclient, "prod")  # the code inside: "hello"

    write(uclient.root / LIB, 'def greet() -> str:\n    return "hi"\n')  # only libs/a
    for stage in ("dev", "prod"):
        dirty = one_line_error(uclient.invoke(f"docker_release_{stage}_image", "--dir", "apps/b"))
        assert f"uncommitted changes in its image inputs ({LIB})" in dirty, dirty
    uclient.commit("libs/a says hi")

    prod = uclient.invoke("docker_release_prod_image", "--dir", "apps/b")
    line = one_line_error(prod)
    assert "nothing to release" not in prod.stdout
    assert f"{REG}/{repo}:dev-1.4.0 holds other code of the units it depends on" in line
    assert f"{LIB} (dependency unit)" in line and "bump_version --dir apps/b" in line
    dev = one_line_error(uclient.invoke("docker_release_dev_image", "--dir", "apps/b"))
    assert f"{REG}/{repo}:dev-1.4.0 is already published with inputs" in dev
    assert "changed since" in dev and f"{LIB} (dependency unit)" in dev, dev
    assert "the hash" not in dev

    path = uclient.root / "apps/b/changelog.txt"
    path.write_text("# pkg-b-1.4.1\n- 2026-12-02\n- libs/a says hi\n\n" + path.read_text())
    write(uclient.root / "apps/b/tests/test_b.py", TEST.format(word="hi"))
    uclient.commit("apps/b 1.4.1")
    _release(uclient, "dev")
    assert "1 passed" in _release(uclient, "prod")  # the new code of libs/a is inside
    assert {"dev-1.4.1", "prod-1.4.1", "prod-1.4.0"} <= set(tags(repo))
