"""The edge between invoke and the library: one error handler, exit codes, flag helpers.

Task modules import only this module and invoke at import time, so that
`invoke --list` stays as cheap as invoke itself; library modules are imported
inside task bodies.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from types import FrameType
from typing import Any, Callable, Optional, TypeVar

from invoke.tasks import Task
from invoke.tasks import task as invoke_task

from helpers.errors import EXIT_INTERRUPTED, EXIT_USAGE, UserError, render

F = TypeVar("F", bound=Callable[..., Any])

DIR_HELP = "runnable dir (default: the one holding the current dir)"
STAGE_HELP = "image stage: local, dev or prod"
VERSION_HELP = "image version (default: the changelog's; dev/prod: the moving tag)"
IF_MISSING_HELP = "a missing or stale local image: fail (default) or build it first"
ALLOW_STALE_HELP = "run a stale local image anyway, with a warning"
DRY_RUN_HELP = "print the exact commands; change nothing"


def task(*args: Any, **kwargs: Any) -> Callable[[F], Task[Any]]:
    """`invoke.task` plus the one handler: a UserError becomes one stderr line and exit 2."""

    def decorate(fn: F) -> Task[Any]:
        @functools.wraps(fn)
        def body(*a: Any, **kw: Any) -> Any:
            signal.signal(signal.SIGTERM, _raise_interrupt)
            try:
                return fn(*a, **kw)
            except UserError as err:
                print(render(err), file=sys.stderr)
                raise SystemExit(err.exit_code) from None
            except BrokenPipeError:  # `invoke ... | head`: the reader left; not an error
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
                raise SystemExit(0) from None
            except OSError as err:  # a read-only repo, a full disk: still one line
                print(f"error: {err}; check the path and its permissions", file=sys.stderr)
                raise SystemExit(EXIT_USAGE) from None
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
                raise SystemExit(EXIT_INTERRUPTED) from None

        return invoke_task(*args, **kwargs)(body)  # type: ignore[no-any-return]

    return decorate


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def exit_with(code: int) -> None:
    """Pass a command's exit code through to the shell."""
    if code:
        raise SystemExit(code)
