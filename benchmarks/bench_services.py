"""Services beside the tests: what they cost a run, side by side in one run.

    python benchmarks/bench_services.py [--runs N] [--keep]

- `run_tests` start -> first test running for a dir with a PostgreSQL service, minus the
  same for the same dir without services, minus the service's own time to become ready
  (`docker run -d` of its image until `pg_isready` answers): what helpers adds to get a
  service up (target <= 1 s), and the same with the services already warm (<= 0.3 s).
  The absolute times are printed too.
- 8 dirs with ~5 s suites, each with its own PostgreSQL, `main_pytest -j 4`, vs the same
  tests against one shared, pre-started PostgreSQL (target ratio <= 1.5); fresh
  containers on both sides, then warm ones.

The PostgreSQL image is built here from Debian's packages on $HELPERS_BASE_IMAGE, its
data dir initialised at build time; the dirs' image pip-installs psycopg (PyPI, through
$HELPERS_EXTRA_CA_CERTS when set).
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _bench import ROOT, client_repo, env, invoke, main_in_temp, seconds

# The integration tests' PostgreSQL: Debian's packages, initdb at build time.
PG_DOCKERFILE = (ROOT / "tests" / "fixtures" / "services" / "pg.Dockerfile").read_text()
DIR_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
RUN python3 -m pip install --no-cache-dir -q "psycopg[binary]==3.2.3"
"""
DB = """services:
  db:
    dockerfile: devops/pg.Dockerfile
    healthcheck: pg_isready -h 127.0.0.1 -U postgres
"""
FIRST = """import time
from pathlib import Path


def test_first():
    Path(__file__).with_name("first.txt").write_text(repr(time.time()))
"""
# ~5 s: five tests, each a query and a second of "work".
SUITE = "import time\n\nimport psycopg\n" + "".join(
    f"\n\ndef test_{i}():\n"
    "    with psycopg.connect('host=db user=postgres dbname=postgres') as conn:\n"
    "        assert conn.execute('select 1').fetchone() == (1,)\n"
    "    time.sleep(1)\n"
    for i in range(5)
)
DIRS = [f"d{i}" for i in range(8)]


def first_test_after(argv: list[str], cwd: Path, e: dict[str, str], marker: Path) -> float:
    """Seconds from starting `argv` to its first test running (the test writes the time)."""
    marker.unlink(missing_ok=True)
    start = time.time()
    seconds(argv, cwd, e)
    return float(marker.read_text()) - start


def ready_time(image: str, runs: int) -> float:
    """The service's own start: `docker run -d` until pg_isready answers (median)."""
    took = []
    for _ in range(runs):
        name = f"bench-pg-{secrets.token_hex(3)}"
        start = time.time()
        started = ["docker", "run", "-d", "--name", name, image]
        subprocess.run(started, check=True, capture_output=True)
        check = ["docker", "exec", name, "pg_isready", "-h", "127.0.0.1", "-q"]
        while subprocess.run(check, capture_output=True).returncode != 0:
            time.sleep(0.05)
        took.append(time.time() - start)
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
    return statistics.median(took)


def show(what: str, value: float, target: str, detail: str) -> None:
    print(f"{what:<58} {value:7.3f} s  ({detail})  (target {target})")


def start_costs(tmp: Path, runs: int) -> None:
    files = {
        "withdb/repo_config.yaml": DB,
        "withdb/devops/pg.Dockerfile": PG_DOCKERFILE,
        "withdb/tests/test_first.py": FIRST,
        "plain/tests/test_first.py": FIRST,
    }
    client = client_repo(tmp / "benchstart", ["withdb", "plain"], files)
    e = env(client)
    for d in ("withdb", "plain"):
        seconds(invoke("docker_build_local_image", "--dir", d), client, e)
    seconds(invoke("run_tests", "--dir", "withdb", "--fresh"), client, e)  # builds the service
    image = f"benchstart-withdb-service-db:local-{os.environ.get('USER', 'root')}"
    marks = {d: client / d / "tests" / "first.txt" for d in ("withdb", "plain")}
    fresh: dict[str, list[float]] = {"withdb": [], "plain": []}
    warm: dict[str, list[float]] = {"withdb": [], "plain": []}
    for _ in range(runs):
        for d in ("withdb", "plain"):
            argv = invoke("run_tests", "--dir", d, "--fresh", "--no-cache")
            fresh[d].append(first_test_after(argv, client, e, marks[d]))
            argv = invoke("run_tests", "--dir", d, "--no-cache")
            warm[d].append(first_test_after(argv, client, e, marks[d]))
    ready = ready_time(image, runs)
    f_db, f_plain = statistics.median(fresh["withdb"]), statistics.median(fresh["plain"])
    w_db, w_plain = statistics.median(warm["withdb"]), statistics.median(warm["plain"])
    detail = f"with db {f_db:.3f} s, without {f_plain:.3f} s, db ready {ready:.3f} s"
    added = f_db - f_plain - ready
    show("run_tests start -> first test: added by a service, fresh", added, "<= 1 s", detail)
    literal = f"with db {f_db:.3f} s - db ready {ready:.3f} s; helpers' own start included"
    what = "run_tests start -> first test, minus the db's ready time"
    show(what, f_db - ready, "<= 1 s", literal)
    detail = f"with db {w_db:.3f} s, without {w_plain:.3f} s"
    show(
        "run_tests start -> first test: added by warm services", w_db - w_plain, "<= 0.3 s", detail
    )
    forget(client)


def shared_vs_own(tmp: Path, runs: int) -> None:
    files = {"repo_config.yaml": DB, "devops/pg.Dockerfile": PG_DOCKERFILE}
    files.update({f"{d}/tests/test_suite.py": SUITE for d in DIRS})
    files.update({f"{d}/devops/Dockerfile": DIR_DOCKERFILE for d in DIRS})
    own = client_repo(tmp / "benchown", DIRS, files)
    net = f"bench-shared-{secrets.token_hex(3)}"
    shared_files = {k: v for k, v in files.items() if k != "repo_config.yaml"}
    shared_files["repo_config.yaml"] = f"network: {net}\n"
    shared = client_repo(tmp / "benchshared", DIRS, shared_files)
    # --no-cache: the same tests every time, never served from the result cache.
    driver = [sys.executable, str(own / "helpers_root/dev_scripts/main_pytest.py"), "-j", "4"]
    driver.append("--no-cache")
    shared_driver = [sys.executable, str(shared / "helpers_root/dev_scripts/main_pytest.py")]
    shared_driver += ["-j4", "--no-cache"]
    seconds([*driver, "--if-missing", "build", "--fresh"], own, env(own))  # images + service
    image = f"benchown-service-db:local-{os.environ.get('USER', 'root')}"
    subprocess.run(["docker", "network", "create", net], check=True, capture_output=True)
    pg = f"{net}-pg"
    start = ["docker", "run", "-d", "--name", pg, "--network", net, "--network-alias", "db", image]
    subprocess.run(start, check=True, capture_output=True)
    try:
        seconds([*shared_driver, "--if-missing", "build"], shared, env(shared))
        for flags, label in ((["--fresh"], "fresh containers"), ([], "warm containers")):
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(seconds([*driver, *flags], own, env(own)))
                theirs.append(seconds([*shared_driver, *flags], shared, env(shared)))
            o, t = statistics.median(ours), statistics.median(theirs)
            print(
                f"{'8 dirs, own postgres each, -j 4 / one shared postgres (' + label + ')':<58} "
                f"{o:7.3f} s vs {t:7.3f} s  ratio {o / t:5.2f}  (target <= 1.5)"
            )
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", pg], capture_output=True)
        subprocess.run(["docker", "network", "rm", net], capture_output=True)
        for client in (own, shared):
            forget(client)


def forget(client: Path) -> None:
    """Remove the containers, networks and images the benchmark's client repo made."""
    sys.path.insert(0, str(ROOT))
    from tests.integration.conftest import remove_traces

    remove_traces(client)


def run(tmp: Path, runs: int) -> None:
    start_costs(tmp, runs)
    shared_vs_own(tmp, max(1, min(runs, 3)))


if __name__ == "__main__":
    main_in_temp(__doc__, "bench-services-", run)
