"""Workspace hygiene: one specifier per library (`check_libs`), imports only through public
modules (`check_boundaries`). Both exit 0 clean, 1 findings, 2 bad input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import task

if TYPE_CHECKING:
    from helpers.outcome import Outcome

CHANGED_SINCE = "check only the units affected since this git ref (merge base with HEAD)"


def _root() -> Path:
    from helpers.model import workspace

    return workspace.find_repo_root(Path.cwd())


@task(
    help={
        "fix": "rewrite every declaration of a pinned library to its library_pins specifier",
        "changed_since": CHANGED_SINCE,
        "locks": "compare the versions lock files lock too (transitive ones included)",
    }
)
def check_libs(
    ctx: Context, fix: bool = False, changed_since: Optional[str] = None, locks: bool = False
) -> Outcome:
    """Third-party libraries declared with different specifiers across units (table)."""
    from helpers.ops.workspace import checks

    return checks.libs(_root(), fix, changed_since, locks)


@task(help={"changed_since": CHANGED_SINCE})
def check_boundaries(ctx: Context, changed_since: Optional[str] = None) -> Outcome:
    """Imports of another unit's internal modules, and in-repo imports a unit does not declare."""
    from helpers.ops.workspace import checks

    return checks.imports(_root(), changed_since)
