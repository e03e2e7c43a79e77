"""File digests cached by stat, as git's index does: an unchanged file costs a stat, not a read.

The cache maps a file's absolute path to (size, mtime_ns, inode, mode, ctime_ns) and the
digest last computed for it; a file whose stat still matches is not read again.
A file modified within RACY_SECONDS of being digested is not cached (its mtime
may not move on a second write in the same clock tick: git's "racy clean" case).
The cache lives in `<repo>/.helpers/digests.json`, written atomically; a missing
or unreadable cache is an empty one.

`ParsedCache`, beside it in `<repo>/.helpers/units.json`, keeps what was parsed out of
a file (a pyproject.toml's tables, a repo_config.yaml's unit facts) by the same stat:
the unit index of a big repo then costs a stat per unit, not a read and a parse.
`for_machine` is the same for the machine's own settings file, in the user's cache dir
(`${HELPERS_CACHE_HOME:-~/.cache/helpers}`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional, Union

from helpers.effects import fsutil

FILENAME = "digests.json"
PARSED_FILENAME = "units.json"
MACHINE_FILENAME = "machine.json"
HOME_ENV = "HELPERS_CACHE_HOME"
RACY_SECONDS = 2.0
VERSION = 2  # 2: the stamp has the ctime too


def compute(path: Union[str, Path]) -> str:
    """`x`/`-` (executable bit) + sha256 of the content; symlinks hash their target path."""
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    executable = "x" if os.access(path, os.X_OK) else "-"
    return executable + digest.hexdigest()


def stamp(st: os.stat_result) -> list[int]:
    """What says a file did not change: size, mtime, inode, mode, and the ctime, which no
    tool can set back (a copy that restores the mtime of a same-size file still shows)."""
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode, st.st_ctime_ns]


STAMP_LEN = 5


def settled(st: os.stat_result) -> bool:
    """Old enough to trust its stat: a later write in the same clock tick would move nothing."""
    return time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS


class _StatKeyed:
    """Entries `path -> [*stamp, value]` in a JSON file; mutable by design (a cache);
    `save` writes it back only when it changed."""

    def __init__(self, file: Optional[Path]) -> None:
        self.file = file
        self.entries: dict[str, list[object]] = {}
        self.notes: dict[str, object] = {}  # what no one file's stat keys (see `note`)
        self.dirty = False
        self.hits = 0
        if file is not None:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("version") == VERSION:
                    self.entries = dict(data.get("files", {}))
                    self.notes = dict(data.get("notes", {}))
            except (OSError, ValueError):
                pass

    def note(self, key: str, value: object) -> None:
        """Keep `value` (JSON) under `key`: a hint its reader checks before trusting it."""
        if self.notes.get(key) != value:
            self.notes[key] = value
            self.dirty = True

    def _known(self, key: str, st: os.stat_result) -> Optional[object]:
        found = self.entries.get(key)
        if found is not None and found[:STAMP_LEN] == stamp(st):
            self.hits += 1
            return found[STAMP_LEN]
        return None

    def _keep(self, key: str, st: os.stat_result, value: object) -> None:
        if settled(st):
            self.entries[key] = [*stamp(st), value]
            self.dirty = True

    def save(self) -> None:
        if self.file is None or not self.dirty:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.file.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text(
                    "# Created by helpers: run reports and state, never committed.\n*\n"
                )
            data = {"version": VERSION, "files": self.entries, "notes": self.notes}
            text = json.dumps(data, separators=(",", ":"))
            fsutil.write_atomic(self.file, text)
            self.dirty = False
        except OSError:
            pass  # a read-only repo still builds; it just reads every file next time


class DigestCache(_StatKeyed):
    """File digests by stat."""

    def digest(self, path: Union[str, Path]) -> str:
        try:
            st = os.lstat(path)
        except OSError:
            return compute(path)  # raises the real error for the caller
        known = self._known(str(path), st)
        if known is not None:
            return str(known)
        value = compute(path)
        self._keep(str(path), st, value)
        return value


class ParsedCache(_StatKeyed):
    """What was parsed out of files, by stat and by `kind` (one file, several readings)."""

    def parsed(self, path: Union[str, Path], kind: str, parse: Callable[[Path], Any]) -> Any:
        """`parse(path)` as last computed while the file's stat is unchanged. None from
        `parse` (or a value JSON cannot keep) is never kept."""
        try:
            st = os.stat(path)
        except OSError:
            return parse(Path(path))  # says what is wrong, or that there is nothing
        key = f"{kind}:{path}"
        known = self._known(key, st)
        if known is not None:
            return known
        value = parse(Path(path))
        if value is not None and _json_safe(value):
            self._keep(key, st, value)
        return value


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False  # e.g. a TOML date: kept out, read each time
    return True


def for_repo(root: Path) -> DigestCache:
    """The repo's cache (`.helpers/digests.json`); the state dir is made when saving."""
    return DigestCache(root / ".helpers" / FILENAME)


def parsed_for_repo(root: Path) -> ParsedCache:
    """The repo's unit index cache (`.helpers/units.json`), beside the digest cache."""
    return ParsedCache(root / ".helpers" / PARSED_FILENAME)


def cache_home(env: Optional[Mapping[str, str]] = None) -> Path:
    """The user's cache dir for helpers: $HELPERS_CACHE_HOME, else ~/.cache/helpers."""
    env = os.environ if env is None else env
    given = env.get(HOME_ENV)
    return Path(given).expanduser() if given else Path.home() / ".cache" / "helpers"


def for_machine(env: Optional[Mapping[str, str]] = None) -> ParsedCache:
    """What was parsed out of the machine's own files (its machine.env), by stat."""
    return ParsedCache(cache_home(env) / MACHINE_FILENAME)
