"""The one place this project starts a process: argv tuples in, exit code and output out.

Nothing else imports subprocess. A command is never a shell string built from
input; `shlex.join` is only used to display one.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Optional, Protocol, Union

Argv = tuple[str, ...]
Process = subprocess.Popen  # what `start` returns, for callers' annotations

# Unit tests set this so that any attempt to reach the container engine fails loudly.
BLOCK_ENGINE_ENV = "HELPERS_BLOCK_ENGINE"


class EngineBlockedError(RuntimeError):
    """A unit test tried to start the container engine."""


@dataclass(frozen=True)
class Result:
    argv: Argv
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0


class Runner(Protocol):
    """What the library needs to run a command and capture its output."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Optional[Path] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> Result: ...


def display(argv: Sequence[str]) -> str:
    """How a command is shown to a human (dry runs, errors)."""
    return shlex.join(argv)


def _check_allowed(argv: Sequence[str]) -> None:
    if os.environ.get(BLOCK_ENGINE_ENV) and Path(argv[0]).name == "docker":
        raise EngineBlockedError(f"engine blocked in unit tests: {display(argv)}")


def _merged_env(env: Optional[Mapping[str, str]]) -> Optional[dict[str, str]]:
    return None if env is None else {**os.environ, **env}


def run(
    argv: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    input: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Result:
    """Run to completion, capturing stdout and stderr as text.

    A missing executable is exit code 127 with the reason on stderr, like a shell.
    """
    _check_allowed(argv)
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            input=input,
            env=_merged_env(env),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError as exc:
        return Result(tuple(argv), 127, "", f"{argv[0]}: {exc.strerror}")
    return Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def run_feeding(
    argv: Sequence[str],
    stdin: IO[bytes],
    *,
    cwd: Optional[Path] = None,
    output: Union[IO[bytes], int, None] = None,
) -> int:
    """Run with `stdin` as the child's input (e.g. a build context tar); output passes
    through, or goes to `output` (a file or a descriptor; stdout and stderr both)."""
    _check_allowed(argv)
    err = subprocess.STDOUT if output is not None else None
    try:
        return subprocess.run(
            list(argv), cwd=cwd, stdin=stdin, stdout=output, stderr=err, check=False
        ).returncode
    except FileNotFoundError:
        return 127


INTERRUPTED = 130


def run_live(
    argv: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    env: Optional[Mapping[str, str]] = None,
    on_interrupt: Optional[Callable[[], object]] = None,
    grace: float = 3.0,
) -> int:
    """Run with the caller's stdin/stdout/stderr (interactive shells, streamed logs).

    Returns the child's exit code, or 130 when we were interrupted (Ctrl-C, or SIGTERM
    turned into KeyboardInterrupt by the caller): the child gets SIGINT; if it has not
    ended after `grace` seconds (a container whose PID 1 ignores SIGINT), `on_interrupt`
    runs (e.g. remove the container); a second interrupt kills the child.
    """
    _check_allowed(argv)
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=_merged_env(env))
    except FileNotFoundError:
        return 127
    interrupted = False
    while True:
        try:
            if not interrupted:
                return proc.wait()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                if on_interrupt is not None:
                    on_interrupt()
                proc.wait()
            return INTERRUPTED
        except KeyboardInterrupt:
            if interrupted:
                proc.kill()
            interrupted = True
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)


def start(
    argv: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    env: Optional[Mapping[str, str]] = None,
    stdout: Optional[IO[bytes]] = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start without waiting (parallel drivers); output goes to `stdout` when given."""
    _check_allowed(argv)
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=_merged_env(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        start_new_session=new_session,
    )
