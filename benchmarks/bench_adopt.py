"""adopt.sh wall time from an empty repo, with a warm package cache.

    python benchmarks/bench_adopt.py

- adopt.sh in a new repo holding only helpers (the thin env for its pins already
  built: the warm case every repo after the first sees) vs the six manual steps it
  replaces, typed as one shell script (target: informational, <= 3x; it also writes
  the CI workflow, the record and lists Dockerfiles);
- adopt.sh with an empty HELPERS_THIN_ENV_HOME (the env built from the warm
  uv/pip cache) vs the same manual steps building their env the same way;
- adopt.sh run again in an adopted repo (a no-op) vs the manual steps' no-op rerun.
No engine needed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from _bench import ROOT, line, seconds

MANUAL = """set -e
echo 'from helpers.tasks import ns' > tasks.py
printf 'tasks:\\n  auto_dash_names: false\\n' > invoke.yaml
echo 'pytest_plugins = ["helpers.pytest_plugin"]' >> conftest.py
echo '.helpers/' >> .gitignore
./helpers_root/dev_scripts/thin_env/build.sh
source ./helpers_root/dev_scripts/thin_env/setenv.sh
"""


def _client(base: Path, name: str) -> Path:
    root = base / name
    helpers = root / "helpers_root"
    for part in ("helpers", "dev_scripts", "templates"):
        shutil.copytree(ROOT / part, helpers / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "changelog.txt", helpers / "changelog.txt")
    subprocess.run(["git", "init", "-q"], cwd=helpers, check=True)  # as a submodule
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _env(home: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if home:
        env["HELPERS_THIN_ENV_HOME"] = home
    return env


def _times(base: Path, tag: str, argv: list[str], fresh_env: bool, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        client = _client(base, f"{tag}{i}")
        home = tempfile.mkdtemp(dir=base) if fresh_env else ""
        out.append(seconds(argv, client, _env(home), check=tag.startswith("adopt")))
    return out


def main() -> None:
    adopt = ["bash", "helpers_root/dev_scripts/adopt.sh"]
    manual = ["bash", "-c", MANUAL]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        seconds(adopt, _client(base, "warmup"), _env())  # builds the shared env once
        warm = statistics.median(_times(base, "adopt-warm", adopt, False, 5))
        by_hand = statistics.median(_times(base, "manual-warm", manual, False, 5))
        line("adopt.sh, empty repo, env present / manual steps", warm, by_hand, "<= 3 (info)")
        cold = statistics.median(_times(base, "adopt-cold", adopt, True, 2))
        by_hand_cold = statistics.median(_times(base, "manual-cold", manual, True, 2))
        line("adopt.sh, env built from warm cache / manual", cold, by_hand_cold, "<= 1.2 (info)")
        again = base / "warmup"
        rerun = statistics.median(seconds(adopt, again, _env()) for _ in range(5))
        print(f"adopt.sh again in an adopted repo (changes nothing): {rerun:.2f} s")


if __name__ == "__main__":
    main()
