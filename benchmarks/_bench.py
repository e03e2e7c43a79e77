"""Shared bits of the benchmarks: timing medians, result lines, temp client repos.

Benchmarks print ratios of runs taken side by side in one run (these machines are
noisy); they never assert. Run them with the thin env active.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]

# Users' Python caches bytecode. A machine or CI image with PYTHONDONTWRITEBYTECODE=1
# (these machines have it) makes every start compile every module again: up to 0.1 s
# that no user pays. Every process a benchmark starts runs with the cache, as users'.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    print("note: PYTHONDONTWRITEBYTECODE unset for this benchmark: users' Python caches bytecode")
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY .helpers/ /tmp/helpers-build/
RUN sh /tmp/helpers-build/install-ca.sh
"""


def seconds(
    argv: Sequence[str], cwd: Path, env: Optional[Mapping[str, str]] = None, check: bool = True
) -> float:
    start = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.exit(f"benchmark step failed: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    return took


def median(
    argv: Sequence[str], cwd: Path, env: Optional[Mapping[str, str]] = None, runs: int = 7
) -> float:
    seconds(argv, cwd, env)  # warm-up
    return statistics.median(seconds(argv, cwd, env) for _ in range(runs))


def line(what: str, ours: float, theirs: float, target: str, ratio: Optional[float] = None) -> None:
    ratio = ours / theirs if ratio is None else ratio
    print(f"{what:<58} {ours:7.3f} s vs {theirs:7.3f} s  ratio {ratio:5.2f}  (target {target})")


def env(client: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out["PYTHONPATH"] = str(client / "helpers_root")
    return out


def client_repo(root: Path, dirs: Sequence[str], files: Optional[Mapping[str, str]] = None) -> Path:
    """A client repo with a copy of this checkout at helpers_root and the given runnable dirs."""
    root.mkdir(parents=True)
    for part in ("helpers", "dev_scripts", "templates"):
        shutil.copytree(
            ROOT / part, root / "helpers_root" / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(["git", "init", "-q"], cwd=root / "helpers_root", check=True)  # as a submodule
    write(root / "tasks.py", "from helpers.tasks import ns  # noqa: F401\n")
    shutil.copy(ROOT / "invoke.yaml", root / "invoke.yaml")
    for rel in dirs:
        d = root / rel
        label = root.name if rel == "." else rel.replace("/", "-")
        write(d / "changelog.txt", f"# {label}-1.0.0\n- 2026-11-22\n- first\n")
        write(d / "devops" / "Dockerfile", DOCKERFILE)
    for rel, text in (files or {}).items():
        write(root / rel, text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def invoke(*args: str) -> list[str]:
    return [sys.executable, "-m", "invoke", *args]


def main_in_temp(doc: Optional[str], prefix: str, run: Callable[[Path, int], None]) -> None:
    """`--runs N` and `--keep`: run the benchmark in a fresh temp dir, removed afterwards."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and print it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        run(tmp, args.runs)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def raw_docker_pytest(client: Path, images: Mapping[str, str], jobs: int = 2) -> float:
    """Seconds for `docker run --rm -v REPO:/app ... pytest` of each dir (dir -> image), `jobs`
    at a time: the engine's floor for a run over many dirs."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item: tuple[str, str]) -> None:
        rel, image = item
        argv = ["docker", "run", "--rm", "-v", f"{client}:/app", "-w", f"/app/{rel}", image]
        subprocess.run([*argv, "python3", "-m", "pytest", "-q", "tests"], capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, images.items()))
    return time.perf_counter() - start


def big_code_dir(app: Path, modules: int, test: str) -> None:
    """A dir users call big: `modules` small modules, 30 x 2 MB of data, one test file."""
    for i in range(modules):
        write(app / f"src/app/pkg{i // 100}/m{i}.py", f"VALUE = {i}\n" * 20)
    data = app / "src/app/data"
    data.mkdir(parents=True)
    for i in range(30):
        (data / f"blob{i}.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    write(app / "tests/test_app.py", test)
