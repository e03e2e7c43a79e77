"""dev_scripts/engine/bootstrap.sh on the real machine: engine, base image, registry.

The engine is expected to be startable here (root on Debian, or already running).
machine.env goes to a temporary XDG_CONFIG_HOME so real settings are untouched,
while the real cache dir is reused: only the very first --base on a machine runs
debootstrap (~1.5 min); later runs import the cached tarball or find the image.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "dev_scripts" / "engine" / "bootstrap.sh"
PORT = os.environ.get("HELPERS_REGISTRY_PORT", "5000")
# Generous: a fresh machine installs packages and debootstraps the base image.
BOOTSTRAP_TIMEOUT_S = 900


def _env(config_home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HELPERS_BASE_IMAGE", None)  # else --base just trusts it
    env["XDG_CONFIG_HOME"] = str(config_home)
    env.update(extra)
    return env


def _bootstrap(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BOOTSTRAP), *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOOTSTRAP_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    detail = f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, detail
    return proc.stdout


def _docker(*args: str, stdin_data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], input=stdin_data, capture_output=True, timeout=300)


def _read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _tiny_image_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"helpers bootstrap registry check\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-config")


@pytest.fixture(scope="module")
def first_run(config_home: Path) -> str:
    """One `--base --registry` run for the module: whatever is missing gets made."""
    return _ok(_bootstrap(_env(config_home), "--base", "--registry"))


def test_engine_only_run_leaves_docker_answering(config_home: Path) -> None:
    out = _ok(_bootstrap(_env(config_home)))
    assert out.startswith("engine: ")
    assert "base image" not in out and "registry" not in out
    assert _docker("info").returncode == 0


def test_base_image_is_recorded_and_usable(config_home: Path, first_run: str) -> None:
    machine_env = config_home / "helpers" / "machine.env"
    image = _read_env_file(machine_env)["HELPERS_BASE_IMAGE"]
    assert f"base image: {image}" in first_run
    assert str(machine_env) in first_run
    assert _docker("image", "inspect", image).returncode == 0

    proc = _docker("run", "--rm", image, "python3", "-c", "import pytest, pytest_timeout")
    assert proc.returncode == 0, proc.stderr.decode()
    proc = _docker("run", "--rm", image, "sh", "-c", "python -V && pip -V")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().startswith("Python 3.")


def test_base_keeps_other_machine_settings(tmp_path: Path, first_run: str) -> None:
    machine_env = tmp_path / "helpers" / "machine.env"
    machine_env.parent.mkdir()
    machine_env.write_text("FOO=bar\n# note\nHELPERS_BASE_IMAGE=stale:0\nHELPERS_REGISTRY=x:1\n")

    _ok(_bootstrap(_env(tmp_path), "--base"))

    lines = machine_env.read_text().splitlines()
    assert lines[:2] == ["FOO=bar", "# note"]
    assert lines[3] == "HELPERS_REGISTRY=x:1"
    assert lines[2].startswith("HELPERS_BASE_IMAGE=") and lines[2] != "HELPERS_BASE_IMAGE=stale:0"
    assert len(lines) == 4
    assert list(machine_env.parent.iterdir()) == [machine_env]  # no temp file left


def test_registry_push_and_pull_back(first_run: str) -> None:
    assert "registry: " in first_run and f"127.0.0.1:{PORT}" in first_run
    repo = f"localhost:{PORT}/helpers-bootstrap-test"
    tag = f"{repo}:{uuid.uuid4().hex[:12]}"
    try:
        assert _docker("import", "-", tag, stdin_data=_tiny_image_tar()).returncode == 0
        push = _docker("push", tag)
        assert push.returncode == 0, push.stderr.decode()
        assert _docker("rmi", tag).returncode == 0
        pull = _docker("pull", tag)
        assert pull.returncode == 0, pull.stderr.decode()
        assert _docker("image", "inspect", tag).returncode == 0
    finally:
        _docker("rmi", "-f", tag)
        _delete_from_registry("helpers-bootstrap-test", tag.rsplit(":", 1)[1])


def _delete_from_registry(name: str, tag: str) -> None:
    """Keep the registry from filling up with test tags (deletes are enabled)."""
    base = f"http://127.0.0.1:{PORT}/v2/{name}/manifests"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    try:
        head = urllib.request.Request(f"{base}/{tag}", method="HEAD", headers={"Accept": accept})
        with urllib.request.urlopen(head, timeout=10) as resp:
            digest = resp.headers["Docker-Content-Digest"]
        delete = urllib.request.Request(f"{base}/{digest}", method="DELETE")
        urllib.request.urlopen(delete, timeout=10).close()
    except OSError:
        pass


def test_registry_catalog_answers(first_run: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v2/_catalog", timeout=10) as resp:
        assert "repositories" in json.load(resp)


def test_second_run_reports_everything_already_up(config_home: Path, first_run: str) -> None:
    out = _ok(_bootstrap(_env(config_home), "--base", "--registry"))
    lines = out.splitlines()
    assert len(lines) == 3, out
    assert lines[0].startswith("engine: already running")
    assert lines[1].startswith("base image: ") and " already present" in lines[1]
    assert lines[2] == f"registry: already up at 127.0.0.1:{PORT}"


def test_dead_docker_host_is_one_line_error(tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-engine.sock"
    proc = _bootstrap(_env(tmp_path, DOCKER_HOST=dead), "--all")
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("error: ") and "DOCKER_HOST" in err[0] and dead in err[0]


def test_unknown_option_is_one_line_error(tmp_path: Path) -> None:
    proc = _bootstrap(_env(tmp_path), "--bogus")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown option --bogus")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_qemu_enables_arm64_emulation(config_home: Path) -> None:
    """Installs qemu-user-static (~380 MB) on a fresh machine, hence slow."""
    if os.environ.get("HELPERS_IN_CONTAINER") == "1":
        # binfmt_misc is host kernel set-up; a container may not mount it. .ci/run
        # runs `bootstrap.sh --all` on the host before the suite, under set -e.
        pytest.skip("qemu binfmt is host set-up; .ci/run enables it on the host")
    _ok(_bootstrap(_env(config_home), "--qemu"))
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    assert entry.read_text().splitlines()[0] == "enabled"
    again = _ok(_bootstrap(_env(config_home), "--qemu"))
    assert "qemu: arm64 emulation already enabled" in again


ARM64_BASE = "helpers-python:3.11-bookworm-arm64"


def test_arm64_python_base_runs_python_and_pytest_under_qemu(config_home: Path) -> None:
    """`--base --arch arm64`: a runnable arm64 Python base, labelled arm64 in its config
    (docker import would say amd64), cached like the amd64 one (.ci/run makes it)."""
    if os.environ.get("HELPERS_IN_CONTAINER") != "1":
        out = _ok(_bootstrap(_env(config_home), "--base", "--arch", "arm64"))
        assert f"base image: {ARM64_BASE} (linux/arm64) " in out
        assert "helpers-python:3.11-bookworm already present" in out  # the native one too
    elif _docker("image", "inspect", ARM64_BASE).returncode != 0:
        pytest.fail(f"no {ARM64_BASE}: .ci/run makes it on the host (bootstrap.sh --arch arm64)")
    arch = _docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", ARM64_BASE)
    assert arch.stdout.decode().strip() == "linux/arm64"
    probe = "import platform, pytest, pytest_timeout; print(platform.machine())"
    ran = _docker("run", "--rm", "--platform", "linux/arm64", ARM64_BASE, "python3", "-c", probe)
    assert ran.returncode == 0, ran.stderr.decode()
    assert ran.stdout.decode().strip() == "aarch64"
    machine_env = config_home / "helpers" / "machine.env"
    assert ARM64_BASE not in machine_env.read_text()  # the native base stays the default
