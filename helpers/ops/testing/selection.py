"""Which runnable dirs a test run covers: `--dir` (and nested dirs), narrowed to
those affected since a base (`--changed-since`), the rest listed as not run and why."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import config, workspace
from helpers.ops.workspace import bookmarks

if TYPE_CHECKING:
    from helpers.ops.workspace.changes import ChangeSet


MANIFEST = "pyproject.toml"


@dataclass(frozen=True)
class Selection:
    root: Path
    dirs: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    unaffected: tuple[tuple[str, str], ...] = ()  # left out by --changed-since: not a failure
    untested: tuple[str, ...] = ()  # packages with tests that no runnable dir's run covers


def untested_packages(
    files: Sequence[str], runnable: Sequence[str], rel: str, ignore: Sequence[str] = ()
) -> tuple[str, ...]:
    """Pyproject packages under `rel` holding tests, outside every runnable dir: no run
    covers them (a library "needs no image of its own", but its tests still need a run)."""
    packages = {str(PurePosixPath(f).parent) for f in files if f.rsplit("/", 1)[-1] == MANIFEST}
    found = set()
    for f in files:
        parts = f.split("/")
        if (
            not (parts[-1].startswith("test_") and parts[-1].endswith(".py"))
            and "tests" not in parts
        ):
            continue
        for depth in range(len(parts) - 1, -1, -1):  # the nearest package holding it
            owner = "/".join(parts[:depth]) or "."
            if owner in packages:
                found.add(owner)
                break
    return tuple(
        p
        for p in sorted(found)
        if workspace.is_under(p, rel)
        and not any(workspace.is_under(p, r) for r in (*runnable, *ignore))
    )


def select(dir_flag: str, cwd: Path) -> Selection:
    root = workspace.find_repo_root(cwd)
    base = (cwd / dir_flag).resolve()
    if not base.is_dir():
        raise UserError(f"--dir {dir_flag}: no such dir under {cwd}")
    if base != root and root not in base.parents:
        raise UserError(f"--dir {dir_flag}: {base} is outside the repo {root}")
    rel = workspace.relative(root, base)
    ignore = config.load(root, ".").ignore_dirs
    files = workspace.list_files(root)
    found = workspace.runnable_in_work_tree(root, files, ignore)
    dirs = tuple(d for d in found if workspace.is_under(d, rel))
    if not dirs:
        raise UserError(f"--dir {dir_flag}: no runnable dir under {base} (run `invoke info`)")
    return Selection(root, dirs, untested=untested_packages(files, found, rel, ignore))


def narrow(
    sel: Selection, since: str, key: str, runner: commands.Runner = commands.run
) -> Selection:
    """Only the dirs of `sel` affected since `since`; the rest listed as not run, and why."""
    cs = _changes_since(sel.root, since, key, runner)
    hit = set(cs.affected)
    why = f"not affected since {cs.base.label}"
    return dataclasses.replace(
        sel,
        dirs=tuple(d for d in sel.dirs if d in hit),
        unaffected=tuple((d, why) for d in sel.dirs if d not in hit),
    )


def dir_affected(
    root: Path, rel_dir: str, since: str, key: str, runner: commands.Runner = commands.run
) -> tuple[bool, str]:
    """Whether one runnable dir is affected since `since`, and the base as a label."""
    cs = _changes_since(root, since, key, runner)
    return rel_dir in cs.affected, cs.base.label


def _changes_since(root: Path, since: str, key: str, runner: commands.Runner) -> ChangeSet:
    """What changed since `--changed-since` (the flag the test runners take)."""
    from helpers.ops.workspace import changes

    try:
        return changes.load_and_compute(root, since, key, runner)[1]
    except UserError as err:
        raise bookmarks.renamed(err, since, "--changed-since") from None
