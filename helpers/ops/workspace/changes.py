"""Changed files -> changed units -> affected units, rebuilds and version bumps.

A few git calls (resolve the ref, merge base, one diff, one ls-files, and one
`git show` per changelog that changed) and the rest is pure Python over the
workspace from `units`. See `units` for which file belongs to which unit and
what counts as a global input, and `bookmarks` for what `--since` compares.

A runnable dir needs a version bump before release when a file of its own or
of a package it holds changed since the base while its changelog's newest
version did not move (compared at the base: the merge base of REF and HEAD,
which is REF itself when REF is an ancestor of HEAD). A dir new since the base
needs none, and neither does a dir never released: no registry configured, or the
main registry holds neither `dev-X.Y.Z` nor `prod-X.Y.Z` of its version (a registry
that cannot be asked counts as released: the reminder stays).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

from helpers.effects import commands, git
from helpers.errors import UserError
from helpers.model import changelog, config, graph, units, workspace
from helpers.model.hints import task_line
from helpers.ops.workspace import bookmarks


@dataclass(frozen=True)
class Bump:
    dir: str
    version: str  # the version it has, unchanged since the base


Released = Callable[[Path, str, str], bool]  # (root, dir, version): published already?


def published(root: Path, rel_dir: str, version: str) -> bool:
    """Whether the dir's main registry holds this version (dev or prod); True when unsure."""
    from helpers.effects import registry_api
    from helpers.model import images

    cfg = config.load(root, rel_dir)
    if not cfg.registry:
        return False  # nowhere to release to: never released
    try:
        return any(
            registry_api.inspect(images.ref(cfg, stage, version, "")) is not None
            for stage in ("dev", "prod")
        )
    except (UserError, OSError):
        return True


@dataclass(frozen=True)
class ChangeSet:
    base: bookmarks.Base
    files: tuple[str, ...]
    global_files: tuple[str, ...]
    ignored: tuple[str, ...]
    changed: tuple[str, ...]
    deleted: tuple[str, ...]  # units at the base that are gone now
    affected: tuple[str, ...]  # changed units and everything depending on them
    rebuild: tuple[str, ...]  # affected runnable dirs
    bump: tuple[Bump, ...]


def _order(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(paths), key=lambda p: (p != ".", p)))


def _dockerfile(rel_dir: str) -> str:
    return workspace.DOCKERFILE if rel_dir == "." else f"{rel_dir}/{workspace.DOCKERFILE}"


def gone_candidates(ws: units.Workspace, paths: Iterable[str]) -> set[str]:
    """Dirs whose unit markers (pyproject.toml; changelog + Dockerfile) changed, not units now."""
    present = set(paths)
    out = set()
    for path in present:
        name, rel_dir = PurePosixPath(path).name, workspace.parent(path)
        # its Dockerfile went too: the default one, or the config that named another
        marker = (_dockerfile(rel_dir), workspace.in_dir(rel_dir, config.FILENAME))
        runnable = name == changelog.FILENAME and any(m in present for m in marker)
        if rel_dir not in ws.units and (name == units.PYPROJECT or runnable):
            out.add(rel_dir)
    return out


def _owner(ws: units.Workspace, path: str, gone: Set[str]) -> Optional[str]:
    owner = ws.owner(path)
    for rel_dir in sorted(gone, key=len):
        inner = owner is None or workspace.is_under(rel_dir, owner)
        if inner and workspace.is_under(path, rel_dir):
            owner = rel_dir
    return owner


Split = tuple[dict[str, list[str]], list[str], list[str]]


def classify(ws: units.Workspace, paths: Iterable[str], gone: Set[str] = frozenset()) -> Split:
    """(files by changed unit, global files, ignored files).

    `gone`: dirs that were units at the base and are not now (their marker file
    was deleted or moved); their files count as their change, not a global one.
    """
    by_unit: dict[str, list[str]] = {}
    global_files: list[str] = []
    ignored: list[str] = []
    for path in paths:
        if not units.counts(path, ws.ignore_dirs):
            continue
        if ws.globals.matches(path):
            global_files.append(path)
            continue
        owner = _owner(ws, path, gone)
        watchers = [
            unit
            for prefix, unit in ws.watches
            if workspace.is_under(path, prefix) and unit != owner
        ]
        for unit in ([owner] if owner else []) + watchers:
            by_unit.setdefault(unit, []).append(path)
        if owner is None and not watchers:
            ignored.append(path)  # outside every unit, not a global input: affects nothing
    return by_unit, global_files, ignored


def dependents(ws: units.Workspace) -> dict[str, tuple[str, ...]]:
    """Who is affected when a unit changes: its dependents and the runnable dir holding it."""
    out = {node: list(users) for node, users in graph.reverse(ws.deps).items()}
    for package, holder in ws.within.items():
        out.setdefault(package, []).append(holder)
    return {node: tuple(sorted(set(users))) for node, users in out.items()}


def affected(ws: units.Workspace, changed: Iterable[str], everything: bool) -> tuple[str, ...]:
    if everything:
        return _order(ws.units)
    return _order(graph.closure(dependents(ws), changed))


def _own_files(ws: units.Workspace, by_unit: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Changed files per runnable dir: its own and those of the packages it holds."""
    out: dict[str, list[str]] = {}
    for unit, files in by_unit.items():
        holder = unit if ws.units[unit].kind == units.RUNNABLE else ws.within.get(unit)
        if holder is not None:
            out.setdefault(holder, []).extend(files)
    return out


def changelog_path(rel_dir: str) -> str:
    return changelog.FILENAME if rel_dir == "." else f"{rel_dir}/{changelog.FILENAME}"


def needs_bump(
    ws: units.Workspace,
    by_unit: Mapping[str, Sequence[str]],
    old_text: Mapping[str, Optional[str]],
    released: Released = published,
) -> tuple[Bump, ...]:
    """Released runnable dirs with changes whose version did not move; `old_text`:
    changelogs at base."""
    out = []
    for rel_dir, files in sorted(_own_files(ws, by_unit).items()):
        path = changelog_path(rel_dir)
        current = changelog.load(ws.root / path).version
        if path in files:
            text = old_text.get(path)
            if text is None:
                continue  # new since the base: its first version is new
            try:
                before = changelog.parse_text(text, Path(path)).version
            except UserError:
                continue  # unreadable at the base: the version did move
            if before != current:
                continue
        if released(ws.root, rel_dir, str(current)):
            out.append(Bump(rel_dir, str(current)))
    return tuple(out)


def _changed_changelogs(ws: units.Workspace, by_unit: Mapping[str, Sequence[str]]) -> list[str]:
    return [
        changelog_path(d)
        for d, files in _own_files(ws, by_unit).items()
        if changelog_path(d) in files
    ]


def _marker_exists(root: Path, rel_dir: str) -> bool:
    return any((root / rel_dir / name).is_file() for name in (units.PYPROJECT, changelog.FILENAME))


def compute(
    ws: units.Workspace,
    base: bookmarks.Base,
    runner: commands.Runner = commands.run,
    diff: Optional[Sequence[str]] = None,
    released: Released = published,
) -> ChangeSet:
    """`diff`: the paths of `git.diff_paths` from base, when already known."""
    if diff is None:
        diff = git.diff_paths(ws.root, base.commit, runner)
    new = ws.untracked if ws.untracked is not None else git.untracked(ws.root, runner)
    files = sorted({*diff, *new})
    gone = {d for d in gone_candidates(ws, files) if not _marker_exists(ws.root, d)}
    by_unit, global_files, ignored = classify(ws, files, gone)
    deleted = _order(u for u in by_unit if u not in ws.units)
    by_unit = {u: f for u, f in by_unit.items() if u in ws.units}
    old = git.show_files(ws.root, base.commit, _changed_changelogs(ws, by_unit), runner)
    hit = affected(ws, by_unit, everything=bool(global_files))
    return ChangeSet(
        base=base,
        files=tuple(files),
        global_files=tuple(global_files),
        ignored=tuple(ignored),
        changed=_order(by_unit),
        deleted=deleted,
        affected=hit,
        rebuild=tuple(u for u in hit if ws.units[u].kind == units.RUNNABLE),
        bump=needs_bump(ws, by_unit, old, released),
    )


def with_stale_images(cs: ChangeSet, stale: Sequence[str]) -> ChangeSet:
    """Add the dirs whose local image was built from other inputs to the rebuilds."""
    return dataclasses.replace(cs, rebuild=_order({*cs.rebuild, *stale}))


def since(
    root: Path,
    ref: Optional[str],
    sel: str = bookmarks.WHOLE_REPO,
    env: Optional[Mapping[str, str]] = None,
    runner: commands.Runner = commands.run,
) -> bookmarks.Base:
    """`--since` as given, else $HELPERS_CHANGED_SINCE, else the last success of `sel`."""
    env = os.environ if env is None else env
    chosen = ref or env.get(bookmarks.ENV) or bookmarks.LAST_SUCCESS
    try:
        return bookmarks.base(root, chosen, sel, runner)
    except UserError as err:
        if ref or not env.get(bookmarks.ENV):
            raise
        raise bookmarks.renamed(err, chosen, bookmarks.ENV) from None


def _base_and_diff(
    root: Path, ref: Optional[str], sel: str, runner: commands.Runner
) -> tuple[bookmarks.Base, list[str]]:
    base = since(root, ref, sel, runner=runner)
    return base, git.diff_paths(root, base.commit, runner)


def load_and_compute(
    root: Path,
    ref: Optional[str],
    sel: str = bookmarks.WHOLE_REPO,
    runner: commands.Runner = commands.run,
) -> tuple[units.Workspace, ChangeSet]:
    """The workspace and what changed since `ref` (see `since`); git resolves and diffs
    the base in a thread while the workspace loads, as neither needs the other."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        diffing = pool.submit(_base_and_diff, root, ref, sel, runner)
        ws = units.load(root, runner)
        base, diff = diffing.result()
    return ws, compute(ws, base, runner, diff)


def _section(title: str, items: Sequence[str]) -> list[str]:
    return (
        [f"{title} ({len(items)}):", *(f"  {item}" for item in items)]
        if items
        else [f"{title}: none"]
    )


def _bump_line(b: Bump) -> str:
    fix = task_line("bump_version", b.dir, "--part", "patch", "-m", '"..."')
    return f"{b.dir} {b.version}: run `{fix}`"


GLOBAL_KEY = f"`global_inputs` in the root {config.FILENAME}"


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def _some(paths: Sequence[str]) -> str:
    return ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")


def render_text(cs: ChangeSet) -> str:
    lines = [f"changes since {cs.base.label}: {_files(len(cs.files))}"]
    if cs.global_files:
        lines.append(
            f"global inputs changed, so everything is affected: {_some(cs.global_files)} "
            f"({GLOBAL_KEY} chooses what is global)"
        )
    if cs.ignored:
        lines.append(
            f"ignored (outside every unit, not a global input; {GLOBAL_KEY} chooses): "
            f"{_files(len(cs.ignored))}: {_some(cs.ignored)}"
        )
    lines += _section("changed units", cs.changed)
    if cs.deleted:
        lines += _section("deleted units", cs.deleted)
    lines += _section("affected units", cs.affected)
    lines += _section("images to rebuild", cs.rebuild)
    lines += _section("version bump needed before release", [_bump_line(b) for b in cs.bump])
    return "\n".join(lines)


def render_json(cs: ChangeSet) -> str:
    data = {
        "since": cs.base.ref,
        "base": cs.base.commit,
        "files": list(cs.files),
        "global_inputs": list(cs.global_files),
        "ignored": list(cs.ignored),
        "changed": list(cs.changed),
        "deleted": list(cs.deleted),
        "affected": list(cs.affected),
        "rebuild": list(cs.rebuild),
        "bump": [{"dir": b.dir, "version": b.version} for b in cs.bump],
    }
    return json.dumps(data, indent=2)


def render_matrix(cs: ChangeSet) -> str:
    """A GitHub Actions `strategy.matrix`: one job per runnable dir to rebuild and test."""
    return json.dumps({"include": [{"dir": d} for d in cs.rebuild]})


FORMATS = {"text": render_text, "json": render_json, "github-matrix": render_matrix}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def render(cs: ChangeSet, fmt: str) -> str:
    return FORMATS[check_format(fmt)](cs)
