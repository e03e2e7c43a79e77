"""A runnable dir's build context with its in-repo dependency units, and the install helper.

The dir's own files are the context root (as `build_context` collects them). Every
in-repo unit the dir depends on (transitively, from the graph `deps` shows) is copied
under `.helpers/units/<repo path>/`, a package the dir holds too when the dir itself
depends on it (after the unit's own `.dockerignore`; nested units and submodules left out).
Beside them, `.helpers/` gets:

  - `units.txt`: those units' repo paths, dependencies first;
  - `requirements.txt`: the third-party requirements of the dir (its `[project]`
    dependencies plus its test extras or groups `test`, `tests`, `dev`; poetry
    tables translated) and of its dependency units, with every in-repo name left
    out: a `file://` direct reference, a uv path source or a poetry path
    dependency naming an in-repo unit is satisfied by that unit's copy;
  - `constraints.txt`: the dir's lock (uv.lock, poetry.lock, or requirements.txt
    compiled from requirements.in) as pins, applied to the third-party install;
  - `install-deps.sh`, which a Dockerfile runs after `COPY .helpers/ ...`: it
    copies each unit to its place under the mount point (/app/<repo path>) and
    installs it editable there, dependencies first and without their own
    dependencies, then installs `requirements.txt`. At run time the repo is
    mounted at /app, so the editable installs point at the mounted code: an edit
    to a dependency's code needs no rebuild; a change to what it installs does.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from helpers.errors import UserError
from helpers.model import graph, project, pyprojects, units, workspace
from helpers.ops.images import build_context, requirements

UNITS_DIR = ".helpers/units"
ORDER_FILE = ".helpers/units.txt"
REQUIREMENTS_FILE = ".helpers/requirements.txt"
CONSTRAINTS_FILE = ".helpers/constraints.txt"
SCRIPT_FILE = ".helpers/install-deps.sh"
UNITS_KEEP = f"{UNITS_DIR}/.keep"
ROOT_COPY = ".root"  # the copy name of the repo-root unit (".")


# Files that say what gets installed (dependency manifests and locks), by base name.
MANIFESTS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "requirements*.txt",
    "requirements*.in",
    "constraints*.txt",
)


INSTALL_SCRIPT = f"""#!/bin/sh
# Written by helpers: install the runnable dir's dependencies, in two steps a Dockerfile
# can run as two layers (manifests and requirements first: an edit to a dependency's
# code then reruns only the quick second step):
#   third-party  the third-party requirements of the dir and of its in-repo dependency
#                units, pinned by the dir's lock (constraints.txt);
#   units        those units (copied under units/, dependencies first), each editable at
#                its place under the mount point, so that at run time its code comes
#                from the mounted repo.
# No argument: both, units first.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
python="${{HELPERS_PYTHON:-python3}}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

install_units() {{
    [ -s "$here/units.txt" ] || return 0
    while IFS= read -r unit; do
        [ -n "$unit" ] || continue
        copy="$unit"; dest="{project.MOUNT}/$unit"
        if [ "$unit" = "." ]; then copy="{ROOT_COPY}"; dest="{project.MOUNT}"; fi
        mkdir -p "$dest"
        cp -a "$here/units/$copy/." "$dest/"
        [ -f "$dest/pyproject.toml" ] || [ -f "$dest/setup.py" ] || continue
        echo "helpers: installing in-repo $unit (editable at $dest)"
        # Fast with the image's own backend (setuptools); a unit built by another one
        # (hatchling, uv_build, poetry-core, flit) gets it, and what its editable build
        # needs, in pip's isolated build environment from the index.
        if ! "$python" -m pip install --quiet --no-deps --no-build-isolation --editable "$dest" \
            >"$here/unit.log" 2>&1; then
            "$python" -m pip install --quiet --no-deps --editable "$dest" \
                || {{ cat "$here/unit.log" >&2; return 1; }}
        fi
    done < "$here/units.txt"
}}

install_third_party() {{
    grep -q '[^[:space:]]' "$here/requirements.txt" 2>/dev/null || return 0
    set -- -r "$here/requirements.txt"
    if grep -q '[^[:space:]]' "$here/constraints.txt" 2>/dev/null; then
        echo "helpers: installing third-party requirements, pinned by the dir's lock"
        set -- "$@" -c "$here/constraints.txt"
    else
        echo "helpers: installing third-party requirements"
    fi
    # pip's own output only when it fails, but whole: --quiet would hide the lines
    # that name the requirements in conflict ("The conflict is caused by: ...").
    if ! "$python" -m pip install "$@" >"$here/pip.log" 2>&1; then
        cat "$here/pip.log" >&2
        echo "helpers: pip could not install the third-party requirements; pip's reason" \\
            "is above. 'The user requested' lines are requirements.txt (the dir's and its" \\
            "units' pyproject.toml), '(constraint)' ones the dir's lock: re-lock it with" \\
            "invoke docker_update_lock, or change the requirement" >&2
        return 1
    fi
}}

case "${{1:-all}}" in
    units) install_units ;;
    third-party) install_third_party ;;
    all) install_units; install_third_party ;;
    *) echo "install-deps.sh: no step $1 (units, third-party)" >&2; exit 2 ;;
esac
"""


_MANIFEST = re.compile("|".join(fnmatch.translate(p) for p in MANIFESTS))


def is_manifest(rel: str) -> bool:
    """A dependency manifest or lock (`MANIFESTS`, by base name)."""
    return _MANIFEST.match(rel.rpartition("/")[2]) is not None


@dataclass(frozen=True)
class DepUnits:
    order: tuple[str, ...]  # dependency units copied into the context, dependencies first
    files: Mapping[str, Path]  # context path -> host file
    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()  # the dir's lock as pins (see `locks`)

    def injected(self) -> dict[str, bytes]:
        return {
            ORDER_FILE: "".join(f"{u}\n" for u in self.order).encode(),
            REQUIREMENTS_FILE: "".join(f"{r}\n" for r in self.requirements).encode(),
            CONSTRAINTS_FILE: "".join(f"{c}\n" for c in self.constraints).encode(),
            SCRIPT_FILE: INSTALL_SCRIPT.encode(),
            UNITS_KEEP: b"",  # units/ exists with no unit too: `COPY .helpers/units/` needs it
        }


def copy_dir(unit: str) -> str:
    return f"{UNITS_DIR}/{ROOT_COPY if unit == '.' else unit}"


def topo_order(g: graph.Graph, nodes: Iterable[str]) -> list[str]:
    """`nodes` with every node after the nodes it depends on (ties in path order)."""
    wanted = set(nodes)
    out: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dep in sorted(g.get(node, ())):
            visit(dep)
        if node in wanted:
            out.append(node)

    for node in sorted(wanted):
        visit(node)
    return out


def _holder(ws: units.Workspace, unit: str) -> Optional[str]:
    """The runnable dir whose context holds the unit's files."""
    return unit if ws.units[unit].kind == units.RUNNABLE else ws.within.get(unit)


def dependency_units(ws: units.Workspace, rel_dir: str) -> list[str]:
    """Units to install in the dir's image, dependencies first: those it or a package it
    holds depends on that lie outside its context, and the packages it holds that it
    depends on itself (a uv workspace whose root app needs its `packages/` members: their
    files are in the context, yet nothing makes them importable unless installed)."""
    seeds = [rel_dir, *(p for p, holder in ws.within.items() if holder == rel_dir)]
    reach = graph.closure(ws.deps, [s for s in seeds if s in ws.units])
    needed = graph.closure(ws.deps, [rel_dir] if rel_dir in ws.units else [])
    wanted = [u for u in reach if u != rel_dir and (_holder(ws, u) != rel_dir or u in needed)]
    return topo_order(ws.deps, wanted)


def _unit_files(ws: units.Workspace, unit: str) -> dict[str, Path]:
    root = ws.root if unit == "." else ws.root / unit
    inside = [u for u in ws.units if u not in (".", unit) and workspace.is_under(u, unit)]
    others = {str(ws.root / u) for u in inside}  # units nested in this one: not its files

    def skip(path: Path) -> bool:
        return str(path) in others or (path / ".git").exists()

    runnable = ws.units[unit].kind == units.RUNNABLE
    dockerfile = workspace.dockerfile_of(root) if runnable else build_context.IGNORE_FILE
    ctx = build_context.collect(root, dockerfile, skip_dir=skip)
    prefix = copy_dir(unit)
    return {f"{prefix}/{rel}": root / rel for rel in ctx.files}


def read_pyproject(
    ws: units.Workspace, unit: str, must_be_package: bool
) -> Optional[Mapping[str, Any]]:
    data = ws.pyprojects.get(unit)  # as the command read it
    path = (ws.root if unit == "." else ws.root / unit) / pyprojects.FILENAME
    if data is None and not ws.pyprojects and path.is_file():  # a workspace made without
        data = pyprojects.load(path, requirements.where_of(unit))
    if data is None:
        return None
    if must_be_package:
        _check_project(data, unit)
    return data


def _check_project(data: Mapping[str, Any], unit: str) -> None:
    """A unit others depend on must say what it is: `[project]` (or poetry's table)."""
    if "project" not in data and not pyprojects.table(data, "tool", "poetry"):
        raise UserError(
            f"{requirements.where_of(unit)}: no [project] table, yet other units depend on it; add "
            "[project] with name and version (and dependencies)"
        )


def dep_units(target: project.Target, ws: units.Workspace) -> DepUnits:
    """The dir's dependency units, from the workspace the command read (`ws`, checked
    for cycles as `units.load` read it); reads only the dir's own closure (its lock, its
    dependency units' files)."""
    from helpers.ops.images import locks

    in_repo = {u.project for u in ws.units.values() if u.project}
    pins = tuple(locks.constraints(target.path, in_repo, target.root))
    if target.rel_dir not in ws.units:  # e.g. not yet known to git: no graph to follow
        return DepUnits((), {}, (), pins)
    order = dependency_units(ws, target.rel_dir)
    files: dict[str, Path] = {}
    for unit in order:
        files.update(_unit_files(ws, unit))
    return DepUnits(tuple(order), files, requirements.requirements(ws, target.rel_dir, order), pins)


def env_file_in(target: project.Target) -> list[str]:
    """The configured env file, relative to the context, when it lies inside it."""
    env_file = (target.root / target.cfg.env_file).resolve()
    try:
        return [env_file.relative_to(target.path.resolve()).as_posix()]
    except ValueError:
        return []
