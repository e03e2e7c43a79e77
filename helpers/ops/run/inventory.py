"""Everyday engine chores: list what these tools made, pull, log in, kill.

"Ours" is decided by label, never by name: images carry io.helpers.managed=true
(set at build); containers started by these tools also carry
io.helpers.container=true, which no image carries (a container inherits its
image's labels, so a container someone started by hand from one of our images
is not ours). Listings cost a constant number of engine calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers import events, tables
from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import config, images, project, workspace
from helpers.ops.run import containers, network, services
from helpers.ops.run.services import LABEL_SERVICE
from helpers.outcome import Outcome

MANAGED = f"label={images.LABEL_MANAGED}=true"
OURS = (MANAGED, f"label={containers.LABEL_CONTAINER}=true")
STOPPED = frozenset({"created", "exited", "dead"})


def _label(name: str) -> str:
    return f'{{{{json (.Label "{name}")}}}}'


_PS_FORMAT = (
    '{"id":{{json .ID}},"name":{{json .Names}},"image":{{json .Image}},'
    '"state":{{json .State}},"status":{{json .Status}},'
    f'"repo":{_label(images.LABEL_REPO)},"dir":{_label(images.LABEL_DIR)},'
    f'"managed":{_label(images.LABEL_MANAGED)},"container":{_label(containers.LABEL_CONTAINER)},'
    f'"service":{_label(LABEL_SERVICE)},"run":{_label(containers.LABEL_RUN)},'
    '"created":{{json .CreatedAt}}}'
)


@dataclass(frozen=True)
class ContainerRow:
    id: str
    name: str
    image: str
    state: str
    status: str
    repo: str = ""
    dir: str = ""
    ours: bool = False
    service: str = ""  # the service's name, for a service container of a run
    run: str = ""  # the run id that started it (not on warm containers)
    created: str = ""  # `2026-12-02 06:46:49 +0000 UTC`, as the engine lists it

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED


@dataclass(frozen=True)
class ImageRow:
    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    created: str = ""
    size: int = 0

    @property
    def managed(self) -> bool:
        return self.labels.get(images.LABEL_MANAGED) == "true"


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def checked(result: commands.Result, runner: commands.Runner) -> commands.Result:
    """A failed engine call becomes one line: the engine-down message, or docker's reason."""
    if result.ok:
        return result
    st = engine.status(runner)
    if not st.reachable:
        raise UserError(engine.down_message(st))
    raise UserError(f"`{commands.display(result.argv)}` failed: {last_line(result.err)}")


def _filters(filters: Sequence[str]) -> list[str]:
    return [arg for f in filters for arg in ("--filter", f)]


def list_containers(
    filters: Sequence[str] = OURS,
    *,
    include_stopped: bool = False,
    runner: commands.Runner = commands.run,
) -> list[ContainerRow]:
    """Containers matching all `filters` (default: ours); one engine call."""
    flags = ["--all"] if include_stopped else []
    argv = (engine.DOCKER, "ps", *flags, "--no-trunc", "--format", _PS_FORMAT, *_filters(filters))
    rows = []
    for line in checked(runner(argv), runner).out.splitlines():
        if line.strip():
            d = json.loads(line)
            ours = d["managed"] == "true" and d["container"] == "true"
            rows.append(
                ContainerRow(
                    d["id"],
                    d["name"],
                    d["image"],
                    d["state"],
                    d["status"],
                    repo=d["repo"],
                    dir=d["dir"],
                    ours=ours,
                    service=d.get("service") or "",
                    run=d.get("run") or "",
                    created=d.get("created") or "",
                )
            )
    return rows


def list_images(filters: Sequence[str], runner: commands.Runner = commands.run) -> list[ImageRow]:
    """Top-level images matching `filters`, with tags and labels: two engine calls."""
    ls = (engine.DOCKER, "image", "ls", "--quiet", "--no-trunc", *_filters(filters))
    ids = list(dict.fromkeys(checked(runner(ls), runner).out.split()))
    if not ids:
        return []
    # An image removed between the two calls is simply missing from the answer.
    result = runner((engine.DOCKER, "image", "inspect", "--format", "{{json .}}", *ids))
    if not result.out.strip():
        checked(result, runner)
    rows = []
    for line in result.out.splitlines():
        if line.strip():
            d = json.loads(line)
            labels = (d.get("Config") or {}).get("Labels") or {}
            tags = tuple(d.get("RepoTags") or ())
            rows.append(ImageRow(d["Id"], tags, labels, d.get("Created", ""), d.get("Size", 0)))
    return rows


def repo_targets(root: Path, runner: commands.Runner = commands.run) -> list[project.Target]:
    """Every runnable dir of the repo with its config."""
    ignore = config.load(root, ".").ignore_dirs
    rels = workspace.runnable_in_work_tree(root, workspace.list_files(root, runner), ignore)
    return [project.Target.load(root, rel) for rel in rels]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return tables.render([headers, *rows])


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size}B"


def when(created: str) -> str:
    """`2026-11-22T03:00:47.12Z` -> `2026-11-22 03:00:47` (UTC, as the engine gives it)."""
    return created[:19].replace("T", " ") if created else "-"


def image_table_rows(
    repos: Mapping[str, str], found: Sequence[ImageRow]
) -> list[tuple[str, str, str, str, str]]:
    """(dir, image, version, created, size) for every tag in one of `repos` (repository -> dir).

    Ordered by dir (root first), then newest first, then by name.
    """
    rows = []
    for img in found:
        for ref in sorted(img.tags):
            repo = ref.rpartition(":")[0]
            if repo in repos:
                version = img.labels.get(images.LABEL_VERSION, "-")
                rows.append((repos[repo], ref, version, img.created, human_size(img.size)))
    rows.sort(key=lambda r: r[1])
    rows.sort(key=lambda r: r[3], reverse=True)
    rows.sort(key=lambda r: (r[0] != ".", r[0]))
    return [(d, ref, v, when(created), size) for d, ref, v, created, size in rows]


def images_ls_repo(
    dir_flag: Optional[str], all_dirs: bool, runner: commands.Runner = commands.run
) -> str:
    if all_dirs:
        root = workspace.find_repo_root(Path.cwd())
        targets = repo_targets(root, runner)
    else:
        targets = [project.target(dir_flag)]
    repos = {images.repository(t.cfg): t.rel_dir for t in targets}
    found = list_images([f"reference={r}" for r in repos], runner)
    rows = image_table_rows(repos, found)
    if not rows:
        names = ", ".join(repos)
        return f"no local images of {names}; build one with `invoke docker_build_local_image`"
    return table(("DIR", "IMAGE", "VERSION", "CREATED (UTC)", "SIZE"), rows)


def ps_table(
    rows: Sequence[ContainerRow], here: Optional[Path] = None, *, every: bool = False
) -> str:
    if not rows:
        return "no containers started by these tools" + (
            "" if every else " are running (--all includes stopped ones)"
        )
    body = []
    for c in rows:
        where = c.dir if here is not None and c.repo == str(here) else f"{c.repo}:{c.dir}"
        where += f" (service {c.service})" if c.service else ""
        body.append((c.name, where, c.image, c.status))
    return table(("NAME", "DIR", "IMAGE", "STATUS"), body)


def ps(show_all: bool, runner: commands.Runner = commands.run) -> str:
    rows = list_containers(include_stopped=show_all, runner=runner)
    try:
        here: Optional[Path] = workspace.find_repo_root(Path.cwd())
    except UserError:
        here = None
    return ps_table(rows, here, every=show_all)


def split_names(names: Sequence[str]) -> list[str]:
    """`--name a --name b,c` -> [a, b, c]."""
    return [n.strip() for item in names for n in item.split(",") if n.strip()]


def select_kill(
    running: Sequence[ContainerRow], names: Sequence[str], kill_all: bool, repo: Optional[str]
) -> list[ContainerRow]:
    """The containers to kill; a name that is not a running container of ours is refused."""
    ours = [c for c in running if c.ours and (repo is None or c.repo == repo)]
    if not names and not kill_all:
        raise UserError(
            "docker_kill needs --name NAME (repeatable) or --all; see `invoke docker_ps`"
        )
    chosen = list(ours) if kill_all else []
    for name in names:
        match = [
            c for c in ours if name in (c.name, c.id) or (len(name) >= 12 and c.id.startswith(name))
        ]
        if not match:
            raise UserError(
                f"{name!r} is not a running container started by these tools; not killing it "
                "(`invoke docker_ps` lists ours)"
            )
        chosen += [c for c in match if c not in chosen]
    return chosen


def kill_argv(chosen: Sequence[ContainerRow]) -> commands.Argv:
    return (engine.DOCKER, "kill", *(c.name for c in chosen))


def kill(
    names: Sequence[str],
    kill_all: bool,
    repo_only: bool,
    dry_run: bool,
    runner: commands.Runner = commands.run,
) -> Outcome:
    repo = str(workspace.find_repo_root(Path.cwd())) if repo_only else None
    running = list_containers(runner=runner)
    chosen = select_kill(running, split_names(names), kill_all, repo)
    if not chosen:
        return Outcome("nothing to kill: no container started by these tools is running")
    argv = kill_argv(chosen)
    if dry_run:
        return Outcome(commands.display(argv))
    result = runner(argv)
    if not result.ok:
        events.warning(last_line(result.err))

    services.remove_owned([c.name for c in chosen], runner)  # a warm container's services
    killed = [f"killed {c.name}" for c in chosen if c.name in result.out.split()]
    return Outcome.of(killed, 0 if result.ok else 1)


def remove_run_containers(run_id: str, runner: commands.Runner = commands.run) -> int:
    """Every container of the run (its services too), then its networks; how many containers."""
    removed = engine.remove_labelled(containers.LABEL_RUN, run_id, runner)
    network.remove_labelled(containers.LABEL_RUN, run_id, runner)
    return removed
