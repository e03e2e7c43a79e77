"""pyproject.toml: a package's name, version and the projects and paths it depends on.

Read with tomllib (Python 3.11+) or, on older Pythons, the `tomli` package when
installed; without either, reading a pyproject.toml is a UserError that says so.
Names are compared PEP 503-normalized; requirement strings are cut at their name
(extras, versions and markers do not matter for who depends on whom).
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlparse

from helpers.errors import UserError

FILENAME = "pyproject.toml"
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def normalize(name: str) -> str:
    """PEP 503 project name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the thin env is 3.11+
        try:
            import tomli as tomllib
        except ImportError:
            raise UserError(
                "reading pyproject.toml needs Python 3.11+ or the tomli package: "
                "`pip install tomli` into the thin env"
            ) from None
    return tomllib.loads(text)


def parse(text: str, where: str) -> dict[str, Any]:
    try:
        return _toml_loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise UserError(f"{where}: invalid TOML ({exc}); fix the syntax") from None


def read_text(path: Path, where: str) -> str:
    """A pyproject.toml's text (a UTF-8 BOM is fine); bytes that are not UTF-8 are bad
    input like any other config file's: a UserError naming `where`:line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise UserError(
            f"{where}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None


def load(path: Path, where: str) -> dict[str, Any]:
    """Read and parse one pyproject.toml (`where` names it in errors)."""
    return parse(read_text(path, where), where)


def table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    """The table that names the package: `[project]`, else poetry's `[tool.poetry]`
    (name, version, dependencies, packages); empty when neither is there."""
    return table(data, "project") or table(data, "tool", "poetry")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _poetry_tables(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    poetry = table(data, "tool", "poetry")
    groups = [table(g, "dependencies") for g in table(poetry, "group").values()]
    return [table(poetry, "dependencies"), table(poetry, "dev-dependencies"), *groups]


def _requirements(data: Mapping[str, Any]) -> list[str]:
    """PEP 508 strings of the dependencies, optional dependencies and dependency groups."""
    project = table(data, "project")
    reqs = _strings(project.get("dependencies"))
    for extra in table(project, "optional-dependencies").values():
        reqs += _strings(extra)
    for group in table(data, "dependency-groups").values():
        reqs += _strings(group)
    return reqs


def required_names(data: Mapping[str, Any]) -> set[str]:
    """Normalized names of every project this pyproject depends on, any table."""
    names = {m.group(1) for m in map(_REQ_NAME.match, _requirements(data)) if m}
    for deps in _poetry_tables(data):
        names.update(k for k in deps if k != "python")
    return {normalize(n) for n in names}


def file_references(data: Mapping[str, Any]) -> list[str]:
    """Absolute paths of `name @ file:///...` direct references, any table."""
    out = []
    for req in _requirements(data):
        _, at, url = req.partition("@")
        url = url.strip().split(";")[0].strip()
        if at and url.startswith("file:"):
            out.append(unquote(urlparse(url).path).rstrip("/"))
    return out


def source_paths(data: Mapping[str, Any]) -> list[str]:
    """Relative paths of uv `path` sources and poetry `path` dependencies."""
    specs: list[Any] = []
    for spec in table(data, "tool", "uv", "sources").values():
        specs += spec if isinstance(spec, list) else [spec]
    for deps in _poetry_tables(data):
        specs += list(deps.values())
    return [s["path"] for s in specs if isinstance(s, dict) and isinstance(s.get("path"), str)]


def poetry_packages(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(from, include) of poetry's `packages = [{include, from}]`, relative to the
    pyproject's dir (`from` defaults to "."); globs and files are kept as written."""
    out = []
    for entry in table(data, "tool", "poetry").get("packages") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("include"), str):
            continue
        where = entry.get("from", ".")
        out.append((where if isinstance(where, str) else ".", entry["include"]))
    return out


def _rel_join(rel_dir: str, path: str) -> str:
    """`path` (relative to the repo dir `rel_dir`) relative to the repo root ("../x" may
    come out for a path that leaves the repo)."""
    joined = posixpath.normpath(posixpath.join(rel_dir if rel_dir != "." else "", path))
    return "." if joined in ("", ".") else joined


def package_paths(rel_dir: str, data: Mapping[str, Any]) -> list[str]:
    """Repo paths of what poetry `packages` include: `from/include`, cut at the first glob."""
    out = []
    for where, include in poetry_packages(data):
        plain = re.split(r"[*?\[]", include, maxsplit=1)[0].rstrip("/")
        out.append(_rel_join(rel_dir, posixpath.join(where, plain) if plain else where))
    return list(dict.fromkeys(p for p in out if not p.startswith("..")))


def import_roots_of(rel_dir: str, data: Mapping[str, Any]) -> list[str]:
    """Repo dirs to put on the import path so poetry's `packages` import as they do once
    installed: each `from` other than the dir itself (polylith's bases/, components/)."""
    roots = [_rel_join(rel_dir, where) for where, _ in poetry_packages(data)]
    return list(dict.fromkeys(r for r in roots if r != rel_dir and not r.startswith("..")))


def import_roots(root: Path, rel_dir: str) -> list[str]:
    """The extra import roots of the repo dir `rel_dir` (repo-relative), from its
    pyproject.toml; none without one. Containers put them on PYTHONPATH."""
    path = (root if rel_dir == "." else root / rel_dir) / FILENAME
    if not path.is_file():
        return []
    where = FILENAME if rel_dir == "." else f"{rel_dir}/{FILENAME}"
    return import_roots_of(rel_dir, load(path, where))


_META_HEADER = re.compile(r"^\s*\[\s*(project|tool\s*\.\s*poetry)\s*\]\s*(?:#.*)?$")
_VERSION_LINE = re.compile(r"""^(\s*version\s*=\s*)(["'])([^"'\\]*)\2""")


def with_version(text: str, version: str, where: str) -> Optional[str]:
    """`text` with the static `version` of `[project]` and `[tool.poetry]` set to `version`
    (only the string changes: layout, comments, quotes stay); None when neither table
    states one (no such table, or a dynamic version)."""
    lines = text.splitlines(keepends=True)
    in_meta, changed = False, False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            in_meta = _META_HEADER.match(line) is not None
            continue
        found = _VERSION_LINE.match(line) if in_meta else None
        if found:
            lines[i] = f"{found.group(1)}{found.group(2)}{version}{found.group(2)}"
            lines[i] += line[found.end() :]
            changed = True
    if not changed:
        return None
    new = "".join(lines)
    if (
        metadata(parse(new, f"{where} (with the new version, not written)")).get("version")
        != version
    ):
        return None  # a layout the line scan does not follow: leave the file alone
    return new


def _dir_of(path: str) -> str:
    return path.rpartition("/")[0] or "."


def read_all(root: Path, files: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Parsed pyproject.toml of every dir holding one (by dir), among `files`."""
    out = {}
    for path in files:
        if path != FILENAME and not path.endswith("/" + FILENAME):
            continue
        try:
            text = read_text(Path(os.path.join(root, path)), path)
        except (FileNotFoundError, NotADirectoryError):
            continue  # deleted in the work tree but still in the index: not a unit now
        out[_dir_of(path)] = parse(text, path)
    return out
