"""Bookmarks: the commit of each selection's last successful test run, and `--since` itself.

Stored in `<git dir>/helpers/bookmarks.json`, where the git dir is
`git rev-parse --absolute-git-dir` (a worktree's or submodule's own dir): inside
.git, so never committed and never shown by `git status`, and per checkout.

A *selection* names what ran: `main_pytest <dir> <lists>` or `run_tests <dir>
<lists>`. `run_tests` and `main_pytest` record one on success when they ran
their whole selection, or only what changed since that same selection's last
success. The bookmark keeps HEAD at that moment and whether the work tree was
dirty: uncommitted changes are not in that commit, so whatever was uncommitted
then still differs from it and counts as changed afterwards: an extra run,
never a missed one.

`--since REF` compares the work tree with the merge base of REF and HEAD (what
this branch changed). `last-success` compares it with the bookmarked commit
itself: the tested content, even after switching branches. Without `--since`,
`changes` and `info` use $HELPERS_CHANGED_SINCE, else `last-success` of the
whole-repo run (`main_pytest --dir .`, newest over test lists).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from helpers import events
from helpers.effects import commands, fsutil, git
from helpers.errors import UserError

LAST_SUCCESS = "last-success"
ENV = "HELPERS_CHANGED_SINCE"
WHOLE_REPO = "main_pytest . "  # prefix of the selections `changes` and `info` default to
FILE = "bookmarks.json"


@dataclass(frozen=True)
class Bookmark:
    selection: str
    commit: str
    time: str
    dirty: bool = False


@dataclass(frozen=True)
class Base:
    """What the work tree is compared with."""

    ref: str  # as given: a git ref or `last-success`
    commit: str
    label: str  # for humans: `origin/main (merge base 1a2b3c4d)`


def selection(command: str, rel_dir: str, lists: Sequence[str]) -> str:
    return f"{command} {rel_dir} {','.join(lists)}"


def store(root: Path, runner: commands.Runner = commands.run) -> Path:
    return git.git_dir(root, runner) / "helpers" / FILE


def load_all(root: Path, runner: commands.Runner = commands.run) -> dict[str, Bookmark]:
    path = store(root, runner)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {key: Bookmark(**value) for key, value in data.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError, AttributeError):
        raise UserError(
            f"{path}: unreadable bookmarks; delete the file (the next "
            "successful test run records new ones)"
        ) from None


def _dirty(root: Path, runner: commands.Runner) -> bool:
    result = runner(("git", "-C", str(root), "status", "--porcelain", "-z"))
    return bool(result.out.strip("\0"))


def record(root: Path, sel: str, runner: commands.Runner = commands.run) -> Bookmark:
    """Remember HEAD as the last success of `sel`."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    mark = Bookmark(sel, git.head(root, runner), now, _dirty(root, runner))
    path = store(root, runner)
    marks = load_all(root, runner)
    marks[sel] = mark
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({k: asdict(v) for k, v in sorted(marks.items())}, indent=2)
    fsutil.write_atomic(path, text + "\n")
    return mark


def find(root: Path, sel: str, runner: commands.Runner = commands.run) -> Optional[Bookmark]:
    """The bookmark of `sel`; a selection ending in a space is a prefix (newest match wins)."""
    marks = load_all(root, runner)
    if not sel.endswith(" "):
        return marks.get(sel)
    hits = [m for key, m in marks.items() if key.startswith(sel)]
    return max(hits, key=lambda m: m.time) if hits else None


def _from_bookmark(root: Path, sel: str, runner: commands.Runner) -> Base:
    mark = find(root, sel, runner)
    what = sel.strip() + (" (any test lists)" if sel.endswith(" ") else "")
    if mark is None:
        raise UserError(
            f"no successful test run of `{what}` is recorded in {store(root, runner)}: "
            f"pass --since REF (e.g. --since origin/main) or set ${ENV}"
        )
    if git.resolve(root, mark.commit, runner) is None:
        raise UserError(
            f"{LAST_SUCCESS} of `{mark.selection}` is commit {mark.commit[:12]}, which this "
            "repo no longer has (rebased?); pass --since REF"
        )
    dirty = ", work tree was dirty" if mark.dirty else ""
    label = f"{LAST_SUCCESS} of `{mark.selection}` ({mark.commit[:8]}, {mark.time}{dirty})"
    return Base(LAST_SUCCESS, mark.commit, label)


def renamed(err: UserError, since: str, origin: str) -> UserError:
    """`err` naming where `since` came from: the flag `--changed-since` or `$HELPERS_CHANGED_SINCE`
    (the messages say `--since`, the flag of `changes` and `info`)."""
    if origin.startswith("--"):
        return UserError(err.message.replace("--since", origin))
    return UserError(err.message.replace(f"--since {since}", f"${origin}={since}"))


def base(root: Path, since: str, sel: str, runner: commands.Runner = commands.run) -> Base:
    """Resolve `--since`: a git ref (merge-base semantics) or `last-success` of `sel`."""
    if since == LAST_SUCCESS:
        return _from_bookmark(root, sel, runner)
    merge_base = git.merge_base(root, since, runner)
    return Base(since, merge_base, f"{since} (merge base {merge_base[:8]})")


def record_success(
    root: Path, key: str, since: Optional[str], runner: commands.Runner = commands.run
) -> Optional[str]:
    """Bookmark HEAD for `key` after a run that covered its whole selection; a note, or None.

    A run narrowed by an explicit ref skipped dirs that were never tested against
    this selection's last success, so it does not move the bookmark.
    """
    if since not in (None, "", LAST_SUCCESS):
        return None
    try:
        mark = record(root, key, runner)
    except UserError as err:
        events.warning(f"last success not recorded: {err.message}")
        return None
    return f"recorded last-success of `{key}` at {mark.commit[:8]}"
