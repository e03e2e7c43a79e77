"""docker_cleanup: remove only what these tools created, found by label; plan, then execute.

By default it removes stopped containers started by these tools (`--repo-only`:
only this repo's), this repo's dangling images labelled io.helpers.managed=true,
and this user's local-stage images of this repo's runnable dirs whose version is
older than the dir's changelog. Never another repo's image (its own run of
docker_cleanup decides those), never an unlabelled image or container, never an
image a container still uses, never by force: a tag shared with other tags is
only untagged.

Services: a run's service container still running when its run has no container of
its own left (the run was killed with SIGKILL) and networks of these tools that no
container uses, both older than GRACE (a run starts its services, then its own
container, within its services' start_timeout), go too.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.version import InvalidVersion, Version

from helpers import events
from helpers.effects import commands, engine
from helpers.model import images, workspace
from helpers.ops.run import inventory
from helpers.outcome import Outcome

GRACE = 600  # seconds


@dataclass(frozen=True)
class NetworkRow:
    name: str
    created: str
    repo: str


@dataclass(frozen=True)
class Scope:
    root: str
    user: str
    versions: Mapping[str, Version]  # runnable dir -> its changelog's version
    containers: bool = True
    images: bool = True
    repo_only: bool = False
    now: Optional[datetime.datetime] = None  # UTC; None: no service or network is old enough


@dataclass(frozen=True)
class Removal:
    what: str  # the name, id or reference given to docker
    why: str


@dataclass(frozen=True)
class Plan:
    containers: tuple[Removal, ...]
    images: tuple[Removal, ...]
    services: tuple[Removal, ...] = ()  # running: removed by force, with their volumes
    networks: tuple[Removal, ...] = ()

    def argvs(self) -> list[commands.Argv]:
        out: list[commands.Argv] = []
        if self.containers:
            out.append((engine.DOCKER, "rm", "--volumes", *(r.what for r in self.containers)))
        if self.services:
            names = (r.what for r in self.services)
            out.append((engine.DOCKER, "rm", "--force", "--volumes", *names))
        if self.networks:
            out.append((engine.DOCKER, "network", "rm", *(r.what for r in self.networks)))
        if self.images:
            out.append((engine.DOCKER, "rmi", *(r.what for r in self.images)))
        return out

    def describe(self, verb: str) -> list[str]:
        lines = [f"{verb} container {r.what} ({r.why})" for r in self.containers]
        lines += [f"{verb} service {r.what} ({r.why})" for r in self.services]
        lines += [f"{verb} network {r.what} ({r.why})" for r in self.networks]
        return lines + [f"{verb} image {r.what} ({r.why})" for r in self.images]


def _used(containers: Sequence[inventory.ContainerRow], leaving: set[str]) -> set[str]:
    """Image references and ids still used by a container that stays."""
    used = set()
    for c in containers:
        if c.id not in leaving:
            used |= {c.image, engine.with_tag(c.image)}
    return used


def _in_use(img: inventory.ImageRow, used: set[str]) -> bool:
    bare = img.id.split(":", 1)[-1]
    return any(t in used for t in img.tags) or any(
        u == img.id or (len(u) >= 12 and bare.startswith(u)) for u in used
    )


def _older_local(img: inventory.ImageRow, ref: str, scope: Scope) -> str:
    """Why `ref` is an outdated local image of this repo ("" when it is not)."""
    if not ref.rpartition(":")[2].startswith(f"local-{scope.user}-"):
        return ""
    rel = img.labels.get(images.LABEL_DIR, "")
    wanted = scope.versions.get(rel)
    if img.labels.get(images.LABEL_REPO) != scope.root or wanted is None:
        return ""
    try:
        have = Version(img.labels.get(images.LABEL_VERSION, ""))
    except InvalidVersion:
        return ""
    return f"version {have} is older than {rel}'s changelog {wanted}" if have < wanted else ""


def _old(created: str, scope: Scope) -> bool:
    """Created more than GRACE before `scope.now` (`2026-12-02 06:46:49[.123] +0000 UTC`)."""
    try:
        when = datetime.datetime.strptime(created[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return scope.now is not None and (scope.now - when).total_seconds() > GRACE


def _orphans(containers: Sequence[inventory.ContainerRow], scope: Scope) -> list[Removal]:
    """Running services of a run that has no container of its own left."""
    alive = {c.run for c in containers if c.run and not c.service and not c.stopped}
    mine = [c for c in containers if c.ours and c.service and c.run and not c.stopped]
    return [
        Removal(c.name, f"service {c.service} of an ended run, {c.repo}:{c.dir}")
        for c in mine
        if c.run not in alive
        and _old(c.created, scope)
        and (not scope.repo_only or c.repo == scope.root)
    ]


def select(
    containers: Sequence[inventory.ContainerRow],
    managed: Sequence[inventory.ImageRow],
    scope: Scope,
    networks: Sequence[NetworkRow] = (),
) -> Plan:
    """Pure: what to remove, given every container, the managed images and our unused
    networks."""

    def in_scope(repo: str) -> bool:
        return not scope.repo_only or repo == scope.root

    gone = [c for c in containers if scope.containers and c.ours and c.stopped and in_scope(c.repo)]
    orphans = _orphans(containers, scope) if scope.containers else []
    nets = tuple(
        Removal(n.name, f"unused, {n.repo}")
        for n in networks
        if scope.containers and in_scope(n.repo) and _old(n.created, scope)
    )
    used = _used(containers, {c.id for c in gone})
    removals = []
    for img in managed if scope.images else ():
        if not img.managed or _in_use(img, used):
            continue
        if not img.tags:
            if img.labels.get(images.LABEL_REPO, "") == scope.root:  # never another repo's
                removals.append(Removal(img.id, "dangling"))
            continue
        for ref in img.tags:
            why = _older_local(img, ref, scope)
            if why:
                removals.append(Removal(ref, why))
    kept = tuple(Removal(c.name, f"{c.state}, {c.repo}:{c.dir}") for c in gone)
    return Plan(kept, tuple(removals), tuple(orphans), nets)


def survey(
    containers: bool, images_: bool, repo_only: bool, runner: commands.Runner = commands.run
) -> Plan:
    """Ask the engine what exists, then `select` (pure) what goes."""
    root = workspace.find_repo_root(Path.cwd())
    versions = {t.rel_dir: t.changelog.version for t in inventory.repo_targets(root, runner)}
    both = not containers and not images_
    scope = Scope(
        str(root),
        images.user_name(),
        versions,
        containers=containers or both,
        images=images_ or both,
        repo_only=repo_only,
        now=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None),
    )
    every = inventory.list_containers((), include_stopped=True, runner=runner)
    managed = inventory.list_images([inventory.MANAGED], runner) if scope.images else []
    nets = unused_networks(runner) if scope.containers else []
    return select(every, managed, scope, nets)


def unused_networks(runner: commands.Runner = commands.run) -> list[NetworkRow]:
    """Networks these tools made that no container uses (name, created, repo)."""
    fmt = f'{{{{.Name}}}}|{{{{.CreatedAt}}}}|{{{{.Label "{images.LABEL_REPO}"}}}}'
    argv = (engine.DOCKER, "network", "ls", "--format", fmt)
    result = runner((*argv, "--filter", inventory.MANAGED, "--filter", "dangling=true"))
    rows = [line.split("|") for line in result.out.splitlines() if line.count("|") == 2]
    return [NetworkRow(name, created, repo) for name, created, repo in rows]


def execute(p: Plan, runner: commands.Runner = commands.run) -> Outcome:
    """Run the removals: what was removed; what docker refuses is a warning line and exit 1."""
    code = 0
    for argv in p.argvs():
        result = runner(argv)
        if not result.ok:
            code = 1
            for line in result.err.splitlines():
                if line.strip():
                    events.warning(line.strip())
    return Outcome.of(p.describe("removing"), code)


def cleanup(
    containers: bool,
    images_: bool,
    repo_only: bool,
    dry_run: bool,
    runner: commands.Runner = commands.run,
) -> Outcome:
    p = survey(containers, images_, repo_only, runner)
    if not (p.containers or p.images or p.services or p.networks):
        return Outcome("nothing to clean up")
    if dry_run:
        return Outcome.of([*p.describe("would remove"), *map(commands.display, p.argvs())])
    return execute(p, runner)
