"""bootstrap.sh's start_engine starting a dockerd whose network store is broken, with stand-ins.

dockerd 20.10 panics in libnetwork's reservePools when a network create was cut
short by a killed daemon, and then never starts again on that machine. The
stand-in `dockerd` prints that panic while the store file exists and "starts"
(the stand-in `docker info` answers) once it is gone, so the recovery path runs
without touching the real engine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BOOTSTRAP = REPO / "dev_scripts" / "engine" / "bootstrap.sh"

PANIC = """panic: runtime error: index out of range [0] with length 0

goroutine 1 [running]:
github.com/docker/libnetwork.(*controller).reservePools(0x5628006efe70?)
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bootstrap starts dockerd only as root")


def _stand_ins(tmp_path: Path, crash_text: str) -> tuple[dict[str, str], Path]:
    bin_dir, root = tmp_path / "bin", tmp_path / "docker-root"
    bin_dir.mkdir()
    store = root / "network" / "files" / "local-kv.db"
    store.parent.mkdir(parents=True)
    store.write_text("half-written network\n")
    up = tmp_path / "engine-up"
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    docker = f'[ -f "{up}" ] && echo 20.10.24-standin\n[ -f "{up}" ]\n'
    dockerd = f'if [ -f "{store}" ]; then cat "{crash}"; exit 2; fi\ntouch "{up}"\nexec sleep 2\n'
    (bin_dir / "docker").write_text("#!/bin/sh\n" + docker)
    (bin_dir / "dockerd").write_text("#!/bin/sh\n" + dockerd)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        HELPERS_STATE_DIR=str(tmp_path / "state"),
        HELPERS_DOCKERD_DATA_ROOT=str(root),
        HELPERS_ENGINE_WAIT_S="10",
    )
    return env, store


def _start_engine(env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """bootstrap.sh's start_engine alone: ensure_engine would find the real dockerd running."""
    script = 'source "$1"; start_engine "$2"'
    return subprocess.run(
        ["bash", "-c", script, "bash", str(BOOTSTRAP), str(log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_broken_network_store_is_moved_aside_and_dockerd_starts(tmp_path: Path) -> None:
    env, store = _stand_ins(tmp_path, PANIC)
    proc = _start_engine(env, tmp_path / "dockerd.log")
    assert proc.returncode == 0, proc.stderr
    assert "engine: started (Docker 20.10.24-standin" in proc.stdout
    assert "moved it aside" in proc.stderr
    assert not store.exists()
    kept = list(store.parent.glob("local-kv.db.broken-*"))
    assert [p.read_text() for p in kept] == ["half-written network\n"]


def test_other_start_failure_keeps_the_store_and_is_one_line(tmp_path: Path) -> None:
    env, store = _stand_ins(tmp_path, "failed to start daemon: pid file found\n")
    proc = _start_engine(env, tmp_path / "dockerd.log")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    where = tmp_path / "dockerd.log"
    assert errors == [f"error: dockerd exited while starting ({where}): read the end of that log"]
    assert store.read_text() == "half-written network\n"
