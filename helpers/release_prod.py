"""The prod stage: the dev image plus the dir's code, built, tested with no mount, released."""

from __future__ import annotations

import dataclasses
from typing import Optional

from helpers import build, commands, engine, images, prodimage, project, registry_api, testops
from helpers import release as rel
from helpers import release_steps as rs
from helpers.errors import UserError, say


def _tag(target_version: str, candidate: bool, revision: str) -> str:
    if not candidate:
        return f"prod-{target_version}"
    short = revision.removesuffix("-dirty")[:7]
    if not short or short == "unknown":
        raise UserError("--candidate needs a git commit to name the image: commit first")
    return f"prod-{short}" + ("-dirty" if revision.endswith("-dirty") else "")


def _dev_image(s_target: project.Target, runner: commands.Runner) -> tuple[str, str]:
    """The dev image of the changelog's version and its identity (registry digest or id)."""
    dev_ref = images.ref(s_target.cfg, "dev", s_target.version, "")
    found: dict[str, Optional[str]] = {}
    if s_target.cfg.registry:
        image = registry_api.inspect(dev_ref)
        found["registry"] = image.digest if image else None
    local = engine.inspect_image(dev_ref, runner)
    found["local"] = local.id if local else None
    return dev_ref, prodimage.require_dev(found, dev_ref, s_target.rel_dir)


def plan(req: rel.Request, runner: commands.Runner = commands.run) -> tuple[build.BuildPlan, bool]:
    """The prod build of this checkout; also says whether the dir's inputs are dirty."""
    target = project.target(req.dir)
    dev_ref, dev_id = _dev_image(target, runner)
    ctx_files = prodimage.context(target, runner).files
    dirty = rel.dirty_check(target, ctx_files, req.allow_dirty)
    revision = build.git_revision(target, runner) + ("-dirty" if dirty else "")
    tag = _tag(target.version, req.candidate, revision)
    return prodimage.plan(target, dev_ref, dev_id, tag, revision=revision, runner=runner), dirty


def build_prod(req: rel.Request, runner: commands.Runner = commands.run) -> int:
    """Build the prod image here (this platform); a no-op when its inputs did not change."""
    p, _ = plan(dataclasses.replace(req, allow_dirty=True), runner)
    if p.up_to_date and not req.dry_run:
        print(f"{p.ref} is up to date (inputs {p.inputs_hash[:12]} unchanged); nothing to build")
        return 0
    step = rs.Step(f"build {p.ref}", p.argv, context=p.context)
    if rel.run_or_show([step], req.dry_run):
        print(f"built {p.ref}")
    return 0


def release_prod(req: rel.Request, runner: commands.Runner = commands.run) -> int:
    """Build prod -> test it (code inside, no mount) -> push prod-X.Y.Z -> move prod."""
    s = rel.prepare(req, runner)
    target = s.target
    lists = rel.test_lists(req.test_list)
    p, _ = plan(req, runner)
    tag = p.ref.rsplit(":", 1)[1]
    published = rel.remote(s.repos, tag)
    moving = {} if req.candidate else rel.remote(s.repos, "prod")
    if not req.candidate:
        rel.not_older(moving, "prod", target.version, target.rel_dir)
    todo = rel.to_push(target, published, tag, p.inputs_hash, s.plats, p.context.files)
    steps: list[rs.Step] = []
    if todo:
        s = rel.with_builder(s, runner)
        bases = _dev_bases(s, p.args["DEV_IMAGE"])
        if not p.up_to_date:
            steps.append(rs.Step(f"build {p.ref}", p.argv, context=p.context))
        tests = rel.tests_label(req.skip_tests)
        if not req.skip_tests:
            shown = f"pytest --test-list {','.join(lists)} in {p.ref}: the code inside, no mount"
            steps.append(
                rs.Step(
                    "test the prod image",
                    shown=shown,
                    call=lambda: testops.run_in_image(target, p.ref, lists, baked=True),
                )
            )
        labels = rel.labels_for(p.labels, p.labels[images.LABEL_REVISION], "prod", tests)
        spec = rs.BuildSpec(p.context, p.args)
        steps += rel.publish(s, todo, tag, p.ref, labels, spec, bases)
    if not req.candidate:
        steps += rel.moves(s, todo, published, moving, tag, "prod")
    if todo and not s.use_buildx:
        local = [f"{s.repos[0]}:{tag}"] + ([] if req.candidate else [f"{s.repos[0]}:prod"])
        steps += rs.local_tags(rel.native_ref(s, tag), local)
    if not steps:
        print(
            f"nothing to release: {tag} is published with the same inputs in "
            f"{', '.join(s.repos)}" + ("" if req.candidate else " and prod points at it")
        )
        return 0
    if req.candidate:
        say(f"candidate {tag}: pushed for a trial; prod does not move")
    if rel.run_or_show(steps, req.dry_run):
        from helpers.release_dev import _report

        _report(s.repos, tag, None if req.candidate else "prod")
    return 0


def _dev_bases(s: rel.Setting, dev_ref: str) -> dict[str, str]:
    """Each foreign platform builds on that platform's image of the dev manifest list."""
    out = {}
    repo = dev_ref.rsplit(":", 1)[0]
    for plat in s.plats:
        if plat == s.native or s.use_buildx:
            continue
        digest = registry_api.platform_digest(dev_ref, plat)
        if not digest:
            raise UserError(
                f"{dev_ref} has no {plat} image: release dev for it first with "
                f"`invoke docker_release_dev_image --platforms {','.join(s.plats)}`"
            )
        out[plat] = f"{repo}@{digest}"
    return out
