"""The client repo: its root, its files and its runnable dirs.

A runnable dir holds `changelog.txt` and `devops/Dockerfile`. Paths are POSIX
strings relative to the repo root; the root itself is ".". Discovery is pure
over a file list; `list_files` is the only part that asks git.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Optional

from helpers import commands
from helpers.errors import UserError

CHANGELOG = "changelog.txt"
DOCKERFILE = "devops/Dockerfile"


def find_repo_root(start: Path) -> Path:
    """The nearest dir at or above `start` holding `.git` (a dir, or a submodule's file)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    raise UserError(
        f"{start} is not inside a git repo: run from your client repo (git init, if new)"
    )


def list_files(root: Path, runner: commands.Runner = commands.run) -> list[str]:
    """Tracked and untracked-but-not-ignored files (submodule contents excluded)."""
    argv = ("git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    result = runner(argv)
    if not result.ok:
        raise UserError(f"{root}: git ls-files failed: {result.err.strip()}")
    return sorted({p for p in result.out.split("\0") if p})


def parent(rel: str) -> str:
    up = str(PurePosixPath(rel).parent)
    return "." if up in ("", ".") else up


def is_under(rel: str, ancestor: str) -> bool:
    """True when `rel` is `ancestor` or inside it (both repo-relative)."""
    return ancestor == "." or rel == ancestor or rel.startswith(ancestor.rstrip("/") + "/")


def runnable_dirs(files: Iterable[str], ignore: Sequence[str] = ()) -> list[str]:
    """Dirs holding both a changelog and a devops/Dockerfile: the root first, then by path."""
    present = set(files)
    found = []
    for path in present:
        if PurePosixPath(path).name != CHANGELOG:
            continue
        rel = parent(path)
        dockerfile = DOCKERFILE if rel == "." else f"{rel}/{DOCKERFILE}"
        if dockerfile in present and not any(is_under(rel, i) for i in ignore if i != "."):
            found.append(rel)
    return sorted(found, key=lambda d: (d != ".", d))


def is_runnable(path: Path) -> bool:
    """The one definition, from the work tree: both files are there now."""
    return (path / CHANGELOG).is_file() and (path / DOCKERFILE).is_file()


def runnable_in_work_tree(
    root: Path, files: Iterable[str], ignore: Sequence[str] = ()
) -> list[str]:
    """`runnable_dirs` of git's file list, less those whose files are gone from the work tree
    (a Dockerfile deleted but still tracked no longer makes a runnable dir)."""
    return [d for d in runnable_dirs(files, ignore) if is_runnable(root / d)]


def _half_runnable(path: Path) -> bool:
    return (path / CHANGELOG).is_file() != (path / DOCKERFILE).is_file()


def relative(root: Path, path: Path) -> str:
    rel = os.path.relpath(path.resolve(), root)
    return "." if rel == "." else PurePosixPath(Path(rel)).as_posix()


def innermost_runnable(root: Path, path: Path) -> Optional[str]:
    """The runnable dir holding `path` (walking up, stopping at the repo root)."""
    path = path.resolve()
    for candidate in (path, *path.parents):
        if is_runnable(candidate):
            return relative(root, candidate)
        if candidate == root:
            break
    return None


def _refuse_half_runnable(root: Path, cwd: Path, found: Optional[str]) -> None:
    """From a dir that lost one of its two files, never fall through to the enclosing one."""
    stop = root / found if found is not None else root
    for candidate in (cwd.resolve(), *cwd.resolve().parents):
        if candidate == stop or root not in (candidate, *candidate.parents):
            return
        if _half_runnable(candidate):
            have, lacks = (
                (CHANGELOG, DOCKERFILE)
                if (candidate / CHANGELOG).is_file()
                else (DOCKERFILE, CHANGELOG)
            )
            rel = relative(root, candidate)
            where = f"pass --dir {found} for the enclosing one" if found else "cd into one"
            raise UserError(
                f"{rel} has {have} but no {lacks}, so it is not a runnable dir: restore "
                f"{lacks} (e.g. `git checkout -- {lacks}`), or {where}"
            )


def resolve_dir(root: Path, cwd: Path, flag: Optional[str]) -> str:
    """The runnable dir a task works on: `--dir` if given, else the one holding cwd."""
    if flag is None:
        found = innermost_runnable(root, cwd)
        _refuse_half_runnable(root, cwd, found)
        if found is None:
            raise UserError(
                f"{cwd} is not inside a runnable dir (one with {CHANGELOG} and {DOCKERFILE}): "
                "cd into one or pass --dir"
            )
        return found
    target = (cwd / flag).resolve()
    if target != root and root not in target.parents:
        raise UserError(f"--dir {flag}: {target} is outside the repo {root}; pick a dir inside it")
    if not is_runnable(target):
        raise UserError(
            f"--dir {flag} is not a runnable dir (needs {CHANGELOG} and {DOCKERFILE}); "
            "run `invoke info` to list them, or add those two files to make it one"
        )
    return relative(root, target)
