"""Ctrl-C while invoke, tasks.py and helpers are still importing: one line and 130, never a
traceback or a silent exit 1 (the thin env's `invoke` is thin_env/invoke_launcher.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, make_runnable, write

LAUNCHER = REPO / "dev_scripts" / "thin_env" / "invoke_launcher.py"
INVOKE = [sys.executable, "-S", str(LAUNCHER)]  # as build.sh installs it: `#!python -S`
MAIN_PYTEST = REPO / "dev_scripts" / "main_pytest.py"
# From "before the first import" to "well after --list is done" on a loaded machine.
DELAYS = (0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.3, 0.45)


def _before_first_line(err: str) -> bool:
    """The signal came while Python read the launcher: raised at its line 0, nothing ran."""
    return err.count('File "') == 1 and 'invoke_launcher.py", line 0, in <module>' in err


def _in_python_start_up(code: int, err: str) -> bool:
    """On a loaded machine `python script.py` can still be in Python's own start-up
    (importing `site`, setting up the standard streams: before any line of ours) when the
    signal comes; CPython then reports `Fatal Python error: init_<step>` and exits 1."""
    return code == 1 and err.startswith("Fatal Python error: init_")


def _swallowed_by_python_start_up(code: int, err: str) -> bool:
    """A Ctrl-C while CPython looks up the script's import path entry (its own start-up,
    before any line of ours): CPython prints the KeyboardInterrupt, drops it and goes on,
    so the command finishes (seen on a loaded CI machine at 20 ms)."""
    head = "Failed checking if argv[0] is an import path entry\n"
    return code == 0 and err.startswith(head) and err.endswith("KeyboardInterrupt\n")


def _client(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "tasks.py", "from helpers.tasks import ns  # noqa: F401\n")
    write(tmp_path / "invoke.yaml", (REPO / "invoke.yaml").read_text())
    make_runnable(tmp_path, ".")
    return tmp_path


def _as_from_a_terminal() -> None:
    """Default signal dispositions, whatever this test run inherited (a background job
    starts with SIGINT ignored, and the launcher rightly keeps an ignored signal ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _interrupt_after(argv: list[str], cwd: Path, delay: float, sig: int) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_invoke_interrupted_at_any_moment_is_130_and_one_line(
    tmp_path: Path, sig: signal.Signals
) -> None:
    client = _client(tmp_path)
    seen = set()
    for delay in DELAYS:
        code, err = _interrupt_after([*INVOKE, "--list"], client, delay, sig)
        seen.add(code)
        if code == 0:  # finished before the signal came: a full task list, nothing else
            assert err == "" or _swallowed_by_python_start_up(code, err), (delay, err)
            continue
        if code == -sig:  # came before the launcher's first line: Python's own start-up
            assert err == "" or _before_first_line(err), (delay, err)
            continue
        if _in_python_start_up(code, err):
            continue
        assert (code, err) == (130, "interrupted\n"), (delay, err)
    assert 130 in seen


def test_the_launcher_runs_tasks_and_passes_exit_codes(tmp_path: Path) -> None:
    client = _client(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listed = subprocess.run(
        [*INVOKE, "--list"], cwd=client, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0 and "run_tests" in listed.stdout, listed.stderr
    bad = subprocess.run(
        [*INVOKE, "run_tests", "--stage", "qa"],
        cwd=client,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: --stage 'qa'"), bad.stderr


def test_main_pytest_interrupted_while_importing_is_130_and_one_line(tmp_path: Path) -> None:
    """From after the interpreter's own start-up (`python script.py` runs site first: that
    window, ~20 ms, is Python's); the launcher above covers it with -S."""
    client = _client(tmp_path)
    for delay in (0.08, 0.1, 0.12, 0.15, 0.2):
        argv = [sys.executable, str(MAIN_PYTEST), "--help"]
        code, err = _interrupt_after(argv, client, delay, signal.SIGINT)
        if _in_python_start_up(code, err):
            continue
        assert code in (0, 130, -signal.SIGINT), (delay, err)
        assert "Traceback" not in err, (delay, err)
        if code == 130:
            assert err == "interrupted\n", (delay, err)
