"""Rollbacks: point `dev` or `prod` back at what a published `<stage>-X.Y.Z` holds (the
same digest, in every registry); nothing is rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from packaging.version import Version

from helpers import events
from helpers.effects import commands, engine, oci
from helpers.errors import UserError
from helpers.model import images, project
from helpers.model.hints import task_line
from helpers.ops.release import dev
from helpers.ops.release import flow as rel
from helpers.ops.release import steps as rs
from helpers.outcome import Outcome


def rollback(req: rel.Request, stage: str, runner: commands.Runner = commands.run) -> Outcome:
    """Point the moving tag back at what `<stage>-X.Y.Z` holds, in every registry."""
    target = project.target(req.dir)
    repos = images.repositories(target.cfg)
    if not repos:
        raise rel.no_registry(target)
    if not req.version:
        raise UserError(
            f"docker_rollback_{stage}_image needs --version X.Y.Z (the version to "
            f"point {stage} back at)"
        )
    version = dev.check_version(req.version)
    tag = f"{stage}-{version}"
    published = rel.remote(repos, tag)
    missing = [repo for repo, image in published.items() if image is None]
    if missing:
        have = published_versions(repos, stage)
        listed = ", ".join(have[-5:])
        pick = (
            f"{stage} versions published there: {listed}; pick one with --version"
            if have
            else (f"no {stage} version is published there yet: release one first")
        )
        raise UserError(f"{missing[0]}:{tag} does not exist, so {stage} cannot point at it; {pick}")
    steps = [rs.move(repo, tag, stage) for repo in repos]
    # The local moving tag follows, so `--stage dev` runs what the registry now says.
    here = engine.inspect_image(f"{repos[0]}:{tag}", runner) is not None
    if here:
        steps += rs.local_tags(f"{repos[0]}:{tag}", [f"{repos[0]}:{stage}"])

    def done() -> list[str]:
        if not here:
            pull = task_line("docker_pull", target.rel_dir, "--stage", stage)
            events.progress(
                f"note: {tag} is not here, so a local {stage} image is the old one: run `{pull}`"
            )
        return [
            f"{repo}:{stage} -> {tag} ({image.digest if image else '?'})"
            for repo, image in published.items()
        ]

    return rel.finish(steps, req.dry_run, done)


def published_versions(repos: Sequence[str], stage: str) -> list[str]:
    """The X.Y.Z of every `<stage>-X.Y.Z` that every registry holds, oldest first: what a
    rollback can really point at (never a candidate `prod-<commit>`, a per-arch tag left by
    a failed release, or a version only one registry has)."""
    common: Optional[set[str]] = None
    for repo in repos:
        versions = set()
        for tag in oci.list_tags(repo):
            stage_of, _, version = tag.partition("-")
            if stage_of == stage and _VERSION.match(version):
                versions.add(version)
        common = versions if common is None else common & versions
    return sorted(common or (), key=Version)


_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
