"""Small functions over git, NUL-separated (`-z`) everywhere so any path works.

Each call goes through the one process seam (`commands.Runner`), so tests can
pass a fake and nothing here starts a process by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

from helpers.effects import commands
from helpers.errors import UserError

UNSHALLOW_FIX = "run `git fetch --unshallow` (in CI: fetch-depth: 0 on actions/checkout)"


def _git(root: Path, *args: str) -> tuple[str, ...]:
    return ("git", "-C", str(root), *args)


def _split_z(out: str) -> list[str]:
    return [p for p in out.split("\0") if p]


def _checked(root: Path, runner: commands.Runner, *args: str) -> str:
    result = runner(_git(root, *args))
    if not result.ok:
        detail = (result.err.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{root}: `git {' '.join(args[:2])}` failed: {detail}")
    return result.out


def git_dir(root: Path, runner: commands.Runner = commands.run) -> Path:
    """This checkout's git dir (a worktree's or submodule's own dir, never the work tree)."""
    return Path(_checked(root, runner, "rev-parse", "--absolute-git-dir").strip())


def head(root: Path, runner: commands.Runner = commands.run) -> str:
    result = runner(_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"))
    if not result.ok:
        raise UserError(f"{root}: the repo has no commit yet; commit once, then compare")
    return result.out.strip()


def is_shallow(root: Path, runner: commands.Runner = commands.run) -> bool:
    result = runner(_git(root, "rev-parse", "--is-shallow-repository"))
    return result.ok and result.out.strip() == "true"


def resolve(root: Path, ref: str, runner: commands.Runner = commands.run) -> Optional[str]:
    """The commit `ref` names, or None when this clone does not have it."""
    if ref.startswith("-"):
        return None
    result = runner(_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))
    return result.out.strip() if result.ok and result.out.strip() else None


def require_commit(root: Path, ref: str, runner: commands.Runner = commands.run) -> str:
    """Like `resolve`, but an unknown ref is a UserError naming it (and a shallow clone)."""
    commit = resolve(root, ref, runner)
    if commit is not None:
        return commit
    if is_shallow(root, runner):
        raise UserError(
            f"--since {ref}: not found in this shallow clone; {UNSHALLOW_FIX}, " "or fetch that ref"
        )
    raise UserError(
        f"--since {ref}: no such commit, branch or tag in {root}; "
        "check the spelling or `git fetch` it"
    )


def merge_base(root: Path, ref: str, runner: commands.Runner = commands.run) -> str:
    """Where HEAD's history meets `ref` (`ref...` semantics); a shallow cut is an error."""
    if not ref.startswith("-"):
        result = runner(_git(root, "merge-base", f"{ref}^{{commit}}", "HEAD"))
        if result.ok and result.out.strip():
            return result.out.strip()
    require_commit(root, ref, runner)  # an unknown ref says so
    head(root, runner)  # so does a repo without commits
    if is_shallow(root, runner):
        raise UserError(
            f"--since {ref}: this clone is shallow and its history does not reach the "
            f"merge base of {ref} and HEAD; {UNSHALLOW_FIX}"
        )
    raise UserError(
        f"--since {ref}: it shares no history with HEAD in {root}; pass a ref from this branch's "
        "history (e.g. origin/main)"
    )


def parse_name_status(out: str) -> list[str]:
    """Paths from `git diff --name-status -z`: both sides of renames and copies, deletions."""
    fields = out.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        width = 2 if status[0] in "RC" else 1
        paths.extend(fields[i + 1 : i + 1 + width])
        i += 1 + width
    return paths


def diff_paths(root: Path, base: str, runner: commands.Runner = commands.run) -> list[str]:
    """Files that differ between commit `base` and the work tree (committed, staged, unstaged)."""
    out = _checked(root, runner, "diff", "--name-status", "-z", "-M", "--no-ext-diff", base, "--")
    return parse_name_status(out)


def tracked(root: Path, runner: commands.Runner = commands.run) -> list[str]:
    """Files in the index (submodules as one path each)."""
    return _split_z(_checked(root, runner, "ls-files", "-z"))


def _is_bytecode(path: str) -> bool:
    return path.endswith((".pyc", ".pyo")) or "__pycache__/" in f"/{path}"


def untracked(
    root: Path, runner: commands.Runner = commands.run, under: Optional[Sequence[str]] = None
) -> list[str]:
    """Files git does not track and does not ignore (Python bytecode never counts);
    `under`: only below those repo dirs (git walks no other part of the tree)."""
    args = ["ls-files", "-z", "--others", "--exclude-standard"]
    if under is not None:
        args = ["--literal-pathspecs", *args, "--", *(under or ["."])]
    listed = _split_z(_checked(root, runner, *args))
    return [p for p in listed if not _is_bytecode(p)]


def changed_since(
    root: Path,
    base: str,
    runner: commands.Runner = commands.run,
    untracked_files: Optional[Iterable[str]] = None,
) -> list[str]:
    """Every path changed since `base`: its diff to the work tree plus untracked files."""
    new = untracked(root, runner) if untracked_files is None else untracked_files
    return sorted({*diff_paths(root, base, runner), *new})


def show_files(
    root: Path, commit: str, paths: Iterable[str], runner: commands.Runner = commands.run
) -> dict[str, Optional[str]]:
    """The text of each path at `commit`; None where it did not exist there."""
    texts: dict[str, Optional[str]] = {}
    for path in paths:
        result = runner(_git(root, "show", f"{commit}:{path}"))
        texts[path] = result.out if result.ok else None
    return texts


def uncommitted(
    root: Path, rel_dir: str = ".", runner: commands.Runner = commands.run
) -> list[str]:
    """Paths under `rel_dir` with changes not in HEAD (staged, unstaged, untracked): one call."""
    out = _checked(root, runner, "status", "--porcelain", "-z", "--untracked-files=all", "--",
                   rel_dir)  # fmt: skip
    paths, fields, i = [], _split_z(out), 0
    while i < len(fields):
        entry = fields[i]
        paths.append(entry[3:])
        i += 2 if entry[0] in "RC" else 1  # a rename's source follows as its own field
    return [p for p in paths if not _is_bytecode(p)]
