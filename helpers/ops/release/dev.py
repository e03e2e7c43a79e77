"""The dev stage: tag the local image as dev, push it, release it in one go, roll back."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import images, units
from helpers.model.hints import task_line
from helpers.ops.images import build, inputs_diff
from helpers.ops.release import flow as rel
from helpers.ops.release import steps as rs
from helpers.outcome import Outcome


def check_version(text: str) -> str:
    try:
        return str(Version(text))
    except InvalidVersion:
        raise UserError(f"--version {text!r} is not a version like 1.2.3; fix the flag") from None


def release_dev(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """Build local (no-op when unchanged) -> test in it -> push dev-X.Y.Z -> move dev."""
    s = rel.prepare(req, runner)
    ws = units.load(s.target.root, runner)  # the workspace, read once for the release
    bp = build.prepare(s.target, runner=runner, ws=ws)
    now = inputs_diff.current(s.target, bp.context, bp.labels)
    dirty = rel.dirty_check(s.target, ws, now.paths, req.allow_dirty, runner)
    revision = build.git_revision(s.target, runner) + ("-dirty" if dirty else "")
    base = bp.args["BASE_IMAGE"]
    candidate = rel.Candidate(
        stage="dev",
        tag=f"dev-{bp.version}",
        moving="dev",
        plan=bp,
        revision=revision,
        baked=False,
        bases=lambda setting: rel.foreign_bases(setting, base, runner),
        explain=inputs_diff.explainer(ws, now, runner),
    )
    return rel.release(s, candidate, req, runner)


def tag_local_as_dev(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """local-<user>-X.Y.Z -> dev-X.Y.Z and dev, here only (labels say stage dev, tests not run)."""
    from helpers.model import project

    target = project.target(req.dir)
    version = check_version(req.version) if req.version else target.version
    local = images.ref(target.cfg, "local", version, images.user_name())
    image = engine.inspect_image(local, runner)
    if image is None:
        fix = task_line("docker_build_local_image", target.rel_dir)
        raise UserError(f"no local image {local} to tag: run `{fix}` first")
    dev = images.ref(target.cfg, "dev", version, "")
    labels = rel.labels_for({}, build.git_revision(target, runner), "dev", "not-run")
    steps = [
        rs.label_step(f"label {local} as {dev}", dev, local, labels),
        *rs.local_tags(dev, [images.moving_ref(target.cfg, "dev")]),
    ]
    moving = images.moving_ref(target.cfg, "dev")
    return rel.finish(steps, req.dry_run, lambda: [f"tagged {dev} and {moving}"])


def push_dev(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """Push the local dev-X.Y.Z (this platform only) to every registry, then move dev."""
    from helpers.model import project

    target = project.target(req.dir)
    repos = images.repositories(target.cfg)
    if not repos:
        raise rel.no_registry(target)
    version = check_version(req.version) if req.version else target.version
    tag = f"dev-{version}"
    local = f"{repos[0]}:{tag}"
    image = engine.inspect_image(local, runner)
    if image is None:
        fix = task_line("docker_tag_local_image_as_dev", target.rel_dir)
        raise UserError(f"no local image {local} to push: run `{fix}` first")
    s = rel.Setting(
        target,
        repos,
        (f"linux/{image.architecture}",),
        f"linux/{image.architecture}",
    )
    published = rel.remote(repos, tag)
    moving = rel.remote(repos, "dev")
    rel.not_older(moving, "dev", version, target.rel_dir)
    inputs = image.labels.get(images.LABEL_INPUTS, "")
    todo = rel.to_push(
        target, published, tag, inputs, s.plats, inputs_diff.against_image(target, image.labels)
    )
    steps: list[rs.Step] = []
    for repo in todo:
        if repo != repos[0]:
            steps.append(rs.Step(f"tag for {repo}", (engine.DOCKER, "tag", local, f"{repo}:{tag}")))
        steps.append(rs.Step(f"push {repo}:{tag}", (engine.DOCKER, "push", f"{repo}:{tag}")))
    steps += rel.moves(s, todo, published, moving, tag, "dev")
    if not steps:
        return Outcome(
            f"nothing to push: {tag} is published with the same inputs and dev points at it"
        )
    return rel.finish(steps, req.dry_run, lambda: rel.report(repos, tag, "dev"))
