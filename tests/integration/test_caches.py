"""The result and image caches on the real engine and the real local registry.

Every docker command the tools run goes through a logging shim on PATH, so a test can
say what did NOT happen: no `docker build`, no test process (`docker run` / `exec`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import git, write
from tests.integration.conftest import Client, ClientFactory, remove_traces
from tests.integration.test_chores import registry  # noqa: F401 - the registry fixture
from tests.integration.test_release import delete_repo

pytestmark = pytest.mark.integration

REGISTRY = "localhost:5000"
TEST = "def test_one():\n    assert 1\n\ndef test_two():\n    assert 2\n"
SHIM = '#!/bin/sh\nprintf "%s\\n" "$*" >> "$DOCKER_LOG"\nexec {docker} "$@"\n'


class Machine:
    """A client checkout with its own result cache and a docker log."""

    def __init__(self, client: Client, tag: str, cache_env: dict[str, str]) -> None:
        self.client = client
        self.home = client.root.parent / f"{client.root.name}-{tag}-cache"
        self.log = client.root.parent / f"{client.root.name}-{tag}-docker.log"
        shim_dir = client.root.parent / f"{client.root.name}-{tag}-bin"
        shim_dir.mkdir(exist_ok=True)
        real = shutil.which("docker")
        assert real, "docker not on PATH"
        (shim_dir / "docker").write_text(SHIM.format(docker=real))
        (shim_dir / "docker").chmod(0o755)
        self.env = {
            **cache_env,
            "HELPERS_CACHE_HOME": str(self.home),
            "DOCKER_LOG": str(self.log),
            "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}",
        }

    def main_pytest(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return self.client.script("dev_scripts/main_pytest.py", *args, env=self.env)

    def invoke(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return self.client.invoke(*args, env=self.env)

    def docker_verbs(self) -> list[str]:
        return [line.split()[0] for line in self.log.read_text().splitlines() if line.strip()]


def report(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = result.stdout.rsplit("reports: ", 1)[1].split()[0]
    data = json.loads((Path(run_dir) / "report.json").read_text())
    return {d["dir"]: d for d in data["dirs"]}


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def two_dirs(client_factory: ClientFactory, to: Optional[str] = None) -> Client:
    """Runnable dirs a and b with two tests each; `to`: the registry they use."""
    files = {"a/tests/test_a.py": TEST, "b/tests/test_b.py": TEST}
    if to:
        files["repo_config.yaml"] = f"registry: {to}\n"
    return client_factory("a", "b", files=files)


def test_an_unchanged_dir_is_served_and_a_change_is_named(client_factory: ClientFactory) -> None:
    m = Machine(two_dirs(client_factory), "m1", {"HELPERS_TEST_CACHE": "local"})
    first = report(m.main_pytest("--if-missing", "build", "-j", "2"))
    assert [first[d]["cached"] for d in ("a", "b")] == [False, False]

    again = m.main_pytest("-j", "2", "--junit-xml", str(m.home.parent / "junit.xml"))
    second = report(again)
    assert [second[d]["cached"] for d in ("a", "b")] == [True, True]
    assert [second[d]["passed"] for d in ("a", "b")] == [2, 2]  # the original counts
    assert not {"run", "exec", "build"} & set(m.docker_verbs()), m.log.read_text()
    junit = (m.home.parent / "junit.xml").read_text()
    assert junit.count('name="cached" value="true"') == 6  # 2 suites + 4 testcases
    assert "cached" in again.stdout.splitlines()[-4]  # the table's status column

    write(m.client.root / "a/tests/test_a.py", TEST + "\ndef test_three():\n    pass\n")
    third = m.main_pytest("-j", "2", "-v")
    assert "miss   a  a/tests/test_a.py changed" in third.stderr
    assert [report(third)[d]["cached"] for d in ("a", "b")] == [False, True]

    served = m.invoke("run_tests", "--dir", "b")
    assert served.returncode == 0 and "b: cached: 2 passed" in served.stdout, served.stderr
    forced = m.invoke("run_tests", "--dir", "b", "--no-cache")
    assert forced.returncode == 0 and "b: cached" not in forced.stdout
    assert "exec" in m.docker_verbs() or "run" in m.docker_verbs()


def _clone(client: Client) -> Client:
    """The same repo checked out on a "second machine": another dir, same name."""
    where = client.root.parent / f"m2-{secrets.token_hex(3)}"
    where.mkdir()
    git(where, "clone", "-q", "--recurse-submodules", str(client.root), client.name)
    return Client(where / client.name)


def _remove_local_images(client: Client) -> None:
    """The images the first machine made and pulled (this test's only: its repo label)."""
    remove_traces(client.root)
    name = client.name
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", f"{REGISTRY}/{name}-*"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if listed:
        subprocess.run(["docker", "rmi", "-f", *listed], capture_output=True)


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_a_second_machine_builds_and_tests_nothing(
    client_factory: ClientFactory,
    registry: str,  # noqa: F811
) -> None:
    shared = {"HELPERS_TEST_CACHE": "shared", "HELPERS_IMAGE_CACHE": "shared"}
    client = two_dirs(client_factory, registry)
    m1 = Machine(client, "m1", shared)
    first = report(m1.main_pytest("--if-missing", "build", "-j", "2"))
    assert not any(first[d]["cached"] for d in ("a", "b"))
    assert m1.docker_verbs().count("push") >= 2  # each dir's cache-<inputs hash> image

    _remove_local_images(client)
    m2 = Machine(_clone(client), "m2", shared)
    try:
        status = m2.main_pytest("--cache-status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "2 of 2 dirs cached" in status.stdout
        served = report(m2.main_pytest("--if-missing", "build", "-j", "2"))
        assert [served[d]["cached"] for d in ("a", "b")] == [True, True]
        verbs = m2.docker_verbs()
        assert not {"build", "run", "exec", "pull"} & set(verbs), m2.log.read_text()

        # An image with the same inputs but no result (--no-cache): pulled, not built.
        forced = m2.main_pytest("--if-missing", "build", "-j", "2", "--no-cache")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "build" not in m2.docker_verbs() and "pull" in m2.docker_verbs()
        assert "(same inputs as" in forced.stderr and "not built" in forced.stderr
    finally:
        _remove_local_images(m2.client)
        for rel in ("a", "b"):  # keep the shared registry small
            delete_repo(f"{client.name}-{rel}")


def test_a_registry_that_is_down_leaves_the_local_cache_and_one_warning(
    client_factory: ClientFactory,
) -> None:
    down = {
        "HELPERS_TEST_CACHE": "shared",
        "HELPERS_IMAGE_CACHE": "shared",
        "HELPERS_CACHE_REGISTRY": "127.0.0.1:1",  # a closed port
    }
    m = Machine(two_dirs(client_factory), "m1", down)
    first = m.main_pytest("--if-missing", "build", "-j", "2")
    assert not any(report(first)[d]["cached"] for d in ("a", "b"))
    said = warnings(first)
    assert len(said) == 1 and "127.0.0.1:1" in said[0], said
    assert "using local images and results only" in said[0]
    second = m.main_pytest("-j", "2")
    assert all(report(second)[d]["cached"] for d in ("a", "b"))
