"""The changelog: the version history a runnable dir's images are tagged with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, task

if TYPE_CHECKING:
    from helpers.outcome import Outcome


@task(
    help={
        "part": "major, minor or patch",
        "message": "what changed (each line becomes a bullet)",
        "dir": DIR_HELP,
        "dry_run": "print the new entry; change nothing",
    }
)
def bump_version(
    ctx: Context,
    part: str = "patch",
    message: str = "",
    dir: Optional[str] = None,
    dry_run: bool = False,
) -> Outcome:
    """Prepend a changelog entry with the next version; a package's pyproject version follows."""
    from helpers.ops.workspace import versions

    return versions.bump(dir, part, message, dry_run)
