"""Which image a task runs, and whether its version fits the changelog.

Checked on the host before anything runs, from the image's version label:
an image older than the changelog in major.minor is refused with the command
that fixes it; a patch-only difference is one warning line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from packaging.version import InvalidVersion, Version

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import images, project
from helpers.model.hints import task_line


@dataclass(frozen=True)
class Chosen:
    ref: str
    image: engine.ImageInfo
    warnings: tuple[str, ...]


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


def choose(
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
    from helpers.ops import platforms

    emulated = platforms.emulation_note(ref, image.architecture)
    return Chosen(ref, image, tuple(warnings) + ((emulated,) if emulated else ()))
