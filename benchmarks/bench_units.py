"""Builds with in-repo dependency units, the stale check, and warm main_pytest, side by side.

    python benchmarks/bench_units.py [--skip-many | --only-many]

- unchanged `invoke docker_build_local_image` on a runnable dir of ~3,000 files / ~60 MB
  that depends on an in-repo package (its copy rides in the context) vs a cached
  `docker build` of the very same context, classic builder (target <= 0.15) and BuildKit
  where a docker client on PATH has it built in (target <= 0.5); the first unchanged
  build after the digest cache is dropped is printed too (every file read once);
- `invoke run_tests` on that dir vs the same minus the stale check (the check's own
  cost measured in-process on the same repo);
- a repeat main_pytest -j 2 over 30 tiny dirs (warm containers) vs 30 raw
  `docker run --rm -v ... pytest` at the same parallelism (target <= 0.6).
Needs a running engine and $HELPERS_BASE_IMAGE (or a pullable python:3.11-slim).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from _bench import (
    big_code_dir,
    client_repo,
    env,
    invoke,
    line,
    median,
    raw_docker_pytest,
    seconds,
    write,
)

CORE_TOML = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "core"
version = "1.0.0"
dependencies = []
"""
APP_TOML = """[project]
name = "app"
version = "1.0.0"
dependencies = ["core @ {url}"]

[project.optional-dependencies]
test = ["pytest"]
"""
TINY = "def test_one():\n    assert 1\n"
N_MANY = 30


def big_app(client: Path) -> None:
    write(client / "libs/core/pyproject.toml", CORE_TOML)
    for i in range(100):
        write(client / f"libs/core/src/core/m{i}.py", f"X = {i}\n")
    write(client / "libs/core/src/core/__init__.py", "")
    app = client / "app"
    write(app / "pyproject.toml", APP_TOML.format(url=(client / "libs/core").as_uri()))
    big_code_dir(app, 2900, "import core\n\ndef test_core():\n    assert core\n")


def buildkit_client() -> str:
    """A docker client on PATH whose `docker build` has BuildKit built in, or ""."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        cli = Path(folder) / "docker"
        if not cli.is_file():
            continue
        probe = subprocess.run(
            [str(cli), "build", "--help"],
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            capture_output=True,
        )
        if probe.returncode == 0:
            return str(cli)
    return ""


def export_context(client: Path, e: dict[str, str], out: Path) -> None:
    """Our exact build context (dir, .helpers/, dependency copies), unpacked into `out`."""
    code = (
        "import shutil, sys\n"
        "from helpers.model import project\n"
        "from helpers.ops.images import build, build_context\n"
        "ctx = build.prepare(project.target('app')).context\n"
        "with build_context.write_tar(ctx) as tar, open(sys.argv[1], 'wb') as f:\n"
        "    shutil.copyfileobj(tar, f)\n"
    )
    tar_path = out.with_suffix(".tar")
    subprocess.run([sys.executable, "-c", code, str(tar_path)], cwd=client, env=e, check=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(out)


def stale_check_seconds(client: Path, e: dict[str, str]) -> float:
    code = (
        "import statistics, time\n"
        "from helpers.model import project\n"
        "from helpers.ops.images import choice, freshness\n"
        "t = project.target('app')\n"
        "image = choice.choose_image(t, 'local', None).image\n"
        "runs = []\n"
        "for _ in range(8):\n"
        "    s = time.perf_counter(); assert freshness.check(t, image) == []\n"
        "    runs.append(time.perf_counter() - s)\n"
        "print(statistics.median(runs[1:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=client, env=e, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"stale check failed:\n{out.stderr}")
    return float(out.stdout.strip())


def bench_big(tmp: Path, base: str) -> None:
    client = client_repo(tmp / "benchunits", [])
    big_app(client)
    e = env(client)
    seconds(invoke("create_runnable_dir", "app"), client, e)
    seconds(invoke("docker_build_local_image", "--dir", "app"), client, e)
    (client / ".helpers/digests.json").unlink(missing_ok=True)
    cold = seconds(invoke("docker_build_local_image", "--dir", "app"), client, e)
    ours = median(invoke("docker_build_local_image", "--dir", "app"), client, e)
    ctx_dir = tmp / "rawctx"
    export_context(client, e, ctx_dir)
    files = sum(1 for p in ctx_dir.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in ctx_dir.rglob("*") if p.is_file()) / 1e6
    print(f"context: {files} files, {size:.0f} MB (dir + .helpers/ + the copy of libs/core)")
    raw = ["build", "-q", "-f", "devops/Dockerfile", "--build-arg", f"BASE_IMAGE={base}"]
    raw += ["-t", "helpers-bench-units:raw", "."]
    classic_env = {**e, "DOCKER_BUILDKIT": "0"}
    classic = median(["docker", *raw], ctx_dir, classic_env, runs=3)
    line("unchanged docker_build_local_image / cached classic build", ours, classic, "<= 0.15")
    print(f"{'  (first unchanged build with no digest cache: every file read)':<58} {cold:7.3f} s")
    cli = buildkit_client()
    if cli:
        kit = median([cli, *raw], ctx_dir, {**e, "DOCKER_BUILDKIT": "1"}, runs=3)
        line("unchanged docker_build_local_image / cached BuildKit build", ours, kit, "<= 0.5")
    else:
        print("BuildKit: no docker client on PATH has it built in; not measured")
    ours_run = median(invoke("run_tests", "--dir", "app"), client, e, runs=5)
    check = stale_check_seconds(client, e)
    line(
        "invoke run_tests (3,000-file dir) / the same minus stale check",
        ours_run,
        ours_run - check,
        f"the check costs {check * 1000:.0f} ms",
    )
    subprocess.run(["docker", "rmi", "-f", "helpers-bench-units:raw"], capture_output=True)
    remove_images(client)


def remove_images(client: Path) -> None:
    for listing, remove in ((["ps", "-aq"], ["rm", "-f"]), (["images", "-q"], ["rmi", "-f"])):
        found = subprocess.run(
            ["docker", *listing, "--filter", f"label=io.helpers.repo={client}"],
            capture_output=True,
            text=True,
        )
        ids = sorted(set(found.stdout.split()))
        if ids:
            subprocess.run(["docker", *remove, *ids], capture_output=True)


def bench_many(tmp: Path) -> None:
    user = os.environ.get("USER", "root")
    dirs = [f"svc{i:02d}" for i in range(N_MANY)]
    many = client_repo(tmp / "benchmany", dirs, {f"{d}/tests/test_tiny.py": TINY for d in dirs})
    e = env(many)
    driver = [sys.executable, str(many / "helpers_root/dev_scripts/main_pytest.py")]
    seconds([*driver, "--if-missing", "build", "-j", "2"], many, e)
    ours = median([*driver, "-j", "2"], many, e, runs=3)

    images = {d: f"benchmany-{d}:local-{user}-1.0.0" for d in dirs}
    raw_docker_pytest(many, images)
    theirs = statistics.median(raw_docker_pytest(many, images) for _ in range(3))
    line(
        f"repeat main_pytest -j 2 over {N_MANY} dirs / raw docker run x{N_MANY}",
        ours,
        theirs,
        "<= 0.6",
    )
    remove_images(many)


def main() -> None:
    base = os.environ.get("HELPERS_BASE_IMAGE", "python:3.11-slim")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "--only-many" not in sys.argv:
            bench_big(tmp, base)
        if "--skip-many" not in sys.argv:
            bench_many(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
