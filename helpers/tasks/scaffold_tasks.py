"""Python packages as runnable dirs: create_runnable_dir, docker_update_lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, IF_MISSING_HELP, task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(
    positional=["name"],
    help={
        "name": "the dir: an existing pyproject package, or a new dir to scaffold",
        "force": "replace helpers' devops files that exist and differ (the refusal lists them)",
    },
)
def create_runnable_dir(ctx: Context, name: str, force: bool = False) -> Outcome:
    """Make a pyproject package (or a new dir) a runnable dir: changelog, Dockerfile, ignores."""
    from helpers.ops.adoption import scaffold

    return scaffold.create_here(name, force)


@task(help={"dir": DIR_HELP, "if_missing": IF_MISSING_HELP})
def docker_update_lock(
    ctx: Context, dir: Optional[str] = None, if_missing: str = "fail"
) -> Outcome:
    """Resolve the dir's dependencies in its image (uv, poetry or pip-tools); write the lock."""
    from helpers.ops.run import lockupdate

    return lockupdate.update_dir(dir, if_missing)
