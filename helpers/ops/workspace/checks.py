"""`check_libs` and `check_boundaries` as operations: what they found on stdout (the
table), the bad input and the summary as events on stderr, exit 0 clean, 1 findings,
2 bad input. The task layer only returns what these return."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from helpers import events
from helpers.errors import UserError
from helpers.ops.workspace import boundaries, libs_collect, libs_fix, loader
from helpers.outcome import Outcome


def _problems(lines: Iterable[str]) -> None:
    for line in lines:
        events.progress(f"error: {line}")


def libs(root: Path, fix: bool, changed_since: Optional[str], locks: bool) -> Outcome:
    """Third-party libraries declared with different specifiers; `fix` rewrites them."""
    loaded = loader.load(root)
    in_scope, label = loader.scope(loaded, changed_since)
    pins = loaded.root_cfg.library_pins
    report = libs_collect.collect(
        loaded.ws, loaded.files, pins, in_scope, loaded.pyprojects, locks=locks
    )
    if fix and report.problems:
        _problems(report.problems)
        raise UserError("--fix changed nothing: fix the bad input above first")
    lines: list[str] = []
    if fix and report.mismatched:
        lines += libs_fix.apply(loaded.ws.root, libs_fix.plan(report))
        report = libs_collect.collect(loaded.ws, loaded.files, pins, in_scope, locks=locks)
        for hint in libs_collect.relock_hints(report):
            events.progress(hint)
    if report.mismatched:
        lines.append(libs_collect.render_table(report))
    _problems(report.problems)
    events.progress(f"{libs_collect.summary(report)} ({label})")
    return Outcome.of(lines, report.exit_code)


def imports(root: Path, changed_since: Optional[str]) -> Outcome:
    """Imports of another unit's internals, and in-repo imports a unit does not declare."""
    loaded = loader.load(root)
    public = loader.require_boundaries(loaded)
    in_scope, label = loader.scope(loaded, changed_since)
    report = boundaries.check(loaded.ws, loaded.files, public, in_scope)
    text = boundaries.render(report) if report.findings else ""
    _problems(report.problems)
    events.progress(f"{boundaries.summary(report)} ({label})")
    return Outcome(text, report.exit_code)
