"""What a local build of one runnable dir reads from the repo, read once: its `Source`.

`read` is the only step that looks at files: the dir's build context (its files after
`.dockerignore`, the injected `.helpers/` files, the files of its in-repo dependency
units), the text of the Dockerfile the dir's `dockerfile` key names, the changelog's
version and the digest of each file the computation needs. `build.plan` (the inputs
hash, the labels, the argv) and the stale check (`freshness.stale`) compute from a
Source and read nothing: both see the very same Dockerfile and files, one definition.

The workspace (`units.Workspace`: file list, unit index, parsed pyprojects) comes from
the command, read once; `read` adds the dir's own closure, never every unit's files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.effects import commands, digestcache
from helpers.model import project, units, workspace
from helpers.ops.images import build_context, cacerts, depunits, dockerfile, install_inputs


@dataclass(frozen=True)
class Source:
    context: build_context.Context
    dockerfile_text: str
    version: str  # the changelog's newest
    digests: Mapping[str, str]  # context path -> file digest (see `read`'s `every_file`)
    units: tuple[str, ...] = ()  # the dependency units in the context, dependencies first
    every_file: bool = True  # digests of every file (a build), or only the install inputs


def build_args(target: project.Target) -> dict[str, str]:
    """The build args a local build passes from config (`--build-arg` may add more)."""
    return {dockerfile.BASE_ARG: target.cfg.base_image, **target.cfg.build_args}


def base_of(src: Source, args: Mapping[str, str]) -> str:
    """The image the build starts from: what the final FROM names, args substituted
    (BASE_IMAGE when that cannot be told)."""
    return base_ref(src.dockerfile_text, args)


def base_ref(dockerfile_text: str, args: Mapping[str, str]) -> str:
    return dockerfile.base_image(dockerfile_text, args) or args[dockerfile.BASE_ARG]


def own_unit(path: Path) -> bool:
    """Nested runnable dirs and submodules are separate: never in a parent's context."""
    return (path / ".git").exists() or workspace.is_runnable(path)


def workspace_of(target: project.Target, runner: commands.Runner) -> units.Workspace:
    """The repo's workspace as the dir's source needs it (one `git ls-files` pair, the
    unit index cached by stat, the edges of the dir's closure only): what a caller
    without one hands down."""
    return units.load(target.root, runner, closure_of=target.rel_dir)


def read(
    target: project.Target,
    ws: units.Workspace,
    cache: Optional[digestcache.DigestCache] = None,
    every_file: bool = True,
) -> Source:
    """Read the dir's build source. `every_file`: digest every context file (a build's
    inputs hash needs them); else only the install inputs (a stale check)."""
    deps = depunits.dep_units(target, ws)
    injected = {**cacerts.build_files(target.cfg.extra_ca_certs, target.root), **deps.injected()}
    own = build_context.collect(
        target.path,
        target.dockerfile,
        injected,
        skip_dir=own_unit,
        secrets=(
            *depunits.env_file_in(target),
            *workspace.helpers_written_patterns(target.rel_dir),
        ),
    )
    ctx = build_context.Context(own.root, own.files, own.dockerfile, own.injected, deps.files)
    text = dockerfile.read_text(target.path / target.dockerfile)
    wanted = None if every_file else install_inputs.selected(ctx, text)
    digests = build_context.file_digests(ctx, wanted, cache)
    return Source(ctx, text, target.version, digests, deps.order, every_file)
