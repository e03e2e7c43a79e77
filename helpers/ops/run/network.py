"""Private networks: one per run (or per warm container) that has services, labelled like
every container these tools start, so listings, kills and clean-ups find them by label.

On such a network each service answers to its name (`--network-alias`), so two runs at
once each have their own `db`, and nothing of one run can reach the other's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from helpers.effects import commands, engine

DRIVER = "bridge"


def create_argv(name: str, labels: Mapping[str, str]) -> commands.Argv:
    label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    return (engine.DOCKER, "network", "create", "--driver", DRIVER, *label_args, name)


def create(name: str, labels: Mapping[str, str], runner: commands.Runner = commands.run) -> None:
    """Create it; one that exists already (a concurrent start of the same warm set) is fine."""
    result = runner(create_argv(name, labels))
    if not result.ok and "already exists" not in result.err:
        from helpers.errors import UserError

        reason = (result.err.strip().splitlines() or ["no reason given"])[-1]
        raise UserError(f"could not create the network {name} for the run's services ({reason})")


def listed(filters: Sequence[str], runner: commands.Runner = commands.run) -> list[str]:
    """Names of the networks matching every filter (`label=k=v`, `dangling=true`)."""
    argv = [engine.DOCKER, "network", "ls", "--format", "{{.Name}}"]
    for f in filters:
        argv += ["--filter", f]
    result = runner(tuple(argv))
    return [n for n in result.out.split() if n] if result.ok else []


def remove(names: Sequence[str], runner: commands.Runner = commands.run) -> int:
    """Remove the networks (their containers must be gone first); how many were asked."""
    if names:
        runner((engine.DOCKER, "network", "rm", *names))
    return len(names)


def remove_labelled(label: str, value: str, runner: commands.Runner = commands.run) -> int:
    """Remove every network labelled `label=value` (a run's, a warm set's)."""
    return remove(listed([f"label={label}={value}"], runner), runner)
