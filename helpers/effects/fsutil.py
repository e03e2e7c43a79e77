"""Small file helpers: atomic writes so a crash never leaves a half-written file."""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    try:  # Linux says it without changing it (other threads may be creating files)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: set it, then put it back at once
    os.umask(current)
    return current


def write_atomic(path: Path, text: str, parents: bool = False) -> None:
    """Write `text` to `path` through a temp file in the same dir and a rename;
    `parents`: create its missing parent dirs first (a path the user named).
    (tempfile, with shutil and the compressors it pulls in, loads only when a command
    writes: a docker_cmd whose caches are current writes nothing.)"""
    import tempfile

    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # An existing file keeps its mode; a new one gets what open() would give it
        # (0666 less the umask), not mkstemp's 0600: a COPY into an image keeps modes.
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def writable(path: Path) -> bool:
    """Writable by us, and not marked read-only (root may write anything: the mode still says)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
