"""Rollbacks: point `dev` or `prod` back at what a published `<stage>-X.Y.Z` holds (the
same digest, in every registry); nothing is rebuilt.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images
from helpers.model.hints import task_line
from helpers.ops.release import dev
from helpers.ops.release import flow as rel
from helpers.ops.release import steps as rs
from helpers.outcome import Outcome


def rollback(req: rel.Request, stage: str, runner: commands.Runner = commands.run) -> Outcome:
    """Point the moving tag back at what `<stage>-X.Y.Z` holds, in every registry."""
    from helpers.model import project

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
    for repo, image in published.items():
        if image is None:
            client = registry_api.Client(repo.split("/", 1)[0])
            have = sorted(
                (
                    t[len(stage) + 1 :]
                    for t in client.tags(repo.split("/", 1)[1])
                    if t.startswith(f"{stage}-") and t.count("-") == 1
                ),
                key=_version_key,
            )
            listed = ", ".join(have[-5:]) or "none"
            raise UserError(
                f"{repo}:{tag} does not exist, so {stage} cannot point at it; "
                f"{stage} versions there: {listed}; pick one with --version"
            )
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


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)
