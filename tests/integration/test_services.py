"""Services beside a dir's tests, on the real engine: PostgreSQL and Redis built here from
Debian's packages on the local base image (no Docker Hub), reached by name from the dir's
tests with real client libraries (psycopg, redis-py, pip-installed in the dir's image)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.conftest import Client, ClientFactory, one_line_error
from tests.integration.test_main_pytest import start_and_wait_for_containers

# Real images built from Debian's and PyPI's packages, real waits: the slow list's time-out.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Built here from Debian's packages on the local base (no Docker Hub); Postgres runs
# initdb at build time, so that a start is a fraction of a second.
FIXTURES = REPO / "tests" / "fixtures" / "services"
PG_DOCKERFILE = (FIXTURES / "pg.Dockerfile").read_text()
REDIS_DOCKERFILE = (FIXTURES / "redis.Dockerfile").read_text()
# The dir's own image: the client libraries from PyPI (HTTPS: the extra CA bundle first).
CLIENT_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
RUN python3 -m pip install --no-cache-dir -q "psycopg[binary]==3.2.3" "redis==5.2.1"
"""
# Every dir has a Postgres (repo-wide); d0 adds a Redis (its own file, the repo's context).
SERVICES_CONFIG = """services:
  db:
    dockerfile: devops/pg.Dockerfile
    healthcheck: pg_isready -h 127.0.0.1 -U postgres
    start_timeout: 30
"""
CACHE_CONFIG = """services:
  cache:
    dockerfile: devops/redis.Dockerfile
    healthcheck: redis-cli ping | grep -q PONG
"""
# Each dir leaves its name in its Postgres and its Redis: a name of another dir there means
# two dirs (or two runs) shared a service. Rows stay between runs on a warm set.
OWN_SERVICES_TEST = """import os

import psycopg
import redis

HERE = os.path.basename(os.getcwd())


SERVICES = os.environ["HELPERS_SERVICES"].split(",")


def test_services_are_named_in_the_env():
    assert SERVICES == (["db", "cache"] if HERE == "d0" else ["db"])


def test_postgres_is_this_dirs_own():
    with psycopg.connect("host=db user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS owner (dir text)")
        conn.execute("INSERT INTO owner VALUES (%s)", (HERE,))
        dirs = {row[0] for row in conn.execute("SELECT DISTINCT dir FROM owner")}
    assert dirs == {HERE}


def test_redis_is_this_dirs_own():
    if "cache" not in SERVICES:
        return
    client = redis.Redis(host="cache", port=6379)
    client.setnx("owner", HERE)
    assert client.get("owner") == HERE.encode()
"""


def _dirs(n: int) -> list[str]:
    return [f"d{i}" for i in range(n)]


@pytest.fixture(scope="module")
def pg_client(module_client_factory: ClientFactory) -> Client:
    """8 runnable dirs with the same tests, a repo-wide Postgres (one image, shared; every
    run gets its own container) and d0's Redis, all images built once."""
    dirs = _dirs(8)
    files = {
        "repo_config.yaml": SERVICES_CONFIG,
        "devops/pg.Dockerfile": PG_DOCKERFILE,
        "d0/devops/redis.Dockerfile": REDIS_DOCKERFILE,
        "d0/repo_config.yaml": CACHE_CONFIG,
    }
    for d in dirs:
        files[f"{d}/devops/Dockerfile"] = CLIENT_DOCKERFILE
        files[f"{d}/tests/test_services.py"] = OWN_SERVICES_TEST
    client = module_client_factory(*dirs, files=files)
    built = client.invoke("docker_build_local_image", "--dir", "d0", timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    for d in dirs[1:]:  # same Dockerfile: every step but the labels is a cache hit
        assert client.invoke("docker_build_local_image", "--dir", d).returncode == 0
    return client


def ours(client: Client, what: str = "container") -> list[str]:
    """The repo's containers (running or not) or networks, by the repo label."""
    listing = ["docker", "ps", "-a"] if what == "container" else ["docker", "network", "ls"]
    name = "{{.Names}}" if what == "container" else "{{.Name}}"
    out = subprocess.run(
        [*listing, "--filter", f"label=io.helpers.repo={client.root}", "--format", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(out.stdout.split())


def services_of(client: Client) -> list[str]:
    out = subprocess.run(
        [
            *("docker", "ps", "-a", "--filter", f"label=io.helpers.repo={client.root}"),
            *("--filter", "label=io.helpers.service", "--format", "{{.Names}}"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(out.stdout.split())


def report_of(stdout: str) -> dict:  # type: ignore[type-arg]
    run_dir = stdout.rsplit("reports: ", 1)[1].split()[0]
    return json.loads((Path(run_dir) / "report.json").read_text())  # type: ignore[no-any-return]


def test_run_tests_reaches_postgres_and_redis_by_name(pg_client: Client) -> None:
    fresh = pg_client.invoke("run_tests", "--dir", "d0", "--fresh")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "d0: 3 passed, 0 failed" in fresh.stdout
    assert ours(pg_client) == [] and ours(pg_client, "network") == []  # a fresh run's: gone
    warm = pg_client.invoke("run_tests", "--dir", "d0")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    kept = services_of(pg_client)  # warm: the services stay up beside the warm container
    assert len(kept) == 2 and all(n.startswith("helpers-warm-") for n in kept), kept
    again = pg_client.invoke("run_tests", "--dir", "d0")
    assert again.returncode == 0 and services_of(pg_client) == kept  # reused, not restarted
    cmd = pg_client.invoke(
        "docker_cmd",
        "--dir",
        "d0",
        "--cmd",
        "python3 -c \"import psycopg; print(psycopg.connect('host=db user=postgres')"
        ".execute('select 40 + 2').fetchone()[0])\"",
    )
    assert cmd.returncode == 0 and cmd.stdout.strip().endswith("42"), cmd.stdout + cmd.stderr
    assert services_of(pg_client) == kept  # docker_cmd's own services are gone again
    listed = pg_client.invoke("docker_ps")
    assert "service db" in listed.stdout and "service cache" in listed.stdout, listed.stdout


@pytest.mark.superslow  # 80 dir runs and 40 fresh Postgres starts: minutes on a busy engine
def test_eight_dirs_each_with_its_own_postgres_ten_times(pg_client: Client) -> None:
    """-j 4, 10 repeats (warm and fresh alternating): no dir ever sees another's rows."""
    for repeat in range(10):
        flags = ["--fresh"] if repeat % 2 else []
        done = pg_client.script("dev_scripts/main_pytest.py", "-j", "4", *flags, timeout=600)
        assert done.returncode == 0, (repeat, done.stdout[-3000:], done.stderr[-2000:])
        data = report_of(done.stdout)
        assert {d["dir"]: d["passed"] for d in data["dirs"]} == {d: 3 for d in _dirs(8)}
        if flags:  # a fresh run's services and networks are gone when it ends
            names = set(services_of(pg_client))
            assert all(n.startswith("helpers-warm-") for n in names), names


def _waiting_for(client: Client, argv: list[str], dirs: int) -> subprocess.Popen[str]:
    """Started, once each of `dirs` dirs runs its container beside its one service."""
    proc = start_and_wait_for_containers(client, argv, count=2 * dirs)
    time.sleep(1)  # pytest inside gets going
    return proc


SLEEPER_CONFIG = """services:
  side:
    image: {base}
    command: sleep 300
    healthcheck: "true"
"""
LONG_TEST = "import time\n\ndef test_long():\n    time.sleep(120)\n"


@pytest.fixture(scope="module")
def sleeper(module_client_factory: ClientFactory) -> Client:
    """Two dirs with a long test and a service that starts at once (the base image)."""
    from tests.integration.conftest import base_image

    files = {"repo_config.yaml": SLEEPER_CONFIG.format(base=base_image())}
    for d in ("a", "b"):
        files[f"{d}/tests/test_long.py"] = LONG_TEST
    client = module_client_factory("a", "b", files=files)
    for d in ("a", "b"):
        assert client.invoke("docker_build_local_image", "--dir", d).returncode == 0
    return client


@pytest.mark.parametrize(
    ("sig", "fresh"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, True)],
)
def test_a_stop_signal_mid_run_leaves_no_service_and_no_network(
    sleeper: Client, sig: signal.Signals, fresh: bool
) -> None:
    script = str(sleeper.root / "helpers_root/dev_scripts/main_pytest.py")
    argv = [sys.executable, script, "-j", "2", *(["--fresh"] if fresh else [])]
    proc = _waiting_for(sleeper, argv, dirs=2)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert ours(sleeper) == [] and ours(sleeper, "network") == [], out


@pytest.mark.parametrize(
    ("sig", "task"),
    [
        (signal.SIGHUP, ("run_tests", "--dir", "a")),
        (signal.SIGTERM, ("docker_cmd", "--dir", "a", "--cmd", "sleep 120")),
    ],
)
def test_run_tests_and_docker_cmd_interrupted_leave_nothing(
    sleeper: Client, sig: signal.Signals, task: tuple[str, ...]
) -> None:
    proc = _waiting_for(sleeper, [sys.executable, "-m", "invoke", *task], dirs=1)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert ours(sleeper) == [] and ours(sleeper, "network") == [], out


def test_a_service_never_healthy_is_exit_2_with_its_log_lines(
    client_factory: ClientFactory,
) -> None:
    from tests.integration.conftest import base_image

    config = f"""services:
  db:
    image: {base_image()}
    command: [sh, -c, "echo starting up; echo cannot bind to port 5432 >&2; sleep 300"]
    healthcheck: exit 1
    start_timeout: 2
"""
    client = client_factory(
        ".", files={"repo_config.yaml": config, "tests/test_x.py": "def test_x():\n    pass\n"}
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    for args in (("run_tests",), ("run_tests", "--fresh"), ("docker_cmd", "--cmd", "true")):
        result = client.invoke(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "service db of . is not healthy" in errors[0], result.stderr
        assert "healthcheck `exit 1` still failing after 2 s" in errors[0]
        assert "db | cannot bind to port 5432" in result.stderr
        assert "Traceback" not in result.stderr
        assert ours(client) == [] and ours(client, "network") == [], args
    done = client.script("dev_scripts/main_pytest.py", "--fresh")
    assert done.returncode == 2, done.stdout + done.stderr
    assert ".: not run (service db of . is not healthy" in done.stdout
    assert "db | cannot bind to port 5432" in done.stdout
    assert ours(client) == [] and ours(client, "network") == []


def test_bad_service_config_names_file_and_line(client_factory: ClientFactory) -> None:
    config = "registry: localhost:5000\nservices:\n  db:\n    image: x:1\n    start_timeout: soon\n"
    client = client_factory(".", files={"repo_config.yaml": config})
    line = one_line_error(client.invoke("run_tests"))
    assert line == (
        "error: repo_config.yaml:5: 'services.db.start_timeout' must be a positive number "
        "of seconds, got 'soon'; fix the value"
    )


def test_docker_ps_and_docker_kill_know_a_warm_containers_services(
    sleeper: Client,
) -> None:
    assert (
        sleeper.invoke(
            "run_tests", "--dir", "b", "--pytest-opts", "-k nothing", "--allow-no-tests"
        ).returncode
        == 0
    )
    assert len(services_of(sleeper)) == 1 and ours(sleeper, "network") != []
    listed = sleeper.invoke("docker_ps")
    assert "b (service side)" in listed.stdout, listed.stdout
    killed = sleeper.invoke("docker_kill", "--all", "--repo-only")
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert ours(sleeper) == [] and ours(sleeper, "network") == []


def test_an_image_service_is_pulled_from_the_registry_first(client_factory: ClientFactory) -> None:
    import secrets

    from tests.integration.conftest import base_image

    name = f"it-svc-{secrets.token_hex(4)}:1"
    pushed = f"localhost:5000/{name}"
    subprocess.run(["docker", "tag", base_image(), pushed], check=True)
    try:
        subprocess.run(["docker", "push", "-q", pushed], check=True, capture_output=True)
        subprocess.run(["docker", "rmi", pushed], check=True, capture_output=True)
        config = (
            f"registry: localhost:5000\nservices:\n  side:\n    image: {name}\n"
            "    command: sleep 300\n"
        )
        client = client_factory(".", files={"repo_config.yaml": config})
        assert client.invoke("docker_build_local_image").returncode == 0
        done = client.invoke("docker_cmd", "--cmd", "getent hosts side && echo $HELPERS_SERVICES")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"pull   service side  {pushed}" in done.stderr
        assert done.stdout.strip().endswith("side")
        assert ours(client) == [] and ours(client, "network") == []
    finally:
        subprocess.run(["docker", "rmi", pushed], capture_output=True)


FLAKY_TEST = """import os
from pathlib import Path


def test_flaky():
    counter = Path(os.environ["HELPERS_REPORT_DIR"]) / "attempts"  # new for every run
    counter.parent.mkdir(parents=True, exist_ok=True)
    attempt = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(attempt + 1))
    assert attempt > 0, "the first attempt fails"
"""
QUARANTINED_TESTS = """def test_broken():
    assert 0, "known broken"


def test_recovering():
    pass
"""


def test_flaky_and_quarantined_tests_in_real_runs(client_factory: ClientFactory) -> None:
    client = client_factory(
        ".",
        files={
            "repo_config.yaml": (
                "quarantine: [tests/test_q.py::test_broken, tests/test_q.py::test_recovering]\n"
            ),
            "tests/test_flaky.py": FLAKY_TEST,
            "tests/test_q.py": QUARANTINED_TESTS,
        },
    )
    assert client.invoke("docker_build_local_image").returncode == 0
    red = client.invoke("run_tests")
    assert red.returncode == 1, red.stdout + red.stderr  # no reruns: the flaky test fails
    assert "tests/test_q.py" not in client.invoke("pytest_repro").stdout  # never rerun
    green = client.invoke("run_tests", "--reruns", "1")
    assert green.returncode == 0, green.stdout + green.stderr
    assert (
        ".: flaky (failed, then passed on a rerun): tests/test_flaky.py::test_flaky" in green.stdout
    )
    assert ".: quarantined (cannot fail the run): tests/test_q.py::test_broken" in green.stdout
    junit = green.stdout.split("junit: ", 1)[1].split()[0]
    assert "<flakyFailure" in Path(junit).read_text()
    done = client.script("dev_scripts/main_pytest.py", "--reruns", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    data = report_of(done.stdout)
    (entry,) = data["dirs"]
    assert entry["flaky"] == ["tests/test_flaky.py::test_flaky"]
    assert entry["quarantined"] == [
        "tests/test_q.py::test_broken",
        "tests/test_q.py::test_recovering",
    ]
    run_dir = Path(done.stdout.rsplit("reports: ", 1)[1].split()[0])
    assert "<flakyFailure" in (run_dir / "junit.xml").read_text()  # the combined JUnit too
    assert "errors  flaky  seconds" in done.stdout  # the summary table's column
    # test_recovering passed in three runs in a row (red, green, main_pytest): said once.
    assert "tests/test_q.py::test_recovering passed 3 runs in a row" in done.stderr
    assert "can leave quarantine" in done.stderr and "test_broken passed" not in done.stderr
