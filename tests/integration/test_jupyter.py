"""docker_jupyter on the real engine: a real notebook server, its URL, its token, its stop.

The Jupyter layer (Debian's jupyter-notebook, ~60 s to install) is built once per
machine and base image as `helpers-test-jupyter:<base id>` and kept, like the base
image itself; each test's client image is a quick build on top of it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import Client, ClientFactory, base_image, one_line_error
from tests.integration.test_chores import ok

pytestmark = pytest.mark.integration

URL = re.compile(r"^jupyter: (http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]+))\s")
JUPYTER_LAYER = (
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends jupyter-notebook"
    " && rm -rf /var/lib/apt/lists/*\n"
)


def docker(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, input=input)


def running(client: Client) -> list[str]:
    label = f"label=io.helpers.repo={client.root}"
    return docker("ps", "--all", "--filter", label, "--format", "{{.Names}}").stdout.split()


@pytest.fixture(scope="module")
def jupyter_base() -> str:
    base = base_image()
    found = docker("image", "inspect", "--format", "{{.Id}}", base)
    assert found.returncode == 0, f"base image {base} is missing: {found.stderr}"
    ref = f"helpers-test-jupyter:{found.stdout.strip().split(':')[-1][:12]}"
    if docker("image", "inspect", ref).returncode != 0:
        built = docker(
            "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", ref, "-", input=JUPYTER_LAYER
        )
        assert built.returncode == 0, built.stderr
    return ref


def status(url: str, token: str, timeout: float = 30) -> int:
    """The server's answer to /api/status; 0 when none came. Generous: with the suite's
    workers building under qemu on two cores, a first answer took longer than 5 s."""
    try:
        with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    port: int
    token: str
    log: Path

    def ready(self) -> None:
        deadline = time.monotonic() + 180
        while status(self.base, self.token) != 200 and time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.3)
        assert status(self.base, self.token) == 200, self.diagnose()

    def diagnose(self) -> str:
        """What a server that never answers looks like from every side (flaky under load)."""
        fmt = "{{.Names}} {{.Ports}}"
        published = docker("ps", "--filter", f"publish={self.port}", "--format", fmt).stdout
        lines = [self.log.read_text(), f"containers publishing {self.port}: {published!r}"]
        try:  # the reason status() folds into 0
            urllib.request.urlopen(f"{self.base}api/status?token={self.token}", timeout=30)
        except Exception as exc:
            lines.append(f"a try now: {exc!r}")
        ip_fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.MacAddress}} {{end}}"
        for name in published.split()[:1]:
            ip = docker("inspect", "--format", ip_fmt, name).stdout.split()
            lines.append(f"{name} at {ip}")
            if ip:
                direct = status(f"http://{ip[0]}:{self.port}/", self.token, timeout=5)
                lines.append(f"direct {ip[0]}: {direct}")
            probe = (
                "import urllib.request as u,sys;"
                f"print(u.urlopen('http://127.0.0.1:{self.port}/api/status?token={self.token}',"
                "timeout=5).status)"
            )
            inside = docker("exec", name, "python3", "-c", probe)
            said = f"{inside.stdout.strip()} {inside.stderr[-300:]}"
            lines.append(f"inside: {inside.returncode} {said}")
        every = docker("ps", "--format", "{{.ID}}").stdout.split()
        if every:
            fmt2 = "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}},{{end}}"
            lines.append(docker("inspect", "--format", fmt2, *every).stdout)
        return "\n".join(lines)


@contextmanager
def serving(client: Client, env: dict[str, str], log: Path) -> Iterator[Server]:
    """`invoke docker_jupyter --dir nb` in the background (its own process group)."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "docker_jupyter", "--dir", "nb"],
            cwd=client.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = URL.match(first)
            assert match, first + log.read_text()
            base = match.group(1).split("?")[0]
            yield Server(proc, base, int(match.group(2)), match.group(3), log)
        finally:
            proc.kill()
            proc.wait()


def assert_gone(client: Client, port: int) -> None:
    deadline = time.monotonic() + 15
    while running(client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(client) == []  # stopped and removed
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # nothing listens there any more
        sock.listen()


@pytest.mark.slow
def test_jupyter_serves_with_its_token_and_stops_cleanly(
    client_factory: ClientFactory, jupyter_base: str, tmp_path: Path
) -> None:
    client = client_factory("nb")
    env = client.env({"HELPERS_BASE_IMAGE": jupyter_base})
    ok(client.invoke("docker_build_local_image", "--dir", "nb", env=env))
    with serving(client, env, tmp_path / "first.log") as server:
        server.ready()
        assert status(server.base, "0" * len(server.token)) == 403  # the token lets you in
        (name,) = running(client)
        assert "jupyter" in name
        published = docker("port", name).stdout
        assert f"127.0.0.1:{server.port}" in published and "0.0.0.0" not in published
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                assert server.token not in cmdline.read_text(errors="replace")  # in no argv
            except OSError:
                continue
        server.proc.terminate()  # SIGTERM to the invoke process alone
        assert server.proc.wait(timeout=30) == 130
        assert_gone(client, server.port)

    with serving(client, env, tmp_path / "second.log") as again:
        assert again.token != server.token  # a fresh token every start
        again.ready()
        os.killpg(again.proc.pid, signal.SIGINT)  # Ctrl-C at a terminal: the whole group
        assert again.proc.wait(timeout=30) == 130
        assert "interrupted" in again.log.read_text()
        assert_gone(client, again.port)


def test_jupyter_missing_in_image_is_one_line(client_factory: ClientFactory) -> None:
    client = client_factory("nb")
    ok(client.invoke("docker_build_local_image", "--dir", "nb"))
    result = client.invoke("docker_jupyter", "--dir", "nb")
    line = one_line_error(result)
    assert line.startswith(
        f"error: image {client.name}-nb:local-tester-0.1.0 has no jupyter: "
        "add it to nb/devops/Dockerfile"
    )
    assert running(client) == []


def test_jupyter_dry_run_and_busy_port(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    ok(client.invoke("docker_build_local_image"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        refused = client.invoke("docker_jupyter", "--port", str(busy))
        assert f"--port {busy} is in use on 127.0.0.1" in one_line_error(refused)
    dry = ok(client.invoke("docker_jupyter", "--port", str(busy), "--dry-run")).splitlines()
    assert dry[0] == f"url      http://127.0.0.1:{busy}/?token=<token generated at start>"
    command = dry[2]
    assert command.startswith("command  docker run --rm --name helpers-")
    assert f"--publish 127.0.0.1:{busy}:{busy}" in command
    assert "--env JUPYTER_TOKEN " in command and "JUPYTER_TOKEN=" not in command
    root = " --allow-root" if os.getuid() == 0 else ""
    assert command.endswith(f"--ip=0.0.0.0 --port={busy} --no-browser{root}")
    assert running(client) == []  # nothing started
