"""Leases: "this process uses X now", held until it exits, so two runs never share X.

An exclusive, non-blocking `flock` on a small file under the user's cache dir
(`${HELPERS_CACHE_HOME:-~/.cache/helpers}/leases/`). The kernel drops it when the
process ends, however it ends (a SIGKILL too), so a lease is never left stale.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO, Optional

from helpers.effects import digestcache

_lock = threading.Lock()
_held: dict[str, IO[str]] = {}  # name -> the open file holding its lock


def lease_dir(env: Optional[dict[str, str]] = None) -> Path:
    return digestcache.cache_home(env) / "leases"


def try_hold(name: str) -> bool:
    """Take the lease `name` for the rest of this process; False when another process holds it."""
    import fcntl

    with _lock:
        if name in _held:
            return True
        path = lease_dir() / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        _held[name] = handle
        return True


def release(name: str) -> None:
    with _lock:
        handle = _held.pop(name, None)
    if handle is not None:
        handle.close()
