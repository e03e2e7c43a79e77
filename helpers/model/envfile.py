"""The repo's `.env` (config `env_file`): read with python-dotenv, checked line by line.

The format people write: `NAME=value`, `export NAME=value`, quotes, comments, quoted
values spanning lines; `NAME` alone takes the value from the host's environment.
No `${VAR}` expansion (docker's own env files have none either). A line dotenv cannot
parse is one error naming the file and line. The values reach the container through
a private (0600) temp file in docker's env-file format that docker reads, never on its
command line; it is removed when this process ends, and one left by a process that was
killed (SIGKILL runs no exit handler) is swept by the next run: the files live in one
private dir per user (`<temp>/helpers-env-<uid>/`), named by the writing process's id.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.errors import UserError
from helpers.model.config import Config

# docker's env-file reader rejects names with white space; `=` ends a name.
_NAME = re.compile(r"^[^\s=#][^\s=]*$")


@dataclass(frozen=True)
class EnvFile:
    display: str  # the path as users see it in messages
    entries: tuple[tuple[str, Optional[str]], ...]  # value None: from the host's environment


def where(root: Path, cfg: Config) -> tuple[Path, str]:
    """The env file's path and how to name it (relative to the repo when inside it)."""
    path = root / cfg.env_file
    try:
        return path, path.relative_to(root).as_posix()
    except ValueError:
        return path, str(path)


def parse(text: str, display: str) -> EnvFile:
    from dotenv.parser import parse_stream  # lazy: only runs with an env file pay for it

    entries: dict[str, Optional[str]] = {}
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        # dotenv counts from the blank lines it swallowed before the statement.
        line = binding.original.line + raw[: len(raw) - len(raw.lstrip())].count("\n")
        if binding.error:
            # The name at most: the rest may be a secret, and this line lands in CI logs.
            head = re.split(r"[=:\s]", raw.strip(), maxsplit=1)[0][:40]
            starts = f" starting {head!r}" if head else ""
            raise UserError(
                f"{display}:{line}: cannot parse the line{starts} (values are not shown); "
                "write NAME=value (quote a value holding spaces or #), or start the line "
                "with # to comment it out"
            )
        if binding.key is None:
            continue
        if not _NAME.match(binding.key):
            raise UserError(
                f"{display}:{line}: {binding.key!r} is not a variable name docker accepts; "
                "use letters, digits and _ without spaces"
            )
        if binding.value is not None and ("\n" in binding.value or "\r" in binding.value):
            raise UserError(
                f"{display}:{line}: the value of {binding.key} spans lines, which docker "
                "cannot pass to a container; put it on one line (e.g. with literal \\n)"
            )
        entries[binding.key] = binding.value
    return EnvFile(display, tuple(entries.items()))


def load(root: Path, cfg: Config) -> Optional[EnvFile]:
    """The parsed env file; None when there is none (a configured one must exist)."""
    path, display = where(root, cfg)
    if not path.is_file():
        origin = cfg.origin.get("env_file")
        if origin is None:
            return None  # the default `.env` is optional
        raise UserError(
            f"{origin}: env_file {cfg.env_file!r}: no such file {path}; create it, or fix "
            "or remove the env_file key"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{display}: cannot read it as UTF-8 text ({exc}); fix the file") from None
    return parse(text, display)


def docker_text(env: EnvFile) -> str:
    """docker's env-file format: `NAME=value` taken literally, `NAME` from its environment."""
    lines = [name if value is None else f"{name}={value}" for name, value in env.entries]
    return "".join(f"{line}\n" for line in lines)


_written: dict[str, Path] = {}
_lock = threading.Lock()


def _remove_written() -> None:
    for path in _written.values():
        with contextlib.suppress(OSError):
            path.unlink()
    _written.clear()


def docker_text_for(root: Path, cfg: Config) -> Optional[str]:
    """The configured env file, checked, in docker's format; None when it sets nothing."""
    env = load(root, cfg)
    return docker_text(env) if env is not None and env.entries else None


SWEEP_AFTER = 24 * 3600  # seconds: a file this old goes even when its pid was reused


def private_dir() -> Path:
    """This user's dir for env files (mode 0700), made when missing; a dir of that name
    that is not ours and private is never used: a fresh one is made instead.
    (tempfile loads here: only runs with an env file pay for it.)"""
    import tempfile

    path = Path(tempfile.gettempdir()) / f"helpers-env-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()

    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return path
    return Path(tempfile.mkdtemp(prefix="helpers-env-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(folder: Path, now: Optional[float] = None) -> list[Path]:
    """Remove env files whose process is gone (or that are older than SWEEP_AFTER)."""
    now = time.time() if now is None else now
    removed = []
    for path in folder.glob("env-*-*.list"):
        pid_text = path.name.split("-")[1]
        try:
            stale = not _alive(int(pid_text)) or now - path.stat().st_mtime > SWEEP_AFTER
        except (ValueError, OSError):
            continue
        if stale and int(pid_text) != os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def private_file(text: str) -> Path:
    """`text` in a private temp file (mode 0600), one per content and process, removed at
    exit: every docker this process starts has read it by then (each is waited for)."""
    import tempfile

    with _lock:  # main_pytest prepares dirs in threads
        if text in _written and _written[text].is_file():
            return _written[text]
        folder = private_dir()
        if not _written:
            sweep(folder)  # what a killed run left behind
        prefix = f"env-{os.getpid()}-"
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".list", dir=folder)  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if not _written:
            atexit.register(_remove_written)
        _written[text] = Path(name)
        return Path(name)
