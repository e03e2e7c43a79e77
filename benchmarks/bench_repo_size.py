"""Our cost of `docker_cmd` must not grow with the repo: 200 packages / 40 dirs vs one dir.

    python benchmarks/bench_repo_size.py [--runs 9] [--keep]

Two client repos hold the same runnable dir `svc00` (a pyproject package depending on
one in-repo library, its image built once): the *big* one has 40 runnable dirs and 160
libraries more (200 pyproject packages), the *small* one only `svc00` and its library.
Timed interleaved, median of --runs, in each repo: `invoke docker_cmd --cmd true`, the
very `docker run` argv it starts (mounts, labels, user, env: taken from the task, run
raw), and a one-task `invoke --list`. Our own work is docker_cmd minus the other two,
taken round by round (the machine's drift cancels), median (target <= 0.1 s in the big
repo, and within 20 % of the small repo's); a bare `docker run --rm IMAGE true` is shown
beside, for what the flags cost the engine.
`invoke --list` in the big repo against the one-task tasks.py (target <= 1.3).
Needs a running engine and $HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from _bench import client_repo, env, invoke, main_in_temp, seconds, write

DIRS, LIBS = 40, 160
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
"""


def pyproject(name: str, deps: Sequence[str]) -> str:
    listed = ", ".join(f'"{d}>=1.0"' for d in deps)
    return f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [{listed}]\n'


def library(files: dict[str, str], i: int) -> None:
    name = f"lib{i:03}"
    deps = [f"lib{i - 1:03}"] if i % 4 else []  # chains of four libraries
    files[f"libs/{name}/pyproject.toml"] = pyproject(name, deps)
    files[f"libs/{name}/.dockerignore"] = "tests/\n"
    for m in ("__init__", "core", "io", "util"):
        files[f"libs/{name}/src/{name}/{m}.py"] = "def f():\n    return 1\n"
    files[f"libs/{name}/tests/test_core.py"] = "def test_f():\n    assert True\n"


def service(files: dict[str, str], d: int, lib: int) -> None:
    svc = f"svc{d:02}"
    files[f"{svc}/pyproject.toml"] = pyproject(svc, [f"lib{lib:03}"])
    files[f"{svc}/devops/Dockerfile"] = DOCKERFILE
    files[f"{svc}/.dockerignore"] = "*\n!devops/\n!pyproject.toml\n"
    files[f"{svc}/repo_config.yaml"] = "container_env: {APP_MODE: test}\n"
    for m in ("__init__", "app", "api"):
        files[f"{svc}/src/{svc}/{m}.py"] = "X = 1\n"
    files[f"{svc}/tests/test_app.py"] = "def test_app():\n    assert True\n"


def make(root: Path, big: bool) -> Path:
    files: dict[str, str] = {"repo_config.yaml": "test_timeouts: {fast: 120}\n"}
    service(files, 0, 0)  # svc00 depends on lib000 alone (lib000 starts a chain)
    library(files, 0)
    if big:
        for i in range(1, LIBS):
            library(files, i)
        for d in range(1, DIRS):
            service(files, d, (d * 4) % LIBS)
    dirs = [f"svc{d:02}" for d in range(DIRS if big else 1)]
    client = client_repo(root, dirs, files)
    for name in dirs:  # client_repo wrote the default Dockerfile; ours copies .helpers/
        write(client / name / "devops/Dockerfile", DOCKERFILE)
    for repo in (client / "helpers_root", client):  # committed, as a team's repo is
        commit(repo)
    return client


def commit(repo: Path) -> None:
    ident = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
    ident.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    for args in (["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=repo, env={**os.environ, **ident}, check=True,
                       capture_output=True)  # fmt: skip


IN_PROCESS = """
import os, statistics, sys, time
from helpers.effects import commands
from helpers.model import config
from helpers.ops.images import freshness
from helpers.ops.run import shell
commands.run_live = lambda argv, **kw: 0  # up to the `docker run`, not including it
def once():
    config._READ_ONCE.clear(); freshness._BASE_IDS.clear()  # as a new process has them
    start = time.perf_counter()
    shell.cmd("true", "svc00", "local", None)
    return time.perf_counter() - start
once()
print(statistics.median(once() for _ in range(int(sys.argv[1]))))
"""


RUN_ARGV = """
import json
from helpers.effects import commands
from helpers.ops.run import shell
commands.run_live = lambda argv, **kw: print(json.dumps(list(argv))) or 0
shell.cmd("true", "svc00", "local", None)
"""


def run_argv(client: Path, e: dict[str, str]) -> list[str]:
    """The `docker run` argv docker_cmd starts in `client` (its run id fixed: one name)."""
    argv = [sys.executable, "-c", RUN_ARGV]
    out = subprocess.run(argv, cwd=client, env=e, capture_output=True, text=True, check=True)
    found: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    assert found[:2] == ["docker", "run"], found
    return found


def in_process(client: Path, e: dict[str, str], runs: int) -> float:
    """docker_cmd's own work in one process (imports and invoke excluded): task body
    from flags to the `docker run` argv, its git and engine calls included."""
    argv = [sys.executable, "-c", IN_PROCESS, str(runs)]
    out = subprocess.run(argv, cwd=client, env=e, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def run(tmp: Path, runs: int) -> None:
    user = os.environ.get("USER", "root")
    plain = tmp / "plain"
    write(plain / "tasks.py", "from invoke import task\n\n\n@task\ndef hello(c):\n    pass\n")
    repos = {"big": make(tmp / "bigrepo", True), "small": make(tmp / "smallrepo", False)}
    cmd = invoke("docker_cmd", "--dir", "svc00", "--cmd", "true")
    argvs: dict[str, tuple[list[str], Path, dict[str, str]]] = {}
    for name, client in repos.items():
        e = env(client)
        seconds(invoke("docker_build_local_image", "--dir", "svc00"), client, e)
        image = f"{client.name}-svc00:local-{user}-1.0.0"
        argvs[f"{name} docker_cmd"] = (cmd, client, e)
        argvs[f"{name} docker run"] = (run_argv(client, e), client, e)
        argvs[f"{name} bare docker run"] = (["docker", "run", "--rm", image, "true"], client, e)
    e = env(repos["big"])
    argvs["one-task invoke --list"] = (invoke("--list"), plain, e)
    argvs["big invoke --list"] = (invoke("--list"), repos["big"], e)
    times: dict[str, list[float]] = {k: [] for k in argvs}
    for argv, cwd, e in argvs.values():
        seconds(argv, cwd, e)  # warm-up: bytecode, digest cache, warm engine
    for _ in range(runs):
        for key, (argv, cwd, e) in argvs.items():
            times[key].append(seconds(argv, cwd, e))
    med = {k: statistics.median(v) for k, v in times.items()}
    listed = "one-task invoke --list"
    listing = med[listed]

    def own_work(n: str, i: int) -> float:  # within one round: the machine's drift cancels
        return times[f"{n} docker_cmd"][i] - times[f"{n} docker run"][i] - times[listed][i]

    own = {n: statistics.median(own_work(n, i) for i in range(runs)) for n in repos}
    for n in repos:
        print(
            f"{n:>5} repo: docker_cmd {med[f'{n} docker_cmd']:.3f} s, its docker run "
            f"{med[f'{n} docker run']:.3f} s (bare {med[f'{n} bare docker run']:.3f} s), "
            f"one-task invoke --list {listing:.3f} s -> own work {own[n]:.3f} s "
            "(target <= 0.1 s)"
        )
    ratio = own["big"] / own["small"] if own["small"] > 0 else float("inf")
    print(
        f"own work, {DIRS}-dir/{DIRS + LIBS}-package repo / one-dir repo: {own['big']:.3f} s vs "
        f"{own['small']:.3f} s  ratio {ratio:5.2f}  (target <= 1.2)"
    )
    body = {
        n: statistics.median(in_process(c, env(c), 9) for _ in range(3)) for n, c in repos.items()
    }
    print(
        f"docker_cmd task body in-process, big repo / one-dir repo: {body['big']:.3f} s vs "
        f"{body['small']:.3f} s  ratio {body['big'] / body['small']:5.2f}  (steadier under load)"
    )
    big_list = med["big invoke --list"]
    print(
        f"invoke --list, big repo / one-task tasks.py: {big_list:.3f} s vs {listing:.3f} s  "
        f"ratio {big_list / listing:5.2f}  (target <= 1.3)"
    )
    for client in repos.values():
        found = subprocess.run(
            ["docker", "images", "-q", "--filter", f"label=io.helpers.repo={client}"],
            capture_output=True,
            text=True,
        )
        ids = sorted(set(found.stdout.split()))
        if ids:
            subprocess.run(["docker", "rmi", "-f", *ids], capture_output=True)


if __name__ == "__main__":
    main_in_temp(__doc__, "bench-repo-size-", run)
