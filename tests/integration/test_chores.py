"""Engine chores on the real engine and the local registry, in temp client repos.

docker_pull, docker_login, docker_images_ls_repo, docker_ps, docker_kill,
docker_cleanup, and their error paths (one line, exit 2, no traceback).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import REPO, write
from tests.integration.conftest import Client, ClientFactory, one_line_error

pytestmark = pytest.mark.integration

REGISTRY = f"127.0.0.1:{os.environ.get('HELPERS_REGISTRY_PORT', '5000')}"
# A tiny image: pushes and pulls in well under a second.
TINY_DOCKERFILE = "FROM scratch\nCOPY changelog.txt /changelog.txt\n"
ENGINE_DOWN = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def docker(*args: str, input: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, input=input)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def ids(*args: str) -> list[str]:
    return docker(*args, "--quiet", "--no-trunc").stdout.split()


def repo_containers(client: Client, *, every: bool = True) -> list[str]:
    flags = ["--all"] if every else []
    return docker(
        "ps", *flags, "--filter", f"label=io.helpers.repo={client.root}", "--format", "{{.Names}}"
    ).stdout.split()


def wait_for(predicate: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def set_version(client: Client, rel: str, version: str) -> None:
    path = client.root / rel / "changelog.txt"
    label = client.name if rel == "." else rel.replace("/", "-")
    path.write_text(f"# {label}-{version}\n- 2026-11-23\n- newer\n\n" + path.read_text())


# ---------------------------------------------------------------- registry


def _registry_up() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry() -> str:
    """The open local registry (started by dev_scripts/engine/bootstrap.sh when absent)."""
    if not _registry_up():
        subprocess.run(
            ["bash", str(REPO / "dev_scripts/engine/bootstrap.sh"), "--registry"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
    if not _registry_up():
        message = f"no registry answers at {REGISTRY} (bootstrap.sh --registry failed)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REGISTRY


def delete_from_registry(name: str, tag: str) -> None:
    base = f"http://{REGISTRY}/v2/{name}/manifests"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    try:
        head = urllib.request.Request(f"{base}/{tag}", method="HEAD", headers={"Accept": accept})
        with urllib.request.urlopen(head, timeout=10) as resp:
            digest = resp.headers["Docker-Content-Digest"]
        urllib.request.urlopen(urllib.request.Request(f"{base}/{digest}", method="DELETE")).close()
    except OSError:
        pass


@pytest.fixture()
def docker_config(tmp_path: Path) -> Path:
    """A private DOCKER_CONFIG: logins in tests never touch the machine's credentials."""
    path = tmp_path / "docker-config"
    path.mkdir()
    return path


@pytest.fixture()
def argv_spy(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A `docker` first on PATH that logs its argv, then runs the real docker."""
    real = shutil.which("docker")
    assert real
    spy_dir, log = tmp_path / "spy", tmp_path / "argv.log"
    write(spy_dir / "docker", f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (spy_dir / "docker").chmod(0o755)
    yield spy_dir, log


# ---------------------------------------------------------------- docker_pull


def test_pull_checks_version_and_fails_in_one_line(
    client_factory: ClientFactory, registry: str
) -> None:
    client = client_factory(
        ".",
        files={"repo_config.yaml": f"registry: {registry}\n", "devops/Dockerfile": TINY_DOCKERFILE},
    )
    repo = f"{registry}/{client.name}"
    ok(client.invoke("docker_build_local_image"))
    try:
        for tag in ("dev-0.1.0", "dev"):
            assert docker("tag", f"{repo}:local-tester-0.1.0", f"{repo}:{tag}").returncode == 0
            assert docker("push", f"{repo}:{tag}").returncode == 0
            assert docker("rmi", f"{repo}:{tag}").returncode == 0

        assert ok(client.invoke("docker_pull", "--dry-run")).strip() == f"docker pull {repo}:dev"
        assert ids("image", "ls", f"{repo}:dev") == []  # the dry run pulled nothing

        pulled = client.invoke("docker_pull")
        assert f"pulled {repo}:dev (version 0.1.0)" in ok(pulled)
        assert docker("image", "inspect", f"{repo}:dev").returncode == 0
        by_version = client.invoke("docker_pull", "--stage", "dev", "--version", "0.1.0")
        assert f"pulled {repo}:dev-0.1.0" in ok(by_version)
        listed = ok(client.invoke("docker_images_ls_repo"))
        assert [line.split()[1:3] for line in listed.splitlines()[1:]] == [
            [f"{repo}:dev", "0.1.0"],  # the same image under three tags, none older
            [f"{repo}:dev-0.1.0", "0.1.0"],
            [f"{repo}:local-tester-0.1.0", "0.1.0"],
        ]

        missing = one_line_error(client.invoke("docker_pull", "--version", "9.9.9"))
        assert f"docker pull {repo}:dev-9.9.9 failed:" in missing
        assert "`invoke docker_login`" in missing

        set_version(client, ".", "0.1.1")  # a patch ahead: pulled, with a warning
        patch = client.invoke("docker_pull")
        assert ok(patch).splitlines() == [
            f"pulling {repo}:dev",
            f"pulled {repo}:dev (version 0.1.0)",
        ]
        warned = f"warning: {repo}:dev is version 0.1.0, changelog.txt says 0.1.1; pulled it"
        assert patch.stderr.splitlines() == [warned + " anyway"]

        set_version(client, ".", "0.2.0")
        too_old = one_line_error(client.invoke("docker_pull"))
        assert too_old == (
            f"error: {repo}:dev is version 0.1.0 but changelog.txt says 0.2.0: the image is "
            "too old for this code; run `invoke docker_build_local_image`"
        )
    finally:
        for tag in ("dev-0.1.0", "dev"):
            delete_from_registry(client.name, tag)


def test_pull_without_registry_or_of_local_is_refused(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    line = one_line_error(client.invoke("docker_pull"))
    assert line.startswith("error: no registry configured for .: set `registry` in repo_config")
    local = one_line_error(client.invoke("docker_pull", "--stage", "local"))
    assert "--stage local images are built here, not pulled" in local


# ---------------------------------------------------------------- docker_login


def test_login_reads_the_secret_from_stdin_never_argv(
    client_factory: ClientFactory, registry: str, docker_config: Path, argv_spy: tuple[Path, Path]
) -> None:
    client = client_factory(".", files={"repo_config.yaml": f"registry: {registry}/team\n"})
    spy_dir, log = argv_spy
    secret = f"pw-{secrets.token_hex(8)}"
    env = {"DOCKER_CONFIG": str(docker_config), "PATH": f"{spy_dir}:{os.environ['PATH']}"}

    done = client.invoke(
        "docker_login", "--username", "tester", "--password-stdin", input=secret + "\n", env=env
    )
    assert f"logged in to {registry}" in ok(done)  # host only: the path part is not a host
    stored = json.loads((docker_config / "config.json").read_text())
    assert registry in stored["auths"]
    logged = log.read_text()
    assert f"login --username tester --password-stdin {registry}" in logged
    assert secret not in logged and secret not in done.stdout + done.stderr

    # No secret given: docker uses what its credential store holds for the host.
    again = client.invoke("docker_login", env=env)
    assert f"logged in to {registry}" in ok(again)
    assert logged.count("login") == 1 and log.read_text().count("login") == 2


def test_login_errors_are_one_line(
    client_factory: ClientFactory, docker_config: Path, argv_spy: tuple[Path, Path]
) -> None:
    client = client_factory(".")
    spy_dir, log = argv_spy
    env = {"DOCKER_CONFIG": str(docker_config), "PATH": f"{spy_dir}:{os.environ['PATH']}"}
    secret = f"pw-{secrets.token_hex(8)}"
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    refused = client.invoke(
        "docker_login",
        "--registry",
        closed,
        "--username",
        "tester",
        "--password-stdin",
        input=secret,
        env=env,
    )
    line = one_line_error(refused)
    assert line.startswith(f"error: docker login to {closed} failed: ")
    assert secret not in refused.stderr + log.read_text()

    no_user = client.invoke(
        "docker_login", "--registry", closed, "--password-stdin", input="x", env=env
    )
    assert "--password-stdin needs --username" in one_line_error(no_user)
    empty = client.invoke(
        "docker_login",
        "--registry",
        closed,
        "--username",
        "u",
        "--password-stdin",
        input="",
        env=env,
    )
    assert "stdin is empty" in one_line_error(empty)
    nowhere = client.invoke(
        "docker_login", "--username", "u", "--password-stdin", input="x", env=env
    )
    assert "no registry to log in to: pass --registry" in one_line_error(nowhere)
    assert log.read_text().count("login") == 1  # only the first one reached docker


# ---------------------------------------------------------------- docker_images_ls_repo


def test_images_ls_repo_lists_this_dirs_images(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra")
    ok(client.invoke("docker_build_local_image", "--dir", "infra"))
    empty = ok(client.invoke("docker_images_ls_repo"))
    assert empty.startswith(f"no local images of {client.name};")
    ok(client.invoke("docker_build_local_image"))

    infra = ok(client.invoke("docker_images_ls_repo", "--dir", "infra")).splitlines()
    assert infra[0].split() == ["DIR", "IMAGE", "VERSION", "CREATED", "(UTC)", "SIZE"]
    assert len(infra) == 2
    fields = infra[1].split()
    assert fields[:3] == ["infra", f"{client.name}-infra:local-tester-0.1.0", "0.1.0"]
    assert fields[-1].endswith("MB")

    both = ok(client.invoke("docker_images_ls_repo", "--all-dirs")).splitlines()
    assert [line.split()[:2] for line in both[1:]] == [
        [".", f"{client.name}:local-tester-0.1.0"],
        ["infra", f"{client.name}-infra:local-tester-0.1.0"],
    ]


# ---------------------------------------------------------------- docker_ps / docker_kill


def test_ps_and_kill_only_touch_our_containers(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    ok(client.invoke("docker_build_local_image"))
    image = f"{client.name}:local-tester-0.1.0"
    by_hand = f"{client.name}-by-hand"
    session = subprocess.Popen(
        [sys.executable, "-m", "invoke", "docker_cmd", "--cmd", "sleep 300"],
        cwd=client.root,
        env=client.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Same image, started by hand: it inherits the image's labels, yet it is not ours.
        assert docker("run", "-d", "--rm", "--name", by_hand, image, "sleep", "300").returncode == 0
        assert wait_for(lambda: len(repo_containers(client, every=False)) == 2)
        (ours,) = [n for n in repo_containers(client, every=False) if n != by_hand]

        listed = ok(client.invoke("docker_ps")).splitlines()
        assert listed[0].split() == ["NAME", "DIR", "IMAGE", "STATUS"]
        row = next(line.split() for line in listed if line.startswith(ours))
        assert row[1:4] == [".", image, "Up"]
        assert by_hand not in "\n".join(listed)

        refused = one_line_error(client.invoke("docker_kill", "--name", by_hand))
        assert f"'{by_hand}' is not a running container started by these tools" in refused
        dry = ok(client.invoke("docker_kill", "--all", "--repo-only", "--dry-run"))
        assert dry.strip() == f"docker kill {ours}"
        assert sorted(repo_containers(client, every=False)) == sorted([ours, by_hand])

        assert ok(client.invoke("docker_kill", "--name", ours)).strip() == f"killed {ours}"
        assert session.wait(timeout=30) == 137  # docker_cmd passed the kill through
        assert wait_for(lambda: repo_containers(client) == [by_hand])  # ours was --rm
        assert ours not in ok(client.invoke("docker_ps", "--all"))
    finally:
        session.kill()
        docker("rm", "-f", by_hand)


# ---------------------------------------------------------------- docker_cleanup


def test_cleanup_removes_only_what_these_tools_made(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra")
    repo = f"{client.name}-infra"
    ok(client.invoke("docker_build_local_image", "--dir", "infra"))
    old_id = ids("image", "ls", f"{repo}:local-tester-0.1.0")[0]
    set_version(client, "infra", "0.2.0")
    ok(client.invoke("docker_build_local_image", "--dir", "infra"))
    write(client.root / "infra" / "new.txt", "changes the build inputs\n")
    ok(client.invoke("docker_build_local_image", "--dir", "infra"))  # 0.2.0 rebuilt
    dangling = [
        i
        for i in ids(
            "image",
            "ls",
            "--filter",
            "dangling=true",
            "--filter",
            f"label=io.helpers.repo={client.root}",
        )
    ]
    assert len(dangling) == 1
    current_id = ids("image", "ls", f"{repo}:local-tester-0.2.0")[0]

    ours_label = [
        "--label",
        "io.helpers.managed=true",
        "--label",
        "io.helpers.container=true",
        "--label",
        f"io.helpers.repo={client.root}",
        "--label",
        "io.helpers.dir=infra",
    ]
    stopped = f"helpers-{client.name}-stopped"
    by_hand = f"{client.name}-by-hand"  # from our image: inherits all but the container label
    foreign = f"{client.name}-foreign"
    foreign_image = f"{client.name}-foreign:1"
    base = client.env()["HELPERS_BASE_IMAGE"]
    try:
        assert docker("create", *ours_label, "--name", stopped, base, "true").returncode == 0
        assert docker("create", "--name", by_hand, f"{repo}:local-tester-0.2.0").returncode == 0
        assert docker("create", "--name", foreign, base, "true").returncode == 0
        for n in (1, 2):  # the first build becomes an unlabelled dangling image
            dockerfile = f"FROM {base}\nLABEL helpers.test.owner={client.root} n={n}\n"
            assert docker("build", "-q", "-t", foreign_image, "-", input=dockerfile).returncode == 0
        foreign_dangling = ids(
            "image",
            "ls",
            "--filter",
            "dangling=true",
            "--filter",
            f"label=helpers.test.owner={client.root}",
        )
        assert len(foreign_dangling) == 1

        dry = ok(client.invoke("docker_cleanup", "--dry-run")).splitlines()
        assert f"would remove container {stopped} (created, {client.root}:infra)" in dry
        assert f"would remove image {dangling[0]} (dangling)" in dry
        assert (
            f"would remove image {repo}:local-tester-0.1.0 "
            "(version 0.1.0 is older than infra's changelog 0.2.0)"
        ) in dry
        for kept in (by_hand, foreign, foreign_image, foreign_dangling[0], current_id):
            assert kept not in "\n".join(dry)
        assert ids("image", "ls", f"{repo}:local-tester-0.1.0") == [old_id]  # dry: untouched

        images_only = ok(client.invoke("docker_cleanup", "--images", "--repo-only", "--dry-run"))
        assert "container" not in images_only and "local-tester-0.1.0" in images_only

        done = client.invoke("docker_cleanup", "--repo-only")
        assert ok(done).count("removing ") == 3
        assert docker("container", "inspect", stopped).returncode != 0
        assert ids("image", "ls", f"{repo}:local-tester-0.1.0") == []
        assert docker("image", "inspect", dangling[0]).returncode != 0
        for survivor in (by_hand, foreign):
            assert docker("container", "inspect", survivor).returncode == 0
        for survivor in (foreign_image, foreign_dangling[0], current_id):
            assert docker("image", "inspect", survivor).returncode == 0
        assert ok(client.invoke("docker_cleanup", "--repo-only")).strip() == "nothing to clean up"
    finally:
        docker("rm", "-f", stopped, by_hand, foreign)
        docker("rmi", "-f", foreign_image, *foreign_dangling)


# ---------------------------------------------------------------- bad input


BAD_INPUT = [
    (("docker_pull", "--stage", "qa"), "--stage 'qa' is not one of local, dev, prod"),
    (("docker_jupyter", "--stage", "qa"), "--stage 'qa' is not one of local, dev, prod"),
    (("docker_images_ls_repo", "--dir", "nowhere"), "--dir nowhere: no such dir under"),
    (("docker_jupyter", "--dir", "nowhere"), "--dir nowhere: no such dir under"),
    (("docker_pull", "--dir", "nowhere"), "--dir nowhere: no such dir under"),
    (("docker_jupyter",), "image {name}:local-tester-0.1.0 not found locally: run `invoke"),
    (("docker_kill",), "docker_kill needs --name NAME (repeatable) or --all"),
    (("docker_jupyter", "--port", "70000"), "--port 70000: not a TCP port"),
]
ENGINE_DOWN_CASES = [
    ("docker_ps",),
    ("docker_kill", "--all"),
    ("docker_cleanup", "--dry-run"),
    ("docker_images_ls_repo",),
    ("docker_jupyter",),
    ("docker_pull",),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT)
def test_bad_input_is_one_line(
    client_factory: ClientFactory, args: tuple[str, ...], expected: str
) -> None:
    client = client_factory(".")
    line = one_line_error(client.invoke(*args))
    assert expected.format(name=client.name) in line


def test_engine_down_is_one_line_for_every_chore(client_factory: ClientFactory) -> None:
    client = client_factory(".", files={"repo_config.yaml": f"registry: {REGISTRY}\n"})
    for args in ENGINE_DOWN_CASES:
        result = client.invoke(*args, env=ENGINE_DOWN)
        line = one_line_error(result)
        assert line.startswith(
            "error: no container engine answers at DOCKER_HOST=unix:///nonexistent.sock"
        ), (args, line)
