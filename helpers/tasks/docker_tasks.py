"""Everyday container work: build the local image, enter it, run one command in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import (
    ALLOW_STALE_HELP,
    DIR_HELP,
    IF_MISSING_HELP,
    STAGE_HELP,
    VERSION_HELP,
    task,
)

if TYPE_CHECKING:
    from helpers.outcome import Outcome

DIR, STAGE, VERSION = DIR_HELP, STAGE_HELP, VERSION_HELP
STALE = {"if_missing": IF_MISSING_HELP, "allow_stale": ALLOW_STALE_HELP}


@task(
    iterable=["build_arg"],
    help={
        "dir": DIR,
        "version": "version to build (default: the changelog's newest)",
        "no_cache": "build without the layer cache",
        "build_arg": "extra NAME=VALUE build arg (repeatable)",
        "platform": "one target platform, e.g. linux/arm64",
        "dry_run": "print the plan and the exact command; change nothing",
    },
)
def docker_build_local_image(
    ctx: Context,
    dir: Optional[str] = None,
    version: Optional[str] = None,
    no_cache: bool = False,
    build_arg: Optional[list[str]] = None,
    platform: Optional[str] = None,
    dry_run: bool = False,
) -> Outcome:
    """Build local-<user>-<version>; a no-op when its build inputs did not change."""
    from helpers.model import images
    from helpers.ops.images import build

    platform = images.parse_one_platform(platform)  # a typo never reaches the tag
    return build.build_local(dir, version, no_cache, build_arg or [], platform, dry_run)


@task(help={"dir": DIR, "stage": STAGE, "version": VERSION, **STALE})
def docker_bash(
    ctx: Context,
    dir: Optional[str] = None,
    stage: str = "local",
    version: Optional[str] = None,
    if_missing: str = "fail",
    allow_stale: bool = False,
) -> Outcome:
    """Start an interactive shell in the runnable dir's container."""
    from helpers.ops.images import choice
    from helpers.ops.run import shell

    return shell.bash(dir, stage, version, choice.Policy(if_missing, allow_stale))


@task(
    help={
        "cmd": "the command line to run in the container",
        "dir": DIR,
        "stage": STAGE,
        "version": VERSION,
        **STALE,
    }
)
def docker_cmd(
    ctx: Context,
    cmd: str = "",
    dir: Optional[str] = None,
    stage: str = "local",
    version: Optional[str] = None,
    if_missing: str = "fail",
    allow_stale: bool = False,
) -> Outcome:
    """Run one command in the runnable dir's container; its exit code is passed through."""
    from helpers.ops.images import choice
    from helpers.ops.run import shell

    policy = choice.Policy(if_missing, allow_stale)
    return shell.cmd(cmd, dir, stage, version, policy)
