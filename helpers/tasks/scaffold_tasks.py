"""Python packages as runnable dirs: create_runnable_dir, docker_update_lock."""

from __future__ import annotations

from typing import Optional

from invoke.context import Context

from helpers import output
from helpers.tasks._common import DIR_HELP, IF_MISSING_HELP, task


@task(
    positional=["name"],
    help={
        "name": "the dir: an existing pyproject package, or a new dir to scaffold",
        "force": "replace helpers' devops files that exist and differ (the refusal lists them)",
    },
)
def create_runnable_dir(ctx: Context, name: str, force: bool = False) -> None:
    """Make a pyproject package (or a new dir) a runnable dir: changelog, Dockerfile, ignores."""
    from pathlib import Path

    from helpers.model import workspace
    from helpers.ops.adoption import scaffold

    cwd = Path.cwd().resolve()
    made = scaffold.create(workspace.find_repo_root(cwd), cwd, name, force)
    for rel in made.written:
        output.data(rel)
    if made.kept:
        output.note(f"kept as they were: {', '.join(made.kept)}")

    import shlex

    output.note(
        f"{made.rel_dir} is a runnable dir at version {made.version}: next, "
        f"`invoke docker_build_local_image --dir {shlex.quote(made.rel_dir)}`"
    )


@task(help={"dir": DIR_HELP, "if_missing": IF_MISSING_HELP})
def docker_update_lock(ctx: Context, dir: Optional[str] = None, if_missing: str = "fail") -> None:
    """Resolve the dir's dependencies in its image (uv, poetry or pip-tools); write the lock."""
    from helpers import events
    from helpers.model import project
    from helpers.ops.images import choice, locks
    from helpers.ops.run import lockupdate

    target = project.target(dir)
    locks.detect(target.path, root=target.root)  # nothing to lock: say so before any image
    chosen = choice.choose(target, "local", None, choice.Policy(if_missing, allow_stale=True))
    for warning in chosen.warnings:
        events.warning(warning)
    locked = lockupdate.update(target, chosen.ref)
    rel = locked.path.relative_to(target.root).as_posix()
    output.data(rel)
    state = "written" if locked.changed else "unchanged"
    output.note(f"{rel} {state} ({locked.tool} in {chosen.ref}); the next build installs from it")
