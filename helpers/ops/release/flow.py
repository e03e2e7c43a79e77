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

from helpers import events, tables
from helpers.effects import commands, registry_api
from helpers.errors import UserError
from helpers.model import images, project, testlists, units
from helpers.model.hints import task_line
from helpers.ops.images import build, inputs_diff, platforms
from helpers.ops.release import attest, multiarch, publish
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
    test_platforms: str = "native"


@dataclass(frozen=True)
class Setting:
    """What every release flow works with, probed once."""

    target: project.Target
    repos: tuple[str, ...]
    plats: tuple[str, ...]
    native: str


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


def changed_inputs(
    ws: units.Workspace, paths: Collection[str], since: str, runner: commands.Runner
) -> list[str]:
    """Repo files of the build (`paths`: the dir's and its dependency units') that differ
    from commit `since` (or are new); the untracked files as the command listed them."""
    return sorted(p for p in inputs_diff.changed_since(ws, since, runner) if p in paths)


def remote(repos: Sequence[str], tag: str) -> dict[str, Optional[registry_api.RemoteImage]]:
    return {repo: registry_api.inspect(f"{repo}:{tag}") for repo in repos}


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
    units' too) refuse a release unless allowed; the changelog is one (the version label
    comes from it), whether or not the build context holds it."""
    changelog = target.changelog.path.relative_to(target.root).as_posix()
    dirty = changed_inputs(ws, {*paths, changelog}, "HEAD", runner)
    if dirty and not allow:
        raise UserError(
            f"{target.rel_dir} has uncommitted changes in its image inputs "
            f"({tables.listed(dirty, 5)}): commit them, or pass --allow-dirty (the image's "
            "revision label then ends in -dirty)"
        )
    return bool(dirty)


def moves(
    s: Setting, todo: Sequence[str], published: RemoteMap, moving: RemoteMap, tag: str, stage: str
) -> list[rs.Step]:
    steps = []
    for repo in s.repos:
        have, now = published.get(repo), moving.get(repo)
        if repo in todo or have is None or now is None or now.digest != have.digest:
            steps.append(rs.move(repo, tag, stage))
    return steps


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
    bases: Callable[[Setting], dict[str, multiarch.Base]]  # per foreign platform
    explain: Explain = field(default=lambda labels: [], compare=False)  # see publish


def _test_step(
    target: project.Target, ref: str, lists: Sequence[str], baked: bool, plat: str = ""
) -> rs.Step:
    from helpers.ops.testing import single

    where = "the code inside, no mount" if baked else "the repo mounted, a fresh container"
    stage = "prod" if baked else "local"
    what = f"the {plat} image under emulation" if plat else f"the {stage} image"
    return rs.Step(
        f"test {what}",
        shown=f"pytest --test-list {','.join(lists)} in {ref} ({where})",
        call=lambda: single.run_in_image(target, ref, lists, baked=baked),
    )


@dataclass(frozen=True)
class Publishing:
    """What a release pushes: each platform's labels, base and tests, and the refusal rule."""

    expected: publish.Expected
    images: tuple[rs.PlatformImage, ...]
    tested: tuple[str, ...]
    bases: Mapping[str, multiarch.Base]


def publishing(s: Setting, c: Candidate, req: Request) -> Publishing:
    """Each platform's hash, labels and test, from the candidate (asks for foreign bases)."""
    p = c.plan
    bases = c.bases(s) if len(s.plats) > 1 else {}
    per_plat = multiarch.hashes(p.inputs_hash, s.plats, s.native, bases)
    expected = publish.Expected(s.target, c.tag, per_plat, explain=c.explain)
    tested = multiarch.tested_platforms(req.test_platforms, s.plats, s.native)
    tested = () if req.skip_tests else tested
    ran = tests_label(req.skip_tests)
    lists = test_lists(req.test_list)
    made = []
    for plat in s.plats:
        value = ran if req.skip_tests or plat in tested else "not-run"
        labels = {
            **labels_for(p.labels, c.revision, c.stage, value),
            images.LABEL_INPUTS: per_plat[plat],
            multiarch.LABEL_TESTED: ",".join(tested) or "none",
        }
        foreign = plat != s.native
        test = None
        if foreign and plat in tested:
            ref = rs.arch_ref(s.repos[0], c.tag, plat)
            test = _test_step(s.target, ref, lists, c.baked, plat)
        base = bases[plat].ref if foreign else ""
        made.append(rs.PlatformImage(plat, labels, base, test))
    return Publishing(expected, tuple(made), tested, bases)


def release(
    s: Setting, c: Candidate, req: Request, runner: commands.Runner = commands.run
) -> Outcome:
    """Refuse what must not be pushed, then build -> test -> push -> move, every step shown."""
    target, p = s.target, c.plan
    published = remote(s.repos, c.tag)
    moving = remote(s.repos, c.moving) if c.moving else {}
    if c.moving:
        not_older(moving, c.moving, p.version, target.rel_dir)
    plan = publishing(s, c, req)
    todo = publish.to_push(plan.expected, published)
    steps = _push_steps(s, c, req, plan, todo, runner) if todo else []
    if c.moving:
        steps += moves(s, todo, published, moving, c.tag, c.moving)
    if todo:
        here = [f"{s.repos[0]}:{t}" for t in (c.tag, c.moving) if t]
        first = s.native if s.native in s.plats else s.plats[0]
        steps += rs.local_tags(rs.arch_ref(s.repos[0], c.tag, first), here)
    if not steps:
        also = f" and {c.moving} points at it" if c.moving else ""
        return Outcome(
            f"nothing to release: {c.tag} is published with the same inputs "
            f"({p.inputs_hash[:12]}){also} in {', '.join(s.repos)}"
        )
    if not c.moving:
        events.progress(f"candidate {c.tag}: pushed for a trial; no moving tag moves")
    return finish(steps, req.dry_run, lambda: report(s.repos, c.tag, c.moving))


def _push_steps(
    s: Setting,
    c: Candidate,
    req: Request,
    plan: Publishing,
    todo: Sequence[str],
    runner: commands.Runner,
) -> list[rs.Step]:
    """Build the image (unless it is up to date), test it, then each platform's image and
    the pushes to the registries `todo`, signed when a key is configured."""
    p = c.plan
    signer = _attestor(s, c, req, plan, runner)
    steps: list[rs.Step] = []
    if not p.up_to_date:
        same = p.labels.get(images.LABEL_REVISION) == c.revision
        built = p if same else build.with_revision(p, c.revision)
        steps.append(rs.Step(f"build {p.ref}", built.argv, context=built.context))
    if signer is not None and s.native in s.plats:
        steps.append(rs.prefetch_step(p.ref, s.native, signer.prefetch))
    if s.native in plan.tested:
        steps.append(_test_step(s.target, p.ref, test_lists(req.test_list), c.baked))
    spec = rs.BuildSpec(p.context, p.args)
    made = plan.images
    if signer is not None:
        made = tuple(
            i if i.platform == s.native
            else dataclasses.replace(i, prefetch=rs.prefetch_step(
                rs.arch_ref(s.repos[0], c.tag, i.platform), i.platform, signer.prefetch))
            for i in made
        )  # fmt: skip
    steps += rs.platform_images(s.repos[0], c.tag, p.ref, s.native, made, spec)
    steps += rs.pushes(todo, c.tag, s.plats, publish.Publisher(plan.expected, signer))
    return steps


def _attestor(
    s: Setting, c: Candidate, req: Request, plan: Publishing, runner: commands.Runner
) -> Optional[attest.Attestor]:
    """Signs each pushed platform image when a signing key is configured."""
    from helpers.ops.release import signing

    key = signing.key_for(s.target)
    if key is None:
        return None
    lists = tuple(test_lists(req.test_list))
    r = signing.Release(s.target, c.stage, c.tag, c.revision, c.plan, s.native, s.repos[0], lists)
    return signing.attestor(r, plan.images, plan.bases, key, runner)


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
