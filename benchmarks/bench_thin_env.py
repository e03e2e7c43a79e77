"""Benchmark dev_scripts/thin_env/build.sh: fresh builds with uv and pip, and the no-op rerun.

    python benchmarks/bench_thin_env.py

Everything happens in a temp dir (env homes, uv cache); nothing of the user's is
touched. When uv is not on PATH it is installed with pip into a temp venv for
this run. Prints one line per figure: what, the measured seconds, the target.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "dev_scripts" / "thin_env" / "build.sh"
NOOP_RUNS = 5


def run_build(env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([str(BUILD)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build.sh failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return seconds, proc.stdout.strip()


def uv_bin_dir(tmp: Path) -> tuple[Path, str]:
    """A dir holding just `uv` (no python3 that would change the env key)."""
    bin_dir = tmp / "uv-bin"
    bin_dir.mkdir()
    uv = shutil.which("uv")
    how = "on PATH"
    if uv is None:
        venv = tmp / "uv-venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "uv"], check=True
        )
        uv, how = str(venv / "bin" / "uv"), "installed with pip for this run"
    (bin_dir / "uv").symlink_to(uv)
    version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    return bin_dir, f"{version} ({how})"


def report(what: str, seconds: float, target: float | None) -> None:
    verdict = (
        "just reported"
        if target is None
        else (f"target <= {target:g} s: {'ok' if seconds <= target else 'MISSED'}")
    )
    print(f"{what:<42} {seconds:6.2f} s   ({verdict})", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_thin_env.") as tmp_name:
        tmp = Path(tmp_name)
        bin_dir, uv_version = uv_bin_dir(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith("HELPERS_")}
        base.pop("VIRTUAL_ENV", None)
        uv_env = {
            **base,
            "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}",
            "HELPERS_THIN_ENV_INSTALLER": "uv",
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
        }
        python = shutil.which("python3", path=base.get("PATH")) or "python3"
        print(f"# python3: {python}; uv: {uv_version}; build.sh: {BUILD}", flush=True)

        cold, _ = run_build({**uv_env, "HELPERS_THIN_ENV_HOME": str(tmp / "uv-cold")})
        report("fresh build, uv, empty uv cache", cold, None)
        warm, line = run_build({**uv_env, "HELPERS_THIN_ENV_HOME": str(tmp / "uv-warm")})
        assert "(uv)" in line, line
        report("fresh build, uv (uv cache warm)", warm, 2.0)

        pip_env = {
            **base,
            "HELPERS_THIN_ENV_INSTALLER": "pip",
            "HELPERS_THIN_ENV_HOME": str(tmp / "pip"),
        }
        pip_secs, line = run_build(pip_env)
        assert "(pip)" in line, line
        report("fresh build, pip", pip_secs, None)

        noop_env = {**uv_env, "HELPERS_THIN_ENV_HOME": str(tmp / "uv-warm")}
        runs = []
        for _ in range(NOOP_RUNS):
            seconds, line = run_build(noop_env)
            assert line.startswith("thin env up to date: "), line
            runs.append(seconds)
        report(f"no-op rerun (median of {NOOP_RUNS})", statistics.median(runs), 0.3)


if __name__ == "__main__":
    main()
