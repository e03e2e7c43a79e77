"""Warm containers: run_tests reuses one idle container per dir, image and run settings.

`docker exec` into a running container costs ~0.1 s where `docker run` costs ~0.4 s.
A warm container runs `sleep LIFETIME` with the same mounts, user and env as a
fresh test container would, and removes itself (--rm) when the sleep ends; one
older than REUSE_FOR is replaced rather than reused, so a run never races its end.
Its name is a hash of everything it was started with (image id, run argv, env
file), so a rebuilt image or changed config gets a new one. `--fresh` (or config
`warm_containers: false`) runs in a new container as main_pytest always does.

A dir with `services` keeps them warm beside its warm container: on a network named
after it, in its PID namespace (so they end when it ends), with their config and image
ids in its key (a changed service config starts a fresh set). Such a set is leased to
one run at a time (`effects.leases`): a second run of the same dir at once gets
`None` from `ensure` and runs with fresh services of its own, never the first's.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Optional

from helpers.effects import commands, engine, leases
from helpers.errors import UserError
from helpers.model import project
from helpers.ops.run import containers, network, services
from helpers.ops.run.services import Resolved

LABEL_WARM = "io.helpers.warm"
STATE_FORMAT = "{{.State.Running}} {{.State.StartedAt}}"
LIFETIME = 1800
REUSE_FOR = 1200


def _slot(target: project.Target) -> str:
    return f"{target.root}:{target.rel_dir}"


def _options(
    target: project.Target, name: str, sset: Optional[services.ServiceSet] = None
) -> containers.RunOptions:
    return containers.RunOptions(
        command=("sleep", str(LIFETIME)),
        env={**containers.container_env(target), **(sset.env if sset else {})},
        detach=True,
        name=name,
        labels={LABEL_WARM: _slot(target)},
        network=sset.network if sset else "",
    )


def _key(target: project.Target, image: engine.ImageInfo, refs: Mapping[str, Resolved]) -> str:
    digest = hashlib.sha256(image.id.encode())
    if refs:  # the services' config and images: a change starts a fresh set
        digest.update(f"\0services:{services.fingerprint(target, refs)}".encode())
    argv = list(containers.run_argv(target, image.ref, _options(target, "warm")))
    if containers.ENV_FILE_FLAG in argv:  # a temp file per process: its content counts below
        del argv[argv.index(containers.ENV_FILE_FLAG) + 1]
    digest.update("\0".join(argv).encode())
    # The mounted dir itself, not only its path: a repo deleted and cloned again at the
    # same path is a new dir, and a container still holding the old mount cannot exec.
    here = target.root.stat()
    digest.update(f"\0{here.st_dev}:{here.st_ino}".encode())
    env_file = target.root / target.cfg.env_file
    if env_file.is_file():
        digest.update(env_file.read_bytes())
    return digest.hexdigest()[:12]


def _age_seconds(started_at: str) -> float:
    started = datetime.datetime.strptime(started_at[:19], "%Y-%m-%dT%H:%M:%S")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now - started).total_seconds()


def remove_for_dir(
    target: project.Target, runner: commands.Runner = commands.run, keep: str = ""
) -> None:
    """Remove this dir's warm containers (stale ones, or before starting a new one) with
    their services and networks; `keep` is spared: another run may have just started it
    (main_pytest runs at once)."""
    engine.remove_labelled(LABEL_WARM, _slot(target), runner, keep)
    slot = f"label={services.LABEL_WARM_SERVICE}={_slot(target)}"
    fmt = f'{{{{.Names}}}} {{{{.Label "{services.LABEL_OWNER}"}}}}'
    listed = runner((engine.DOCKER, "ps", "--all", "--filter", slot, "--format", fmt))
    rows = [line.split() for line in listed.out.splitlines() if line.strip()]
    gone = [row[0] for row in rows if row[-1] != keep]
    if gone:
        runner((engine.DOCKER, "rm", "--force", "--volumes", *gone))
    network.remove([n for n in network.listed([slot], runner) if n != keep], runner)


def name_for(target: project.Target, image: engine.ImageInfo, refs: Mapping[str, Resolved]) -> str:
    return f"helpers-warm-{target.cfg.image_name.replace('/', '-')}-{_key(target, image, refs)}"


def _services_up(name: str, count: int, runner: commands.Runner) -> bool:
    owner = f"label={services.LABEL_OWNER}={name}"
    argv = (engine.DOCKER, "ps", "--quiet", "--filter", owner, "--filter", "status=running")
    return len(runner(argv).out.split()) == count


def ensure(
    target: project.Target, image: engine.ImageInfo, runner: commands.Runner = commands.run
) -> str:
    """The name of a running warm container for this dir and image, started if needed."""
    return _ensure(target, image, runner, {}, None)


def ensure_with_services(
    target: project.Target,
    image: engine.ImageInfo,
    refs: Mapping[str, Resolved],
    runner: commands.Runner = commands.run,
    stopping: Optional[threading.Event] = None,
) -> Optional[str]:
    """`ensure`, with the dir's services (`refs`: their images) running and healthy beside
    the warm container. None: this warm set serves another run right now (run with fresh
    ones). `stopping` set: the wait for the services ends (an interrupt)."""
    if refs and not leases.try_hold(name_for(target, image, refs)):
        return None
    return _ensure(target, image, runner, refs, stopping)


def _ensure(
    target: project.Target,
    image: engine.ImageInfo,
    runner: commands.Runner,
    refs: Mapping[str, Resolved],
    stopping: Optional[threading.Event],
) -> str:
    name = name_for(target, image, refs)
    fmt = STATE_FORMAT
    state = runner((engine.DOCKER, "container", "inspect", "--format", fmt, name))
    if state.ok:
        running, _, started = state.out.strip().partition(" ")
        young = running == "true" and _age_seconds(started) < REUSE_FOR
        if young and (not refs or _services_up(name, len(refs), runner)):
            return name
        if not refs and _created(running, started) and _winner_runs(name, runner):
            return name  # another run's, created a moment ago and starting: share it
        remove(name, runner)  # expired, stopped, or a service of it is gone
    remove_for_dir(target, runner, keep=name)
    containers.prepare_host(target)
    sset = services.plan(target, refs, services.for_warm(name, _slot(target)))
    if sset is None:
        return _start(target, image, name, runner)
    try:  # a warm set with services is this run's alone (the lease): on any failure, gone
        network.create(sset.network, sset.network_labels, runner)
        _start(target, image, name, runner, sset)
        services.start(sset, runner, stopping, create_network=False)
    except BaseException:
        remove(name, runner)
        raise
    return name


def _start(
    target: project.Target,
    image: engine.ImageInfo,
    name: str,
    runner: commands.Runner,
    sset: Optional[services.ServiceSet] = None,
) -> str:
    argv = containers.run_argv(target, image.ref, _options(target, name, sset))
    for _ in range(START_TRIES):
        started_run = runner(argv)
        if started_run.ok or _winner_runs(name, runner):
            return name  # a concurrent run created the same container first: use the winner's
        if "Conflict" not in started_run.err:
            break
        # the name is held by a container on its way out (docker lets go of a name a
        # moment after `docker rm` returns): try again shortly
        time.sleep(0.2)
    reason = engine.first_line(started_run.err)
    raise UserError(
        f"could not start a warm container from {image.ref} ({reason}); "
        "pass --fresh to run in a new container"
    )


START_TRIES = 15  # 3 s of a name on its way out
RACE_WAIT = 10.0  # seconds a losing run waits for the winner's container to be running


def _created(running: str, started: str) -> bool:
    """Created and never started (docker's zero time): a `docker run` is under way."""
    return running == "false" and started.startswith("0001-")


def _winner_runs(name: str, runner: commands.Runner, wait: float = RACE_WAIT) -> bool:
    """True once the container `name` (another run's, created a moment earlier) runs;
    False when there is none, or it ended."""
    deadline = time.monotonic() + wait
    while True:
        state = runner((engine.DOCKER, "container", "inspect", "--format", STATE_FORMAT, name))
        running, _, started = state.out.strip().partition(" ")
        if state.ok and running == "true":
            return True
        if not (state.ok and _created(running, started)) or time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # created, not started yet: the winner's `docker run` is under way


def remove(name: str, runner: commands.Runner = commands.run) -> None:
    """Remove a warm container, and its services and network when it has them."""
    runner((engine.DOCKER, "rm", "--force", name))
    services.remove_owned([name], runner)
