"""The changelog: the version history a runnable dir's images are tagged with."""

from __future__ import annotations

from typing import Optional

from invoke.context import Context

from helpers import output
from helpers.tasks._common import DIR_HELP, task


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
) -> None:
    """Prepend a changelog entry with the next version; a package's pyproject version follows."""
    import datetime

    from helpers.model import changelog, project

    target = project.target(dir)
    path = target.path / changelog.FILENAME
    if dry_run:
        changelog.check_message(message)
        log = changelog.load(path)
        new = changelog.bumped(log.version, part)
        entry = changelog.new_entry_text(log.newest.name, new, message, datetime.date.today())
        output.data(entry.rstrip())
        pyproject = changelog.package_file(path)
        if changelog.package_text(pyproject, new) is not None and pyproject is not None:
            output.data(f"{pyproject.relative_to(target.root)}: version = {str(new)!r}")
        return
    old = target.version  # read before the bump: the file changes under it
    done = changelog.bump(path, part, message)
    output.data(f"{path.relative_to(target.root)}: {old} -> {done.version}")
    if done.package is not None:
        output.data(f"{done.package.relative_to(target.root)}: version {done.version}")
