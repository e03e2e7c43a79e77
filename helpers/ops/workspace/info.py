"""`info`: the workspace at a glance, with `*` (changed) and `(*)` (affected through a
dependency) marks, local image presence and the configured checks' counts."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from helpers import tables
from helpers.effects import commands, git
from helpers.errors import UserError
from helpers.model import changelog, config, units, workspace
from helpers.ops.workspace import bookmarks, changes, loader

CHANGED = "*"
AFFECTED = "(*)"


@dataclasses.dataclass(frozen=True)
class Row:
    unit: str
    kind: str
    version: str
    image: str  # yes / no / ? / - (packages have no image)
    mark: str = ""
    checks: tuple[str, ...] = ()  # check_libs mismatches / check_boundaries violations


def marks(cs: Optional[changes.ChangeSet]) -> dict[str, str]:
    if cs is None:
        return {}
    out = dict.fromkeys(cs.affected, AFFECTED)
    out.update(dict.fromkeys(cs.changed, CHANGED))
    return out


def versions(ws: units.Workspace) -> tuple[dict[str, str], list[str]]:
    """Each unit's version (a runnable dir's changelog, a package's pyproject) and problems."""
    out, notes = {}, []
    for path, unit in ws.units.items():
        if unit.kind == units.PACKAGE:
            out[path] = unit.version or "-"
            continue
        try:
            out[path] = str(changelog.load(ws.root / changes.changelog_path(path)).version)
        except UserError as err:
            out[path] = "?"
            notes.append(err.message)
    return out, notes


def local_refs(ws: units.Workspace, version: Mapping[str, str], user: str) -> dict[str, str]:
    """The local image ref of each runnable dir at its changelog version."""
    from helpers.model import images

    return {
        d: images.ref(config.load(ws.root, d), "local", version[d], user)
        for d in ws.runnable()
        if version.get(d, "?") != "?"
    }


def image_column(
    refs: Mapping[str, str], runner: commands.Runner = commands.run
) -> tuple[dict[str, str], Optional[str]]:
    """yes/no per unit from ONE `docker image inspect`; `?` and a note when the engine is down."""
    from helpers.effects import engine

    try:
        found = engine.inspect_images(list(refs.values()), runner)
    except UserError as err:
        return dict.fromkeys(refs, "?"), f"images: ? = unknown, {err.message}"
    return {d: "yes" if found.get(ref) else "no" for d, ref in refs.items()}, None


def rows(
    ws: units.Workspace,
    version: Mapping[str, str],
    image: Mapping[str, str],
    mark: Mapping[str, str],
) -> list[Row]:
    return [
        Row(
            path,
            u.kind,
            version.get(path, "-"),
            image.get(path, "?" if u.kind == units.RUNNABLE else "-"),
            mark.get(path, ""),
        )
        for path, u in ws.units.items()
    ]


def render_table(
    table: Sequence[Row], notes: Sequence[str] = (), checks: Sequence[str] = ()
) -> str:
    """`checks`: titles of the extra count columns (each row's `checks`, in order)."""
    cells = [("unit", "kind", "version", "local image", *checks, "")]
    cells += [(r.unit, r.kind, r.version, r.image, *r.checks, r.mark) for r in table]
    return "\n".join([tables.render(cells), *notes])


def _info_base(
    root: Path, since: Optional[str], runner: commands.Runner
) -> tuple[Optional[bookmarks.Base], list[str]]:
    """The base to mark changes against and the diff from it; (None, []) for no marks."""
    chosen = since or os.environ.get(bookmarks.ENV)
    if not chosen:
        if bookmarks.find(root, bookmarks.WHOLE_REPO, runner) is None:
            return None, []
        chosen = bookmarks.LAST_SUCCESS
    try:
        base = bookmarks.base(root, chosen, bookmarks.WHOLE_REPO, runner)
    except UserError as err:
        if since:
            raise
        raise bookmarks.renamed(err, chosen, bookmarks.ENV) from None
    return base, git.diff_paths(root, base.commit, runner)


def named_dockerfile_missing(ws: units.Workspace) -> list[str]:
    """Dirs with a changelog whose `dockerfile` key names no file: not runnable, said so
    (else the root, or a package dir, would silently drop out of the table)."""
    out = []
    for rel in ["."] + [u for u, unit in ws.units.items() if unit.kind == units.PACKAGE]:
        path = ws.root / rel
        if rel in ws.runnable() or not (path / changelog.FILENAME).is_file():
            continue
        try:
            named = workspace.dockerfile_of(path)
        except UserError as err:
            out.append(err.message)
            continue
        where = config.FILENAME if rel == "." else f"{rel}/{config.FILENAME}"
        if named != config.DEFAULT_DOCKERFILE and not (path / named).is_file():
            out.append(
                f"{rel}: not a runnable dir: {where} says dockerfile: {named}, and there is no "
                f"such file; fix the key or add the file"
            )
    return out


def _legend(cs: Optional[changes.ChangeSet]) -> str:
    if cs is None:
        return "no marks: pass --since REF (no last success of main_pytest --dir . yet)"
    return f"{CHANGED} changed, {AFFECTED} affected, since {cs.base.label}"


def info(root: Path, since: Optional[str], runner: commands.Runner = commands.run) -> str:
    """The table. Git finds the base and diffs while the workspace loads, and the one
    engine call runs while the changes are worked out."""
    from concurrent.futures import ThreadPoolExecutor

    from helpers.model import images

    with ThreadPoolExecutor(max_workers=2) as pool:
        diffing = pool.submit(_info_base, root, since, runner)
        ws = units.load(root, runner)
        version, notes = versions(ws)
        engine_answer = pool.submit(
            image_column, local_refs(ws, version, images.user_name()), runner
        )
        base, diff = diffing.result()
        cs = changes.compute(ws, base, runner, diff) if base else None
        image, engine_note = engine_answer.result()
    notes = [_legend(cs), *notes, *named_dockerfile_missing(ws)]
    notes += [engine_note] if engine_note else []
    table = rows(ws, version, image, marks(cs))
    counts, note = _check_counts(root, ws, runner)
    if counts:
        table = [
            dataclasses.replace(r, checks=tuple(str(c.get(r.unit, 0)) for c in counts.values()))
            for r in table
        ]
    return render_table(table, ["", *notes, *([note] if note else [])], tuple(counts))


def _check_counts(
    root: Path, ws: units.Workspace, runner: commands.Runner
) -> tuple[Mapping[str, Mapping[str, int]], Optional[str]]:
    """Per-unit counts of the configured hygiene checks (none configured: no columns)."""

    try:
        return info_counts(root, ws, runner), None
    except UserError as err:
        return {}, f"checks: not counted, {err.message}"


def info_counts(
    root: Path, ws: units.Workspace, runner: commands.Runner = commands.run
) -> Mapping[str, Mapping[str, int]]:
    """`info`'s extra columns: {"mismatches": per unit, "violations": per unit}, for the
    checks that are configured (none: {}). Bad input is left to the checks themselves."""
    from helpers.ops.workspace import boundaries, libs_collect

    root_cfg = config.load(root, ".")
    public = loader.public_modules(ws, root_cfg)
    pinned = "library_pins" in root_cfg.origin
    if public is None and not pinned:
        return {}
    listed = git.tracked(root, runner) + git.untracked(root, runner)
    files = tuple(sorted(f for f in listed if units.counts(f, ws.ignore_dirs)))
    out: dict[str, dict[str, int]] = {}
    if pinned:
        report = libs_collect.collect(ws, files, root_cfg.library_pins)
        counts: dict[str, int] = {}
        for d in libs_collect.differing(report):
            counts[d.unit] = counts.get(d.unit, 0) + 1
        out["mismatches"] = counts
    if public is not None:
        out["violations"] = boundaries.check(ws, files, public).counts()
    return out
