"""The third-party requirements a dir's image installs: its `[project]` dependencies and
test extras or groups, poetry tables translated to PEP 508, and those of its dependency
units; in-repo packages (by name or path source) are left to the dependency units.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlparse

from helpers import events
from helpers.errors import UserError
from helpers.model import pyprojects, units
from helpers.ops.images import depunits

TEST_EXTRAS = ("test", "tests", "dev")
_REQ = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _caret(version: str, tilde: bool) -> str:
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")]
    if tilde:
        upper = [parts[0], parts[1] + 1] if len(parts) > 1 else [parts[0] + 1]
    else:
        first = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
        upper = [*parts[:first], parts[first] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"


def poetry_requirement(name: str, spec: Any) -> Optional[str]:
    """A poetry dependency as a PEP 508 requirement; None for path/git/url/optional ones."""
    extras: list[str] = []
    if isinstance(spec, dict):
        if any(k in spec for k in ("path", "git", "url")) or spec.get("optional"):
            return None
        extras = _strings(spec.get("extras"))
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        return None
    spec = spec.strip()
    if spec.startswith(("^", "~")) and not spec.startswith("~="):
        version = spec.lstrip("^~").strip()
        spec = _caret(version, spec.startswith("~"))
    elif spec and spec[0].isdigit():
        spec = f"=={spec}"
    elif spec == "*":
        spec = ""
    return f"{name}{'[' + ','.join(extras) + ']' if extras else ''}{spec}"


def _poetry_reqs(data: Mapping[str, Any], own: bool) -> list[str]:
    poetry = pyprojects.table(data, "tool", "poetry")
    tables = [pyprojects.table(poetry, "dependencies")]
    if own:
        tables.append(pyprojects.table(poetry, "dev-dependencies"))
        groups = pyprojects.table(poetry, "group")
        tables += [pyprojects.table(groups, g, "dependencies") for g in TEST_EXTRAS]
    out = []
    for deps in tables:
        for name, spec in deps.items():
            req = poetry_requirement(name, spec) if name != "python" else None
            out += [req] if req else []
    return out


def _pep621_reqs(data: Mapping[str, Any], extras: Iterable[str]) -> list[str]:
    project_table = pyprojects.table(data, "project")
    reqs = _strings(project_table.get("dependencies"))
    optional = pyprojects.table(project_table, "optional-dependencies")
    for extra in extras:
        reqs += _strings(optional.get(extra))
    return reqs


def _own_reqs(data: Mapping[str, Any]) -> list[str]:
    reqs = _pep621_reqs(data, TEST_EXTRAS)
    groups = pyprojects.table(data, "dependency-groups")
    for group in TEST_EXTRAS:
        reqs += _strings(groups.get(group))
    return reqs + _poetry_reqs(data, own=True)


def _path_source_names(data: Mapping[str, Any]) -> dict[str, str]:
    """Names given a path by uv sources or poetry path dependencies -> that path."""
    out = {}
    for name, spec in pyprojects.table(data, "tool", "uv", "sources").items():
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, dict) and isinstance(one.get("path"), str):
                out[pyprojects.normalize(name)] = one["path"]
    for name, spec in pyprojects.table(data, "tool", "poetry", "dependencies").items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            out[pyprojects.normalize(name)] = spec["path"]
    return out


def where_of(unit: str) -> str:
    return pyprojects.FILENAME if unit == "." else f"{unit}/{pyprojects.FILENAME}"


def _note_extras(reqs: Iterable[str], wanted: dict[str, set[str]]) -> None:
    for req in reqs:
        match = _REQ.match(req)
        if match and match.group(2):
            names = {e.strip() for e in match.group(2).split(",") if e.strip()}
            wanted.setdefault(pyprojects.normalize(match.group(1)), set()).update(names)


def _outside(ws: units.Workspace, unit: str, req: str, path_source: Optional[str]) -> str:
    """The path a `file://` reference or path source names, when it leaves the repo."""
    if path_source is not None:
        joined = posixpath.normpath(posixpath.join(unit if unit != "." else "", path_source))
        return path_source if joined.startswith("..") else ""
    _, at, url = req.partition("@")
    url = url.split(";")[0].strip()
    if not at or not url.startswith("file:"):
        return ""
    where = Path(unquote(urlparse(url).path))
    root = ws.root.resolve()
    return "" if where == root or root in where.parents else url


_noted: set[tuple[str, str, str]] = set()


def _note_outside(ws: units.Workspace, unit: str, req: str, path_source: Optional[str]) -> None:
    """One line (once per process) when a reference outside the repo is taken by name."""
    outside = _outside(ws, unit, req, path_source)
    match = _REQ.match(req)
    key = (str(ws.root), unit, req)
    if not outside or not match or key in _noted:
        return
    _noted.add(key)
    name = pyprojects.normalize(match.group(1))
    holders = ", ".join(sorted(p for p, u in ws.units.items() if u.project == name))
    events.warning(
        f"{where_of(unit)}: {match.group(1)} points outside the repo ({outside}); the image "
        f"installs the in-repo package of that name instead ({holders})"
    )


def requirements(ws: units.Workspace, rel_dir: str, order: Sequence[str]) -> tuple[str, ...]:
    """Third-party requirements of the dir and its dependency units; in-repo names left out."""
    in_repo = {u.project for u in ws.units.values() if u.project}
    own = depunits.read_pyproject(ws, rel_dir, must_be_package=False)
    found = [(rel_dir, r) for r in _own_reqs(own)] if own is not None else []
    wanted_extras: dict[str, set[str]] = {}
    _note_extras((r for _, r in found), wanted_extras)
    data_of = {rel_dir: own}
    for unit in reversed(order):  # dependents before dependencies: the extras they ask for
        data = data_of[unit] = depunits.read_pyproject(ws, unit, must_be_package=True)
        if data is None:
            continue
        extras = sorted(wanted_extras.get(ws.units[unit].project, ()))
        reqs = _pep621_reqs(data, extras) + _poetry_reqs(data, own=False)
        _note_extras(reqs, wanted_extras)
        found += [(unit, r) for r in reqs]
    out: dict[str, None] = {}
    for unit, req in found:
        match = _REQ.match(req)
        if not match:
            continue
        name = pyprojects.normalize(match.group(1))
        path_source = _path_source_names(data_of.get(unit) or {}).get(name)
        if name in in_repo:  # satisfied by the unit's copy, whatever path or reference names it
            _note_outside(ws, unit, req, path_source)
            continue
        if path_source is not None or re.search(r"@\s*file:", req):
            shown = f" (path {path_source})" if path_source else ""
            raise UserError(
                f"{where_of(unit)}: dependency {req!r}{shown} is a path that holds no in-repo "
                "package (outside the repo, or not a package); point it at a package inside "
                "the repo, or depend on it by name from an index"
            )
        out[req.strip()] = None
    return tuple(sorted(out))
