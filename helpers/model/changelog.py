"""changelog.txt: a runnable dir's image version history, newest entry first.

    # infra-1.3.0
    - 2026-11-20
    - Add psycopg

Versions are X.Y.Z, compared with packaging.version (so 1.10.0 > 1.9.0), and
strictly decreasing down the file. Errors name the file and line.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.version import Version

from helpers.effects import fsutil
from helpers.errors import UserError
from helpers.model import pyprojects

FILENAME = "changelog.txt"
_HEADER = re.compile(r"^#\s*(?:(?P<name>\S+?)-)?(?P<version>\d+\.\d+\.\d+)\s*$")
_LOOKS_LIKE_HEADER = re.compile(r"^#")
PARTS = ("major", "minor", "patch")


@dataclass(frozen=True)
class Entry:
    name: str
    version: Version
    line: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Changelog:
    path: Path
    entries: tuple[Entry, ...]

    @property
    def newest(self) -> Entry:
        return self.entries[0]

    @property
    def version(self) -> Version:
        return self.newest.version


def _where(path: Path, line: int) -> str:
    return f"{path}:{line}"


def parse_text(text: str, path: Path) -> Changelog:
    """Parse changelog text; `path` is only used in error messages."""
    entries: list[Entry] = []
    current: Optional[tuple[str, Version, int]] = None
    notes: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if _LOOKS_LIKE_HEADER.match(line):
            match = _HEADER.match(line)
            if not match:
                raise UserError(
                    f"{_where(path, number)}: expected a version header like "
                    f"'# name-1.2.3', got {line!r}; fix the header"
                )
            if current is not None:
                entries.append(Entry(current[0], current[1], current[2], tuple(notes)))
            version = Version(match["version"])
            if entries and not version < entries[-1].version:
                raise UserError(
                    f"{_where(path, number)}: version {version} must be lower than "
                    f"{entries[-1].version} above it (newest entry first); "
                    "reorder or fix the versions"
                )
            current = (match["name"] or "", version, number)
            notes = []
        elif current is None:
            raise UserError(
                f"{_where(path, number)}: expected a version header like '# name-1.2.3' "
                f"before any notes, got {line!r}"
            )
        else:
            notes.append(line)
    if current is None:
        raise UserError(f"{path}: no version entry found; add a first entry like '# name-0.1.0'")
    entries.append(Entry(current[0], current[1], current[2], tuple(notes)))
    return Changelog(path, tuple(entries))


def load(path: Path) -> Changelog:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"{path}: no changelog; a runnable dir needs one, e.g. '# name-0.1.0' as its first line"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it as UTF-8 text ({exc}); fix the file") from None
    return parse_text(text, path)


def bumped(version: Version, part: str) -> Version:
    if part not in PARTS:
        raise UserError(f"--part {part!r} is not one of {', '.join(PARTS)}")
    major, minor, patch = (*version.release, 0, 0, 0)[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{patch + 1}")


def new_entry_text(name: str, version: Version, message: str, day: datetime.date) -> str:
    header = f"# {name}-{version}" if name else f"# {version}"
    lines = [header, f"- {day.isoformat()}"]
    lines += [f"- {part.strip()}" for part in message.strip().splitlines() if part.strip()]
    return "\n".join(lines) + "\n\n"


def check_message(message: str) -> None:
    if not message.strip():
        raise UserError('bump_version needs a message: -m "what changed"')


writable = fsutil.writable  # (kept for callers of the old name)


@dataclass(frozen=True)
class Bumped:
    version: Version
    package: Optional[Path] = None  # the pyproject.toml whose version moved too


def package_file(path: Path) -> Optional[Path]:
    """The runnable dir's pyproject.toml when it holds one (the dir is a package)."""
    pyproject = path.parent / pyprojects.FILENAME
    return pyproject if pyproject.is_file() else None


def _refuse_read_only(path: Path) -> None:
    if not writable(path):
        raise UserError(
            f"{path}: the file is read-only, so bump_version will not replace it; "
            f"make it writable (chmod u+w {path.name}) and rerun"
        )


def package_text(pyproject: Optional[Path], version: Version) -> Optional[str]:
    """The pyproject.toml's text with its `[project]` / `[tool.poetry]` version set to
    `version` (as `uv version` and `poetry version` write it); None: nothing to change."""
    if pyproject is None:
        return None
    text = pyprojects.read_text(pyproject, str(pyproject))
    return pyprojects.with_version(text, str(version), str(pyproject))


def bump(path: Path, part: str, message: str, day: Optional[datetime.date] = None) -> Bumped:
    """Prepend a new entry and, when the dir is a package with a static version, move its
    pyproject.toml version along; each file is replaced atomically, never half-written, and
    neither is written when either is read-only."""
    check_message(message)
    log = load(path)
    version = bumped(log.version, part)
    pyproject = package_file(path)
    new_package = package_text(pyproject, version)
    _refuse_read_only(path)
    if pyproject is not None and new_package is not None:
        _refuse_read_only(pyproject)
    text = path.read_text(encoding="utf-8")
    entry = new_entry_text(log.newest.name, version, message, day or datetime.date.today())
    if pyproject is not None and new_package is not None:
        fsutil.write_atomic(pyproject, new_package)
    fsutil.write_atomic(path, entry + text)
    return Bumped(version, pyproject if new_package is not None else None)
