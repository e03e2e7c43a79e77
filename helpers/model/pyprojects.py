"""pyproject.toml: a package's name, version and the projects and paths it depends on.

Read with tomllib (Python 3.11+) or, on older Pythons, the `tomli` package when
installed; without either, reading a pyproject.toml is a UserError that says so.
Names are compared PEP 503-normalized; requirement strings are cut at their name
(extras, versions and markers do not matter for who depends on whom).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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


def table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


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
    from urllib.parse import unquote, urlparse

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


def _dir_of(path: str) -> str:
    return path.rpartition("/")[0] or "."


def read_all(root: Path, files: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Parsed pyproject.toml of every dir holding one (by dir), among `files`."""
    out = {}
    for path in files:
        if path != FILENAME and not path.endswith("/" + FILENAME):
            continue
        try:
            with open(os.path.join(root, path), encoding="utf-8") as handle:
                text = handle.read()
        except (FileNotFoundError, NotADirectoryError):
            continue  # deleted in the work tree but still in the index: not a unit now
        out[_dir_of(path)] = parse(text, path)
    return out
