"""Workspace hygiene: one specifier per library (`check_libs`), imports only through public
modules (`check_boundaries`). Both exit 0 clean, 1 findings, 2 bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from invoke.context import Context

from helpers import output
from helpers.tasks._common import exit_with, task

CHANGED_SINCE = "check only the units affected since this git ref (merge base with HEAD)"


def _root() -> Path:
    from helpers.model import workspace

    return workspace.find_repo_root(Path.cwd())


def _problems(lines: tuple[str, ...]) -> None:
    for line in lines:
        output.note(f"error: {line}")


@task(
    help={
        "fix": "rewrite every declaration of a pinned library to its library_pins specifier",
        "changed_since": CHANGED_SINCE,
        "locks": "compare the versions lock files lock too (transitive ones included)",
    }
)
def check_libs(
    ctx: Context, fix: bool = False, changed_since: Optional[str] = None, locks: bool = False
) -> None:
    """Third-party libraries declared with different specifiers across units (table)."""
    from helpers.errors import UserError
    from helpers.ops.workspace import libs_collect, libs_fix, loader

    loaded = loader.load(_root())
    in_scope, label = loader.scope(loaded, changed_since)
    pins = loaded.root_cfg.library_pins
    report = libs_collect.collect(
        loaded.ws, loaded.files, pins, in_scope, loaded.pyprojects, locks=locks
    )
    if fix and report.problems:
        _problems(report.problems)
        raise UserError("--fix changed nothing: fix the bad input above first")
    if fix and report.mismatched:
        for line in libs_fix.apply(loaded.ws.root, libs_fix.plan(report)):
            output.data(line)
        report = libs_collect.collect(loaded.ws, loaded.files, pins, in_scope, locks=locks)
        for line in libs_collect.relock_hints(report):
            output.note(line)
    if report.mismatched:
        output.data(libs_collect.render_table(report))
    _problems(report.problems)
    output.note(f"{libs_collect.summary(report)} ({label})")
    exit_with(report.exit_code)


@task(help={"changed_since": CHANGED_SINCE})
def check_boundaries(ctx: Context, changed_since: Optional[str] = None) -> None:
    """Imports of another unit's internal modules, and in-repo imports a unit does not declare."""
    from helpers.ops.workspace import boundaries, loader

    loaded = loader.load(_root())
    public = loader.require_boundaries(loaded)
    in_scope, label = loader.scope(loaded, changed_since)
    report = boundaries.check(loaded.ws, loaded.files, public, in_scope)
    if report.findings:
        output.data(boundaries.render(report))
    _problems(report.problems)
    output.note(f"{boundaries.summary(report)} ({label})")
    exit_with(report.exit_code)
