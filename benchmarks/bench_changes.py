"""Benchmark `invoke changes / info / deps` on a generated repo of ~300 units and ~3,000 files.

    python benchmarks/bench_changes.py [--runs 7] [--keep]

Run it with the thin env's python (it runs `python -m invoke` with this
checkout on PYTHONPATH). Everything is made in a temp dir: a client repo of 30
runnable dirs holding 9 packages each, with dependencies between packages, a
tagged base commit, one commit on top and an uncommitted change; and, when
python-polylith's `poly` can be had (on PATH, or `polylith-cli` installed into a
temp venv), an equivalent Polylith workspace (270 components, 30 bases, 30
projects) with the same changes. Commands are timed interleaved, median of
--runs. One line per figure: both sides, the ratio, the target.
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

from _bench import main_in_temp

ROOT = Path(__file__).resolve().parents[1]
DIRS, PACKAGES, MODULES = 30, 9, 5
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


def pkg_name(d: int, k: int) -> str:
    return f"svc{d:02}-pkg{k}"


def pkg_deps(d: int, k: int) -> list[str]:
    """The previous package of the same dir, and a shared package of svc00 for each pkg0."""
    if k > 0:
        return [pkg_name(d, k - 1)]
    return [pkg_name(0, d % PACKAGES + 0)] if d > 0 and d % PACKAGES else []


# ---------------------------------------------------------------- our client repo


def make_client(root: Path) -> None:
    write(root / "tasks.py", "from helpers.tasks import ns\n")
    write(root / "invoke.yaml", "tasks:\n  auto_dash_names: false\n")
    write(root / ".github/workflows/ci.yml", "on: push\n")
    for d in range(DIRS):
        svc = root / f"svc{d:02}"
        write(svc / "changelog.txt", f"# svc{d:02}-1.0.0\n- 2026-11-22\n- first\n")
        write(svc / "devops/Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
        for name in ("README.md", "app.py", "tests/test_app.py", "devops/requirements.txt"):
            write(svc / name, "x = 1\n")
        for k in range(PACKAGES):
            make_package(svc / f"pkg{k}", pkg_name(d, k), pkg_deps(d, k))


def make_package(path: Path, name: str, deps: Sequence[str]) -> None:
    listed = ", ".join(f'"{dep}>=1.0"' for dep in deps)
    write(
        path / "pyproject.toml",
        f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [{listed}]\n',
    )
    module = name.replace("-", "_")
    write(path / "README.md", f"# {name}\n")
    write(path / f"src/{module}/__init__.py")
    for m in ("core", *(f"mod{i}" for i in range(MODULES))):
        write(path / f"src/{module}/{m}.py", "def f():\n    return 1\n")
    write(path / "tests/test_core.py", "def test_f():\n    assert True\n")


def change_client(root: Path) -> Path:
    write(root / "svc03/pkg2/src/svc03_pkg2/core.py", "def f():\n    return 2\n")
    write(root / "svc00/pkg4/src/svc00_pkg4/mod1.py", "def f():\n    return 2\n")
    write(root / "svc17/app.py", "x = 2\n")
    return root / "svc05/pkg1/src/svc05_pkg1/mod2.py"


# ---------------------------------------------------------------- the Polylith workspace


def make_poly(root: Path) -> None:
    write(
        root / "workspace.toml",
        '[tool.polylith]\nnamespace = "acme"\ngit_tag_pattern = '
        '"stable-*"\n\n[tool.polylith.structure]\ntheme = "loose"\n\n'
        '[tool.polylith.tag.patterns]\nstable = "stable-*"\n\n[tool.polylith.test]\n'
        "enabled = true\n",
    )
    header = (
        '[build-system]\nrequires = ["hatchling", "hatch-polylith-bricks"]\n'
        'build-backend = "hatchling.build"\n\n'
    )
    all_bricks = []
    for d in range(DIRS):
        bricks = [f"bases/acme/base{d:02}"] + [
            f"components/acme/{pkg_name(d, k).replace('-', '_')}" for k in range(PACKAGES)
        ]
        all_bricks += bricks
        for k, brick in enumerate(bricks):
            deps = pkg_deps(d, k - 1) if k else [pkg_name(d, PACKAGES - 1)]
            make_brick(root, brick, [dep.replace("-", "_") for dep in deps])
        lines = "".join(f'"../../{b}" = "acme/{b.rsplit("/", 1)[1]}"\n' for b in bricks)
        write(
            root / f"projects/proj{d:02}/pyproject.toml",
            f'{header}[project]\nname = "proj{d:02}"\nversion = "1.0.0"\n\n'
            f"[tool.hatch.build.hooks.polylith-bricks]\n\n[tool.polylith.bricks]\n{lines}",
        )
    lines = "".join(f'"{b}" = "acme/{b.rsplit("/", 1)[1]}"\n' for b in all_bricks)
    write(
        root / "pyproject.toml",
        f'{header}[project]\nname = "ws"\nversion = "0.1.0"\n\n' f"[tool.polylith.bricks]\n{lines}",
    )


def make_brick(root: Path, brick: str, deps: Sequence[str]) -> None:
    name = brick.rsplit("/", 1)[1]
    imports = "".join(f"from acme import {dep}\n" for dep in deps)
    write(root / brick / "__init__.py")
    write(root / brick / "core.py", f"{imports}\n\ndef f():\n    return 1\n")
    for i in range(MODULES + 1):
        write(root / brick / f"mod{i}.py", "def f():\n    return 1\n")
    kind = brick.split("/", 1)[0]
    write(root / f"test/{kind}/acme/{name}/__init__.py")
    write(root / f"test/{kind}/acme/{name}/test_core.py", "def test_f():\n    assert True\n")


def change_poly(root: Path) -> Path:
    write(root / "components/acme/svc03_pkg2/core.py", "def f():\n    return 2\n")
    write(root / "components/acme/svc00_pkg4/mod1.py", "def f():\n    return 2\n")
    write(root / "bases/acme/base17/mod0.py", "def f():\n    return 2\n")
    return root / "components/acme/svc05_pkg1/mod2.py"


# ---------------------------------------------------------------- timing


def commit_base_and_change(root: Path, tag: str, change: Callable[[Path], Path]) -> None:
    """Commit and tag the base, commit `change` on top, then leave one more file dirty."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "tag", tag)
    dirty = change(root)
    git(root, "commit", "-qam", "work")
    dirty.write_text(dirty.read_text() + "# uncommitted\n")


def find_poly(tmp: Path) -> tuple[Optional[str], str]:
    found = shutil.which("poly")
    if found:
        return found, "on PATH"
    venv = tmp / "poly-venv"
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    try:
        if Path(uv).exists():
            subprocess.run([uv, "venv", "-q", str(venv)], check=True, capture_output=True)
            install = [uv, "pip", "install", "-q", "--python", str(venv / "bin/python")]
        else:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            install = [str(venv / "bin/python"), "-m", "pip", "install", "-q"]
        subprocess.run([*install, "polylith-cli"], check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"polylith-cli did not install ({exc.__class__.__name__})"
    return str(venv / "bin/poly"), "polylith-cli installed into a temp venv"


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return seconds


def medians(
    cases: Mapping[str, tuple[Sequence[str], Path]], runs: int, env: dict[str, str]
) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for argv, cwd in cases.values():
        timed(argv, cwd, env)  # warm-up: caches, .pyc files
    for _ in range(runs):
        for name, (argv, cwd) in cases.items():
            times[name].append(timed(argv, cwd, env))
    return {name: statistics.median(values) for name, values in times.items()}


def line(
    what: str,
    ours: float,
    start_up: float,
    other: Optional[float],
    other_name: str,
    target: str,
    ok: Optional[bool],
) -> None:
    """One figure: ours (and how much of it is past invoke's own start-up), theirs, ratio."""
    side = f"{other_name} {other:6.3f} s, ratio {ours / other:5.2f}" if other else other_name
    verdict = "just reported" if ok is None else ("ok" if ok else "MISSED")
    print(
        f"{what:<28} ours {ours:6.3f} s ({ours - start_up:5.3f} s past start-up) | {side} | "
        f"target {target}: {verdict}",
        flush=True,
    )


def main() -> None:
    main_in_temp(__doc__, "bench-changes-", run)


def run(tmp: Path, runs: int) -> None:
    client, poly_ws = tmp / "client", tmp / "poly"
    make_client(client)
    commit_base_and_change(client, "base", change_client)
    files = subprocess.run(["git", "ls-files"], cwd=client, capture_output=True, text=True)
    print(
        f"generated {DIRS} runnable dirs + {DIRS * PACKAGES} packages, "
        f"{len(files.stdout.splitlines())} files; {runs} runs each, medians",
        flush=True,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HELPERS_CHANGED_SINCE", None)
    invoke = [sys.executable, "-m", "invoke"]
    cases: dict[str, tuple[Sequence[str], Path]] = {
        "changes": ([*invoke, "changes", "--since", "base"], client),
        "info": ([*invoke, "info", "--since", "base"], client),
        "deps": ([*invoke, "deps"], client),
        "list": ([*invoke, "--list"], client),
        "git": (["git", "diff", "--name-only", "base"], client),
    }
    poly, how = find_poly(tmp)
    if poly:
        make_poly(poly_ws)
        commit_base_and_change(poly_ws, "stable-base", change_poly)
        cases["poly diff"] = ([poly, "diff", "--since", "stable-base"], poly_ws)
        cases["poly info"] = ([poly, "info"], poly_ws)
        cases["poly deps"] = ([poly, "deps"], poly_ws)
    print(f"poly: {how}", flush=True)
    t = medians(cases, runs, env)
    base = t["list"]
    line("invoke --list (start-up)", base, base, None, "", "none", None)
    line(
        "invoke changes --since base",
        t["changes"],
        base,
        t["git"],
        "git diff --name-only",
        "<= 5x (issue 5)",
        t["changes"] <= 5 * t["git"],
    )
    if poly:
        line(
            "invoke changes --since base",
            t["changes"],
            base,
            t["poly diff"],
            "poly diff --since",
            "<= 0.6 (BENCHMARKS.md)",
            t["changes"] <= 0.6 * t["poly diff"],
        )
    for name in ("info", "deps"):
        other = t.get(f"poly {name}")
        line(
            f"invoke {name}",
            t[name],
            base,
            other,
            f"poly {name}" if other else "no poly",
            "<= 0.5 s",
            t[name] <= 0.5,
        )


if __name__ == "__main__":
    main()
