"""What the docker tasks do, as plain functions over flags (the task layer only parses)."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Optional

from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import project
from helpers.ops.images import choice
from helpers.ops.run import containers
from helpers.outcome import Outcome


def _run(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    opts: containers.RunOptions,
    policy: Optional[choice.Policy] = None,
    runner: commands.Runner = commands.run,
) -> int:
    target = project.target(dir_flag)
    chosen = choice.choose(target, stage, version, policy or choice.Policy(), runner).said()
    containers.prepare_host(target)
    token = os.urandom(6).hex()  # secrets.token_hex, without its imports (~3 ms)
    run_id = f"run-{token}"
    opts = dataclasses.replace(opts, run_id=run_id)
    if not target.cfg.services:  # services and inventory load only when they are needed
        return _live(containers.run_argv(target, chosen.ref, opts, ws=chosen.workspace), run_id)
    from helpers.ops.run import services

    with services.running_for(target, run_id, token) as sset:
        return _live(
            containers.run_argv(
                target, chosen.ref, services.on_network(opts, sset), ws=chosen.workspace
            ),
            run_id,
        )


def _live(argv: Sequence[str], run_id: str) -> int:
    """The container in the foreground; on Ctrl-C (or if it reports one) its run is removed."""

    def stop() -> None:
        from helpers.ops.run import inventory

        inventory.remove_run_containers(run_id)

    code = commands.run_live(argv, on_interrupt=stop)
    if code == commands.INTERRUPTED:
        stop()
    return code


def _tty() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def bash(
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    policy: Optional[choice.Policy] = None,
) -> Outcome:
    """docker_bash: the shell's exit code is the task's."""
    opts = containers.RunOptions(command=("bash",), interactive=True, tty=_tty())
    return Outcome(code=_run(dir_flag, stage, version, opts, policy))


def cmd(
    command: str,
    dir_flag: Optional[str],
    stage: str,
    version: Optional[str],
    policy: Optional[choice.Policy] = None,
    runner: commands.Runner = commands.run,
) -> Outcome:
    """docker_cmd: the command's exit code is the task's."""
    if not command.strip():
        raise UserError('docker_cmd needs --cmd "the command to run"')
    line = containers.run_command_line(command)
    opts = containers.RunOptions(command=line, interactive=True, tty=_tty())
    return Outcome(code=_run(dir_flag, stage, version, opts, policy, runner))
