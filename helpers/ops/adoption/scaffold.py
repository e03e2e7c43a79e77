"""create_runnable_dir: make a pyproject package (or a new dir) a runnable dir in one step.

Written: `changelog.txt` (seeded with the pyproject version), `devops/Dockerfile`
(the base image plus the install helper: in-repo dependencies, then third-party
ones with the test extras, then pytest) and a `.dockerignore` that keeps caches,
virtualenvs, build output and tests out of the context. A new dir also gets a
src-layout package with one test, so its build and tests pass out of the box.
Existing files are never overwritten without `force`; every file is written
atomically, and nothing is written when any check fails.
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.effects import fsutil
from helpers.errors import UserError
from helpers.model import changelog, pyprojects, workspace
from helpers.ops.adoption import sync

NEW_TEST = """import {module}


def test_version() -> None:
    assert {module}.__version__ == "{version}"
"""


NEW_PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
dependencies = []

[project.optional-dependencies]
test = ["pytest"]
"""


@dataclass(frozen=True)
class Created:
    rel_dir: str
    written: tuple[str, ...]  # repo-relative
    version: str


def _xyz(version: str) -> str:
    numbers = re.match(r"^\s*v?(\d+(?:\.\d+){0,2})", version)
    parts = numbers.group(1).split(".") if numbers else ["0", "1", "0"]
    return ".".join([*parts, "0", "0"][:3])


def _project(path: Path) -> Mapping[str, Any]:
    data = pyprojects.parse(path.read_text(encoding="utf-8"), str(path))
    project = pyprojects.table(data, "project")
    if not project:
        raise UserError(
            f"{path}: no [project] table; add one with name and version "
            "(create_runnable_dir reads both)"
        )
    return project


def plan(root: Path, target: Path, today: str) -> tuple[dict[str, str], str]:
    """The files to write (relative to `target`) and the version (`today` dates the entry)."""
    pyproject = target / pyprojects.FILENAME
    files = {dest: sync.template_text(src) for dest, src in sync.DIR_TEMPLATES}
    if pyproject.is_file():
        project = _project(pyproject)
        name = str(project.get("name") or target.name)
        raw = project.get("version")
        version = _xyz(raw) if isinstance(raw, str) else "0.1.0"
    else:
        # A dir name with spaces is fine; a package name is not (PEP 508): `new svc` -> `new-svc`.
        name, version = re.sub(r"\s+", "-", target.name.strip()), "0.1.0"
        module = re.sub(r"\W", "_", pyprojects.normalize(name))
        if not module.isidentifier():
            raise UserError(f"create_runnable_dir {name!r}: not usable as a package name")
        files[pyprojects.FILENAME] = NEW_PYPROJECT.format(name=name, version=version)
        files[f"src/{module}/__init__.py"] = f'__version__ = "{version}"\n'
        files[f"tests/test_{module}.py"] = NEW_TEST.format(module=module, version=version)
    label = re.sub(r"\s+", "-", name)
    files[changelog.FILENAME] = (
        f"# {label}-{version}\n- {today}\n- Made a runnable dir (create_runnable_dir)\n"
    )
    return files, version


def _not_a_source_folder(target: Path, root: Path, cwd: Path, name: str) -> None:
    """`libs/a/src` or anything in it is package a's code, not a package: making one there
    nests a second package (often of the same name) inside the first."""
    for folder in (target, *target.parents):
        if folder == root.parent:
            return
        owner = folder.parent
        if folder.name == "src" and (owner / pyprojects.FILENAME).is_file():
            fix = shlex.quote(os.path.relpath(owner, cwd))
            raise UserError(
                f"create_runnable_dir {name}: {target} is inside the source folder of the "
                f"package in {owner}; make the package runnable: invoke create_runnable_dir {fix}"
            )


def create(root: Path, cwd: Path, name: str, force: bool = False) -> Created:
    if not name.strip():
        raise UserError("create_runnable_dir needs a dir: invoke create_runnable_dir DIR")
    target = (cwd / name).resolve()
    if target != root and root not in target.parents:
        raise UserError(f"create_runnable_dir {name}: {target} is outside the repo {root}")
    _not_a_source_folder(target, root, cwd, name)
    files, version = plan(root, target, datetime.date.today().isoformat())
    clashes = [rel for rel in files if (target / rel).exists()]
    if clashes and not force:
        shown = ", ".join(clashes[:3])
        raise UserError(
            f"create_runnable_dir {name}: {shown} already exist(s) in {target}; "
            "pass --force to overwrite"
        )
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.write_atomic(path, text)
    rel_dir = workspace.relative(root, target)
    sync.record_dir_files(root, rel_dir, {d: files[d] for d, _ in sync.DIR_TEMPLATES})
    written = tuple(rel if rel_dir == "." else f"{rel_dir}/{rel}" for rel in sorted(files))
    return Created(rel_dir, written, version)
