"""The prod stage: the dev image plus the dir's code, built, tested with no mount, released."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Optional

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images, project, units
from helpers.ops.images import build, inputs_diff, prod_image
from helpers.ops.release import flow as rel
from helpers.ops.release import multiarch
from helpers.ops.release import steps as rs
from helpers.outcome import Outcome


def _tag(target_version: str, candidate: bool, revision: str) -> str:
    if not candidate:
        return f"prod-{target_version}"
    short = revision.removesuffix("-dirty")[:7]
    if not short or short == "unknown":
        raise UserError("--candidate needs a git commit to name the image: commit first")
    return f"prod-{short}" + ("-dirty" if revision.endswith("-dirty") else "")


def _dev_image(
    s_target: project.Target, runner: commands.Runner, verified: str = ""
) -> prod_image.DevImage:
    """The dev image of the changelog's version, its identity (registry digest or id) and
    its labels; `verified`: the digest `require_signed` checked, named by that digest (a tag
    moved since then is not what the build reads)."""
    if verified:
        pinned = f"{images.repository(s_target.cfg)}@{verified}"
        image = registry_api.inspect(pinned)
        return prod_image.DevImage(pinned, verified, image.labels if image else {})
    dev_ref = images.ref(s_target.cfg, "dev", s_target.version, "")
    found: dict[str, Optional[str]] = {}
    labels: Mapping[str, str] = {}
    if s_target.cfg.registry:
        image = registry_api.inspect(dev_ref)
        found["registry"] = image.digest if image else None
        labels = image.labels if image else labels
    local = engine.inspect_image(dev_ref, runner)
    found["local"] = local.id if local else None
    labels = labels or (local.labels if local else {})
    dev_id = prod_image.require_dev(found, dev_ref, s_target.rel_dir)
    return prod_image.DevImage(dev_ref, dev_id, labels)


def prepare(
    req: rel.Request,
    runner: commands.Runner = commands.run,
    trial: bool = False,
    verified: str = "",
) -> tuple[build.BuildPlan, bool, inputs_diff.Explain]:
    """The prod build of this checkout (asks the registry, the engine and git); also says
    whether the dir's inputs are dirty, and how a refusal names what changed. `trial`: a
    local build, where a dev image older than its units' code is a warning. `verified`:
    the dev image's digest a signature check accepted; the build is FROM that digest."""
    target = project.target(req.dir)
    ws = units.load(target.root, runner)  # the workspace, read once for the release
    dev = _dev_image(target, runner, verified)
    src = prod_image.read(target, ws)
    paths = inputs_diff.current(target, src.context, {}, src.unit_files).paths
    dirty = rel.dirty_check(target, ws, paths, req.allow_dirty, runner)
    prod_image.check_dev_units(target, ws, dev, src, runner, warn_only=trial)
    revision = build.git_revision(target, runner) + ("-dirty" if dirty else "")
    tag = _tag(target.version, req.candidate, revision)
    prod = prod_image.ProdRequest(dev.ref, dev.id, tag, revision)
    p = prod_image.prepare(target, prod, runner, ws=ws, src=src)
    now = inputs_diff.current(target, src.context, p.labels, src.unit_files)
    return p, dirty, inputs_diff.explainer(ws, now, runner)


def build_prod(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """Build the prod image here (this platform); a no-op when its inputs did not change."""
    p, _, _ = prepare(dataclasses.replace(req, allow_dirty=True), runner, trial=True)
    if p.up_to_date and not req.dry_run:
        return Outcome(
            f"{p.ref} is up to date (inputs {p.inputs_hash[:12]} unchanged); nothing to build"
        )
    step = rs.Step(f"build {p.ref}", p.argv, context=p.context)
    return rel.finish([step], req.dry_run, lambda: [f"built {p.ref}"])


def release_prod(req: rel.Request, runner: commands.Runner = commands.run) -> Outcome:
    """Build prod -> test it (code inside, no mount) -> push prod-X.Y.Z -> move prod."""
    s = rel.prepare(req, runner)
    verified = ""
    if s.target.cfg.require_signed:
        from helpers.ops.release import verify

        dev_ref = images.ref(s.target.cfg, "dev", s.target.version, "")
        verified = verify.require(s.target, dev_ref)  # promotion builds on a verified image
        events.progress(f"require_signed: {dev_ref} verified ({verified[:19]}…); built FROM it")
    p, _, explain = prepare(req, runner, verified=verified)
    candidate = rel.Candidate(
        stage="prod",
        tag=p.ref.rsplit(":", 1)[1],
        moving=None if req.candidate else "prod",
        plan=p,
        revision=p.labels[images.LABEL_REVISION],
        baked=True,
        bases=lambda setting: _dev_bases(setting, p.args["DEV_IMAGE"]),
        explain=explain,
    )
    return rel.release(s, candidate, req, runner)


def _dev_bases(s: rel.Setting, dev_ref: str) -> dict[str, multiarch.Base]:
    """Each foreign platform builds on that platform's image of the dev manifest list."""
    out = {}
    # DEV_IMAGE is `repo:tag`, or `repo@digest` once `require_signed` verified it
    repo = dev_ref.split("@", 1)[0] if "@" in dev_ref else dev_ref.rsplit(":", 1)[0]
    for plat in s.plats:
        if plat == s.native:
            continue
        digest = registry_api.platform_digest(dev_ref, plat)
        if not digest:
            raise UserError(
                f"{dev_ref} has no {plat} image: release dev for it first with "
                f"`invoke docker_release_dev_image --platforms {','.join(s.plats)}`"
            )
        out[plat] = multiarch.Base(f"{repo}@{digest}", digest)
    return out
