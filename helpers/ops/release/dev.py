"""The dev stage: tag the local image as dev, push it, release it in one go, roll back."""

from __future__ import annotations

from typing import Optional

from packaging.version import InvalidVersion, Version

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import images, project, units
from helpers.model.hints import task_line
from helpers.ops.images import build, inputs_diff
from helpers.ops.release import flow as rel
from helpers.ops.release import multiarch, publish
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
        bases=lambda st: multiarch.foreign_bases(st.target, st.plats, st.native, base, runner),
        explain=inputs_diff.explainer(ws, now, runner),
    )
    return rel.release(s, candidate, req, runner)


def _not_buildable(target: project.Target, version: str) -> Optional[str]:
    """Why no local image of `version` can be built from this checkout (the build takes the
    changelog's version), or None when it can."""
    if version == target.version:
        return None
    changelog = target.changelog.path.relative_to(target.root).as_posix()
    return (
        f"{version} is not the version of {changelog} ({target.version}), and a local image "
        f"is built only from the checkout of its own version: check out the commit whose "
        f"changelog says {version}, or omit --version to use {target.version}"
    )


def tag_local_as_dev(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """local-<user>-X.Y.Z -> dev-X.Y.Z and dev, here only (labels say stage dev, tests not run)."""
    target = project.target(req.dir)
    version = check_version(req.version) if req.version else target.version
    local = images.ref(target.cfg, "local", version, images.user_name())
    image = engine.inspect_image(local, runner)
    if image is None:
        fix = task_line("docker_build_local_image", target.rel_dir)
        raise UserError(
            f"no local image {local} to tag: "
            + (_not_buildable(target, version) or f"run `{fix}` first")
        )
    dev = images.ref(target.cfg, "dev", version, "")
    labels = rel.labels_for({}, build.git_revision(target, runner), "dev", "not-run")
    steps = [
        rs.label_step(f"label {local} as {dev}", dev, local, labels),
        *rs.local_tags(dev, [images.moving_ref(target.cfg, "dev")]),
    ]
    moving = images.moving_ref(target.cfg, "dev")
    return rel.finish(steps, req.dry_run, lambda: [f"tagged {dev} and {moving}"])


def push_dev(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """Push the local dev-X.Y.Z (this platform only) to every registry, then move dev.
    It attaches no SBOM or signed provenance (it does not know how the image was built),
    so `require_signed` refuses it: a signed repo releases through docker_release_dev_image."""
    target = project.target(req.dir)
    repos = images.repositories(target.cfg)
    if not repos:
        raise rel.no_registry(target)
    if target.cfg.require_signed:
        fix = task_line("docker_release_dev_image", target.rel_dir)
        raise UserError(
            "require_signed is true and docker_push_dev_image pushes without an SBOM or "
            f"signed provenance (it does not know how the image was built): run `{fix}`"
        )
    version = check_version(req.version) if req.version else target.version
    tag = f"dev-{version}"
    local = f"{repos[0]}:{tag}"
    built_ref = images.ref(target.cfg, "local", version, images.user_name())
    found = engine.inspect_images([local, built_ref], runner)
    image = found[local]
    if image is None:
        again = () if version == target.version else ("--version", version)
        fix = task_line("docker_tag_local_image_as_dev", target.rel_dir, *again)
        why = None if found[built_ref] else _not_buildable(target, version)
        raise UserError(f"no local image {local} to push: " + (why or f"run `{fix}` first"))
    plat = f"linux/{image.architecture}"
    s = rel.Setting(target, repos, (plat,), plat)
    published = rel.remote(repos, tag)
    moving = rel.remote(repos, "dev")
    rel.not_older(moving, "dev", version, target.rel_dir)
    explain = inputs_diff.against_image(target, image.labels)
    e = publish.Expected(
        target, tag, {plat: image.labels.get(images.LABEL_INPUTS, "")}, explain=explain
    )
    todo = publish.to_push(e, published)
    steps: list[rs.Step] = []
    if todo:
        steps += rs.local_tags(local, [rs.arch_ref(repos[0], tag, plat)])
        steps += rs.pushes(todo, tag, s.plats, publish.Publisher(e))
    steps += rel.moves(s, todo, published, moving, tag, "dev")
    if not steps:
        return Outcome(
            f"nothing to push: {tag} is published with the same inputs and dev points at it"
        )
    return rel.finish(steps, req.dry_run, lambda: rel.report(repos, tag, "dev"))
