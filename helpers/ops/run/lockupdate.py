"""`docker_update_lock`: resolve a dir's dependencies inside its image with the tool it
uses, and write the lock back atomically only when the resolution succeeded.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers import events
from helpers.effects import commands, fsutil
from helpers.errors import UserError
from helpers.model import project, workspace
from helpers.ops.images import choice, locks
from helpers.ops.run import containers
from helpers.outcome import Outcome


def image_has(
    target: project.Target, ref: str, names: Sequence[str], runner: commands.Runner
) -> set[str]:
    probe = " ".join(
        f"command -v {shlex.quote(n)} >/dev/null && echo {shlex.quote(n)};" for n in names
    )
    opts = containers.RunOptions(command=("sh", "-c", probe + " true"))
    result = runner(containers.run_argv(target, ref, opts))
    return set(result.out.split())


def _add_tool(target: project.Target, job: locks.LockJob) -> str:
    """The fix: the generated Dockerfile installs what its LOCK_TOOLS build arg names (a
    config line, so the Dockerfile stays helpers' own); any other Dockerfile, a RUN line."""
    dockerfile = target.path / target.dockerfile
    shown = dockerfile.relative_to(target.root).as_posix()
    try:
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    rebuild = f"invoke docker_build_local_image --dir {shlex.quote(target.rel_dir)}"
    if re.search(rf"^\s*ARG\s+{locks.TOOLS_ARG}\b", text, re.MULTILINE):
        config_file = (
            f"{target.rel_dir}/repo_config.yaml" if target.rel_dir != "." else "repo_config.yaml"
        )
        return (
            f"add `build_args: {{{locks.TOOLS_ARG}: {job.pip_package}}}` to {config_file} "
            f"({shown} installs the pip packages it names), then {rebuild} and run "
            "docker_update_lock again"
        )
    return (
        f"add `RUN python3 -m pip install {job.pip_package}` to {shown}, then {rebuild} "
        "and run docker_update_lock again"
    )


@dataclass(frozen=True)
class Locked:
    path: Path
    tool: str
    changed: bool


def update(target: project.Target, ref: str, runner: commands.Runner = commands.run) -> Locked:
    locks.detect(target.path, root=target.root)  # nothing to lock: one line, no container
    has = image_has(target, ref, ("uv", "poetry", "pip-compile"), runner)
    job = locks.detect(target.path, has, target.root)
    if job.probe not in has:
        raise UserError(
            f"{ref} has no `{job.probe}` to lock with {job.tool}: {_add_tool(target, job)}"
        )
    where = job.lock_path(target.path).parent
    script = locks.scratch_script(target.root, workspace.relative(target.root, where), job)
    opts = containers.RunOptions(command=("sh", "-c", script))
    result = runner(containers.run_argv(target, ref, opts))
    if not result.ok or not result.out.strip():
        reason = (result.err.strip().splitlines() or ["no output"])[-1]
        raise LockFailedError(
            f"{job.tool} could not lock {target.rel_dir} in {ref} (exit {result.code}: {reason}); "
            "the lock file was left as it was"
        )
    path = job.lock_path(target.path)
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old != result.out:
        fsutil.write_atomic(path, result.out)
    return Locked(path, job.tool, old != result.out)


class LockFailedError(UserError):
    """The tool ran and failed: exit 1 like a failed command."""

    exit_code = 1


def update_dir(dir_flag: Optional[str], if_missing: str) -> Outcome:
    """`docker_update_lock`: the lock's path on stdout, whether it changed on stderr."""
    target = project.target(dir_flag)
    locks.detect(target.path, root=target.root)  # nothing to lock: say so before any image
    chosen = choice.choose(
        target, "local", None, choice.Policy(if_missing, allow_stale=True)
    ).said()
    locked = update(target, chosen.ref)
    rel = locked.path.relative_to(target.root).as_posix()
    state = "written" if locked.changed else "unchanged"
    events.progress(
        f"{rel} {state} ({locked.tool} in {chosen.ref}); the next build installs from it"
    )
    return Outcome(rel)
