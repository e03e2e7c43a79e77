"""Leases between real processes: one holder at a time, dropped when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.effects import leases
from tests.conftest import REPO

HOLD = (
    "import sys; from helpers.effects import leases\n"
    "print(leases.try_hold(sys.argv[1]), flush=True)\n"
    "sys.stdin.readline()\n"
)


def _holder(name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, name],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "True"
    return proc


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path))
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_lease_held_by_another_process_is_refused_until_it_ends(env: dict[str, str]) -> None:
    other = _holder("warm-a", env)
    try:
        assert leases.try_hold("warm-a") is False
        assert leases.try_hold("warm-b") is True  # another name is free
    finally:
        leases.release("warm-b")
        assert other.stdin is not None
        other.stdin.close()  # the holder returns and exits
        other.wait(timeout=30)
    assert leases.try_hold("warm-a") is True
    leases.release("warm-a")


def test_a_killed_holder_leaves_no_stale_lease(env: dict[str, str]) -> None:
    other = _holder("warm-k", env)
    os.kill(other.pid, signal.SIGKILL)
    other.wait(timeout=30)
    assert leases.try_hold("warm-k") is True
    leases.release("warm-k")


def test_holding_twice_in_one_process_is_one_lease(env: dict[str, str]) -> None:
    assert leases.try_hold("warm-t") is True
    assert leases.try_hold("warm-t") is True
    leases.release("warm-t")
    other = _holder("warm-t", env)  # released: another process may take it now
    assert other.stdin is not None
    other.stdin.close()
    assert other.wait(timeout=30) == 0
