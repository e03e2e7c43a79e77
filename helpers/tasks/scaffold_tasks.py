"""Making runnable dirs: create_runnable_dir."""

from __future__ import annotations

from invoke.context import Context

from helpers.tasks._common import task


@task(
    positional=["name"],
    help={
        "name": "the dir: an existing pyproject package, or a new dir to scaffold",
        "force": "overwrite the files it writes when they exist",
    },
)
def create_runnable_dir(ctx: Context, name: str, force: bool = False) -> None:
    """Make a pyproject package (or a new dir) a runnable dir: changelog, Dockerfile, ignores."""
    from pathlib import Path

    from helpers import scaffold, workspace

    cwd = Path.cwd().resolve()
    made = scaffold.create(workspace.find_repo_root(cwd), cwd, name, force)
    for rel in made.written:
        print(rel)
    from helpers.errors import say

    say(
        f"{made.rel_dir} is a runnable dir at version {made.version}: next, "
        f"`invoke docker_build_local_image --dir {made.rel_dir}`"
    )
