"""Release steps: pure plans of what a promotion runs, and the one executor that runs them.

Every step is printed (its exact docker argv, or the registry call it makes)
before it runs; `--dry-run` prints them all and runs none. Moving tags (`dev`,
`prod`) are always the last steps, after every registry holds the version tag,
so an interrupted or failed release never leaves a moving tag pointing at a
half-pushed version.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images
from helpers.ops.images import build, build_context
from helpers.ops.release.publish import Publisher, RefusedError

PROGRESS = events.Kind.PROGRESS


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
    """How to build one platform's image from source (the foreign platforms)."""

    context: build_context.Context
    args: Mapping[str, str]


def arch_ref(repo: str, tag: str, platform: str) -> str:
    return f"{repo}:{tag}-{images.platform_arch(platform)}"


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image of a release: its labels, its base, whether its tests run."""

    platform: str
    labels: Mapping[str, str]
    base: str = ""  # BASE_IMAGE / DEV_IMAGE of a foreign build
    test: Optional[Step] = None  # run in the foreign image before its final labels
    prefetch: Optional[Step] = None  # starts reading its SBOM once it is built


def platform_images(
    main: str,
    tag: str,
    native_image: str,
    native: str,
    plats: Sequence[PlatformImage],
    spec: Optional[BuildSpec],
) -> list[Step]:
    """Each platform's image here as `<main>:<tag>-<arch>`, with its own labels.

    The native one is `native_image` (built and tested here) relabelled; a foreign one is
    built from `spec` with `--platform` on the platform's own base; when its tests run
    (under qemu), they run in it before its final labels are put on.
    """
    steps = []
    for item in plats:
        ref = arch_ref(main, tag, item.platform)
        if item.platform == native:
            steps.append(label_step(f"label the {native} image", ref, native_image, item.labels))
            continue
        if spec is None:
            raise UserError(f"no way to build {item.platform}: internal plan error")
        args = dict(spec.args)
        for name in ("BASE_IMAGE", "DEV_IMAGE"):
            if name in args and item.base:
                args[name] = item.base
        untested = {**item.labels, images.LABEL_TESTS: "not-run"} if item.test else item.labels
        argv = build.build_argv(
            ref, args, untested, platform=item.platform, no_cache=False,
            dockerfile=spec.context.dockerfile,
        )  # fmt: skip
        steps.append(Step(f"build {item.platform}", argv, context=spec.context))
        if item.prefetch is not None:
            steps.append(item.prefetch)
        if item.test is not None:
            steps.append(item.test)
            title = f"label the {item.platform} image"
            steps.append(label_step(title, ref, ref, item.labels, item.platform))
    return steps


def pushes(repos: Sequence[str], tag: str, plats: Sequence[str], by: Publisher) -> list[Step]:
    """Per registry: each platform image pushed as `<tag>-<arch>` (asking first whether the
    version appeared meanwhile), then the version tag written over the registry API."""
    steps = []
    main = repos[0] if repos else ""
    for repo in repos:
        own = [arch_ref(repo, tag, p) for p in plats]
        for plat, ref in zip(plats, own):
            if repo != main:
                local = arch_ref(main, tag, plat)
                steps.append(Step(f"tag for {repo}", (engine.DOCKER, "tag", local, ref)))
            shown = commands.display((engine.DOCKER, "push", ref))
            steps.append(Step(f"push {ref}", call=_bound(by.push, repo, plat), shown=shown))
            if by.attestor is not None:
                steps.append(_attest_step(repo, ref, plat, by))
        listed = ", ".join(own)
        what = f"a manifest list of {listed}" if len(own) > 1 else f"the manifest of {own[0]}"
        shown = f"registry: PUT {repo}:{tag} = {what} (only while {tag} is unpublished)"
        steps.append(Step(f"publish {repo}:{tag}", call=_bound(by.write, repo), shown=shown))
    return steps


def _attest_step(repo: str, ref: str, plat: str, by: Publisher) -> Step:
    shown = (
        f"SBOM of {ref} (docker run: python3, dpkg-query) + provenance, DSSE-signed; "
        f"registry: PUT {repo}:sha256-<its digest>.att and .sbom"
    )
    return Step(f"attest {ref}", call=_bound(by.attest, repo, plat), shown=shown)


def prefetch_step(image: str, plat: str, start: Callable[[str], int]) -> Step:
    shown = f"docker run --rm --network none --platform {plat} --entrypoint sh {image} ..."
    return Step(
        f"read the SBOM of {image} (in the background)",
        call=_bound(start, plat),
        shown=f"{shown} (python3 importlib.metadata, dpkg-query)",
    )


def _bound(fn: Callable[..., int], *args: str) -> Callable[[], int]:
    return lambda: fn(*args)


def label_step(
    title: str, ref: str, image: str, labels: Mapping[str, str], platform: Optional[str] = None
) -> Step:
    """`image` with the release labels added: one LABEL step on stdin, no rebuild."""
    argv = build.build_argv(ref, {}, {}, platform=platform, no_cache=False, dockerfile=None)
    return Step(title, argv, dockerfile_text=images.labelled_dockerfile(image, labels))


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
        at = (("index", i), ("of", len(steps)))
        events.emit(events.Started(PROGRESS, line, "release", step.title, at))
        began = time.monotonic()
        try:
            code = _run(step)
        except RefusedError:
            raise  # the usual refusal, as before anything ran
        except UserError as err:
            raise UserError(f"step {i}/{len(steps)} ({step.title}) failed: {err.message}") from None
        took = time.monotonic() - began
        events.emit(events.Finished(PROGRESS, "", "release", step.title, code, took, at))
        if code == commands.INTERRUPTED:
            # Ctrl-C, SIGTERM or SIGHUP while the step ran: its own clean-up is done; the
            # edge says "interrupted" and exits 130. Nothing after it ran.
            where = f"step {i}/{len(steps)} ({step.title})"
            events.progress(f"interrupted at {where}; nothing after it ran{_after(steps, i)}")
            raise KeyboardInterrupt
        if code != 0:
            raise StepFailedError(
                f"step {i}/{len(steps)} ({step.title}) failed (exit {code}); "
                f"nothing after it ran{_after(steps, i)}"
            )


def _after(steps: Sequence[Step], i: int) -> str:
    moved = any(s.title.startswith("move ") for s in steps[: i - 1])
    return "" if moved else "; no moving tag was changed"
