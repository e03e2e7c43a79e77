"""`bump_version`: the changelog's next entry, and a package's pyproject version after it."""

from __future__ import annotations

import datetime
from typing import Optional

from helpers.model import changelog, project
from helpers.outcome import Outcome


def bump(dir_flag: Optional[str], part: str, message: str, dry_run: bool) -> Outcome:
    """Prepend the entry (or, dry run, show it); the files written, as `path: old -> new`."""
    target = project.target(dir_flag)
    path = target.path / changelog.FILENAME
    if dry_run:
        changelog.check_message(message)
        log = changelog.load(path)
        new = changelog.bumped(log.version, part)
        lines = [changelog.new_entry_text(log.newest.name, new, message, datetime.date.today())]
        pyproject = changelog.package_file(path)
        if changelog.package_text(pyproject, new) is not None and pyproject is not None:
            lines.append(f"{pyproject.relative_to(target.root)}: version = {str(new)!r}")
        return Outcome.of(line.rstrip() for line in lines)
    old = target.version  # read before the bump: the file changes under it
    done = changelog.bump(path, part, message)
    lines = [f"{path.relative_to(target.root)}: {old} -> {done.version}"]
    if done.package is not None:
        lines.append(f"{done.package.relative_to(target.root)}: version {done.version}")
    return Outcome.of(lines)
