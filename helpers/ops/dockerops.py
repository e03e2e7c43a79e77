"""What the docker tasks do, as plain functions over flags (the task layer only parses)."""

from __future__ import annotations

import dataclasses
import secrets
import sys
from typing import Optional

from helpers import events
from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import project
from helpers.ops import containers, stale
from helpers.outcome import Outcome


def build_local(
    dir_flag: Optional[str],
    version: Optional[str],
    no_cache: bool,
    build_args: list[str],
    platform: Optional[str],
    dry_run: bool,
) -> Outcome:
    """Build the dir's local image unless it is up to date; what happened, for the task to show."""
    from helpers.ops import build  # only builds pay for hashing and tar support

    target = project.target(dir_flag)
    p = build.prepare(
        target, version=version, build_args=build_args, platform=platform, no_cache=no_cache
    )
    if p.up_to_date and not dry_run:
        return Outcome(
            f"{p.ref} is up to date (inputs {p.inputs_hash[:12]} unchanged); nothing to build"
        )
    p = build.with_revision(p, build.git_revision(target))
    if dry_run:
        return Outcome.of(build.describe(p))
    events.progress(f"building {p.ref} ({p.reason}) from {len(p.context.files)} context files")
    build.execute(p)
    return Outcome(f"built {p.ref}")


def _run(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    opts: containers.RunOptions,
    policy: Optional[stale.Policy] = None,
) -> int:
    target = project.target(dir_flag)
    chosen = stale.choose(target, stage, version, policy or stale.Policy())
    for warning in chosen.warnings:
        events.warning(warning)
    containers.prepare_host(target)
    run_id = f"run-{secrets.token_hex(6)}"
    opts = dataclasses.replace(opts, run_id=run_id)
    from helpers.ops import driver

    argv = containers.run_argv(target, chosen.ref, opts)
    code = commands.run_live(argv, on_interrupt=lambda: driver.remove_run_containers(run_id))
    if code == commands.INTERRUPTED:
        driver.remove_run_containers(run_id)
    return code


def _tty() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def bash(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    policy: Optional[stale.Policy] = None,
) -> int:
    opts = containers.RunOptions(command=("bash",), interactive=True, tty=_tty())
    return _run(dir_flag, stage, version, opts, policy)


def cmd(
    command: str,
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    policy: Optional[stale.Policy] = None,
) -> int:
    if not command.strip():
        raise UserError('docker_cmd needs --cmd "the command to run"')
    line = containers.run_command_line(command)
    opts = containers.RunOptions(command=line, interactive=True, tty=_tty())
    return _run(dir_flag, stage, version, opts, policy)
