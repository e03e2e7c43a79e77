"""What changed between an image's inputs and this build's, named: never "the hash differs".

The inputs hash (`build_context.inputs_hash`) is one digest; beside it every image
records, in the label `io.helpers.inputs-parts`, a short digest of each *part*:

  - `files <dir>`: the runnable dir's own context files;
  - `files <unit>`: each in-repo dependency unit's files (a dev image's copies, a prod
    image's dev image holds them);
  - each generated `.helpers/` file (requirements, constraints, CA bundle, helpers);
  - each setting: the base image, each build arg, the platform, the Dockerfile's
    path, the version, the dev image a prod image builds on.

`describe` compares two such records and, for a part made of files, names the files
git says changed since the image's revision (`changed`: repo paths), so a refusal says
"libs/a/src/a/core.py (dependency unit)", "the base image", "build arg PIP_INDEX".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from helpers import tables
from helpers.effects import commands, git
from helpers.model import images, project, units
from helpers.ops.images import build_context, depunits, install_inputs

LABEL = "io.helpers.inputs-parts"
SHORT = 12
FILES = "files "
UNIT_SETTING = "unit:"  # a prod image's setting: a dependency unit's files, as one digest
_SETTINGS = {
    "base_id": "the base image",
    "platform": "the platform",
    "dockerfile": "the Dockerfile's path",
    "version": "the version",
    "dev": "the dev image",
}


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:SHORT]


def _unit_of(rel: str, units: Sequence[str]) -> Optional[str]:
    """The dependency unit whose copy holds the context path `rel` (longest prefix)."""
    for unit in sorted(units, key=len, reverse=True):
        if rel.startswith(depunits.copy_dir(unit) + "/"):
            return unit
    return None


def files_digest(rels: Iterable[str], digests: Mapping[str, str]) -> str:
    """The short digest of a files-part: its files (in the order given) and their digests."""
    return _short("\n".join(f"{rel}\0{digests[rel]}" for rel in rels))


def unit_digests(
    files: Mapping[str, Path], digests: Mapping[str, str], units: Sequence[str]
) -> dict[str, str]:
    """One digest per dependency unit over its copied files (`files`: context path ->
    host file, as `depunits.DepUnits.files`; `digests` by context path)."""
    lines: dict[str, list[str]] = {u: [] for u in units}
    for rel in sorted(files):
        unit = _unit_of(rel, units)
        if unit is not None:
            lines[unit].append(rel)
    return {u: files_digest(found, digests) for u, found in lines.items()}


def parts(
    rel_dir: str,
    ctx: build_context.Context,
    settings: Mapping[str, str],
    digests: Mapping[str, str],
    units: Sequence[str] = (),
) -> dict[str, str]:
    """Part name -> short digest (see the module doc); computed only."""
    out = {f"{FILES}{rel_dir}": files_digest(ctx.files, digests)}
    for unit, digest in unit_digests(ctx.extra, digests, units).items():
        out[f"{FILES}{unit}"] = digest
    for rel, data in ctx.injected.items():
        out[rel] = hashlib.sha256(data).hexdigest()[:SHORT]
    for key, value in settings.items():
        if key.startswith(UNIT_SETTING):
            out[f"{FILES}{key[len(UNIT_SETTING) :]}"] = value
        else:
            out[_SETTINGS.get(key, key.replace("arg:", "build arg ", 1))] = _short(value)
    return out


# Both labels (install inputs, inputs parts) are the same flat JSON map: one codec.
encode = install_inputs.encode
decode = install_inputs.decode


@dataclass(frozen=True)
class Current:
    """This build's side of a comparison: its parts and the repo paths of its files."""

    root: Path
    rel_dir: str
    parts: Mapping[str, str]
    paths: frozenset[str]  # every repo file the build reads (dir and dependency units)


def current(
    target: project.Target,
    ctx: build_context.Context,
    labels: Mapping[str, str],
    more: Iterable[Path] = (),
) -> Current:
    """The comparison side of a planned build (`labels`: its labels, parts included;
    `more`: host files it covers outside its context, e.g. a prod image's units)."""
    found = decode(labels.get(LABEL)) or {}
    paths = {*repo_paths(target, ctx), *(p.relative_to(target.root).as_posix() for p in more)}
    return Current(target.root, target.rel_dir, found, frozenset(paths))


def repo_paths(target: project.Target, ctx: build_context.Context) -> list[str]:
    """Every repo file a context holds: the dir's own (its context is rooted at the dir,
    or at the repo for a prod image that also holds code from outside it) and the files
    of `extra` (dependency units' copies, such outside code)."""
    own = [(ctx.root / rel).relative_to(target.root).as_posix() for rel in ctx.files]
    copies = [path.relative_to(target.root).as_posix() for path in ctx.extra.values()]
    return sorted({*own, *copies})


def _part_of(path: str, units: Iterable[str], rel_dir: str) -> Optional[str]:
    """The files-part a repo path belongs to: the innermost of the dir and its units."""
    holders = [u for u in (*units, rel_dir) if u == "." or path.startswith(u + "/")]
    return max(holders, key=len) if holders else None


def describe(
    old_label: Optional[str], now: Current, changed: Sequence[str], limit: int = 5
) -> list[str]:
    """What differs between an image's recorded parts (`old_label`) and `now`, each as a
    user reads it; `changed`: repo paths git says changed since the image's revision."""
    old = decode(old_label)
    units = [k[len(FILES) :] for k in now.parts if k.startswith(FILES)]
    deps = [u for u in units if u != now.rel_dir]
    files: dict[str, list[str]] = {}
    for path in changed:
        part = _part_of(path, deps, now.rel_dir)
        # A file of the build, or one deleted since (not one its .dockerignore leaves out).
        if part is not None and (path in now.paths or not (now.root / path).exists()):
            files.setdefault(part, []).append(path)
    keys = sorted(set(old or {}) | set(now.parts), key=lambda k: (_rank(k, now.rel_dir), k))
    keys = keys if old is not None else []
    out: list[str] = []
    for key in keys:
        if (old or {}).get(key) == now.parts.get(key):
            continue
        if key.startswith(FILES):
            out += _files_changed(key[len(FILES) :], files.get(key[len(FILES) :], []), deps)
        elif key.startswith(build_context.INJECTED_DIR + "/"):
            out.append(f"{key} (generated)")
        else:
            out.append(key)
    if old is None:  # recorded by an older helpers: only git can say
        out = [p for u in sorted(files) for p in _files_changed(u, files[u], deps)]
        out.append("(its inputs were recorded by an older helpers: other changes cannot be told)")
    return tables.first(out, limit)


def _rank(key: str, rel_dir: str) -> int:
    """Shown in this order: the dir's files, its units' files, settings, generated files."""
    if key.startswith(FILES):
        return 0 if key == f"{FILES}{rel_dir}" else 1
    return 3 if key.startswith(build_context.INJECTED_DIR + "/") else 2


def _files_changed(unit: str, paths: Sequence[str], deps: Sequence[str]) -> list[str]:
    tag = " (dependency unit)" if unit in deps else ""
    if not paths:
        return [f"the files of {unit}{tag}"]
    return [f"{p}{tag}" for p in sorted(paths)]


def changed_since(
    ws: units.Workspace, revision: str, runner: commands.Runner = commands.run
) -> list[str]:
    """Repo paths changed between `revision` (an image's label; `-dirty` ignored) and the
    work tree, untracked files included (as the command listed them); [] when unknown."""
    rev = revision.removesuffix("-dirty")
    if not rev or rev == "unknown" or git.resolve(ws.root, rev, runner) is None:
        return []
    return git.changed_since(ws.root, rev, runner, untracked_files=ws.untracked)


Explain = Callable[[Mapping[str, str]], list[str]]  # a published image's labels -> what changed


def explainer(ws: units.Workspace, now: Current, runner: commands.Runner = commands.run) -> Explain:
    """For a refusal: a published image's labels -> what differs from `now`, named."""

    def explain(labels: Mapping[str, str]) -> list[str]:
        changed = changed_since(ws, labels.get(images.LABEL_REVISION, ""), runner)
        return describe(labels.get(LABEL), now, changed)

    return explain


def against_image(target: project.Target, labels: Mapping[str, str]) -> Explain:
    """For a refusal to push an image already built (`labels`: its own): what differs
    from a published one, part by part (no files: the image's own are not at hand)."""
    now = Current(target.root, target.rel_dir, decode(labels.get(LABEL)) or {}, frozenset())
    return lambda published: describe(published.get(LABEL), now, ())
