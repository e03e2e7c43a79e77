"""Between invoke and the library: the task decorator (the edge is helpers.edge), flag helpers.

Task modules import only this module and invoke at import time, so that
`invoke --list` stays as cheap as invoke itself; library modules are imported
inside task bodies.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Optional, TypeVar

from invoke.parser.argument import Argument
from invoke.tasks import Task
from invoke.tasks import task as invoke_task

F = TypeVar("F", bound=Callable[..., Any])

DIR_HELP = "runnable dir (default: the one holding the current dir)"
STAGE_HELP = "image stage: local, dev or prod"
VERSION_HELP = "image version (default: the changelog's; dev/prod: the moving tag)"
IF_MISSING_HELP = "a missing or stale local image: fail (default) or build it first"
ALLOW_STALE_HELP = "run a stale local image anyway, with a warning"
DRY_RUN_HELP = "print the exact commands; change nothing"


def _invoke_parses_sys_argv() -> bool:
    """This process is `invoke`/`inv` (or `python -m invoke`): its Program parses
    sys.argv. Elsewhere (pytest, a script running a Program on an argv of its own)
    sys.argv says nothing about what is parsed."""
    first = sys.argv[0] if sys.argv else ""
    name = os.path.basename(first)
    return name in ("invoke", "inv") or first.endswith(os.path.join("invoke", "__main__.py"))


class NamedTask(Task[Any]):
    """An invoke Task whose flags are built only when the command line can use them.

    For every command invoke builds each task's flags and deep-copies them all into its
    parser (~8 ms for our ~40 tasks, which a one-task tasks.py never pays); only a task
    named on the command line has its flags parsed. Completion, and a process that is
    not invoke itself, get every task's flags.
    """

    def get_arguments(self, ignore_unknown_help: Optional[bool] = None) -> list[Argument]:
        words = set(sys.argv[1:])
        names = {self.name, *self.aliases}
        named = bool(words & (names | {n.replace("_", "-") for n in names}))  # auto_dash_names
        if named or "--complete" in words or not _invoke_parses_sys_argv():
            return super().get_arguments(ignore_unknown_help)
        return []


def task(*args: Any, **kwargs: Any) -> Callable[[F], Task[Any]]:
    """`invoke.task` run inside the one edge (helpers.edge): exit codes, one-line errors."""

    def decorate(fn: F) -> Task[Any]:
        @functools.wraps(fn)
        def body(*a: Any, **kw: Any) -> Any:
            from helpers import edge  # light: the standard library and helpers.errors

            return edge.run(lambda: fn(*a, **kw))

        return invoke_task(*args, klass=NamedTask, **kwargs)(body)  # type: ignore[no-any-return]

    return decorate


def exit_with(code: int) -> None:
    """Pass a command's exit code through to the shell."""
    if code:
        raise SystemExit(code)
