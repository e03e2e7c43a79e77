"""Benchmark `check_libs` and `check_boundaries` on the generated ~300-unit repo, against `info`.

    python benchmarks/bench_hygiene.py [--runs 7] [--keep]

Run it with the thin env's python. The repo is bench_changes.py's (30 runnable
dirs holding 9 packages each, ~3,000 files), with what the checks read added:
each package declares `requests` and `pyyaml` (a third of them through poetry
tables), each runnable dir has a devops/requirements.txt, each package has an
`api` module and its core module imports its dependency's `api`, and
repo_config.yaml sets `library_pins` and `boundaries`. The repo is clean, so
every command exits 0. `info` is timed on the same repo without repo_config.yaml
(the checks off: what `info` costs anyway) and with it (its extra columns).
Interleaved runs, medians; one line per figure: both sides, the ratio, the target.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from _bench import main_in_temp
from bench_changes import (
    DIRS,
    PACKAGES,
    ROOT,
    change_client,
    commit_base_and_change,
    make_client,
    medians,
    pkg_deps,
    pkg_name,
    write,
)

CONFIG = (
    "library_pins:\n  requests: '>=2.31,<3'\n  pyyaml: '>=6'\nboundaries: {public_modules: [api]}\n"
)


def module(name: str) -> str:
    return name.replace("-", "_")


def pyproject(name: str, deps: Sequence[str], poetry: bool) -> str:
    if poetry:
        listed = "".join(f'{dep} = {{ version = ">=1.0" }}\n' for dep in deps)
        return (
            f'[tool.poetry]\nname = "{name}"\nversion = "1.0.0"\n\n'
            '[tool.poetry.dependencies]\npython = "^3.11"\n'
            f'requests = "^2.31"  # http\npyyaml = ">=6"\n{listed}'
        )
    listed = "".join(f'    "{dep}>=1.0",\n' for dep in deps)
    return (
        f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [\n'
        f'    "requests>=2.31,<3",  # http\n    "PyYAML>=6",\n{listed}]\n'
    )


def add_hygiene_inputs(root: Path) -> None:
    """What the checks read, on top of bench_changes' repo; every unit keeps its edges."""
    for d in range(DIRS):
        svc = root / f"svc{d:02}"
        write(svc / "devops/requirements.txt", "# image\nrequests>=2.31,<3\npyyaml>=6\n")
        for k in range(PACKAGES):
            name, deps = pkg_name(d, k), pkg_deps(d, k)
            pkg = svc / f"pkg{k}"
            write(pkg / "pyproject.toml", pyproject(name, deps, poetry=k % 3 == 2))
            src = pkg / "src" / module(name)
            write(src / "api.py", "from .core import f\n\n__all__ = ['f']\n")
            imports = "".join(f"from {module(dep)} import api\n" for dep in deps)
            write(src / "core.py", f"import os\n\n{imports}\n\ndef f():\n    return 1\n")


def run(tmp: Path, runs: int) -> None:
    plain, checked = tmp / "plain", tmp / "checked"
    for root in (plain, checked):
        make_client(root)
        add_hygiene_inputs(root)
    write(checked / "repo_config.yaml", CONFIG)
    for root in (plain, checked):
        commit_base_and_change(root, "base", change_client)
    files = subprocess.run(["git", "ls-files"], cwd=checked, capture_output=True, text=True)
    print(
        f"generated {DIRS} runnable dirs + {DIRS * PACKAGES} packages, "
        f"{len(files.stdout.splitlines())} files; {runs} runs each, medians",
        flush=True,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HELPERS_CHANGED_SINCE", None)
    invoke = [sys.executable, "-m", "invoke"]
    cases = {
        "info": ([*invoke, "info", "--since", "base"], plain),
        "info checked": ([*invoke, "info", "--since", "base"], checked),
        "check_libs": ([*invoke, "check_libs"], checked),
        "check_boundaries": ([*invoke, "check_boundaries"], checked),
        "check_libs changed": ([*invoke, "check_libs", "--changed-since", "base"], checked),
        "check_boundaries changed": (
            [*invoke, "check_boundaries", "--changed-since", "base"],
            checked,
        ),
        "deps mermaid": ([*invoke, "deps", "--format", "mermaid", "--since", "base"], checked),
        "list": ([*invoke, "--list"], checked),
    }
    t = medians(cases, runs, env)
    info = t["info"]
    print(f"{'invoke --list (start-up)':<42} {t['list']:6.3f} s", flush=True)
    print(f"{'invoke info --since base (checks off)':<42} {info:6.3f} s", flush=True)
    for name, target in (
        ("check_libs", 2.0),
        ("check_boundaries", 2.0),
        ("check_libs changed", None),
        ("check_boundaries changed", None),
        ("info checked", None),
        ("deps mermaid", None),
    ):
        ratio = t[name] / info
        verdict = (
            "just reported"
            if target is None
            else (f"target <= {target:.0f}x: " + ("ok" if ratio <= target else "MISSED"))
        )
        print(
            f"{'invoke ' + name:<42} {t[name]:6.3f} s vs info {info:6.3f} s, "
            f"ratio {ratio:5.2f} | {verdict}",
            flush=True,
        )


def main() -> None:
    main_in_temp(__doc__, "bench-hygiene-", run)


if __name__ == "__main__":
    main()
