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

from tests.integration.conftest import Client, ClientFactory, one_line_error

pytestmark = pytest.mark.integration

# initdb at build time, so that a start is a fraction of a second.
PG_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
    --no-install-recommends postgresql-15 >/dev/null && rm -rf /var/lib/apt/lists/*
USER postgres
RUN /usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/data -U postgres --auth=trust \\
    >/dev/null && echo "listen_addresses='*'" >> /var/lib/postgresql/data/postgresql.conf \\
    && echo "host all all 0.0.0.0/0 trust" >> /var/lib/postgresql/data/pg_hba.conf
CMD ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data", "-c", "fsync=off"]
"""
REDIS_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
    --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
"""
# The dir's own image: the client libraries from PyPI (HTTPS: the extra CA bundle first).
CLIENT_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
RUN python3 -m pip install --no-cache-dir -q "psycopg[binary]==3.2.3" "redis==5.2.1"
"""
SERVICES_CONFIG = """services:
  db:
    dockerfile: devops/pg.Dockerfile
    healthcheck: pg_isready -h 127.0.0.1 -U postgres
    start_timeout: 30
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


def test_services_are_named_in_the_env():
    assert os.environ["HELPERS_SERVICES"] == "db,cache"


def test_postgres_is_this_dirs_own():
    with psycopg.connect("host=db user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS owner (dir text)")
        conn.execute("INSERT INTO owner VALUES (%s)", (HERE,))
        dirs = {row[0] for row in conn.execute("SELECT DISTINCT dir FROM owner")}
    assert dirs == {HERE}


def test_redis_is_this_dirs_own():
    client = redis.Redis(host="cache", port=6379)
    client.setnx("owner", HERE)
    assert client.get("owner") == HERE.encode()
"""


def _dirs(n: int) -> list[str]:
    return [f"d{i}" for i in range(n)]


@pytest.fixture(scope="module")
def pg_client(module_client_factory: ClientFactory) -> Client:
    """8 runnable dirs with the same tests, one repo-wide pair of services (one image each,
    shared; every run gets its own containers), all images built once."""
    dirs = _dirs(8)
    files = {
        "repo_config.yaml": SERVICES_CONFIG,
        "devops/pg.Dockerfile": PG_DOCKERFILE,
        "devops/redis.Dockerfile": REDIS_DOCKERFILE,
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
    out = subprocess.run(
        [*listing, "--filter", f"label=io.helpers.repo={client.root}", "--format", "{{.Names}}"],
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


@pytest.mark.slow
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


def _waiting_for(client: Client, argv: list[str], count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv,
        cwd=client.root,
        env=client.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        side = services_of(client)
        running = [n for n in ours(client) if n not in side]  # the dirs' own containers
        if len(running) >= count and len(side) >= count:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(f"{argv}: its containers never ran: {proc.communicate()[0]}")
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
    proc = _waiting_for(sleeper, argv, count=2)
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
    proc = _waiting_for(sleeper, [sys.executable, "-m", "invoke", *task], count=1)
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
