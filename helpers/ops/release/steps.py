"""Release steps: pure plans of what a promotion runs, and the one executor that runs them.

Every step is printed (its exact docker argv, or the registry call it makes)
before it runs; `--dry-run` prints them all and runs none. Moving tags (`dev`,
`prod`) are always the last steps, after every registry holds the version tag,
so an interrupted or failed release never leaves a moving tag pointing at a
half-pushed version.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images
from helpers.ops.images import build, build_context


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...] = ()
    context: Optional[build_context.Context] = None  # streamed on stdin as a tar
    dockerfile_text: Optional[str] = None  # a Dockerfile on stdin (no context)
    copy: Optional[tuple[str, str]] = None  # registry: (source ref, tag to point at it)
    call: Optional[Callable[[], int]] = field(default=None, compare=False)  # in-process
    shown: str = ""  # what an in-process step does, for the printed plan

    def display(self) -> str:
        if self.copy is not None:
            source, tag = self.copy
            repo = source.rsplit(":", 1)[0]
            return f"registry: PUT {repo}:{tag} = the manifest of {source} (same digest)"
        if self.call is not None:
            return self.shown
        text = commands.display(self.argv)
        if self.context is not None:
            return f"{text} < context.tar ({len(self.context.files)} files)"
        if self.dockerfile_text is not None:
            first, *rest = self.dockerfile_text.splitlines()
            return f"{text} < Dockerfile ({first}; LABEL with {len(rest)} labels)"
        return text


@dataclass(frozen=True)
class BuildSpec:
    """How to build one platform's image from source (foreign platforms, buildx)."""

    context: build_context.Context
    args: Mapping[str, str]


def arch_ref(repo: str, tag: str, platform: str) -> str:
    return f"{repo}:{tag}-{images.platform_arch(platform)}"


def _insecure(repo: str) -> tuple[str, ...]:
    return ("--insecure",) if registry_api.is_loopback(repo.split("/", 1)[0]) else ()


def classic(
    repos: Sequence[str],
    tag: str,
    native_image: str,
    plats: Sequence[str],
    native: str,
    labels: Mapping[str, str],
    spec: Optional[BuildSpec],
    bases: Mapping[str, str],
) -> list[Step]:
    """Version-tag pushes without buildx: one image per platform, then one manifest list.

    The native image is `native_image` (built and tested here) with the release
    labels added; foreign ones are built from `spec` with `--platform` and the
    platform's own base. A release of the native platform alone pushes a plain image.
    """
    if not repos:
        return []
    single = tuple(plats) == (native,)
    main = repos[0]
    names = {p: (f"{main}:{tag}" if single else arch_ref(main, tag, p)) for p in plats}
    steps = []
    for plat in plats:
        if plat == native:
            steps.append(label_step(f"label the {native} image", names[plat], native_image, labels))
            continue
        if spec is None:
            raise UserError(f"no way to build {plat}: internal plan error")
        args = dict(spec.args)
        for name in ("BASE_IMAGE", "DEV_IMAGE"):
            if name in args and plat in bases:
                args[name] = bases[plat]
        argv = build.build_argv(
            names[plat],
            args,
            labels,
            platform=plat,
            no_cache=False,
            dockerfile=spec.context.dockerfile,
        )
        steps.append(Step(f"build {plat}", argv, context=spec.context))
    for repo in repos:
        own = {p: n.replace(main, repo, 1) for p, n in names.items()}
        for plat in plats:
            if repo != main:
                steps.append(
                    Step(f"tag for {repo}", (engine.DOCKER, "tag", names[plat], own[plat]))
                )
            steps.append(Step(f"push {own[plat]}", (engine.DOCKER, "push", own[plat])))
        if not single:
            listed = f"{repo}:{tag}"
            create = (
                engine.DOCKER,
                "manifest",
                "create",
                *_insecure(repo),
                "--amend",
                listed,
                *own.values(),
            )
            push = (engine.DOCKER, "manifest", "push", *_insecure(repo), "--purge", listed)
            steps.append(Step(f"manifest list {listed}", create))
            steps.append(Step(f"push manifest list {listed}", push))
    return steps


def label_step(title: str, ref: str, image: str, labels: Mapping[str, str]) -> Step:
    """`image` with the release labels added: one LABEL step on stdin, no rebuild."""
    argv = build.build_argv(ref, {}, {}, platform=None, no_cache=False, dockerfile=None)
    return Step(title, argv, dockerfile_text=images.labelled_dockerfile(image, labels))


def buildx(
    repos: Sequence[str],
    tag: str,
    plats: Sequence[str],
    labels: Mapping[str, str],
    spec: BuildSpec,
) -> list[Step]:
    """With buildx: every platform in one build, pushed to every registry at once."""
    if not repos:
        return []
    argv = [engine.DOCKER, "buildx", "build", "--platform", ",".join(plats)]
    argv += ["--file", spec.context.dockerfile]
    for repo in repos:
        argv += ["--tag", f"{repo}:{tag}"]
    for name, value in sorted(spec.args.items()):
        argv += ["--build-arg", f"{name}={value}"]
    for name, value in sorted(labels.items()):
        argv += ["--label", f"{name}={value}"]
    argv += ["--push", "-"]
    return [Step(f"buildx build {','.join(plats)} and push", tuple(argv), context=spec.context)]


def move(repo: str, tag: str, moving: str) -> Step:
    """Point `moving` at exactly what `tag` holds: the same manifest bytes under another
    tag (registry API), so the digest is the same and nothing is rebuilt. Used with and
    without buildx: `imagetools create` would write a new list with its own digest."""
    return Step(f"move {repo}:{moving} -> {tag}", copy=(f"{repo}:{tag}", moving))


def local_tags(local: str, refs: Sequence[str]) -> list[Step]:
    return [
        Step(f"tag {ref} here", (engine.DOCKER, "tag", local, ref)) for ref in refs if ref != local
    ]


def show(steps: Sequence[Step]) -> list[str]:
    width = len(str(len(steps)))
    return [
        f"[{i:>{width}}/{len(steps)}] {s.title}\n      {s.display()}"
        for i, s in enumerate(steps, 1)
    ]


class StepFailedError(UserError):
    """A release step that ran and failed: exit 1, naming the step."""

    exit_code = 1


def _run(step: Step) -> int:
    if step.call is not None:
        return step.call()
    if step.copy is not None:
        registry_api.copy_tag(*step.copy)
        return 0
    if step.context is not None:
        with build_context.write_tar(step.context) as tar:
            return commands.run_feeding(step.argv, tar)
    if step.dockerfile_text is not None:
        with tempfile.TemporaryFile() as handle:
            handle.write(step.dockerfile_text.encode())
            handle.seek(0)
            return commands.run_feeding(step.argv, handle)
    return commands.run_live(step.argv)


def execute(steps: Sequence[Step]) -> None:
    """Run the steps in order, each printed first; stop at the first failure, naming it."""
    lines = show(steps)
    for i, (step, line) in enumerate(zip(steps, lines), 1):
        events.progress(line)
        try:
            code = _run(step)
        except UserError as err:
            raise UserError(f"step {i}/{len(steps)} ({step.title}) failed: {err.message}") from None
        if code != 0:
            moved = any(s.title.startswith("move ") for s in steps[: i - 1])
            after = "" if moved else "; no moving tag was changed"
            raise StepFailedError(
                f"step {i}/{len(steps)} ({step.title}) failed (exit {code}); "
                f"nothing after it ran{after}"
            )
