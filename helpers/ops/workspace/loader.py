"""What check_libs, check_boundaries, `deps --format` and `info` share: the workspace with
its file list, the configured checks, and the units a `--changed-since REF` reaches.

The workspace is `units`' own (one `git ls-files` pair, the pyproject files);
nothing here reads the repo a second way (`info_counts` lists the files again:
`info`'s workspace does not keep them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from helpers import tables
from helpers.effects import commands, git
from helpers.errors import UserError
from helpers.model import config, graph, units

if TYPE_CHECKING:
    from helpers.ops.workspace.changes import ChangeSet


BOUNDARIES_HINT = (
    "check_boundaries is not configured; add `boundaries: {public_modules: [api]}` "
    "to repo_config.yaml"
)


@dataclass(frozen=True)
class Loaded:
    ws: units.Workspace
    files: tuple[str, ...]  # tracked and untracked-not-ignored, not under ignore_dirs
    root_cfg: config.Config
    pyprojects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by unit


def load(root: Path, runner: commands.Runner = commands.run) -> Loaded:
    inp = units.read_inputs(root, runner)
    ws = units.build(inp)
    graph.check_acyclic(ws.deps)
    return Loaded(ws, tuple(sorted(inp.files)), config.load(root, "."), inp.pyprojects)


def changeset(ws: units.Workspace, since: str, runner: commands.Runner) -> ChangeSet:
    """What changed since `since` (a ref or last-success), over the whole repo."""
    from helpers.ops.workspace import bookmarks, changes

    base = bookmarks.base(ws.root, since, bookmarks.WHOLE_REPO, runner)
    return changes.compute(ws, base, runner, git.diff_paths(ws.root, base.commit, runner))


def scope(
    loaded: Loaded, since: Optional[str], runner: commands.Runner = commands.run
) -> tuple[Optional[tuple[str, ...]], str]:
    """The affected units since `since` (None: every unit) and a label for progress lines."""
    if not since:
        return None, "every unit"
    from helpers.ops.workspace import bookmarks

    try:
        cs = changeset(loaded.ws, since, runner)
    except UserError as err:  # the messages say `changes`' flag and variable: name this flag
        message = bookmarks.renamed(err, since, "--changed-since").message
        raise UserError(message.replace(f" or set ${bookmarks.ENV}", "")) from None
    return cs.affected, f"{tables.count(len(cs.affected), 'unit')} affected since {cs.base.label}"


def _own_configs(ws: units.Workspace) -> set[str]:
    """Units (other than the root) with their own repo_config.yaml."""
    return {u for u in ws.units if u != "." and (ws.root / u / config.FILENAME).is_file()}


def public_modules(
    ws: units.Workspace, root_cfg: config.Config
) -> Optional[dict[str, tuple[str, ...]]]:
    """Each unit's public modules (its own repo_config.yaml's, else the repo-wide list);
    None when no file sets `boundaries` (the check is off)."""
    configured = "boundaries" in root_cfg.origin
    repo_wide = tuple(root_cfg.boundaries.get("public_modules", ()))
    out = dict.fromkeys(ws.units, repo_wide)
    for unit in _own_configs(ws):
        cfg = config.load(ws.root, unit)
        if "boundaries" in cfg.origin and cfg.origin["boundaries"] != config.FILENAME:
            configured = True
            out[unit] = tuple(cfg.boundaries.get("public_modules", ()))
    return out if configured else None


def require_boundaries(loaded: Loaded) -> dict[str, tuple[str, ...]]:
    public = public_modules(loaded.ws, loaded.root_cfg)
    if public is None:
        raise UserError(BOUNDARIES_HINT)
    return public
