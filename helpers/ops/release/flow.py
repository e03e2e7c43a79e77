"""Promotion, release and rollback of a runnable dir's images: local -> dev -> prod.

Each flow gathers facts first (local images, the registries' tags and labels, git),
refuses bad states with one line before anything runs, then hands a list of
steps to the executor in `steps` (or prints them for --dry-run).

A published `dev-X.Y.Z` / `prod-X.Y.Z` is never replaced: pushing it again is a
no-op when the registry's inputs-hash label equals this build's, refused (naming
the changed input files and the bump command) when it differs. The labels are
read from each registry, not guessed from local images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

from packaging.version import InvalidVersion, Version

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images, project, testlists, units
from helpers.model.hints import task_line
from helpers.ops.images import build, inputs_diff, platforms
from helpers.ops.release import steps as rs
from helpers.outcome import Outcome

RemoteMap = Mapping[str, Optional[registry_api.RemoteImage]]
Explain = inputs_diff.Explain  # a published image's labels -> what changed, named


@dataclass(frozen=True)
class Request:
    dir: Optional[str] = None
    platforms: Optional[str] = None
    skip_tests: bool = False
    allow_dirty: bool = False
    dry_run: bool = False
    test_list: str = "fast,slow"
    candidate: bool = False
    version: Optional[str] = None


@dataclass(frozen=True)
class Setting:
    """What every release flow works with, probed once."""

    target: project.Target
    repos: tuple[str, ...]
    plats: tuple[str, ...]
    native: str
    use_buildx: bool = False  # probed only when something is built (see with_builder)


def no_registry(target: project.Target) -> UserError:
    return UserError(
        f"no registry configured for {target.rel_dir}: set `registry` (or `registries`) in "
        "repo_config.yaml, e.g. `registry: localhost:5000`, or $HELPERS_REGISTRY"
    )


def prepare(req: Request, runner: commands.Runner = commands.run) -> Setting:
    target = project.target(req.dir)
    repos = images.repositories(target.cfg)
    if not repos:
        raise no_registry(target)
    plats = images.parse_platforms(req.platforms) if req.platforms else target.cfg.platforms
    native = platforms.native(runner)  # also the engine check: one CLI call
    missing = platforms.emulator_missing(plats, native)
    if missing:
        raise UserError(missing)
    return Setting(target, repos, plats, native)


def with_builder(s: Setting, runner: commands.Runner = commands.run) -> Setting:
    """The setting with the multi-arch path probed (buildx or classic), before building."""
    return dataclasses.replace(s, use_buildx=engine.has_buildx(runner))


def changed_inputs(
    ws: units.Workspace, paths: Collection[str], since: str, runner: commands.Runner
) -> list[str]:
    """Repo files of the build (`paths`: the dir's and its dependency units') that differ
    from commit `since` (or are new); the untracked files as the command listed them."""
    return sorted(p for p in inputs_diff.changed_since(ws, since, runner) if p in paths)


def remote(repos: Sequence[str], tag: str) -> dict[str, Optional[registry_api.RemoteImage]]:
    return {repo: registry_api.inspect(f"{repo}:{tag}") for repo in repos}


def _named(files: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


def to_push(
    target: project.Target,
    published: RemoteMap,
    tag: str,
    inputs_hash: str,
    plats: Sequence[str],
    explain: Explain = lambda labels: [],
) -> tuple[str, ...]:
    """Registries that still need `tag`; refuses when one holds it with other inputs,
    naming what changed (`explain`: the published image's labels -> what differs)."""
    todo = []
    fix = task_line("bump_version", target.rel_dir, "--part patch -m '...'")
    for repo, image in published.items():
        if image is None:
            todo.append(repo)
            continue
        theirs = image.labels.get(images.LABEL_INPUTS, "")
        if theirs != inputs_hash:
            rev = image.labels.get(images.LABEL_REVISION, "")
            changed = explain(image.labels)
            since = f" since {rev[:12]}" if rev else ""
            what = f"; changed{since}: {', '.join(changed)}" if changed else ""
            raise UserError(
                f"{repo}:{tag} is already published with inputs {theirs[:12] or 'unknown'}, "
                f"this build's are {inputs_hash[:12]}{what}: a published version is never "
                f"replaced; bump the version with `{fix}`"
            )
        if set(image.platforms) != set(plats):
            raise UserError(
                f"{repo}:{tag} is already published for {', '.join(image.platforms)}, not "
                f"{', '.join(plats)}: bump the version with `{fix}` to release other platforms"
            )
    return tuple(todo)


def not_older(moving: RemoteMap, stage: str, version: str, rel_dir: str) -> None:
    """Refuse to move `dev`/`prod` back to an older version by a release (that is a rollback)."""
    for repo, image in moving.items():
        label = image.labels.get(images.LABEL_VERSION, "") if image else ""
        try:
            newer = Version(label) > Version(version)
        except InvalidVersion:
            continue
        if newer:
            fix = task_line(f"docker_rollback_{stage}_image", rel_dir, "--version", version)
            raise UserError(
                f"{repo}:{stage} is version {label}, newer than {version} in the changelog: a "
                f"release would move it back; to go back on purpose run `{fix}`"
            )


def dirty_check(
    target: project.Target,
    ws: units.Workspace,
    paths: Collection[str],
    allow: bool,
    runner: commands.Runner = commands.run,
) -> bool:
    """Uncommitted changes in the build's files (`paths`: repo paths, the dependency
    units' too) refuse a release unless allowed."""
    dirty = changed_inputs(ws, paths, "HEAD", runner)
    if dirty and not allow:
        raise UserError(
            f"{target.rel_dir} has uncommitted changes in its image inputs "
            f"({_named(dirty)}): commit them, or pass --allow-dirty (the image's revision "
            "label then ends in -dirty)"
        )
    return bool(dirty)


def foreign_bases(s: Setting, base: str, runner: commands.Runner = commands.run) -> dict[str, str]:
    """BASE_IMAGE for each foreign platform: the platform's own image of a multi-arch base."""
    out: dict[str, str] = {}
    foreign = [p for p in s.plats if p != s.native]
    if not foreign or s.use_buildx:
        return out
    origin = s.target.cfg.origin.get("base_image", "the default")
    fix = (
        f"make base_image (set by {origin}) a multi-arch image in a registry, "
        "or release fewer --platforms"
    )
    local = None if registry_api.has_registry_host(base) else engine.inspect_image(base, runner)
    for plat in foreign:
        if registry_api.has_registry_host(base):
            digest = registry_api.platform_digest(base, plat)
            if digest:
                out[plat] = f"{base.rsplit('@', 1)[0].rsplit(':', 1)[0]}@{digest}"
                continue
            if digest == "":
                raise UserError(f"base image {base} has no {plat} image in its list: {fix}")
            image = registry_api.inspect(base)
            if image is None or plat not in image.platforms:
                raise UserError(f"base image {base} is not built for {plat}: {fix}")
            out[plat] = base
        elif local is not None and f"linux/{local.architecture}" != plat:
            raise UserError(
                f"base image {base} is here only for linux/{local.architecture} (a local "
                f"image, no {plat} variant): {fix}"
            )
        else:
            out[plat] = base  # docker pulls the platform's image itself
    return out


def publish(
    s: Setting,
    repos: Sequence[str],
    tag: str,
    native_image: str,
    labels: Mapping[str, str],
    spec: rs.BuildSpec,
    bases: Mapping[str, str],
) -> list[rs.Step]:
    if s.use_buildx:
        return rs.buildx(repos, tag, s.plats, labels, spec)
    return rs.classic(repos, tag, native_image, s.plats, s.native, labels, spec, bases)


def moves(
    s: Setting, todo: Sequence[str], published: RemoteMap, moving: RemoteMap, tag: str, stage: str
) -> list[rs.Step]:
    steps = []
    for repo in s.repos:
        have, now = published.get(repo), moving.get(repo)
        if repo in todo or have is None or now is None or now.digest != have.digest:
            steps.append(rs.move(repo, tag, stage))
    return steps


def native_ref(s: Setting, tag: str) -> str:
    """The local tag of the native image a classic release labelled."""
    main = s.repos[0]
    return f"{main}:{tag}" if s.plats == (s.native,) else rs.arch_ref(main, tag, s.native)


def finish(steps: Sequence[rs.Step], dry_run: bool, done: Callable[[], list[str]]) -> Outcome:
    """A dry run's result is its steps, none run; else the steps run (each shown as it
    starts) and the result is `done()`'s lines."""
    if dry_run:
        return Outcome.of(rs.show(steps))
    rs.execute(steps)
    return Outcome.of(done())


def labels_for(base: Mapping[str, str], revision: str, stage: str, tests: str) -> dict[str, str]:
    return {
        **base,
        images.LABEL_REVISION: revision,
        images.LABEL_STAGE: stage,
        images.LABEL_TESTS: tests,
    }


def tests_label(skip: bool) -> str:
    if skip:
        events.warning(
            "--skip-tests: NO TESTS RUN for this release; its images say "
            f"{images.LABEL_TESTS}=skipped"
        )
        return "skipped"
    return "passed"


def test_lists(text: str) -> list[str]:
    return testlists.parse_lists(text)


@dataclass(frozen=True)
class Candidate:
    """One image about to be released: its build plan, its tags, how it is tested."""

    stage: str  # dev | prod
    tag: str  # dev-X.Y.Z | prod-X.Y.Z | prod-<short commit>
    moving: Optional[str]  # dev | prod; None for a candidate (nothing moves)
    plan: build.BuildPlan
    revision: str
    baked: bool  # tests run against the code inside the image, nothing mounted
    bases: Callable[[Setting], dict[str, str]]  # BASE_IMAGE per foreign platform
    explain: Explain = field(default=lambda labels: [], compare=False)  # see to_push


def _test_step(target: project.Target, ref: str, lists: Sequence[str], baked: bool) -> rs.Step:
    from helpers.ops.testing import single

    where = "the code inside, no mount" if baked else "the repo mounted, a fresh container"
    return rs.Step(
        f"test the {'prod' if baked else 'local'} image",
        shown=f"pytest --test-list {','.join(lists)} in {ref} ({where})",
        call=lambda: single.run_in_image(target, ref, lists, baked=baked),
    )


def release(
    s: Setting, c: Candidate, req: Request, runner: commands.Runner = commands.run
) -> Outcome:
    """Refuse what must not be pushed, then build -> test -> push -> move, every step shown."""
    target, p = s.target, c.plan
    lists = test_lists(req.test_list)
    published = remote(s.repos, c.tag)
    moving = remote(s.repos, c.moving) if c.moving else {}
    if c.moving:
        not_older(moving, c.moving, p.version, target.rel_dir)
    todo = to_push(target, published, c.tag, p.inputs_hash, s.plats, c.explain)
    steps: list[rs.Step] = []
    if todo:
        s = with_builder(s, runner)
        bases = c.bases(s)
        if not p.up_to_date:
            same = p.labels.get(images.LABEL_REVISION) == c.revision
            built = p if same else build.with_revision(p, c.revision)
            steps.append(rs.Step(f"build {p.ref}", built.argv, context=built.context))
        tests = tests_label(req.skip_tests)
        if not req.skip_tests:
            steps.append(_test_step(target, p.ref, lists, c.baked))
        labels = labels_for(p.labels, c.revision, c.stage, tests)
        steps += publish(s, todo, c.tag, p.ref, labels, rs.BuildSpec(p.context, p.args), bases)
    if c.moving:
        steps += moves(s, todo, published, moving, c.tag, c.moving)
    if todo and not s.use_buildx:
        here = [f"{s.repos[0]}:{t}" for t in (c.tag, c.moving) if t]
        steps += rs.local_tags(native_ref(s, c.tag), here)
    if not steps:
        also = f" and {c.moving} points at it" if c.moving else ""
        return Outcome(
            f"nothing to release: {c.tag} is published with the same inputs "
            f"({p.inputs_hash[:12]}){also} in {', '.join(s.repos)}"
        )
    if not c.moving:
        events.progress(f"candidate {c.tag}: pushed for a trial; no moving tag moves")
    return finish(steps, req.dry_run, lambda: report(s.repos, c.tag, c.moving))


def report(repos: Sequence[str], tag: str, moving: Optional[str]) -> list[str]:
    """What the registries hold now, read back."""
    lines = []
    for repo in repos:
        image = registry_api.inspect(f"{repo}:{tag}")
        digest = image.digest if image else "?"
        plats = ", ".join(image.platforms) if image else "?"
        also = f" and {repo}:{moving}" if moving else ""
        lines.append(f"released {repo}:{tag}{also} ({digest}; {plats})")
    return lines
