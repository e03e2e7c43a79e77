"""The one edge: exit codes, one line on stderr, signals as Ctrl-C, a log for bugs."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import edge
from helpers.cli import main_pytest
from helpers.errors import UserError
from helpers.ops.testing import many
from helpers.outcome import Outcome
from tests.conftest import REPO, fresh_python, make_runnable, write


@pytest.fixture(autouse=True)
def _state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_user_error_is_one_line_and_its_code(capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        raise UserError("--dir x: no such dir; pass a runnable dir")

    assert edge.main(work, ["t"]) == 2
    assert _stderr_lines(capsys) == ["error: --dir x: no such dir; pass a runnable dir"]


def test_os_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/repo/report.json")

    assert edge.main(work, ["t"]) == 2
    (line,) = _stderr_lines(capsys)
    assert line.startswith("error: [Errno 13] Permission denied: '/repo/report.json'")


def test_a_command_exit_code_passes_through(capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        raise SystemExit(7)

    assert edge.main(work, ["t"]) == 7
    with pytest.raises(SystemExit) as exited:
        edge.run(work, ["t"])
    assert exited.value.code == 7
    assert edge.run(lambda: "value", ["t"]) == "value"
    assert capsys.readouterr().err == ""


def test_an_injected_bug_is_one_line_a_log_and_exit_3(
    capsys: pytest.CaptureFixture[str], _state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in an operation (here: main_pytest's selection) under the real entry point."""

    def buggy(*args: object, **kwargs: object) -> object:
        empty: dict[str, object] = {}
        return empty["no-such-key"]

    monkeypatch.setattr(many, "select", buggy)
    code = main_pytest.main(["--dir", "."], cwd=REPO)
    assert code == edge.EXIT_UNEXPECTED
    (line,) = _stderr_lines(capsys)
    log = _state_home / "helpers" / edge.LOG_NAME
    assert line == (
        f"unexpected error: KeyError: 'no-such-key' (details in {log}); please report it"
    )
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in buggy" in text
    assert "argv: ['main_pytest.py', '--dir', '.']" in text
    assert "python 3." in text and "invoke " in text


def test_an_injected_bug_in_a_task(
    capsys: pytest.CaptureFixture[str], _state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.ops.testing import single
    from helpers.tasks import pytest_tasks

    def buggy(req: object) -> Outcome:
        raise RuntimeError("injected")

    monkeypatch.setattr(single, "run_tests", buggy)
    with pytest.raises(SystemExit) as exited:
        pytest_tasks.run_tests.body(None)
    assert exited.value.code == 3
    (line,) = _stderr_lines(capsys)
    assert line.startswith("unexpected error: RuntimeError: injected (details in ")
    assert "RuntimeError: injected" in (_state_home / "helpers" / edge.LOG_NAME).read_text()


def test_an_unwritable_state_dir_still_gives_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = write(tmp_path / "file-not-dir")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))

    def work() -> int:
        raise ValueError("bug")

    assert edge.main(work, ["t"]) == 3
    (line,) = _stderr_lines(capsys)
    assert line.startswith("unexpected error: ValueError: bug (no log written: ")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signals_clean_up_then_130_and_restore_handlers(
    sig: signal.Signals, capsys: pytest.CaptureFixture[str]
) -> None:
    cleaned = []

    def previous(signum: int, frame: object) -> None:
        raise AssertionError("the edge's handler should run instead")

    old = signal.signal(sig, previous)
    try:

        def work() -> int:
            try:
                os.kill(os.getpid(), sig)
                time.sleep(5)
                return 0
            finally:
                cleaned.append(sig)

        started = time.monotonic()
        assert edge.main(work, ["t"]) == 130
        assert time.monotonic() - started < 4
        assert cleaned == [sig]
        assert signal.getsignal(sig) is previous
    finally:
        signal.signal(sig, old)
    assert _stderr_lines(capsys) == ["interrupted"]


def test_an_ignored_hangup_stays_ignored() -> None:
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:

        def work() -> int:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
            return 0

        assert edge.main(work, ["t"]) == 0  # nohup: the user asked to survive a hangup
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)


def test_state_dir_follows_xdg(tmp_path: Path) -> None:
    assert edge.state_dir({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/helpers")
    assert edge.state_dir({}) == Path.home() / ".local" / "state" / "helpers"


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`invoke ... | head`: the reader left; exit 0 and no traceback (a real pipe)."""
    write(
        tmp_path / "tasks.py",
        "from helpers.tasks._common import task\n\n"
        "@task()\ndef spam(ctx):\n    for i in range(200000):\n        print(i)\n",
    )
    make_runnable(tmp_path, ".")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "spam"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"0\n"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0, err
    assert err == ""


def test_a_bug_through_the_real_invoke_program(tmp_path: Path) -> None:
    """The task wrapper in a real `invoke` process: one line, exit 3, the log has the trace."""
    write(
        tmp_path / "tasks.py",
        "from helpers.tasks._common import task\n\n" "@task()\ndef buggy(ctx):\n    return 1 / 0\n",
    )
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(state)}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "buggy"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    log = state / "helpers" / edge.LOG_NAME
    assert done.stderr == (
        f"unexpected error: ZeroDivisionError: division by zero (details in {log}); "
        "please report it\n"
    )
    assert "argv: [" in log.read_text() and "'buggy']" in log.read_text()


def test_the_log_is_rotated_not_grown_forever(_state_home: Path) -> None:
    log = _state_home / "helpers" / edge.LOG_NAME
    write(log, "x" * (edge.LOG_LIMIT + 1))
    assert edge.write_log(ValueError("new"), ["t"]) == log
    assert "ValueError: new" in log.read_text() and len(log.read_text()) < 10_000
    assert log.with_name(edge.LOG_NAME + ".1").stat().st_size == edge.LOG_LIMIT + 1


def test_main_pytest_report_write_failure_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --json path that cannot be written (here: a dir) was a traceback in main_pytest."""
    from tests.conftest import git as run_git

    root = tmp_path / "client"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, ".")
    (root / "out.json").mkdir()
    code = main_pytest.main(["--shard", "2/2", "--json", str(root / "out.json")], cwd=root)
    assert code == 2
    (line,) = _stderr_lines(capsys)
    assert line.startswith("error: [Errno 21] Is a directory: ")
    assert line.endswith("; check the path and its permissions")


def test_the_process_exits_without_a_final_walk_of_every_object() -> None:
    """After the edge ran, what the command loaded is frozen before exit, so the
    interpreter's last garbage collection skips it."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count()))  # runs last\n"
        "from helpers import edge\n"
        "kept = [[object()] for _ in range(1000)]\n"
        "edge.exit_code(lambda: 0, ['t'])\n"
        "edge.exit_code(lambda: 0, ['t'])\n"
    )
    out = fresh_python(code).split()
    assert out[0] == "frozen" and int(out[1]) > 1000
