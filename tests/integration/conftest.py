"""Integration fixtures: a real engine, real git, temp client repos with helpers as a submodule.

In CI (CI set) a missing engine FAILS the tests that need it; elsewhere they skip.
Temp repos live under $HELPERS_SHARED_TMP when set: inside helpers' own container
that dir is mounted at the same path on the host, so sibling containers see it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

from tests.conftest import REPO, git, make_runnable, write

PREFIX = "it-"
MACHINE_ENV = (
    Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "helpers/machine.env"
)


def _engine_answers() -> bool:
    probe = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True
    )
    return probe.returncode == 0 and bool(probe.stdout.strip())


@pytest.fixture(scope="session")
def engine_ok() -> bool:
    return _engine_answers()


@pytest.fixture(autouse=True)
def _needs_engine(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration") is None:
        return
    if request.getfixturevalue("engine_ok"):
        return
    message = "no container engine answers (docker version failed)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: in CI the engine is part of the set-up; .ci/run must start it")
    pytest.skip(message)


def base_image() -> str:
    if os.environ.get("HELPERS_BASE_IMAGE"):
        return os.environ["HELPERS_BASE_IMAGE"]
    if MACHINE_ENV.is_file():
        for line in MACHINE_ENV.read_text().splitlines():
            if line.startswith("HELPERS_BASE_IMAGE="):
                return line.split("=", 1)[1].strip()
    return "python:3.11-slim"


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    shared = os.environ.get("HELPERS_SHARED_TMP")
    if not shared:
        yield tmp_path_factory.mktemp("shared")
        return
    path = Path(shared) / f"session-{os.getpid()}-{secrets.token_hex(3)}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the shared dir outlives the container


@pytest.fixture(scope="session")
def helpers_snapshot(shared_tmp: Path) -> Path:
    """A git repo holding this checkout's working tree as one commit (what tests submodule)."""
    snap = shared_tmp / "helpers-snapshot"
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file() and not rel.startswith("examples/"):
            dst = snap / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    git(snap, "init", "-q")
    git(snap, "add", "-A")
    git(snap, "commit", "-q", "-m", "snapshot of the helpers working tree")
    return snap


@dataclass(frozen=True)
class Client:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    def env(self, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPERS_")}
        env.update(
            PYTHONPATH=str(self.root / "helpers_root"),
            HELPERS_BASE_IMAGE=base_image(),
            USER="tester",
            NO_COLOR="1",
            # Tests rerun unchanged repos and expect tests to run: the result cache is off
            # unless a test turns it on (tests of the cache), and never the machine's own.
            HELPERS_TEST_CACHE="off",
            HELPERS_CACHE_HOME=str(self.root.parent / f"{self.root.name}-cache"),
        )
        for var in ("HELPERS_EXTRA_CA_CERTS", "HELPERS_SHARED_TMP"):
            if os.environ.get(var):
                env[var] = os.environ[var]
        env.update(extra or {})
        return env

    def invoke(
        self,
        *args: str,
        cwd: Optional[Path] = None,
        input: str = "",
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=cwd or self.root,
            env=self.env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def script(
        self,
        path: str,
        *args: str,
        cwd: Optional[Path] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(self.root / "helpers_root" / path), *args],
            cwd=cwd or self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def commit(self, message: str = "change") -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)


ClientFactory = Callable[..., Client]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The contract for bad input: exit 2, one `error: ...` line, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
"""


def _factory(shared_tmp: Path, helpers_snapshot: Path) -> Iterator[ClientFactory]:
    made: list[Client] = []

    def make(*dirs: str, files: Optional[Mapping[str, str]] = None) -> Client:
        root = shared_tmp / f"{PREFIX}{secrets.token_hex(4)}"
        root.mkdir()
        git(root, "init", "-q")
        git(root, "submodule", "add", "-q", str(helpers_snapshot), "helpers_root")
        write(root / "tasks.py", "from helpers.tasks import ns  # noqa: F401\n")
        shutil.copy(REPO / "invoke.yaml", root / "invoke.yaml")
        write(root / ".gitignore", ".env\n")
        for rel in dirs:
            d = make_runnable(root, rel)
            write(d / "devops" / "Dockerfile", DOCKERFILE)
        for rel, text in (files or {}).items():
            write(root / rel, text)
        client = Client(root)
        client.commit("initial")
        made.append(client)
        return client

    yield make
    for client in made:
        remove_traces(client.root)


@pytest.fixture()
def client_factory(shared_tmp: Path, helpers_snapshot: Path) -> Iterator[ClientFactory]:
    """Make a client repo: helpers as a real submodule, tasks.py, and the given runnable dirs."""
    yield from _factory(shared_tmp, helpers_snapshot)


@pytest.fixture(scope="module")
def module_client_factory(shared_tmp: Path, helpers_snapshot: Path) -> Iterator[ClientFactory]:
    """`client_factory` for clients (and their images) shared by a module's tests."""
    yield from _factory(shared_tmp, helpers_snapshot)


def remove_traces(root: Path) -> None:
    """Remove the containers, networks and images a test client repo made (by their repo label)."""
    label = f"label=io.helpers.repo={root}"
    for listing, remove in (
        (["docker", "ps", "-aq"], ["docker", "rm", "-f", "-v"]),
        (["docker", "network", "ls", "-q"], ["docker", "network", "rm"]),
        (["docker", "images", "-q"], ["docker", "rmi", "-f"]),
    ):
        found = subprocess.run([*listing, "--filter", label], capture_output=True, text=True)
        ids = sorted(set(found.stdout.split()))
        if ids:
            subprocess.run([*remove, *ids], capture_output=True)
