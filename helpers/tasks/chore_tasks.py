"""Engine chores: Jupyter, pull, login, list, kill, clean up (only what these tools made)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

from invoke.context import Context

from helpers.tasks._common import DIR_HELP, STAGE_HELP, VERSION_HELP, task

if TYPE_CHECKING:
    from helpers.outcome import Outcome

DIR, STAGE, VERSION = DIR_HELP, STAGE_HELP, VERSION_HELP
DRY_RUN = "print the exact commands; change nothing"


@task(
    help={
        "dir": DIR,
        "stage": STAGE,
        "version": VERSION,
        "port": "host port to serve on (default 0: a free one)",
        "dry_run": DRY_RUN,
    }
)
def docker_jupyter(
    ctx: Context,
    dir: Optional[str] = None,
    stage: str = "local",
    version: Optional[str] = None,
    port: str = "0",
    dry_run: bool = False,
) -> Outcome:
    """Serve Jupyter from the runnable dir's container on a free port; prints the URL."""
    from helpers.ops.run import jupyter

    return jupyter.serve(dir, stage, version, port, dry_run)


@task(help={"dir": DIR, "stage": "dev or prod", "version": VERSION, "dry_run": DRY_RUN})
def docker_pull(
    ctx: Context,
    dir: Optional[str] = None,
    stage: str = "dev",
    version: Optional[str] = None,
    dry_run: bool = False,
) -> Outcome:
    """Pull the stage's image from the configured registry, then check its version."""
    from helpers.ops.release import registry

    return registry.pull(dir, stage, version, dry_run)


@task(
    help={
        "registry": "registry host (default: the configured `registry`)",
        "username": "account name",
        "password_stdin": "read the secret from stdin (never pass it as an argument)",
    }
)
def docker_login(
    ctx: Context,
    registry: Optional[str] = None,
    username: Optional[str] = None,
    password_stdin: bool = False,
) -> Outcome:
    """Log in to the registry; the secret comes from stdin or docker's credential helper."""
    from helpers.ops.release import registry as registry_ops

    return registry_ops.login(registry, username, password_stdin, sys.stdin)


@task(help={"dir": DIR, "all_dirs": "every runnable dir of the repo"})
def docker_images_ls_repo(
    ctx: Context, dir: Optional[str] = None, all_dirs: bool = False
) -> Outcome:
    """List the runnable dir's local images: tag, version label, created, size."""
    from helpers.ops.run import inventory
    from helpers.outcome import Outcome

    return Outcome(inventory.images_ls_repo(dir, all_dirs))


@task(help={"all": "include stopped containers"})
def docker_ps(ctx: Context, all: bool = False) -> Outcome:
    """List the containers these tools started: name, dir, image, status."""
    from helpers.ops.run import inventory
    from helpers.outcome import Outcome

    return Outcome(inventory.ps(all))


@task(
    iterable=["name"],
    help={
        "name": "container to kill (repeatable, or comma-separated)",
        "all": "every running container these tools started",
        "repo_only": "only containers of this repo",
        "dry_run": DRY_RUN,
    },
)
def docker_kill(
    ctx: Context,
    name: Optional[list[str]] = None,
    all: bool = False,
    repo_only: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Kill containers these tools started; any other name is refused."""
    from helpers.ops.run import inventory

    return inventory.kill(name or [], all, repo_only, dry_run)


@task(
    help={
        "images": "remove images only (default: containers and images)",
        "containers": "remove stopped containers only",
        "repo_only": "only this repo's containers too (images: always only this repo's)",
        "dry_run": "list exactly what would be removed; change nothing",
    }
)
def docker_cleanup(
    ctx: Context,
    images: bool = False,
    containers: bool = False,
    repo_only: bool = False,
    dry_run: bool = False,
) -> Outcome:
    """Remove stopped containers and stale images these tools created (found by label)."""
    from helpers.ops.run import cleanup

    return cleanup.cleanup(containers, images, repo_only, dry_run)
