"""`invoke devcontainer` with the real devcontainers CLI (npm `@devcontainers/cli`): `up`, then
`exec ... pytest` passes in the dir; files written inside belong to the host user (root and
uid 1000); the env file's values reach the container and never the config; sync_files keeps
the file current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import REPO, write
from tests.integration.conftest import Client, ClientFactory

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
