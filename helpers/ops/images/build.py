"""Build a runnable dir's local image: prepare (asks the engine), plan (computes), execute.

The plan names the image, the context files and the exact `docker build` argv.
An image whose inputs-hash label equals the plan's hash is reused: no build runs.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from helpers import events
from helpers.effects import commands, digestcache, engine
from helpers.errors import UserError
from helpers.model import config, images, project, units
from helpers.ops.images import build_context, dockerfile, inputs_diff, install_inputs, source
from helpers.outcome import Outcome


@dataclass(frozen=True)
class BuildPlan:
    ref: str
    version: str
    inputs_hash: str
    context: build_context.Context
    argv: tuple[str, ...]
    up_to_date: bool
    reason: str
    labels: Mapping[str, str]
    args: Mapping[str, str]
    platform: Optional[str]
    no_cache: bool
    notes: tuple[str, ...] = ()  # said once when it builds (a setting with no effect)


def new_plan(
    ref: str,
    context: build_context.Context,
    args: Mapping[str, str],
    labels: Mapping[str, str],
    *,
    inputs_hash: str,
    reason: str,
    version: str = "",
    up_to_date: bool = False,
    platform: Optional[str] = None,
    no_cache: bool = False,
    label_flags: Optional[Mapping[str, str]] = None,
    notes: tuple[str, ...] = (),
) -> BuildPlan:
    """The one way a build plan is made (a dir's image, a prod image, a service's): its
    `docker build` argv derived from the rest. `label_flags`: the labels given as --label
    (default: all of them; a generated recipe carries its own in a LABEL step)."""
    flags = labels if label_flags is None else label_flags
    argv = build_argv(
        ref, args, flags, platform=platform, no_cache=no_cache, dockerfile=context.dockerfile
    )
    return BuildPlan(
        ref, version, inputs_hash, context, argv, up_to_date, reason, labels, args,
        platform, no_cache, notes,
    )  # fmt: skip


def with_revision(p: BuildPlan, revision: str) -> BuildPlan:
    """The plan with the git revision label filled in (asked of git only when building)."""
    labels = {**p.labels, images.LABEL_REVISION: revision}
    argv = build_argv(
        p.ref,
        p.args,
        labels,
        platform=p.platform,
        no_cache=p.no_cache,
        dockerfile=p.context.dockerfile,
    )
    return dataclasses.replace(p, labels=labels, argv=argv)


def parse_build_args(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--build-arg {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


@dataclass(frozen=True)
class BuildRequest:
    """What a local build is asked for (the flags of docker_build_local_image)."""

    version: Optional[str] = None
    build_args: tuple[str, ...] = ()
    platform: Optional[str] = None
    no_cache: bool = False
    user: Optional[str] = None
    revision: str = "unknown"


def names(
    target: project.Target, req: BuildRequest, version: Optional[str] = None
) -> tuple[str, str, dict[str, str]]:
    """The version, the image ref and the build args (`--build-arg` wins over config).
    `version`: the changelog's, as the source read it (else asked of the target)."""
    version = images.check_version(req.version) if req.version else version or target.version
    ref = images.ref(target.cfg, "local", version, req.user or images.user_name())
    args = {**source.build_args(target), **parse_build_args(req.build_args)}
    return version, ref, args


def prepare(
    target: project.Target,
    *,
    version: Optional[str] = None,
    build_args: Sequence[str] = (),
    platform: Optional[str] = None,
    no_cache: bool = False,
    user: Optional[str] = None,
    revision: str = "unknown",
    runner: commands.Runner = commands.run,
    ws: Optional[units.Workspace] = None,
) -> BuildPlan:
    """Read the dir's build source (`ws`: the workspace the command read, else read
    here), ask the engine for the image and its base (one call), then `plan`; the digest
    cache learns the files it hashed."""
    req = BuildRequest(version, tuple(build_args), platform, no_cache, user, revision)
    names(target, req)  # a bad --version or --build-arg is said before anything is read
    cache = digestcache.for_repo(target.root)  # a stat per unchanged file, not a read
    src = source.read(target, ws or source.workspace_of(target, runner), cache)
    cache.save()
    _, ref, args = names(target, req, src.version)
    found = engine.inspect_images([ref, source.base_of(src, args)], runner)
    return plan(target, req, found, src)


def plan(
    target: project.Target,
    req: BuildRequest,
    found: Mapping[str, Optional[engine.ImageInfo]],
    src: source.Source,
) -> BuildPlan:
    """The build computed from the dir's source and what the engine holds (`found`: the
    image and its base by ref, as `prepare` looked them up); nothing is asked or read."""
    version, ref, args = names(target, req, src.version)
    base_ref = source.base_of(src, args)
    base = found.get(base_ref)
    settings = {f"arg:{k}": v for k, v in args.items()}
    settings.update(
        dockerfile=target.dockerfile,
        base_id=base.id if base else base_ref,
        platform=req.platform or "",
        version=version,
    )
    digest = build_context.inputs_hash(src.context, settings, src.digests)
    existing = found.get(ref)
    current = existing.labels.get(images.LABEL_INPUTS) if existing else None
    # An image from before install inputs were recorded is rebuilt once, to record them.
    recorded = existing is not None and install_inputs.LABEL in existing.labels
    up_to_date = current == digest and recorded and not req.no_cache
    reason = (
        "inputs unchanged"
        if up_to_date
        else "no image yet"
        if existing is None
        else "--no-cache"
        if req.no_cache
        else "inputs changed"
    )
    labels = _labels(target, req, src, settings, digest)
    return new_plan(
        ref, src.context, args, labels, inputs_hash=digest, reason=reason, version=version,
        up_to_date=up_to_date, platform=req.platform, no_cache=req.no_cache,
        notes=tuple(dockerfile.base_notes(target, src.dockerfile_text)),
    )  # fmt: skip


def _labels(
    target: project.Target,
    req: BuildRequest,
    src: source.Source,
    settings: Mapping[str, str],
    digest: str,
) -> dict[str, str]:
    """The image's labels: version, revision, inputs hash, and what its inputs are made
    of (the install inputs the stale check compares, the parts a refusal names)."""
    args = {k[len("arg:") :]: v for k, v in settings.items() if k.startswith("arg:")}
    ctx = src.context
    labels = images.labels(
        version=settings["version"],
        revision=req.revision,
        inputs_hash=digest,
        rel_dir=target.rel_dir,
        repo_id=repo_id(target),
        stage="local",
    )
    install = install_inputs.install_inputs(
        ctx, args, settings["base_id"], src.dockerfile_text, src.digests
    )
    labels[install_inputs.LABEL] = install_inputs.encode(install)
    parts = inputs_diff.parts(target.rel_dir, ctx, settings, src.digests, src.units)
    labels[inputs_diff.LABEL] = inputs_diff.encode(parts)
    return labels


def repo_id(target: project.Target) -> str:
    """The repo label: its path on this host (images and containers alike)."""
    return str(target.root)


def build_argv(
    ref: str,
    args: Mapping[str, str],
    labels: Mapping[str, str],
    *,
    platform: Optional[str],
    no_cache: bool,
    dockerfile: Optional[str] = config.DEFAULT_DOCKERFILE,
) -> tuple[str, ...]:
    """`docker build ... -`: the context (or, with no `dockerfile`, a Dockerfile) on stdin.

    --force-rm: a failed step's intermediate container is removed too (the classic
    builder keeps it otherwise); a failed build leaves nothing behind.
    """
    dockerfile_flag = ("--file", dockerfile) if dockerfile else ()
    argv = [engine.DOCKER, "build", "--force-rm", *dockerfile_flag, "--tag", ref]
    for name, value in sorted(args.items()):
        argv += ["--build-arg", f"{name}={value}"]
    for name, value in sorted(labels.items()):
        argv += ["--label", f"{name}={value}"]
    if platform:
        argv += ["--platform", platform]
    if no_cache:
        argv.append("--no-cache")
    argv.append("-")
    return tuple(argv)


def git_revision(target: project.Target, runner: commands.Runner = commands.run) -> str:
    result = runner(("git", "-C", str(target.root), "rev-parse", "HEAD"))
    return result.out.strip() if result.ok else "unknown"


def describe(p: BuildPlan) -> list[str]:
    return [
        f"image    {p.ref} ({p.reason})",
        f"context  {p.context.root} ({len(p.context.files)} files, .dockerignore applied)",
        f"command  {commands.display(p.argv)} < context.tar",
        *(f"note     {note}" for note in p.notes),
    ]


def say_notes(p: BuildPlan) -> None:
    """What a build says once before it runs (a setting with no effect, and why)."""
    for note in p.notes:
        events.warning(note)


def execute(p: BuildPlan, runner: commands.Runner = commands.run, quiet: bool = False) -> None:
    """Run the build with the context streamed as a tar; fail with one line if it fails.

    The build's log is progress, so it goes to stderr (stdout stays the task's data);
    `quiet`: kept aside and shown only when the build fails (main_pytest's many dirs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as log, build_context.write_tar(p.context) as tar:
        code = commands.run_feeding(p.argv, tar, output=log if quiet else _stderr_fd())
        if code != 0:
            log.seek(0)
            text = log.read().decode(errors="replace").rstrip()
            if text:
                events.progress(text)
            raise BuildFailedError(
                f"docker build of {p.ref} failed (exit {code}); its log is above"
            )
    if engine.inspect_image(p.ref, runner) is None:
        raise BuildFailedError(f"docker build reported success but {p.ref} is not present")


def _stderr_fd() -> Optional[int]:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stderr: let it inherit ours
        return None


class BuildFailedError(UserError):
    """A build that ran and failed: exit 1 like a failed command, not bad usage."""

    exit_code = 1


def build_local(
    dir_flag: Optional[str],
    version: Optional[str],
    no_cache: bool,
    build_args: list[str],
    platform: Optional[str],
    dry_run: bool,
) -> Outcome:
    """Build the dir's local image unless it is up to date; what happened, for the task to show."""

    target = project.target(dir_flag)
    p = prepare(
        target, version=version, build_args=build_args, platform=platform, no_cache=no_cache
    )
    if p.up_to_date and not dry_run:
        return Outcome(
            f"{p.ref} is up to date (inputs {p.inputs_hash[:12]} unchanged); nothing to build"
        )
    p = with_revision(p, git_revision(target))
    if dry_run:
        return Outcome.of(describe(p))
    say_notes(p)
    from helpers.ops.images import image_cache  # image_cache: shared may pull it instead

    announce = f"building {p.ref} ({p.reason}) from {len(p.context.files)} context files"
    how = image_cache.produce(target, p, quiet=False, announce=announce)
    return Outcome(f"built {p.ref}" if how == "built" else f"{how} as {p.ref}; nothing built")
