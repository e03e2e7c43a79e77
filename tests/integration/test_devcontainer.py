"""`invoke devcontainer` with the real devcontainers CLI (npm `@devcontainers/cli`): `up`, then
`exec ... pytest` passes in the dir; files written inside belong to the host user (root and
uid 1000); the env file's values reach the container and never the config; sync_files keeps
the file current; a dir's services start on the host and answer by name inside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import REPO, write
from tests.integration.conftest import Client, ClientFactory, one_line_error

pytestmark = pytest.mark.integration

TOOLS = REPO / "dev_scripts" / "engine" / "node-tools.txt"
SECRET = "s3cr3t-value-42"
FILES = {
    "conftest.py": 'pytest_plugins = ["helpers.pytest_plugin"]\n',
    "infra/tests/test_infra.py": (
        "import os\n\n\ndef test_env():\n    assert os.environ['API_TOKEN']\n"
    ),
    "infra/repo_config.yaml": "container_env: {MODE: dev}\nmounts: ['data:/data']\n",
}


def _spec() -> str:
    lines = [x.strip() for x in TOOLS.read_text().splitlines()]
    return next(x for x in lines if x.startswith("@devcontainers/cli@"))


def _prefix() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "helpers/node"
    return Path(os.environ.get("HELPERS_NODE_PREFIX", default))


def _npm_env() -> dict[str, str]:
    env = dict(os.environ)
    for path in os.environ.get("HELPERS_EXTRA_CA_CERTS", "").split(os.pathsep):
        if path and Path(path).is_file():
            env["NODE_EXTRA_CA_CERTS"] = path  # a TLS-intercepting proxy's CA (see ENGINE.md)
            break
    return env


@pytest.fixture(scope="session")
def devcontainer_cli() -> Path:
    """The CLI's package dir, pinned in node-tools.txt; npm installs it once into the cache
    dir when missing (dev_scripts/engine/test_tools.sh does the same in CI)."""
    package = _prefix() / "node_modules" / "@devcontainers" / "cli"
    wanted = _spec().rsplit("@", 1)[1]
    installed = package / "package.json"
    if installed.is_file() and json.loads(installed.read_text())["version"] == wanted:
        return package
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        message = "node and npm are needed to install the devcontainers CLI (test_tools.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    argv = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(_prefix()), _spec()]
    done = subprocess.run(argv, capture_output=True, text=True, env=_npm_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return package


@pytest.fixture()
def repo(client_factory: ClientFactory) -> Iterator[Client]:
    client = client_factory("infra", files=FILES)
    write(client.root / ".env", f"API_TOKEN={SECRET}\nexport QUOTED='a b'\n")
    yield client
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=devcontainer.local_folder={client.root}"],
        capture_output=True,
        text=True,
    )
    if found.stdout.split():
        subprocess.run(["docker", "rm", "-f", *found.stdout.split()], capture_output=True)


def _cli(
    client: Client,
    cli: Path,
    *args: str,
    as_user: Sequence[str] = (),
    env: Optional[dict[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    config = client.root / ".devcontainer" / "infra" / "devcontainer.json"
    argv = [*as_user, "node", str(cli / "devcontainer.js"), args[0]]
    argv += ["--workspace-folder", str(client.root), "--config", str(config), *args[1:]]
    return subprocess.run(
        argv, capture_output=True, text=True, env=client.env(env), timeout=600, cwd=client.root
    )


def _config(client: Client) -> dict:  # type: ignore[type-arg]
    text = (client.root / ".devcontainer/infra/devcontainer.json").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    return json.loads(body)  # type: ignore[no-any-return]


def _up_exec_and_check(
    client: Client, cli: Path, uid: int, as_user: Sequence[str] = (), **env: str
) -> None:
    up = _cli(client, cli, "up", as_user=as_user, env=env)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert json.loads(up.stdout.strip().splitlines()[-1])["outcome"] == "success"
    tests = _cli(client, cli, "exec", "python3", "-m", "pytest", "-p", "no:cacheprovider",
                 as_user=as_user, env=env)  # fmt: skip
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr
    probe = "pwd; id -u; echo token=$API_TOKEN mode=$MODE; touch made-inside; ls -d /data"
    shell = _cli(client, cli, "exec", "sh", "-c", probe, as_user=as_user, env=env)
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "/app/infra" in shell.stdout and f"token={SECRET} mode=dev" in shell.stdout
    assert (client.root / "infra/made-inside").stat().st_uid == uid  # the host user's file
    assert (client.root / "data").stat().st_uid == uid  # a mount source made by the host


@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_devcontainer_up_exec_pytest_host_user_env(repo: Client, devcontainer_cli: Path) -> None:
    wrote = repo.invoke("devcontainer", "--all-dirs")
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    assert "wrote   .devcontainer/infra/devcontainer.json" in wrote.stdout
    config = _config(repo)
    text = (repo.root / ".devcontainer/infra/devcontainer.json").read_text()
    assert SECRET not in text and "API_TOKEN" not in text  # names the env file, never values
    assert config["workspaceFolder"] == "/app/infra" and config["remoteUser"] == "helpers"
    assert config["updateRemoteUserUID"] is True
    assert "--env-file" in config["runArgs"]
    assert config["mounts"] == ["source=${localWorkspaceFolder}/data,target=/data,type=bind"]
    assert str(repo.root) not in text  # nothing machine-specific: the same file everywhere

    _up_exec_and_check(repo, devcontainer_cli, os.getuid())

    # Recorded like the other synced files: in sync now, drift after a config change.
    assert repo.invoke("sync_files", "--force").returncode == 0  # the fixture's own tasks.py
    check = repo.invoke("sync_files", "--check")
    assert check.returncode == 0 and "in sync" in check.stdout, check.stdout
    write(
        repo.root / "infra/repo_config.yaml", FILES["infra/repo_config.yaml"] + "ports: ['8765']\n"
    )
    drift = repo.invoke("sync_files", "--check")
    assert drift.returncode == 1
    assert "drift   .devcontainer/infra/devcontainer.json (outdated)" in drift.stdout
    assert repo.invoke("sync_files").returncode == 0
    assert "--publish" in _config(repo)["runArgs"]


def _traversable(path: Path) -> None:
    """Let other users pass through the test's own temp dirs (pytest makes them 0700)."""
    for p in (path, *path.parents):
        if p in (Path("/"), Path("/tmp")):
            return
        mode = p.stat().st_mode
        if not mode & 0o001:
            p.chmod(mode | 0o001)


@pytest.mark.skipif(os.getuid() != 0, reason="runs the CLI as uid 1000 through setpriv")
@pytest.mark.slow  # ~25-60 s alone: the fast list's 60 s time-out is too tight
def test_devcontainer_as_uid_1000(repo: Client, devcontainer_cli: Path, tmp_path: Path) -> None:
    if subprocess.run(["getent", "passwd", "1000"], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--uid", "1000", "--no-create-home", "helpers1000"], check=True)
    assert repo.invoke("devcontainer", "--dir", "infra").returncode == 0
    # The uid-1000 user owns the repo (its clone) and reaches the engine (the socket's group)
    # and a copy of the CLI (the cache under root's home is not theirs).
    sock = Path(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")[len("unix://") :])
    cli = tmp_path / "cli"
    shutil.copytree(devcontainer_cli, cli)
    home = tmp_path / "home"
    home.mkdir()
    for path in (repo.root, tmp_path):
        subprocess.run(["chown", "-R", "1000:1000", str(path)], check=True)
        _traversable(path.parent)
    as_user = ["setpriv", "--reuid=1000", "--regid=1000", f"--groups={sock.stat().st_gid}", "--"]
    _up_exec_and_check(repo, cli, 1000, as_user, HOME=str(home), USER="helpers1000")


# A dir with a Redis built from Debian's package on the local base (as test_services'), and a
# test that reaches it by its name over plain TCP (no client library in the dir's image).
REDIS_DOCKERFILE = (REPO / "tests/fixtures/services/redis.Dockerfile").read_text()
CACHE_CONFIG = """services:
  cache:
    dockerfile: devops/redis.Dockerfile
    healthcheck: redis-cli ping | grep -q PONG
"""
PING_TEST = """import os
import socket


def test_cache_answers_by_name():
    assert os.environ["HELPERS_SERVICES"] == "cache"
    with socket.create_connection(("cache", 6379), timeout=5) as conn:
        conn.sendall(b"PING\\r\\n")
        assert conn.recv(64) == b"+PONG\\r\\n"
"""
SERVICE_FILES = {
    "conftest.py": FILES["conftest.py"],
    "svc/repo_config.yaml": CACHE_CONFIG,
    "svc/devops/redis.Dockerfile": REDIS_DOCKERFILE,
    "svc/tests/test_cache.py": PING_TEST,
}


def _docker(*args: str) -> list[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return sorted(done.stdout.split())


def _repo_left(client: Client) -> tuple[list[str], list[str]]:
    """The repo's containers (any state) and networks, by the labels these tools set."""
    mine = f"label=io.helpers.repo={client.root}"
    boxes = _docker("ps", "-a", "--filter", mine, "--format", "{{.Names}}")
    nets = _docker("network", "ls", "--filter", mine, "--format", "{{.Name}}")
    return boxes, nets


@pytest.fixture()
def svc_repo(client_factory: ClientFactory) -> Iterator[Client]:
    client = client_factory("svc", files=SERVICE_FILES)
    yield client
    cli_made = _docker("ps", "-aq", "--filter", f"label=devcontainer.local_folder={client.root}")
    boxes, nets = _repo_left(client)
    if cli_made or boxes:
        subprocess.run(["docker", "rm", "-f", *cli_made, *boxes], capture_output=True)
    if nets:
        subprocess.run(["docker", "network", "rm", *nets], capture_output=True)


def _svc_cli(client: Client, cli: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = client.root / ".devcontainer" / "svc" / "devcontainer.json"
    argv = ["node", str(cli / "devcontainer.js"), args[0], "--workspace-folder", str(client.root)]
    argv += ["--config", str(config), *args[1:]]
    return subprocess.run(
        argv, capture_output=True, text=True, env=client.env(), timeout=900, cwd=client.root
    )


def _up_and_ping(client: Client, cli: Path) -> None:
    up = _svc_cli(client, cli, "up")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert json.loads(up.stdout.strip().splitlines()[-1])["outcome"] == "success"
    tests = _svc_cli(client, cli, "exec", "python3", "-m", "pytest", "-p", "no:cacheprovider")
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr


def _service_ids(name: str) -> list[str]:
    return _docker("ps", "-q", "--filter", f"label=io.helpers.service-of={name}")


@pytest.mark.slow  # builds the Redis image from Debian's package
def test_devcontainer_starts_the_dirs_services_and_reaches_them_by_name(
    svc_repo: Client, devcontainer_cli: Path
) -> None:
    from helpers.ops.adoption import devcontainer

    assert svc_repo.invoke("devcontainer", "--dir", "svc").returncode == 0
    text = (svc_repo.root / ".devcontainer/svc/devcontainer.json").read_text()
    assert str(svc_repo.root) not in text  # the network's name is made of the file's variables
    body = json.loads("\n".join(x for x in text.splitlines() if not x.startswith("//")))
    assert body["containerEnv"]["HELPERS_SERVICES"] == "cache"
    file_net = body["runArgs"][body["runArgs"].index("--network") + 1]
    name = file_net.replace("${localEnv:USER:user}", devcontainer.local_user(svc_repo.env()))

    _up_and_ping(svc_repo, devcontainer_cli)  # the initializeCommand started Redis on `name`
    first = _service_ids(name)
    assert len(first) == 1
    labels = _docker("network", "inspect", "--format", "{{json .Labels}}", name)
    assert f'"io.helpers.repo":"{svc_repo.root}"' in labels[0]

    _up_and_ping(svc_repo, devcontainer_cli)  # a second `up`: the healthy service is reused
    assert _service_ids(name) == first

    # A changed service config: a fresh Redis, which the running dev container reaches.
    write(svc_repo.root / "svc/repo_config.yaml", CACHE_CONFIG + "    env: {REDIS_ARGS: x}\n")
    _up_and_ping(svc_repo, devcontainer_cli)
    second = _service_ids(name)
    assert len(second) == 1 and second != first

    listed = svc_repo.invoke("docker_ps")
    assert "svc (service cache)" in listed.stdout and name in listed.stdout, listed.stdout
    # docker_kill ends the dev container, the anchor, the service and the network; only the
    # stopped dev container, the CLI's own, is left to it.
    killed = svc_repo.invoke("docker_kill", "--all", "--repo-only")
    assert killed.returncode == 0, killed.stdout + killed.stderr
    cli_made = _docker("ps", "-aq", "--filter", f"label=devcontainer.local_folder={svc_repo.root}")
    assert len(cli_made) == 1
    deadline = time.monotonic() + 20
    while len(_repo_left(svc_repo)[0]) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # the anchor (--rm) goes a moment after it is killed
    boxes, nets = _repo_left(svc_repo)
    assert len(boxes) == 1 and nets == [], (boxes, nets)

    # Opened again: a new network, the stopped dev container put on it, a fresh Redis.
    _up_and_ping(svc_repo, devcontainer_cli)
    assert svc_repo.invoke("docker_kill", "--all", "--repo-only").returncode == 0
    subprocess.run(["docker", "rm", "-f", *cli_made], capture_output=True, check=True)
    deadline = time.monotonic() + 20
    while _repo_left(svc_repo) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _repo_left(svc_repo) == ([], [])

    # Another clone of the same name (same image_name and user) has its set up: refused,
    # one line, exit 2; its network is left as it was and nothing of this repo starts.
    other = "io.helpers.repo=/elsewhere/clone"
    subprocess.run(["docker", "network", "create", "--label", other, name], check=True)
    try:
        init = [sys.executable, "-m", "helpers.cli.devcontainer", "svc"]
        done = subprocess.run(
            init, capture_output=True, text=True, env=svc_repo.env(), cwd=svc_repo.root
        )
        assert "belongs to /elsewhere/clone" in one_line_error(done)
        assert _repo_left(svc_repo) == ([], [])
    finally:
        subprocess.run(["docker", "network", "rm", name], capture_output=True, check=True)
