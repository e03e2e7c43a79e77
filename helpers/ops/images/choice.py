"""Which image a task runs, and whether its version fits the changelog.

Checked on the host before anything runs, from the image's version label:
an image older than the changelog in major.minor is refused with the command
that fixes it; a patch-only difference is one warning line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from packaging.version import InvalidVersion, Version

from helpers import events
from helpers.effects import commands, engine, prefetch
from helpers.errors import UserError
from helpers.model import images, project, units
from helpers.model.hints import task_line
from helpers.ops.images import dockerfile, freshness, platforms, source


@dataclass(frozen=True)
class Policy:
    """What a run does with a missing or stale local image."""

    if_missing: str = "fail"  # "fail" or "build"
    allow_stale: bool = False
    quiet_build: bool = False  # one line per build; the log only when it fails

    def __post_init__(self) -> None:
        if self.if_missing not in ("fail", "build"):
            raise UserError(f"--if-missing {self.if_missing!r}: use fail or build")


def rebuild(target: project.Target, why: str, quiet: bool, ws: Optional[units.Workspace]) -> None:
    """Build the dir's local image (`ws`: the command's own workspace, else read whole:
    a stale check's view may not have walked every untracked file)."""
    from helpers.ops.images import build, image_cache

    p = build.prepare(target, ws=ws)
    if p.up_to_date:
        return
    p = build.with_revision(p, build.git_revision(target))
    build.say_notes(p)
    # image_cache: shared pulls an image with the same inputs instead, when there is one
    image_cache.produce(
        target, p, quiet=quiet, announce=f"build  {target.rel_dir}  {p.ref} ({why})"
    )


def _batched(target: project.Target, runner: commands.Runner, base: str) -> commands.Runner:
    """One `docker image inspect` for the dir's local image and its base, which the
    version check and the stale check then ask about one at a time (each answer is used
    once: a second ask, after a rebuild, goes to the engine). main_pytest batches all dirs."""
    if isinstance(runner, prefetch.Prefetched):
        return runner
    ref = images.ref(target.cfg, "local", target.version, images.user_name())
    batched = prefetch.Prefetched(runner)
    batched.load_images([ref, base])
    return batched


def _engine_and_workspace(
    target: project.Target, runner: commands.Runner, ws: Optional[units.Workspace]
) -> tuple[commands.Runner, units.Workspace]:
    """The engine's answer about the image and its base, asked while git lists the
    workspace (two processes at once: neither needs the other)."""
    from concurrent.futures import ThreadPoolExecutor

    text = dockerfile.read_text(target.path / target.dockerfile)
    base = source.base_ref(text, source.build_args(target))
    if ws is not None:
        return _batched(target, runner, base), ws
    with ThreadPoolExecutor(max_workers=1) as pool:
        asking = pool.submit(_batched, target, runner, base)
        ws = units.load_view(target.root, target.rel_dir, runner)
        return asking.result(), ws


def choose(
    target: project.Target,
    stage: str,
    version: Optional[str],
    policy: Policy,
    runner: commands.Runner = commands.run,
    ws: Optional[units.Workspace] = None,
) -> Chosen:
    """`choose_image`, with a local image checked for staleness and built when asked.
    `ws`: the workspace the command read (else read here)."""
    local = stage == "local" and version in (None, target.version)
    if not local:
        return choose_image(target, stage, version, runner=runner)
    given = ws
    runner, ws = _engine_and_workspace(target, runner, ws)
    return _fresh_local(target, stage, version, policy, runner, ws, given)


def _changes(
    target: project.Target,
    image: engine.ImageInfo,
    runner: commands.Runner,
    ws: units.Workspace,
    given: Optional[units.Workspace],
) -> tuple[list[str], units.Workspace]:
    """What changed since `image` was built, and the workspace that says so. A view's
    "stale" (no `given` workspace) is asked again of the whole tree: the view may not
    have walked an untracked unit that a build reads; "fresh" stands."""
    changes = freshness.check(target, image, runner, ws)
    if changes and given is None:
        ws = units.load_view(target.root, target.rel_dir, runner, whole=True)
        changes = freshness.check(target, image, runner, ws)
    return changes, ws


def _fresh_local(
    target: project.Target,
    stage: str,
    version: Optional[str],
    policy: Policy,
    runner: commands.Runner,
    ws: units.Workspace,
    given: Optional[units.Workspace],
) -> Chosen:
    """The local image, checked against the dir's source (built first when asked, on
    the caller's workspace `given`, else on the whole one read again)."""
    if policy.if_missing == "build":
        ref = chosen_ref(target, stage, version, images.user_name())
        image = engine.inspect_image(ref, runner)
        changes, ws = (
            (["no image yet"], ws) if image is None else _changes(target, image, runner, ws, given)
        )
        if changes:
            why = f"{freshness.describe(changes)} changed" if image else changes[0]
            rebuild(target, why, policy.quiet_build, given)
        chosen = choose_image(target, stage, version, runner=runner)
        return dataclasses.replace(chosen, workspace=ws)
    chosen = choose_image(target, stage, version, runner=runner)
    changes, ws = _changes(target, chosen.image, runner, ws, given)
    chosen = dataclasses.replace(chosen, workspace=ws)
    if not changes:
        return chosen
    if policy.allow_stale:
        warning = (
            f"{chosen.ref} is stale ({freshness.describe(changes)} changed); running it anyway"
        )
        return dataclasses.replace(chosen, warnings=(*chosen.warnings, warning))
    fix = fix_command(target, stage)
    raise UserError(
        f"{chosen.ref} is stale: {freshness.describe(changes)} changed since it was built; "
        f"run `{fix}` or pass --if-missing build (--allow-stale runs it as it is)"
    )


@dataclass(frozen=True)
class Chosen:
    ref: str
    image: engine.ImageInfo
    warnings: tuple[str, ...]
    workspace: Optional[units.Workspace] = None  # what a local choice read: hand it on

    def said(self) -> Chosen:
        """The same choice, its warnings emitted: what every task that runs the image does."""
        for warning in self.warnings:
            events.warning(warning)
        return self


def chosen_ref(target: project.Target, stage: str, version: Optional[str], user: str) -> str:
    """local: the changelog's version; dev/prod: the moving tag unless --version is given."""
    images.check_stage(stage)
    if version is not None:
        images.check_version(version)
    if version is None and stage != "local":
        return images.moving_ref(target.cfg, stage)
    return images.ref(target.cfg, stage, version or target.version, user)


def fix_command(target: project.Target, stage: str, version: Optional[str] = None) -> str:
    """The command that makes the image a task asked for (that version, when one was given)."""
    pinned = ("--version", version) if version else ()
    if stage == "local":
        return task_line("docker_build_local_image", target.rel_dir, *pinned)
    return task_line("docker_pull", target.rel_dir, "--stage", stage, *pinned)


def check(
    image_version: str,
    wanted: Version,
    ref: str,
    changelog: str,
    fix: str,
    going_on: str = "running anyway",
) -> list[str]:
    """Warnings to print; raises when the image is too old for the code. `going_on` says
    what happens next despite a different patch version."""
    try:
        have = Version(image_version)
    except InvalidVersion:
        return [f"{ref} has no usable version label ({image_version!r}); not checked"]
    if have.release[:2] < wanted.release[:2]:
        raise UserError(
            f"{ref} is version {have} but {changelog} says {wanted}: "
            f"the image is too old for this code; run `{fix}`"
        )
    if have != wanted:
        return [f"{ref} is version {have}, {changelog} says {wanted}; {going_on}"]
    return []


def choose_image(
    target: project.Target,
    stage: str,
    version: Optional[str],
    user: Optional[str] = None,
    runner: commands.Runner = commands.run,
) -> Chosen:
    ref = chosen_ref(target, stage, version, user or images.user_name())
    image = engine.inspect_image(ref, runner)
    fix = fix_command(target, stage, version)  # make the image asked for
    if image is None:
        if stage != "local" and not target.cfg.registry:
            raise UserError(
                f"image {ref} not found locally and no registry is configured to pull it "
                f"from: set `registry` in repo_config.yaml, then run `{fix}`"
            )
        raise UserError(f"image {ref} not found locally: run `{fix}`")
    label = image.labels.get(images.LABEL_VERSION, "")
    changelog = target.changelog.path.relative_to(target.root).as_posix()
    # The code is mounted from the work tree whatever the image: an image too old for it
    # is fixed by the changelog's version, not by the one asked for.
    warnings = check(label, target.changelog.version, ref, changelog, fix_command(target, stage))

    emulated = platforms.emulation_note(ref, image.architecture)
    return Chosen(ref, image, tuple(warnings) + ((emulated,) if emulated else ()))
