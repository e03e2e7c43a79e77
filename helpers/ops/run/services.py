"""The services of a run: a private network, one container per service on it, each
healthy before the dir's own container starts; all removed when the run ends.

`plan` computes the set (names, argvs, health checks) and asks nothing; `start`
creates the network, starts every service and waits until each is healthy; `stop`
removes them. Every service container is labelled like the run's own container
(managed, container, repo, dir, and the run id or the warm container's slot), plus
`io.helpers.service=<name>` and `io.helpers.service-of=<owner>`, so `docker_ps`,
`docker_kill`, `docker_cleanup` and a run's interrupt clean-up
(`inventory.remove_run_containers`) find them by label.

Scopes: a run's own set (`for_run`: names carry the run's token, labels its run id)
dies with the run; a warm container's set (`for_warm`: names derive from the warm
container's, which hashes the services' config) joins the warm container's PID
namespace, so when the warm container ends (its lifetime, `docker_kill`, a newer
one) its services end with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from helpers import events
from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import images, project
from helpers.model.services import Service, names
from helpers.ops.run import network
from helpers.ops.run.containers import LABEL_CONTAINER, LABEL_RUN, RunOptions, mount_source

LABEL_SERVICE = "io.helpers.service"  # on service containers and images: the service's name
LABEL_OWNER = "io.helpers.service-of"  # the run id or warm container the services serve
LABEL_WARM_SERVICE = "io.helpers.warm-service"  # a warm set's services and network: its slot
SERVICES_ENV = "HELPERS_SERVICES"
LOG_LINES = 20
POLL = 0.1
STATE_FORMAT = (
    "{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
)


@dataclass(frozen=True)
class Resolved:
    """The image a service runs: its reference and id."""

    ref: str
    id: str


@dataclass(frozen=True)
class ServiceRun:
    name: str
    container: str
    argv: commands.Argv  # `docker run --detach ...`
    health: commands.Argv  # `docker exec <container> <check>`; () = running (or the image's own)
    timeout: float
    where: str


@dataclass(frozen=True)
class ServiceSet:
    rel_dir: str
    network: str
    network_labels: Mapping[str, str]
    services: tuple[ServiceRun, ...]

    @property
    def env(self) -> dict[str, str]:
        return {SERVICES_ENV: ",".join(s.name for s in self.services)}

    @property
    def containers(self) -> tuple[str, ...]:
        return tuple(s.container for s in self.services)


class NotHealthyError(UserError):
    """A service that did not get healthy in time; `logs` are its last log lines."""

    def __init__(self, message: str, logs: Sequence[str]) -> None:
        super().__init__(message)
        self.logs = tuple(logs)


@dataclass(frozen=True)
class Scope:
    """Whose services these are: their names' prefix and suffix, and the labels they carry."""

    prefix: str
    suffix: str
    labels: Mapping[str, str] = field(default_factory=dict)
    pid_of: str = ""  # a warm container whose PID namespace (and so lifetime) they share
    network: str = ""  # a network name fixed elsewhere (a devcontainer.json names it)


def check_network(target: project.Target) -> None:
    if target.cfg.services and target.cfg.network:
        where = target.cfg.origin.get("network", "repo_config.yaml")
        raise UserError(
            f"{where}: 'network: {target.cfg.network}' and 'services' cannot go together "
            "(services need the run's own private network); drop one of them"
        )


def for_run(target: project.Target, run_id: str, token: str) -> Scope:
    base = f"helpers-{target.cfg.image_name.replace('/', '-')}"
    return Scope(f"{base}-svc", f"-{token}", {LABEL_RUN: run_id, LABEL_OWNER: run_id})


def for_warm(warm_name: str, slot: str) -> Scope:
    labels = {LABEL_WARM_SERVICE: slot, LABEL_OWNER: warm_name}
    return Scope(warm_name, "", labels, pid_of=warm_name)


def _labels(target: project.Target, scope: Scope) -> dict[str, str]:
    return {
        images.LABEL_MANAGED: "true",
        images.LABEL_DIR: target.rel_dir,
        images.LABEL_REPO: str(target.root),
        LABEL_CONTAINER: "true",
        **scope.labels,
    }


def _service_argv(
    target: project.Target, svc: Service, ref: str, name: str, net: str, scope: Scope
) -> commands.Argv:
    argv = [engine.DOCKER, "run", "--detach", "--name", name, "--network", net]
    argv += ["--network-alias", svc.name, "--hostname", svc.name]
    labels = {**_labels(target, scope), LABEL_SERVICE: svc.name}
    argv += [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    if scope.pid_of:
        argv += ["--pid", f"container:{scope.pid_of}"]
    for key, value in svc.env.items():  # from repo_config.yaml: committed, not secret
        argv += ["--env", f"{key}={value}"]
    for path in svc.tmpfs:
        argv += ["--tmpfs", path]
    for spec in svc.volumes:
        host, rest = mount_source(spec, target.root)
        argv += ["--volume", ":".join([str(host), *rest])]
    return (*argv, ref, *svc.command)


def plan(
    target: project.Target, refs: Mapping[str, Resolved], scope: Scope
) -> Optional[ServiceSet]:
    """The dir's services as containers of `scope` (None: the dir declares none); pure."""
    if not target.cfg.services:
        return None
    check_network(target)
    net = scope.network or (
        f"{scope.prefix}{scope.suffix}" if scope.pid_of else f"{scope.prefix}-net{scope.suffix}"
    )
    runs = []
    for svc in target.cfg.services.values():
        name = f"{scope.prefix}-{svc.name}{scope.suffix}"
        argv = _service_argv(target, svc, refs[svc.name].ref, name, net, scope)
        health = (engine.DOCKER, "exec", name, *svc.healthcheck) if svc.healthcheck else ()
        runs.append(ServiceRun(svc.name, name, argv, health, svc.start_timeout, svc.where))
    return ServiceSet(target.rel_dir, net, _labels(target, scope), tuple(runs))


def resolve(target: project.Target, runner: commands.Runner = commands.run) -> dict[str, Resolved]:
    """Each service's image, pulled or built when needed (asks the engine)."""
    from helpers.ops.run import service_images

    check_network(target)
    return {n: service_images.resolve(target, s, runner) for n, s in target.cfg.services.items()}


def fingerprint(target: project.Target, refs: Mapping[str, Resolved]) -> str:
    """What a warm container's key adds for its services: their config and image ids."""
    parts = [f"{s.fingerprint()}@{refs[n].id}" for n, s in target.cfg.services.items()]
    return names(target.cfg.services) + "|" + "|".join(parts)


# ---------------------------------------------------------------- execute


@contextlib.contextmanager
def running_for(
    target: project.Target, run_id: str, token: str, runner: commands.Runner = commands.run
) -> Iterator[Optional[ServiceSet]]:
    """The dir's services, up and healthy inside, removed after (None: it has none).
    For runs that start their container after this (docker_bash, docker_cmd, jupyter)."""
    if not target.cfg.services:
        yield None
        return
    sset = plan(target, resolve(target, runner), for_run(target, run_id, token))
    assert sset is not None
    with logs_shown():
        start(sset, runner)
    try:
        yield sset
    finally:
        stop(sset, runner)


def on_network(opts: RunOptions, sset: Optional[ServiceSet]) -> RunOptions:
    """Run options that put the container on the services' network, with HELPERS_SERVICES."""
    if sset is None:
        return opts
    return dataclasses.replace(opts, network=sset.network, env={**opts.env, **sset.env})


def start(
    sset: ServiceSet,
    runner: commands.Runner = commands.run,
    stopping: Optional[threading.Event] = None,
    create_network: bool = True,
    poll: float = POLL,
) -> None:
    """Network, services, health: on any failure (or an interrupt) nothing is left.
    `create_network=False`: it exists (a warm container is on it already)."""
    if create_network:
        network.create(sset.network, sset.network_labels, runner)
    try:
        for svc in sset.services:
            result = runner(svc.argv)
            if not result.ok:
                reason = (result.err.strip().splitlines() or ["no reason given"])[-1]
                raise UserError(
                    f"{svc.where}: service {svc.name} of {sset.rel_dir} did not start ({reason})"
                )
        wait_healthy(sset, runner, stopping, poll)
    except BaseException:
        stop(sset, runner)
        raise


def stop(sset: ServiceSet, runner: commands.Runner = commands.run) -> None:
    runner((engine.DOCKER, "rm", "--force", "--volumes", *sset.containers))
    network.remove([sset.network], runner)


def remove_owned(owners: Sequence[str], runner: commands.Runner = commands.run) -> int:
    """Remove the services and networks of these (warm) containers, in two listings."""
    owner = f'{{{{.Label "{LABEL_OWNER}"}}}}'
    label = ("--filter", f"label={LABEL_OWNER}", "--format")
    listed = runner((engine.DOCKER, "ps", "--all", *label, f"{{{{.Names}}}} {owner}"))
    boxes = _owned(listed.out, owners)
    if boxes:
        runner((engine.DOCKER, "rm", "--force", "--volumes", *boxes))
    nets = runner((engine.DOCKER, "network", "ls", *label, f"{{{{.Name}}}} {owner}"))
    network.remove(_owned(nets.out, owners), runner)
    return len(boxes)


def _owned(listing: str, owners: Sequence[str]) -> list[str]:
    """Names from `NAME OWNER` lines whose owner is one of `owners`."""
    rows = [line.split() for line in listing.splitlines()]
    return [row[0] for row in rows if len(row) == 2 and row[1] in owners]


def _state(container: str, runner: commands.Runner) -> tuple[str, str, str]:
    """(status, exit code, health) of the container; status "" when it is gone."""
    result = runner((engine.DOCKER, "container", "inspect", "--format", STATE_FORMAT, container))
    if not result.ok:
        return "", "", ""
    status, code, *health = [*result.out.split(), ""]
    return status, code, health[0]


GONE = ("is not running", "No such container")


def _healthy(svc: ServiceRun, runner: commands.Runner) -> tuple[bool, str]:
    """Healthy now? Else why it never will be ("" while it still may)."""
    if svc.health:
        result = runner(svc.health)
        if result.ok:
            return True, ""
        if not any(text in result.err for text in GONE):
            return False, ""  # still starting
    status, code, health = _state(svc.container, runner)
    if status != "running":
        return False, f"it exited with code {code}" if status else "its container is gone"
    if health == "unhealthy":
        return False, "its image's own HEALTHCHECK says unhealthy"
    return not svc.health and health in ("", "healthy"), ""


def logs(container: str, runner: commands.Runner = commands.run) -> list[str]:
    result = runner((engine.DOCKER, "logs", "--tail", str(LOG_LINES), container))
    return [line for line in (result.out + result.err).splitlines() if line.strip()]


def wait_healthy(
    sset: ServiceSet,
    runner: commands.Runner = commands.run,
    stopping: Optional[threading.Event] = None,
    poll: float = POLL,
) -> None:
    """Until every service is healthy; one that exits or outlives its start_timeout fails."""
    begin = time.monotonic()
    pending = list(sset.services)
    while pending:
        for svc in list(pending):
            ok, failed = _healthy(svc, runner)
            if ok:
                pending.remove(svc)
                continue
            late = time.monotonic() - begin > svc.timeout
            if failed or late:
                raise _not_healthy(sset, svc, failed or _still_failing(svc, runner), runner)
        if stopping is not None and stopping.is_set():
            raise KeyboardInterrupt
        if pending:
            time.sleep(poll)


def _still_failing(svc: ServiceRun, runner: commands.Runner) -> str:
    if not svc.health:
        return f"not healthy in {svc.timeout:g} s"
    check = svc.health[-1] if svc.health[3:5] == ("sh", "-c") else commands.display(svc.health[3:])
    last = runner(svc.health)
    detail = (last.out + last.err).strip().splitlines()
    return f"healthcheck `{check}` still failing after {svc.timeout:g} s" + (
        f": {detail[-1]}" if detail else ""
    )


def _not_healthy(
    sset: ServiceSet, svc: ServiceRun, why: str, runner: commands.Runner
) -> NotHealthyError:
    lines = [f"{svc.name} | {line}" for line in logs(svc.container, runner)]
    return NotHealthyError(
        f"service {svc.name} of {sset.rel_dir} is not healthy ({why}); "
        f"{'its last log lines are above' if lines else 'it logged nothing'} ({svc.where})",
        lines,
    )


def show_logs(err: UserError) -> None:
    """A service's last log lines, when `err` is about one that did not get healthy."""
    for line in getattr(err, "logs", ()):
        events.progress(line)


@contextlib.contextmanager
def logs_shown() -> Iterator[None]:
    """Inside: a service that does not get healthy shows its last log lines, then the
    error goes on to the edge (its one line, exit 2)."""
    try:
        yield
    except NotHealthyError as err:
        show_logs(err)
        raise
