"""check_libs: one version specifier per third-party library across the units of the repo.

Each unit's declared third-party dependencies are read from its pyproject.toml
(`[project] dependencies`, `optional-dependencies`, `[dependency-groups]`,
poetry's dependency tables) and its `requirements*.txt` / `.in` files, with `packaging`
(PEP 508 / PEP 440; names PEP 503-normalized): its direct declarations. With `locks`,
its lock files (uv.lock, poetry.lock, pdm.lock, and a requirements*.txt compiled from
the .in beside it) add the versions they lock, transitive ones too: independent
images may lock those differently by design, so they count only when asked.
In-repo packages (a unit's project name) are not third-party and are left to the
graph. Poetry's `^` and `~` constraints are compared by the PEP 440 range they mean.

A library is a mismatch when its declarations do not all mean the same
specifier, or, when `library_pins` pins it, when one differs from the pin; or
when lock files lock it at different versions, or at one outside the pin (a
lock is re-locked by its tool, never rewritten here).
`fix` rewrites the declarations to the pin in place (only the specifier part of
each string or line: names, extras, markers, comments and layout stay) and
writes each file through a temp file and a rename, after every new text was
made and re-read; a mismatch without a pin is refused with the choices.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from helpers import tables
from helpers.errors import UserError
from helpers.model import pyprojects, units

PEP508 = "pep508"  # a requirement string in a pyproject array
POETRY = "poetry"  # a poetry table entry: `name = "^1.2"` or `name = {version = "^1.2"}`
REQUIREMENTS = "requirements"  # one line of a requirements*.txt
LOCK = "lock"  # a `[[package]]` of uv.lock / poetry.lock / pdm.lock: spec is the version
LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock")
REQUIREMENTS_GLOBS = ("requirements*.txt", "requirements*.in")
ANY = "(any)"
_NAME = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*")
_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:#.*)?$")
_LOCK_KEY = re.compile(r'^(name|version)\s*=\s*"([^"]*)"')
_KEY = re.compile(r"""^\s*(["']?)([A-Za-z0-9_.-]+)\1\s*=""")


@dataclass(frozen=True)
class Decl:
    """One declaration of a library by a unit, where it is written and how."""

    library: str  # PEP 503-normalized
    unit: str
    spec: str  # as written ("" = any version)
    file: str  # repo-relative
    line: int  # 1-based
    style: str  # PEP508, POETRY or REQUIREMENTS
    written: str  # the requirement string / poetry value / requirements line, as written

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Report:
    decls: tuple[Decl, ...]  # every third-party declaration read
    mismatched: tuple[str, ...]  # libraries whose declarations differ (or differ from the pin)
    problems: tuple[str, ...]  # bad input, one line each (file:line: what; fix)
    pins: Mapping[str, str]

    def rows(self, only: Optional[Iterable[str]] = None) -> list[Decl]:
        keep = set(self.mismatched if only is None else only)
        return [d for d in self.decls if d.library in keep]

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else (1 if self.mismatched else 0)


def _bump(release: Sequence[int], index: int) -> str:
    head = list(release[: index + 1]) or [0]
    head[-1] += 1
    return ".".join(map(str, head))


def _poetry_part(part: str) -> list[str]:
    """One poetry constraint as PEP 440 specifiers (`^1.2` -> `>=1.2`, `<2`)."""
    if part in ("", "*"):
        return []
    if part.startswith("^") or (part.startswith("~") and not part.startswith("~=")):
        text = part[1:].strip()
        release = Version(text).release
        if part.startswith("^"):
            nonzero = [i for i, n in enumerate(release) if n]
            index = nonzero[0] if nonzero else len(release) - 1
        else:
            index = min(1, len(release) - 1)
        return [f">={text}", f"<{_bump(release, index)}"]
    if part[0].isdigit():
        return [f"=={part}"]
    return [part]


def to_specifier(spec: str, style: str) -> SpecifierSet:
    """What `spec` means as a PEP 440 set; ValueError when it is not one."""
    if style != POETRY:
        return SpecifierSet(spec)
    if "||" in spec or "|" in spec:
        raise ValueError("alternatives (||) are not compared")
    out: list[str] = []
    for part in spec.split(","):
        try:
            out += _poetry_part(part.strip())
        except InvalidVersion as exc:
            raise ValueError(str(exc)) from None
    return SpecifierSet(",".join(out))


def shown(spec: str) -> str:
    return spec if spec.strip() else ANY


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _headers(text: str) -> dict[tuple[str, str], int]:
    """(table header, normalized key) -> line, for `key = ...` lines of a TOML file."""
    out: dict[tuple[str, str], int] = {}
    header = ""
    for number, line in enumerate(text.splitlines(), 1):
        found = _HEADER.match(line)
        if found:
            header = re.sub(r"\s+", "", found.group(1)).replace('"', "")
            continue
        key = _KEY.match(line)
        if key:
            out.setdefault((header, pyprojects.normalize(key.group(2))), number)
    return out


def _pep508_strings(data: Mapping[str, Any]) -> list[str]:
    project = pyprojects.table(data, "project")
    lists: list[Any] = [project.get("dependencies")]
    lists += list(pyprojects.table(project, "optional-dependencies").values())
    lists += list(pyprojects.table(data, "dependency-groups").values())
    return [s for items in lists if isinstance(items, list) for s in items if isinstance(s, str)]


def _poetry_entries(data: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(table header, key, value) of poetry's dependency tables."""
    poetry = pyprojects.table(data, "tool", "poetry")
    tables = [("tool.poetry.dependencies", pyprojects.table(poetry, "dependencies"))]
    tables.append(("tool.poetry.dev-dependencies", pyprojects.table(poetry, "dev-dependencies")))
    for name, group in pyprojects.table(poetry, "group").items():
        deps = pyprojects.table(group, "dependencies")
        tables.append((f"tool.poetry.group.{name}.dependencies", deps))
    return [(h, k, v) for h, deps in tables for k, v in deps.items() if k != "python"]


@functools.cache
def _requirement(text: str) -> Requirement:
    """Parsed once per distinct string (packaging's parser is the slow part of a read)."""
    return Requirement(text)


class _Reader:
    """Declarations and problems of one repo, file by file."""

    def __init__(self, in_repo: Iterable[str]) -> None:
        self.in_repo = set(in_repo)
        self.decls: list[Decl] = []
        self.problems: list[str] = []

    def _add(self, req_text: str, unit: str, file: str, line: int, style: str) -> None:
        try:
            req = _requirement(req_text)
        except InvalidRequirement as exc:
            why = (str(exc).splitlines() or ["not PEP 508"])[0]
            self.problems.append(
                f"{file}:{line}: invalid requirement {req_text.strip()!r} ({why}); "
                "fix it (PEP 508, e.g. 'requests>=2.31')"
            )
            return
        name = pyprojects.normalize(req.name)
        if req.url or name in self.in_repo:
            return
        spec = _NAME.sub("", req_text.split(";", 1)[0], count=1).strip()
        if spec.startswith("(") and spec.endswith(")"):
            spec = spec[1:-1].strip()
        self.decls.append(Decl(name, unit, spec, file, line, style, req_text))

    def pyproject(
        self, unit: str, file: str, text: str, data: Optional[Mapping[str, Any]] = None
    ) -> None:
        """`data`: the parsed text, when already parsed (the units read every pyproject)."""
        if data is None:
            try:
                data = pyprojects.parse(text, file)
            except UserError as err:
                self.problems.append(err.message)
                return
        start = max(text.find("[project]"), 0)
        claimed: set[int] = set()
        for req in _pep508_strings(data):
            offset = -1
            for quoted in (f'"{req}"', f"'{req}'"):
                at = text.find(quoted, start)
                while at >= 0 and at in claimed:
                    at = text.find(quoted, at + 1)
                if at >= 0:
                    offset = at
                    break
            claimed.add(offset)
            self._add(req, unit, file, _line_of(text, offset) if offset >= 0 else 1, PEP508)
        lines = _headers(text)
        for header, key, value in _poetry_entries(data):
            name = pyprojects.normalize(key)
            spec = value.get("version") if isinstance(value, dict) else value
            if name in self.in_repo or not isinstance(spec, str):
                continue  # path / git / url dependencies have no version to compare
            line = lines.get((header, name), lines.get((f"{header}.{key}", "version"), 1))
            try:
                to_specifier(spec, POETRY)
            except (ValueError, InvalidSpecifier) as exc:
                self.problems.append(
                    f"{file}:{line}: {key} = {spec!r} is not a version constraint "
                    f"({str(exc).splitlines()[0] if str(exc) else 'invalid'}); "
                    "fix it (e.g. '^2.31' or '>=2.31,<3')"
                )
                continue
            self.decls.append(Decl(name, unit, spec.strip(), file, line, POETRY, spec))

    def lock(self, unit: str, file: str, text: str) -> None:
        """Locked versions: `name`/`version` of each `[[package]]` (in-repo and local ones
        skipped). A line scan: lock files are machine-written, and it gives line numbers."""
        entry: dict[str, Any] = {}
        for number, line in enumerate([*text.splitlines(), "[[end]]"], 1):
            stripped = line.strip()
            if stripped.startswith("["):
                name, version = entry.get("name"), entry.get("version")
                if name and version and not entry.get("local"):
                    lib = pyprojects.normalize(name[0])
                    if lib not in self.in_repo:
                        self.decls.append(Decl(lib, unit, version[0], file, name[1], LOCK, ""))
                entry = {}
                continue
            found = _LOCK_KEY.match(line)
            if found and found.group(1) not in entry:
                entry[found.group(1)] = (found.group(2), number)
            elif stripped.startswith("source") and re.search(
                r"\b(editable|virtual|directory|path)\b", stripped
            ):
                entry["local"] = True

    def requirements(self, unit: str, file: str, text: str) -> None:
        for number, raw in enumerate(text.splitlines(), 1):
            content = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].strip()
            if not content or content.startswith(("-", ".", "/")) or "://" in content:
                continue  # options (-r, -c, -e, --index-url), paths and URLs
            content = content.removesuffix("\\").strip()
            content = re.split(r"\s--?[a-z]", content, maxsplit=1)[0]  # per-line --hash=...
            self._add(content, unit, file, number, REQUIREMENTS)


def _is_requirements(path: str) -> bool:
    base = path.rpartition("/")[2]
    return any(fnmatch.fnmatchcase(base, glob) for glob in REQUIREMENTS_GLOBS)


def _read_text(root: Path, file: str, problems: list[str]) -> Optional[str]:
    try:
        return pyprojects.read_text(root / file, file)
    except FileNotFoundError:
        return None  # deleted in the work tree, still in the index
    except OSError as exc:
        problems.append(f"{file}: cannot read it ({exc.strerror}); fix the file")
    except UserError as err:  # not UTF-8: file:line
        problems.append(err.message)
    return None


def _compiled(file: str, files: set[str]) -> bool:
    """A requirements*.txt compiled from the .in beside it (pip-tools): a lock."""
    return file.endswith(".txt") and file[: -len(".txt")] + ".in" in files


def collect(
    ws: units.Workspace,
    files: Iterable[str],
    pins: Mapping[str, str],
    scope: Optional[Iterable[str]] = None,
    parsed: Optional[Mapping[str, Mapping[str, Any]]] = None,
    locks: bool = False,
) -> Report:
    """Every unit's direct declarations; `locks`: the versions its lock files lock too
    (transitive ones included, so independent images differ there by design); `scope`:
    only libraries declared by these units count; `parsed`: pyproject data by unit, as
    `units.read_inputs` read it."""
    reader = _Reader(u.project for u in ws.units.values() if u.project)
    files = list(files)
    listed = set(files)
    for file in files:
        base = file.rpartition("/")[2]
        is_pyproject, is_lock = base == units.PYPROJECT, base in LOCK_FILES
        if not is_pyproject and not is_lock and not _is_requirements(file):
            continue
        if not locks and (is_lock or _compiled(file, listed)):
            continue
        unit = ws.owner(file) if not is_pyproject else workspace_dir(file)
        if unit is None or unit not in ws.units:
            continue
        text = _read_text(ws.root, file, reader.problems)
        if text is None:
            continue
        if is_pyproject:
            reader.pyproject(unit, file, text, (parsed or {}).get(unit))
        elif is_lock:
            reader.lock(unit, file, text)
        else:
            reader.requirements(unit, file, text)
    decls = tuple(sorted(reader.decls, key=lambda d: (d.library, d.unit, d.file, d.line)))
    mismatched = _mismatched(decls, pins)
    if scope is not None:
        wanted = set(scope)
        hit = {d.library for d in decls if d.unit in wanted}
        mismatched = [lib for lib in mismatched if lib in hit]
    return Report(decls, tuple(mismatched), tuple(reader.problems), dict(pins))


def workspace_dir(file: str) -> str:
    return file.rpartition("/")[0] or "."


@functools.cache
def _spec_meaning(spec: str, style: str) -> Optional[SpecifierSet]:
    try:
        return to_specifier(spec, style)
    except (ValueError, InvalidSpecifier):
        return None


def _meaning(d: Decl) -> Optional[SpecifierSet]:
    return _spec_meaning(d.spec, d.style)


def _locked_ok(version: str, pin: Optional[str]) -> bool:
    try:
        return pin is None or SpecifierSet(pin).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _mismatched(decls: Sequence[Decl], pins: Mapping[str, str]) -> list[str]:
    """Declarations that mean different things (or not the pin); locks that lock different
    versions (or one outside the pin)."""
    written: dict[str, set[tuple[str, str]]] = {}
    locked: dict[str, set[str]] = {}
    for d in decls:  # distinct spellings first: comparing specifier sets is the slow part
        if d.style == LOCK:
            locked.setdefault(d.library, set()).add(d.spec)
        else:
            written.setdefault(d.library, set()).add((d.spec, d.style))
    out = set()
    for lib, spellings in written.items():
        meanings = {_spec_meaning(*w) or w[0] for w in spellings}
        pin = pins.get(lib)
        if len(meanings) > 1 or (pin is not None and meanings != {SpecifierSet(pin)}):
            out.add(lib)
    for lib, versions in locked.items():
        if len(versions) > 1 or not all(_locked_ok(v, pins.get(lib)) for v in versions):
            out.add(lib)
    return sorted(out)


def differs(d: Decl, pin: str) -> bool:
    if d.style == LOCK:
        return not _locked_ok(d.spec, pin)
    return _meaning(d) != SpecifierSet(pin)


def render_table(report: Report) -> str:
    cells = [("library", "unit", "specifier", "file:line")]
    for d in report.rows():
        pin = report.pins.get(d.library)
        spec = f"{d.spec} (locked)" if d.style == LOCK else shown(d.spec)
        off = pin is not None and differs(d, pin)
        cells.append((d.library, d.unit, spec + (" (pin differs)" if off else ""), d.where))
    return tables.render(cells)


def summary(report: Report) -> str:
    if not report.mismatched:
        return f"check_libs: {len({d.library for d in report.decls})} libraries, all consistent"
    pinned = sum(1 for lib in report.mismatched if lib in report.pins)
    return (
        f"check_libs: {len(report.mismatched)} libraries declared differently "
        f"({pinned} pinned in library_pins); `invoke check_libs --fix` rewrites pinned ones"
    )


def differing(report: Report) -> list[Decl]:
    """The declarations that make a library a mismatch: those off its pin, or (unpinned)
    every declaration of it."""
    return [
        d
        for d in report.rows()
        if d.library not in report.pins or differs(d, report.pins[d.library])
    ]


def relock_hints(report: Report) -> list[str]:
    """Lock files that still lock a version the pins (or the other locks) disagree with."""
    files = sorted({d.file for d in differing(report) if d.style == LOCK})
    return [f"{f}: locked versions differ; re-lock it (uv lock / poetry lock)" for f in files]
