"""The client repo: its root, its files and its runnable dirs.

A runnable dir holds `changelog.txt` and its Dockerfile: `devops/Dockerfile`, or
the file the `dockerfile` key of the dir's own repo_config.yaml names (this module
is the one definition). Paths are POSIX strings relative to the repo root; the
root itself is ".". Discovery is pure over a file list (plus the config files of
dirs without the default Dockerfile, when given the root); `list_files` is the
only part that asks git.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Optional

from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import config

CHANGELOG = "changelog.txt"
DOCKERFILE = config.DEFAULT_DOCKERFILE
DEVCONTAINER_DIR = ".devcontainer"  # devcontainer_init writes <it>/<dir slug>/devcontainer.json
SYNC_RECORD = ".helpers-sync.json"  # which helpers version wrote each synced file


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


def helpers_written(rel: str) -> bool:
    """A file helpers itself writes at the client root for editors or as its sync record:
    no dir's input, so writing it changes no image and reruns no test (a root runnable
    dir holds every file). Files a user puts in .devcontainer/ (a Dockerfile) still count."""
    if rel == SYNC_RECORD:
        return True
    parts = rel.split("/")
    return len(parts) == 3 and parts[0] == DEVCONTAINER_DIR and parts[2] == "devcontainer.json"


def helpers_written_patterns(rel_dir: str) -> tuple[str, ...]:
    """The same, as .dockerignore patterns of the build context of `rel_dir`."""
    return (SYNC_RECORD, f"{DEVCONTAINER_DIR}/*/devcontainer.json") if rel_dir == "." else ()


def parent(rel: str) -> str:
    up = rel.rstrip("/").rpartition("/")[0]
    return "." if up in ("", ".") else up


def is_under(rel: str, ancestor: str) -> bool:
    """True when `rel` is `ancestor` or inside it (both repo-relative)."""
    return ancestor == "." or rel == ancestor or rel.startswith(ancestor.rstrip("/") + "/")


def in_dir(rel: str, name: str) -> str:
    return name if rel == "." else f"{rel}/{name}"


Named = Callable[[str], str]  # a dir holding a repo_config.yaml -> its Dockerfile


def configured_dockerfile(root: Path) -> Named:
    """The Dockerfile a dir's own repo_config.yaml names (read from the work tree)."""
    return lambda rel: config.dir_dockerfile(root / rel, in_dir(rel, config.FILENAME))


def runnable_dirs(
    files: Iterable[str],
    ignore: Sequence[str] = (),
    root: Optional[Path] = None,
    named: Optional[Named] = None,
) -> list[str]:
    """Dirs holding a changelog and their Dockerfile: the root first, then by path.

    Without `root` (or `named`) only the default `devops/Dockerfile` counts; with it, a
    dir's own repo_config.yaml can name another (`dockerfile: Dockerfile`)."""
    present = set(files)
    if named is None and root is not None:
        named = configured_dockerfile(root)
    found = []
    suffix = "/" + CHANGELOG
    for path in present:
        if path != CHANGELOG and not path.endswith(suffix):  # cheaper than a PurePosixPath
            continue
        rel = parent(path)
        if any(is_under(rel, i) for i in ignore if i != "."):
            continue
        dockerfile = DOCKERFILE  # a `dockerfile` key decides alone: a wrong one is not hidden
        if named is not None and in_dir(rel, config.FILENAME) in present:
            dockerfile = named(rel)
        if in_dir(rel, dockerfile) in present:
            found.append(rel)
    return sorted(found, key=lambda d: (d != ".", d))


def dockerfile_of(path: Path) -> str:
    """The dir's Dockerfile, relative to it (the `dockerfile` key, else devops/Dockerfile)."""
    return config.dir_dockerfile(path, str(path / config.FILENAME))


def is_runnable(path: Path) -> bool:
    if not (path / CHANGELOG).is_file():
        return False
    return (path / dockerfile_of(path)).is_file()


def runnable_in_work_tree(
    root: Path, files: Iterable[str], ignore: Sequence[str] = (), named: Optional[Named] = None
) -> list[str]:
    """The one definition, from the work tree: `runnable_dirs` of git's file list, less
    those whose files are gone (a Dockerfile deleted but still tracked makes none).
    `named`: how a dir's `dockerfile` key is read (default: from its file, each time)."""
    named = named or configured_dockerfile(root)
    return [d for d in runnable_dirs(files, ignore, root, named) if _both(root / d, named(d))]


def _both(path: Path, dockerfile: str) -> bool:
    here = str(path)
    return os.path.isfile(os.path.join(here, CHANGELOG)) and os.path.isfile(
        os.path.join(here, dockerfile)
    )


def _half_runnable(path: Path) -> bool:
    """A dir holding one of a runnable dir's two files but not the other."""
    if (path / CHANGELOG).is_file():
        return not is_runnable(path)
    return (path / DOCKERFILE).is_file()


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
            has_changelog = (candidate / CHANGELOG).is_file()
            dockerfile = dockerfile_of(candidate) if has_changelog else DOCKERFILE
            have, lacks = (CHANGELOG, dockerfile) if has_changelog else (dockerfile, CHANGELOG)
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
                f"{cwd} is not inside a runnable dir (one with {CHANGELOG} and {DOCKERFILE}, "
                "or the Dockerfile its `dockerfile` key names): "
                "cd into one or pass --dir"
            )
        return found
    target = (cwd / flag).resolve()
    if target != root and root not in target.parents:
        raise UserError(f"--dir {flag}: {target} is outside the repo {root}; pick a dir inside it")
    if not target.is_dir():
        raise UserError(f"--dir {flag}: no such dir under {cwd}; run `invoke info` to list them")
    if not is_runnable(target):
        named = dockerfile_of(target) if (target / CHANGELOG).is_file() else DOCKERFILE
        if named != DOCKERFILE:
            raise UserError(
                f"--dir {flag}: its repo_config.yaml says `dockerfile: {named}`, which does "
                "not exist there: fix the path in that key, or add the file"
            )
        make = f"`invoke create_runnable_dir {shlex.quote(flag)}` makes it one"
        raise UserError(
            f"--dir {flag} is not a runnable dir (needs {CHANGELOG} and {DOCKERFILE}, or the "
            f"`dockerfile` key in its repo_config.yaml): {make}; `invoke info` lists them"
        )
    return relative(root, target)
