"""Units and their declared dependencies, built from the repo's file list.

A *unit* is a runnable dir (changelog.txt + devops/Dockerfile) or a Python
package (a dir with pyproject.toml); it is named by its repo-relative path
("." for the root). Every file belongs to its innermost unit; a runnable dir's
image inputs (devops/, changelog.txt) are its own files.

Declared dependencies (the edges `deps` prints and cycles are checked on):
  - in-repo packages named in pyproject.toml: `[project] dependencies`,
    `optional-dependencies`, `[dependency-groups]` and poetry's dependency
    tables, matched by normalized project name (PEP 503);
  - `[tool.uv.sources]` path sources and poetry `path = ...` dependencies,
    matched by path (uv `workspace = true` sources match by name, as above);
  - `depends_on` paths in the unit's own repo_config.yaml (repo-root-relative;
    the root dir's come from the repo-wide file);
  - what poetry's `packages = [{include, from}]` takes from outside the unit
    (polylith's `bases/` and `components/`).
    A path that is a unit or holds units is an edge to those units; any other
    path is *watched*: a change under it counts as a change of the unit itself.
Containment is not an edge: a package inside a runnable dir is tested in that
dir's container, so the dir is affected whenever the package is (`within`).

Global inputs (a change affects every unit), first match wins:
  1. `global_inputs` patterns from the root repo_config.yaml when set, else the
     defaults, what really reaches every unit: the root repo_config.yaml, tasks.py,
     invoke.yaml and conftest.py, .gitmodules, the CI workflow adopt writes
     (.github/workflows/helpers.yml), .gitlab-ci.yml and the helpers checkout (the
     submodule pointer, when it is a submodule here);
  2. a file inside a unit is that unit's change; a watched file, its watcher's;
  3. any other file (outside every unit: docs, a README, a notebook in a dir that is
     not runnable yet) affects nothing: it is listed as ignored.
Patterns are fnmatch globs on repo-relative paths (`*` also crosses `/`); a
pattern naming a dir covers everything below it. Files under `ignore_dirs`
never count, and hold no units.

pyproject.toml files are read by `pyprojects` (tomllib, or tomli before 3.11).
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import fnmatch
import os
import posixpath
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import helpers
from helpers.effects import commands, digestcache, git
from helpers.errors import UserError
from helpers.model import config, graph, pyprojects, workspace

Cache = digestcache.ParsedCache  # the unit index: what was parsed, by each file's stat
RUNNABLE = "runnable"
PACKAGE = "package"
PYPROJECT = pyprojects.FILENAME
DEFAULT_GLOBALS = (
    "repo_config.yaml",
    "tasks.py",
    "invoke.yaml",
    "conftest.py",
    ".gitmodules",
    ".github/workflows/helpers.yml",
    ".gitlab-ci.yml",
)


@dataclass(frozen=True)
class Unit:
    path: str
    kind: str  # RUNNABLE or PACKAGE
    project: str = ""  # normalized [project] name, when it has one
    version: str = ""  # pyproject version (packages); runnable dirs use their changelog


@dataclass(frozen=True)
class GlobalRule:
    patterns: tuple[str, ...]
    explicit: bool  # `global_inputs` was set (else the defaults)

    def matches(self, path: str) -> bool:
        return any(
            fnmatch.fnmatchcase(path, p) or path.startswith(p.rstrip("/") + "/")
            for p in self.patterns
        )


@dataclass(frozen=True)
class Workspace:
    root: Path
    units: Mapping[str, Unit]  # by path, sorted
    deps: graph.Graph  # declared edges: unit -> units it depends on (a closure view: its own)
    within: Mapping[str, str]  # package -> the runnable dir whose container tests it
    watches: tuple[tuple[str, str], ...] = ()  # (path prefix, unit watching it)
    untracked: Optional[tuple[str, ...]] = None  # untracked files when read (None: unknown)
    globals: GlobalRule = field(default_factory=lambda: GlobalRule(DEFAULT_GLOBALS, False))
    ignore_dirs: tuple[str, ...] = ()
    # What the command read, handed down so that nothing reads it again:
    files: tuple[str, ...] = ()  # tracked and untracked-not-ignored, sorted
    pyprojects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by unit

    def owner(self, path: str) -> Optional[str]:
        """The innermost unit holding `path`, or None when it is outside every unit."""
        return _innermost(self.units, path, include_self=False)

    def runnable(self) -> list[str]:
        return [p for p, u in self.units.items() if u.kind == RUNNABLE]

    def find(self, name: str) -> str:
        """A unit by path or by project name; a UserError naming close matches otherwise."""
        key = _clean_path(name) if name not in (".", "") else "."
        if key in self.units:
            return key
        wanted = pyprojects.normalize(name)
        hits = [p for p, u in self.units.items() if u.project == wanted]
        if len(hits) == 1:
            return hits[0]

        close = difflib.get_close_matches(key, list(self.units), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run `invoke deps` to list units"
        raise UserError(f"no unit {name!r} (a unit path or project name); {hint}")


# ---------------------------------------------------------------- building the workspace


def _clean_path(path: str) -> str:
    clean = posixpath.normpath(path.strip().replace("\\", "/")).strip("/")
    return "." if clean in ("", ".") else clean


def _has_files_under(sorted_files: Sequence[str], prefix: str) -> bool:
    """True when `prefix` is a file of the list or a dir holding one (binary search)."""
    if prefix == ".":
        return bool(sorted_files)
    i = bisect.bisect_left(sorted_files, prefix)
    if i < len(sorted_files) and sorted_files[i] == prefix:
        return True
    i = bisect.bisect_left(sorted_files, prefix + "/")
    return i < len(sorted_files) and sorted_files[i].startswith(prefix + "/")


def _ancestors(path: str) -> Iterable[str]:
    """`path`'s parent dirs, innermost first, ending with "."."""
    end = len(path)
    while (end := path.rfind("/", 0, end)) >= 0:
        yield path[:end]
    if path != ".":
        yield "."


def _innermost(units: Container[str], path: str, include_self: bool = True) -> Optional[str]:
    if include_self and path in units:
        return path
    return next((a for a in _ancestors(path) if a in units), None)


def _within(units: Mapping[str, Unit]) -> dict[str, str]:
    runnable = {p for p, u in units.items() if u.kind == RUNNABLE}
    out = {}
    for path, unit in units.items():
        holder = _innermost(runnable, path, include_self=False)
        if unit.kind == PACKAGE and holder is not None:
            out[path] = holder
    return out


@dataclass(frozen=True)
class Inputs:
    """What `build` reads, already loaded: pure data, so tests need no files."""

    root: Path
    files: tuple[str, ...]  # repo-relative, not under ignore_dirs
    pyprojects: Mapping[str, Mapping[str, Any]]  # unit path -> parsed pyproject
    depends_on: Mapping[str, tuple[tuple[str, ...], str]]  # unit -> (paths, where declared)
    global_inputs: tuple[str, ...] = ()
    ignore_dirs: tuple[str, ...] = ()
    helpers_path: Optional[str] = None  # the helpers checkout, when a subdir of the repo
    runnable: Optional[tuple[str, ...]] = None  # default: found in `files`
    untracked: Optional[tuple[str, ...]] = None  # the untracked part of `files`, when known


def _units(inp: Inputs) -> dict[str, Unit]:
    found = inp.runnable if inp.runnable is not None else workspace.runnable_dirs(inp.files)
    runnable = set(found)
    units = {}
    for path in sorted({*runnable, *inp.pyprojects}, key=lambda p: (p != ".", p)):
        data = inp.pyprojects.get(path, {})
        project = pyprojects.metadata(data)
        name = project.get("name")
        version = project.get("version")
        units[path] = Unit(
            path,
            RUNNABLE if path in runnable else PACKAGE,
            pyprojects.normalize(name) if isinstance(name, str) else "",
            version if isinstance(version, str) and path not in runnable else "",
        )
    return units


def _package_edges(
    inp: Inputs, units: Mapping[str, Unit], by_name: Mapping[str, list[str]], path: str
) -> set[str]:
    data = inp.pyprojects.get(path)
    if not data:
        return set()
    pinned: set[str] = set()  # units a path source or a file:// reference names exactly
    for rel in pyprojects.source_paths(data):
        target = _clean_path(posixpath.join(path if path != "." else "", rel))
        holder = None if target.startswith("..") else _innermost(units, target)
        pinned.update([holder] if holder else [])
    for absolute in pyprojects.file_references(data):
        inside = _relative_to(inp.root, absolute)
        holder = _innermost(units, inside) if inside is not None else None
        pinned.update([holder] if holder else [])
    # A name a pin resolves is that unit, not every in-repo package of the same name
    # (a copy of the name elsewhere would otherwise ride into the image and shadow it).
    named = {units[h].project for h in pinned if units[h].project}
    required = pyprojects.required_names(data) - named
    return pinned | {p for name in required for p in by_name.get(name, ())}


def _relative_to(root: Path, absolute: str) -> Optional[str]:
    try:
        rel = Path(absolute).relative_to(root).as_posix()
    except ValueError:
        return None
    return "." if rel in ("", ".") else rel


def _depends_on_edges(
    inp: Inputs, units: Mapping[str, Unit], path: str
) -> tuple[set[str], list[tuple[str, str]]]:
    entries, where = inp.depends_on.get(path, ((), ""))
    edges: set[str] = set()
    watches = []
    for raw in entries:
        dep = _clean_path(raw)
        if dep.startswith("..") or raw.strip().startswith("/"):
            raise UserError(
                f"{where}: depends_on {raw!r} must be a path inside the repo, "
                "relative to its root; fix the path"
            )
        if not _has_files_under(inp.files, dep):
            raise UserError(
                f"{where}: depends_on {raw!r} matches no file in the repo; "
                "fix the path (relative to the repo root)"
            )
        covered = _covered(units, dep)
        edges.update(covered)
        if not covered:
            watches.append((dep, path))
    return edges, watches


def _covered(units: Iterable[str], dep: str) -> list[str]:
    """The units at or under the repo path `dep`."""
    return [u for u in units if workspace.is_under(u, dep)]


def _packaged_paths(
    inp: Inputs, units: Mapping[str, Unit], path: str
) -> tuple[set[str], list[tuple[str, str]]]:
    """What poetry `packages = [{include, from}]` takes from outside the unit (polylith's
    bases/ and components/): units there are edges; plain dirs are watched."""
    edges: set[str] = set()
    watches = []
    for dep in pyprojects.package_paths(path, inp.pyprojects.get(path) or {}):
        if _innermost(units, dep) == path or not _has_files_under(inp.files, dep):
            continue  # its own code, or nothing there
        covered = _covered(units, dep)
        edges.update(covered)
        if not covered:
            watches.append((dep, path))
    return edges, watches


def build(inp: Inputs, closure_of: Optional[str] = None) -> Workspace:
    """The units, their edges and the global-input rule; cycles are left to `graph`.
    `closure_of`: only the edges of that unit's closure (its own, the packages it holds,
    what they reach), all one dir's build needs: the cost of a big repo's other units
    is not paid."""
    inp = dataclasses.replace(inp, files=tuple(sorted(inp.files)))
    units = _units(inp)
    within = _within(units)
    deps: dict[str, tuple[str, ...]] = {}
    watches: list[tuple[str, str]] = []
    by_name: dict[str, list[str]] = {}
    for unit in units.values():
        if unit.project:
            by_name.setdefault(unit.project, []).append(unit.path)
    if closure_of is None:
        todo = list(units)
    else:
        held = (p for p, holder in within.items() if holder == closure_of)
        todo = [p for p in (closure_of, *held) if p in units]
    while todo:
        path = todo.pop(0)
        if path in deps:
            continue
        named = _package_edges(inp, units, by_name, path)
        declared, watched = _depends_on_edges(inp, units, path)
        packaged, packaged_watched = _packaged_paths(inp, units, path)
        deps[path] = tuple(sorted((named | declared | packaged) - {path}))
        watches += watched + packaged_watched
        if closure_of is not None:
            todo += deps[path]
    patterns = inp.global_inputs or DEFAULT_GLOBALS + (
        (inp.helpers_path,) if inp.helpers_path else ()
    )
    rule = GlobalRule(tuple(patterns), bool(inp.global_inputs))
    if closure_of is None:
        deps = {path: deps[path] for path in units}  # in the units' order
    return Workspace(
        inp.root,
        units,
        deps,
        within,
        tuple(watches),
        inp.untracked,
        rule,
        inp.ignore_dirs,
        inp.files,
        inp.pyprojects,
    )


# ---------------------------------------------------------------- reading the repo


def _helpers_path(root: Path) -> Optional[str]:
    here = Path(helpers.__file__).resolve().parents[1]
    rel = workspace.relative(root, here)
    return None if rel == "." or rel.startswith("..") else rel


def _read_depends_on(
    root: Path, units: Iterable[str], files: set[str], root_cfg: config.Config, cache: Cache
) -> dict[str, tuple[tuple[str, ...], str]]:
    out = {".": (root_cfg.depends_on, config.FILENAME)}
    for unit in units:
        cfg_file = f"{unit}/{config.FILENAME}"
        if unit != "." and cfg_file in files:

            def depends_on(_: Path, unit: str = unit) -> list[str]:
                return list(config.load(root, unit).depends_on)

            out[unit] = (tuple(cache.parsed(root / cfg_file, "depends_on", depends_on)), cfg_file)
    return out


def _pyprojects(root: Path, files: Iterable[str], cache: Cache) -> dict[str, dict[str, Any]]:
    """`pyprojects.read_all`, each file read only when its stat changed since last time."""
    out = {}
    base = str(root)
    suffix = "/" + PYPROJECT
    for rel in files:
        if rel != PYPROJECT and not rel.endswith(suffix):
            continue

        def parse(_: Path, rel: str = rel) -> Optional[dict[str, Any]]:
            return next(iter(pyprojects.read_all(root, [rel]).values()), None)

        data = cache.parsed(os.path.join(base, rel), "pyproject", parse)
        if data is not None:
            out[rel.rpartition("/")[0] or "."] = data
    return out


def _dockerfile_key(root: Path, cache: Cache) -> workspace.Named:
    """A dir's `dockerfile` key, from the unit index (asked twice per dir: once read)."""
    known: dict[str, str] = {}

    def named(rel: str) -> str:
        if rel not in known:
            display = workspace.in_dir(rel, config.FILENAME)
            path = os.path.join(root, display)
            found = cache.parsed(
                path, "dockerfile", lambda p: config.dir_dockerfile(p.parent, display)
            )
            known[rel] = str(found)
        return known[rel]

    return named


def _image_specs(runnable: Iterable[str], named: workspace.Named) -> set[str]:
    """Dirs of a runnable dir's Dockerfile, below the dir. A pyproject.toml there with no
    Python source beside or below it lists the image's dependencies (the older tool's
    devops/docker_build/pyproject.toml, named "amp" in each dir): no package, the dir's
    own file. One with code (a `devops/` package of tools) stays a package."""
    out = set()
    for rel in runnable:
        where = posixpath.dirname(named(rel))
        if where not in ("", "."):
            out.add(workspace.in_dir(rel, where))
    return out


def counts(path: str, ignore: Sequence[str]) -> bool:
    """A file any dir may own: not under `ignore_dirs`, not one helpers wrote itself."""
    ignored = any(workspace.is_under(path, d) for d in ignore if d != ".")
    return not ignored and not workspace.helpers_written(path)


def _kept(files: Iterable[str], ignore: Sequence[str]) -> list[str]:
    """`counts` over a listing; the prefix test first (a big repo's thousands of files)."""
    under = tuple(d.rstrip("/") + "/" for d in ignore if d != ".")
    maybe = (*under, workspace.SYNC_RECORD, workspace.DEVCONTAINER_DIR + "/")
    return [f for f in files if not f.startswith(maybe) or counts(f, ignore)]


def read_inputs(
    root: Path,
    runner: commands.Runner = commands.run,
    load_config: Callable[[Path, str], config.Config] = config.load,
    cache: Optional[Cache] = None,
    untracked_under: Optional[Sequence[str]] = None,
) -> Inputs:
    """Everything `build` needs: two `git ls-files`, the pyproject and config files
    (`untracked_under`: untracked files only below those dirs).

    The untracked-files scan (a walk of the work tree, the slowest part) runs in
    a thread while the tracked pyproject files are read. With `cache` (the unit index
    beside the digest cache), an unchanged pyproject.toml or repo_config.yaml costs a
    stat, not a read.
    """
    from concurrent.futures import ThreadPoolExecutor

    cache = cache or Cache(None)
    root_cfg = load_config(root, ".")
    ignore = tuple(i for i in map(_clean_path, root_cfg.ignore_dirs) if i != ".")
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(git.untracked, root, runner, untracked_under)
        tracked = _kept(git.tracked(root, runner), ignore)
        parsed = _pyprojects(root, tracked, cache)
        new = scanning.result()
    parsed.update(_pyprojects(root, _kept(new, ignore), cache))
    files = sorted({*tracked, *_kept(new, ignore)})
    named = _dockerfile_key(root, cache)
    runnable = tuple(workspace.runnable_in_work_tree(root, files, named=named))
    for spec in _image_specs(runnable, named) & parsed.keys():
        if not any(f.endswith(".py") and workspace.is_under(f, spec) for f in files):
            del parsed[spec]
    depends_on = _read_depends_on(root, {*runnable, *parsed}, set(files), root_cfg, cache)
    return Inputs(
        root,
        tuple(files),
        parsed,
        depends_on,
        root_cfg.global_inputs,
        ignore,
        _helpers_path(root),
        runnable,
        tuple(new),
    )


def load(
    root: Path, runner: commands.Runner = commands.run, closure_of: Optional[str] = None
) -> Workspace:
    """The workspace of the repo at `root`, read once for a command (its files, parsed
    pyprojects and units; the unit index cached by stat in `.helpers/units.json`); a
    dependency cycle is a UserError with its path. `closure_of`: one dir's view (see
    `build`), for a command about that dir alone."""
    cache = digestcache.parsed_for_repo(root)
    ws = build(read_inputs(root, runner, cache=cache), closure_of)
    cache.save()
    graph.check_acyclic(ws.deps)
    return ws


def _spans(ws: Workspace) -> list[str]:
    """The dirs a closure view stands on: its units and the plain dirs they watch."""
    return sorted({*ws.deps, *(prefix for prefix, _ in ws.watches)})


def load_view(
    root: Path, rel_dir: str, runner: commands.Runner = commands.run, whole: bool = False
) -> Workspace:
    """`load(closure_of=rel_dir)` for a check of that dir alone (is its image stale?):
    git walks for untracked files only the dirs its closure spanned last time, so the
    check costs the same in a repo of 200 units as in one of 2. The whole tree is walked
    the first time, and again whenever the closure reaches past those dirs (an edge, a
    depends_on, a new untracked unit inside them). Untracked files elsewhere are not
    seen, so a caller asks again with `whole` (the whole tree, its dirs remembered) before
    it calls an image stale; an untracked package elsewhere that takes over the name of a
    dependency from the index counts once git tracks it (a build reads the whole tree)."""
    cache = digestcache.parsed_for_repo(root)
    key = f"spans:{rel_dir}"
    spanned = cache.notes.get(key)
    ws: Optional[Workspace] = None
    if not whole and isinstance(spanned, list) and rel_dir in spanned:
        try:
            ws = build(read_inputs(root, runner, cache=cache, untracked_under=spanned), rel_dir)
        except UserError:
            ws = None  # e.g. a depends_on on files not walked: the whole tree says
        if ws is not None and not all(
            any(workspace.is_under(d, s) for s in spanned) for d in _spans(ws)
        ):
            ws = None
    if ws is None:
        ws = build(read_inputs(root, runner, cache=cache), rel_dir)
    cache.note(key, _spans(ws) if rel_dir in ws.units else None)
    cache.save()
    graph.check_acyclic(ws.deps)
    return ws
