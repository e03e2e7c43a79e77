"""The bad-input and fault corpus of issue 11 on the real engine, in temp client repos."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write
from tests.integration.conftest import Client, ClientFactory, one_line_error
from tests.integration.test_main_pytest import containers_of

pytestmark = pytest.mark.integration

# It marks when it runs: pytest has imported and collected by then (a signal during pytest's
# own start-up ends it with the interpreter's KeyboardInterrupt traceback, not ours).
STARTED = "test_long.started"
LONG = (
    "import pathlib, time\n\ndef test_long():\n"
    f"    pathlib.Path({STARTED!r}).write_text('')\n    time.sleep(120)\n"
)
FAILING = "def test_ok():\n    pass\n\ndef test_bad():\n    assert 0, 'the real failure'\n"
MAIN_PYTEST = "helpers_root/dev_scripts/main_pytest.py"


def _as_from_a_terminal() -> None:
    """Default dispositions even if this test run was started with a signal ignored (nohup)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _start_in_own_session(client: Client, argv: list[str]) -> subprocess.Popen[str]:
    """As from a terminal: its own process group, which a hangup signals as a whole."""
    return subprocess.Popen(
        argv,
        cwd=client.root,
        env=client.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )


def _pytest_running(client: Client) -> bool:
    """The long test runs, in one of the client's containers."""
    if not (client.root / STARTED).exists():
        return False
    for cid in containers_of(client):
        top = subprocess.run(["docker", "top", cid], capture_output=True, text=True)
        if "pytest" in top.stdout:
            return True
    return False


@pytest.mark.parametrize(
    "command",
    [
        ("main_pytest",),
        ("run_tests",),  # in the dir's warm container, by `docker exec`
        ("run_tests", "--fresh"),
        ("docker_cmd", "--cmd", "python3 -m pytest -q tests"),
    ],
)
def test_hangup_is_like_sigterm_130_and_nothing_left(
    client_factory: ClientFactory, command: tuple[str, ...]
) -> None:
    """The terminal closed (ssh or CI agent lost): the whole process group gets SIGHUP."""
    client = client_factory(".", files={"tests/test_long.py": LONG})
    assert client.invoke("docker_build_local_image").returncode == 0
    if command[0] == "main_pytest":
        argv = [sys.executable, str(client.root / MAIN_PYTEST)]
    else:
        argv = [sys.executable, "-m", "invoke", *command]
    proc = _start_in_own_session(client, argv)
    deadline = time.monotonic() + 90
    while not _pytest_running(client) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _pytest_running(client), command
    os.killpg(proc.pid, signal.SIGHUP)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, (command, out)
    assert "Traceback" not in out
    assert containers_of(client) == [], command  # the warm one too: pytest was still inside


def test_env_file_values_reach_the_container_and_bad_lines_are_exit_2(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(
        ".",
        files={
            ".env": "# comment\nexport TOKEN=\"two words\"\nQUOTED='a#b'\n",
            "tests/test_env.py": "import os\n\ndef test_env():\n"
            "    assert os.environ['TOKEN'] == 'two words'\n",
        },
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    shown = client.invoke("docker_cmd", "--cmd", 'printf "%s|%s" "$TOKEN" "$QUOTED"')
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "two words|a#b"
    assert client.invoke("run_tests", "--fresh").returncode == 0

    write(client.root / ".env", "TOKEN=ok\nthis line is not an assignment\n")
    expected = "error: .env:2: cannot parse the line starting 'this' (values are not shown)"
    for args in (("docker_cmd", "--cmd", "true"), ("run_tests", "--fresh"), ("run_tests",)):
        line = one_line_error(client.invoke(*args))
        assert line.startswith(expected), (args, line)
    result = client.script("dev_scripts/main_pytest.py")
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected[len("error: ") :] in result.stdout
    assert containers_of(client) == []


def test_a_configured_env_file_that_is_missing_is_exit_2(client_factory: ClientFactory) -> None:
    client = client_factory(".", files={"repo_config.yaml": "env_file: config/prod.env\n"})
    assert client.invoke("docker_build_local_image").returncode == 0
    line = one_line_error(client.invoke("docker_cmd", "--cmd", "true"))
    assert line.startswith("error: repo_config.yaml: env_file 'config/prod.env': no such file")


def test_bad_ports_never_reach_docker(client_factory: ClientFactory) -> None:
    client = client_factory(".", files={"repo_config.yaml": 'ports: ["abc:def"]\n'})
    line = one_line_error(client.invoke("docker_cmd", "--cmd", "true"))
    assert line == (
        "error: repo_config.yaml:1: 'ports' must be ports like '8080:80' or "
        "'127.0.0.1:8080:80/tcp', got 'abc:def'; fix the value"
    )


def _containers_running(token: str) -> int:
    listed = subprocess.run(
        ["docker", "ps", "--all", "--no-trunc", "--format", "{{.Command}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(token in line for line in listed.stdout.splitlines())


def test_a_failed_build_leaves_no_container(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    token = f"helpers-failing-step-{os.getpid()}-{time.monotonic_ns()}"
    dockerfile = f"ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN echo {token} && false\n"
    write(client.root / "devops" / "Dockerfile", dockerfile)
    failed = client.invoke("docker_build_local_image")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "docker build of " in failed.stderr and "failed (exit 1)" in failed.stderr
    # The classic builder keeps the failed step's container unless told --force-rm.
    assert _containers_running(token) == 0


def test_engine_down_said_once_and_the_last_run_kept(client_factory: ClientFactory) -> None:
    client = client_factory(".", "infra", files={"tests/test_x.py": FAILING})
    assert client.invoke("docker_build_local_image").returncode == 0
    assert client.invoke("run_tests").returncode == 1
    before = client.invoke("pytest_repro").stdout
    assert "test_x.py::test_bad" in before

    down = {"DOCKER_HOST": "unix:///nonexistent/engine-down.sock"}
    result = client.script("dev_scripts/main_pytest.py", env=down)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no container engine answers at DOCKER_HOST=unix:///nonexistent")
    assert "no container engine" not in result.stdout
    for args in (("run_tests",), ("docker_cmd", "--cmd", "true")):
        assert client.invoke(*args, env=down).returncode == 2
    # The runs that ran nothing did not replace the record of the real failure.
    assert client.invoke("pytest_repro").stdout == before
    rerun = client.invoke("pytest_failed")
    assert rerun.returncode == 1 and ".: 0 passed, 1 failed" in rerun.stdout


def test_version_flag_checked_and_its_fix_builds_that_version(
    client_factory: ClientFactory,
) -> None:
    client = client_factory(".")
    changelog = client.root / "changelog.txt"
    changelog.write_text("# x-0.1.2\n- a fix\n\n" + changelog.read_text())
    line = one_line_error(client.invoke("docker_cmd", "--cmd", "true", "--version", "notaversion"))
    assert line.startswith("error: --version 'notaversion' is not a version like 1.2.3")
    missing = one_line_error(client.invoke("docker_cmd", "--cmd", "true", "--version", "0.1.0"))
    fix = "invoke docker_build_local_image --version 0.1.0"
    assert f"run `{fix}`" in missing, missing
    built = client.invoke(*fix.split()[1:])
    assert built.returncode == 0, built.stderr
    ran = client.invoke("docker_cmd", "--cmd", "echo ran", "--version", "0.1.0")
    assert ran.returncode == 0 and ran.stdout.strip() == "ran", ran.stderr
    assert "is version 0.1.0, changelog.txt says 0.1.2; running anyway" in ran.stderr


def test_bump_version_read_only_refused_and_old_new_printed(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("infra")
    path = client.root / "infra" / "changelog.txt"
    bumped = client.invoke("bump_version", "--dir", "infra", "--part", "minor", "-m", "x")
    assert bumped.returncode == 0
    assert bumped.stdout == "infra/changelog.txt: 0.1.0 -> 0.2.0\n"
    path.chmod(0o444)
    before = path.read_text()
    line = one_line_error(client.invoke("bump_version", "--dir", "infra", "-m", "y"))
    assert "the file is read-only" in line and path.read_text() == before


def test_changed_since_names_where_the_ref_came_from(client_factory: ClientFactory) -> None:
    client = client_factory(".")
    flag = one_line_error(client.script("dev_scripts/main_pytest.py", "--changed-since", "nope"))
    assert flag.startswith("error: --changed-since nope: no such commit")
    env = one_line_error(client.invoke("changes", env={"HELPERS_CHANGED_SINCE": "nope"}))
    assert env.startswith("error: $HELPERS_CHANGED_SINCE=nope: no such commit")
    since = one_line_error(client.invoke("changes", "--since", "nope"))
    assert since.startswith("error: --since nope: no such commit")


def test_the_temp_env_file_is_gone_when_the_task_ends(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    client = client_factory(".", files={".env": "TOKEN=abc\n"})
    assert client.invoke("docker_build_local_image").returncode == 0
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    shown = client.invoke("docker_cmd", "--cmd", 'echo "$TOKEN"', env={"TMPDIR": str(tmp)})
    assert shown.returncode == 0 and shown.stdout.strip() == "abc", shown.stderr
    assert list(tmp.rglob("*.list")) == []  # docker read it; it was removed at exit
    shown = client.invoke("docker_jupyter", "--dry-run", env={"TMPDIR": str(tmp)})
    private = f"{tmp}/helpers-env-{os.getuid()}/env-"  # where the next run sweeps
    assert f"--env-file {private}" in shown.stdout, shown.stdout + shown.stderr
    assert list(tmp.rglob("*.list")) == []
    write(client.root / ".env", "BROKEN LINE\n")
    one_line_error(client.invoke("docker_cmd", "--cmd", "true", env={"TMPDIR": str(tmp)}))
    assert list(tmp.rglob("*.list")) == []  # a bad file is never copied


def test_packaging_inputs_bad_and_good_at_the_task_level(client_factory: ClientFactory) -> None:
    client = client_factory(
        "infra", files={"infra/pyproject.toml": '[project]\nname = "infra"\nversion = "0.1.0"\n'}
    )
    # bump_version moves the package's version along, and says so.
    bumped = client.invoke("bump_version", "--dir", "infra", "--part", "minor", "-m", "x")
    assert bumped.stdout.splitlines() == [
        "infra/changelog.txt: 0.1.0 -> 0.2.0",
        "infra/pyproject.toml: version 0.2.0",
    ], bumped.stderr
    assert 'version = "0.2.0"' in (client.root / "infra/pyproject.toml").read_text()
    # check_libs names its own flag.
    line = one_line_error(client.invoke("check_libs", "--changed-since", "nope"))
    assert line.startswith("error: --changed-since nope: no such commit")
    # A pyproject that is not UTF-8 is bad input with file:line, not an unexpected error.
    (client.root / "infra/pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')
    line = one_line_error(client.invoke("deps"))
    assert line.startswith("error: infra/pyproject.toml:2: not UTF-8 text"), line
