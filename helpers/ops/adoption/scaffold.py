"""create_runnable_dir: make a pyproject package (or a new dir) a runnable dir in one step.

Written: `changelog.txt` (seeded with the package's version: `[project]`, or poetry's
`[tool.poetry]`), `devops/Dockerfile` (the base image plus the install helper:
third-party dependencies with the test extras and pytest, then in-repo ones) and a
`.dockerignore` that keeps caches, virtualenvs, build output and tests out of the
context. A new dir also gets a src-layout package with one test, so its build and
tests pass out of the box.

Only helpers' own devops files are ever replaced: one that exists and differs from
the template is refused, listed, and `force` replaces exactly those. Everything else
that exists is kept as it is and said so: a changelog (its history), the package's
code, tests and pyproject. Every file is written atomically, and nothing is written
when any check fails. A dir inside a submodule (helpers' own checkout included) is
refused; one inside a `src/` folder is made with a warning.
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

from helpers import events
from helpers.effects import fsutil
from helpers.errors import UserError
from helpers.model import changelog, pyprojects, workspace
from helpers.ops.adoption import sync
from helpers.outcome import Outcome

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
    kept: tuple[str, ...] = ()  # repo-relative: existing files left as they were


def _xyz(version: str) -> str:
    numbers = re.match(r"^\s*v?(\d+(?:\.\d+){0,2})", version)
    parts = numbers.group(1).split(".") if numbers else ["0", "1", "0"]
    return ".".join([*parts, "0", "0"][:3])


def _project(path: Path, where: str) -> Mapping[str, Any]:
    project = pyprojects.metadata(pyprojects.load(path, where))
    if not project:
        raise UserError(
            f"{where}: no [project] table (nor poetry's [tool.poetry]); add one with name "
            "and version (create_runnable_dir reads both)"
        )
    return project


def plan(root: Path, target: Path, today: str) -> tuple[dict[str, str], str]:
    """The files to write (relative to `target`) and the version (`today` dates the entry)."""
    pyproject = target / pyprojects.FILENAME
    files = {dest: sync.template_text(src) for dest, src in sync.DIR_TEMPLATES}
    if pyproject.is_file():
        project = _project(pyproject, workspace.relative(root, pyproject))
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


def _not_in_a_submodule(target: Path, root: Path, name: str) -> None:
    """A submodule (helpers' checkout above all) is another repo: nothing of ours goes there."""
    helpers_dir = sync.helpers_root()
    for folder in (target, *target.parents):
        if folder == root:
            return
        if folder == helpers_dir or (folder / ".git").exists():
            what = "the helpers checkout" if folder == helpers_dir else "a git submodule"
            raise UserError(
                f"create_runnable_dir {name}: {target} is inside {what} ({folder}), another "
                "repo; make the runnable dir outside it"
            )


def _src_warning(target: Path, root: Path, name: str) -> None:
    for folder in (target, *target.parents):
        if folder == root:
            return
        if folder.name == "src":
            events.warning(
                f"create_runnable_dir {name}: {target} is inside a src/ folder ({folder}), "
                "which usually holds a package's code; a runnable dir is usually the dir "
                "that holds the package's pyproject.toml"
            )
            return


def _split(target: Path, files: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(to write, helpers' files that differ and need `force`, files kept as they are)."""
    ours = {dest for dest, _ in sync.DIR_TEMPLATES}
    package = [rel for rel in files if rel not in ours and rel != changelog.FILENAME]
    new_package_clashes = any((target / rel).exists() for rel in package)
    write: list[str] = []
    differ: list[str] = []
    kept: list[str] = []
    for rel, text in files.items():
        path = target / rel
        if rel in ours:
            same = path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text
            if not same:  # the same text: nothing to write
                (differ if path.exists() else write).append(rel)
        elif path.exists():
            kept.append(rel)  # never replaced: history, code, tests
        elif rel not in package or not new_package_clashes:
            write.append(rel)  # (a new package's files: all of them, or none)
    return write, differ, kept


def create(root: Path, cwd: Path, name: str, force: bool = False) -> Created:
    if not name.strip():
        raise UserError("create_runnable_dir needs a dir: invoke create_runnable_dir DIR")
    target = (cwd / name).resolve()
    if target != root and root not in target.parents:
        raise UserError(f"create_runnable_dir {name}: {target} is outside the repo {root}")
    _not_in_a_submodule(target, root, name)
    _not_a_source_folder(target, root, cwd, name)
    files, version = plan(root, target, datetime.date.today().isoformat())
    write, differ, kept = _split(target, files)
    rel_dir = workspace.relative(root, target)

    def shown(rels: list[str]) -> tuple[str, ...]:
        return tuple(rel if rel_dir == "." else f"{rel_dir}/{rel}" for rel in sorted(rels))

    if differ and not force:
        raise UserError(
            f"create_runnable_dir {name}: {', '.join(shown(differ))} already exist(s) and "
            "differ(s) from helpers' template; pass --force to replace exactly "
            f"{'that file' if len(differ) == 1 else 'those files'} (other files are kept)"
        )
    if changelog.FILENAME in kept:
        version = str(changelog.load(target / changelog.FILENAME).version)
    _src_warning(target, root, name)
    for rel in [*write, *differ]:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.write_atomic(path, files[rel])
    sync.record_dir_files(root, rel_dir, {d: files[d] for d, _ in sync.DIR_TEMPLATES})
    return Created(rel_dir, shown([*write, *differ]), version, shown(kept))


def create_here(name: str, force: bool = False) -> Outcome:
    """`create_runnable_dir NAME` from the current dir: the files written on stdout; what was
    kept and the next step on stderr."""
    cwd = Path.cwd().resolve()
    made = create(workspace.find_repo_root(cwd), cwd, name, force)
    if made.kept:
        events.progress(f"kept as they were: {', '.join(made.kept)}")
    events.progress(
        f"{made.rel_dir} is a runnable dir at version {made.version}: next, "
        f"`invoke docker_build_local_image --dir {shlex.quote(made.rel_dir)}`"
    )
    return Outcome.of(made.written)
