"""File digests cached by stat, as git's index does: an unchanged file costs a stat, not a read.

The cache maps a file's absolute path to (size, mtime_ns, inode, mode) and the
digest last computed for it; a file whose stat still matches is not read again.
A file modified within RACY_SECONDS of being digested is not cached (its mtime
may not move on a second write in the same clock tick: git's "racy clean" case).
The cache lives in `<repo>/.helpers/digests.json`, written atomically; a missing
or unreadable cache is an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Optional, Union

from helpers.effects import fsutil

FILENAME = "digests.json"
RACY_SECONDS = 2.0
VERSION = 1


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


class DigestCache:
    """Mutable by design (a cache); `save` writes it back only when it changed."""

    def __init__(self, file: Optional[Path]) -> None:
        self.file = file
        self.entries: dict[str, list[object]] = {}
        self.dirty = False
        self.hits = 0
        if file is not None:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("version") == VERSION:
                    self.entries = dict(data.get("files", {}))
            except (OSError, ValueError):
                pass

    def digest(self, path: Union[str, Path]) -> str:
        try:
            st = os.lstat(path)
        except OSError:
            return compute(path)  # raises the real error for the caller
        key = str(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode]
        found = self.entries.get(key)
        if found is not None and found[:4] == stamp:
            self.hits += 1
            return str(found[4])
        value = compute(path)
        if time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS:
            self.entries[key] = [*stamp, value]
            self.dirty = True
        return value

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
            text = json.dumps({"version": VERSION, "files": self.entries}, separators=(",", ":"))
            fsutil.write_atomic(self.file, text)
            self.dirty = False
        except OSError:
            pass  # a read-only repo still builds; it just reads every file next time


def for_repo(root: Path) -> DigestCache:
    """The repo's cache (`.helpers/digests.json`); the state dir is made when saving."""
    return DigestCache(root / ".helpers" / FILENAME)
