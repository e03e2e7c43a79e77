"""The dir's container for VS Code and the devcontainers CLI: `devcontainer`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(
    help={
        "dir": DIR_HELP,
        "all_dirs": "one file per runnable dir of the repo",
        "force": "replace a file that differs from helpers' (it is shown first otherwise)",
    }
)
def devcontainer(
    ctx: Context, dir: Optional[str] = None, all_dirs: bool = False, force: bool = False
) -> Outcome:
    """Write .devcontainer/<dir>/devcontainer.json: the dir's container for VS Code."""
    from helpers.ops.adoption import devcontainer as dc

    return dc.write(Path.cwd(), dir, all_dirs, force)
