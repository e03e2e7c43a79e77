"""Between invoke and the library: the task decorator (the edge is helpers.edge), flag helpers.

Task modules import only this module and invoke at import time, so that
`invoke --list` stays as cheap as invoke itself; library modules are imported
inside task bodies.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from invoke.tasks import Task
from invoke.tasks import task as invoke_task

F = TypeVar("F", bound=Callable[..., Any])

DIR_HELP = "runnable dir (default: the one holding the current dir)"
STAGE_HELP = "image stage: local, dev or prod"
VERSION_HELP = "image version (default: the changelog's; dev/prod: the moving tag)"
IF_MISSING_HELP = "a missing or stale local image: fail (default) or build it first"
ALLOW_STALE_HELP = "run a stale local image anyway, with a warning"
DRY_RUN_HELP = "print the exact commands; change nothing"


def task(*args: Any, **kwargs: Any) -> Callable[[F], Task[Any]]:
    """`invoke.task` run inside the one edge (helpers.edge): exit codes, one-line errors."""

    def decorate(fn: F) -> Task[Any]:
        @functools.wraps(fn)
        def body(*a: Any, **kw: Any) -> Any:
            from helpers import edge  # light: the standard library and helpers.errors

            return edge.run(lambda: fn(*a, **kw))

        return invoke_task(*args, **kwargs)(body)  # type: ignore[no-any-return]

    return decorate


def exit_with(code: int) -> None:
    """Pass a command's exit code through to the shell."""
    if code:
        raise SystemExit(code)
