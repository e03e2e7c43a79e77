"""Stale local images: what an image installs changed since it was built.

A local image records, in its `io.helpers.install-inputs` label, a short digest
of each input that decides what it installs (its *install inputs*):

  - the Dockerfile;
  - the id of the base image (BASE_IMAGE) and each build arg of repo_config.yaml;
  - the injected `.helpers/` files: CA bundle, install helper, the list of
    dependency units and the third-party requirements it installs;
  - every dependency manifest or lock in the context (`unitctx.MANIFESTS`:
    pyproject.toml, setup.py, setup.cfg, requirements*.txt/.in,
    constraints*.txt, uv.lock, poetry.lock, pdm.lock, Pipfile[.lock]), at any
    depth, the dir's own and its dependency units' copies alike;
  - every other context file that a COPY/ADD of the Dockerfile names as a file
    or a glob (`COPY devops/entrypoint.sh /usr/local/bin/`), unless it is copied
    under the mount point (/app, WORKDIR followed), where the mount hides it. A
    source that is `.` or a dir does not make its files count: code reaches the
    container through the mount at /app.

Everything else (code, tests, docs, a dependency unit's code) is not an install
input: editing it never makes the image stale, though `docker_build_local_image`
still rebuilds for it (its inputs hash covers the whole context). A build arg
given only on the command line (`--build-arg`) is not second-guessed.
Only local images are checked: dev/prod images are release artifacts.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from helpers import events
from helpers.effects import commands, digestcache, engine
from helpers.errors import UserError
from helpers.model import images, project
from helpers.ops import buildctx, containers, imagecheck, unitctx

LABEL = "io.helpers.install-inputs"
SHORT = 12
BASE = "base image"
ARG = "build arg "
SHOWN = 3


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        out.append(current + stripped)
        current = ""
    if current:
        out.append(current)
    return out


def _shadowed(dest: str, workdir: str) -> bool:
    """Whether a COPY destination lies under the mount point, hidden at run time."""
    where = posixpath.normpath(posixpath.join(workdir, dest))
    return where == containers.MOUNT or where.startswith(containers.MOUNT + "/")


def copied_sources(dockerfile: str) -> list[str]:
    """The context sources of COPY/ADD that stay visible at run time: not `--from` ones,
    URLs or ones with variables, and not those copied under the mount point (/app)."""
    found = []
    workdir = "/"
    for line in _instructions(dockerfile):
        word, _, rest = line.partition(" ")
        if word.upper() == "WORKDIR" and "$" not in rest:
            workdir = posixpath.join(workdir, rest.strip())
            continue
        if word.upper() not in ("COPY", "ADD"):
            continue
        rest = rest.strip()
        tokens = rest.split()
        flags = [t for t in tokens if t.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        args = [t for t in tokens if not t.startswith("--")]
        if args and args[0].startswith("["):
            try:
                parsed = json.loads(" ".join(args))
                args = [a for a in parsed if isinstance(a, str)]
            except ValueError:
                continue
        if len(args) < 2 or _shadowed(args[-1], workdir):
            continue
        for src in args[:-1]:
            if "$" in src or "://" in src:
                continue
            found.append(re.sub(r"^(\./|/)+", "", src))
    return found


def _counted_copies(dockerfile: str, files: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for src in copied_sources(dockerfile):
        clean = src.rstrip("/")
        if clean in ("", "."):
            continue
        if any(f.startswith(clean + "/") for f in files):
            continue  # a dir: its code is shadowed by the mount
        out.update(f for f in files if f == clean or fnmatch.fnmatchcase(f, clean))
    return out


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:SHORT]


def install_inputs(
    ctx: buildctx.Context,
    args: Mapping[str, str],
    base_id: str,
    cache: Optional[digestcache.DigestCache] = None,
) -> dict[str, str]:
    """Name -> short digest of every install input (see the module doc)."""
    digest = cache.digest if cache is not None else digestcache.compute
    out = {BASE: _short(base_id)}
    out.update({f"{ARG}{k}": _short(v) for k, v in args.items() if k != "BASE_IMAGE"})
    try:
        dockerfile = (ctx.root / ctx.dockerfile).read_text(encoding="utf-8", errors="replace")
    except OSError:
        dockerfile = ""
    counted = _counted_copies(dockerfile, ctx.files)
    for rel in ctx.files:
        if rel == ctx.dockerfile or unitctx.is_manifest(rel) or rel in counted:
            out[rel] = digest(os.path.join(ctx.root, rel))[:SHORT]
    for rel, data in ctx.injected.items():
        out[rel] = hashlib.sha256(data).hexdigest()[:SHORT]
    for rel, path in ctx.extra.items():
        if unitctx.is_manifest(rel):
            out[rel] = digest(path)[:SHORT]
    return out


def encode(inputs: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(inputs.items())), separators=(",", ":"))


def decode(label: Optional[str]) -> Optional[dict[str, str]]:
    try:
        data = json.loads(label) if label else None
    except ValueError:
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Inputs added, removed or changed; build args only the image has are not counted."""
    names = sorted(set(old) | set(new), key=lambda n: (n != BASE, n))
    out = []
    for name in names:
        if name.startswith(ARG) and name not in new:
            continue  # a one-off --build-arg
        if old.get(name) != new.get(name):
            out.append(name)
    return out


def check(
    target: project.Target, image: engine.ImageInfo, runner: commands.Runner = commands.run
) -> list[str]:
    """The install inputs of the dir that changed since `image` was built (empty: fresh)."""
    recorded = decode(image.labels.get(LABEL))
    if recorded is None:
        return ["its install inputs (not recorded: built by an older helpers)"]
    args = {"BASE_IMAGE": target.cfg.base_image, **target.cfg.build_args}
    ctx = unitctx.context(target)
    cache = digestcache.for_repo(target.root)
    now = install_inputs(ctx, args, _base_id(args["BASE_IMAGE"], runner), cache)
    cache.save()
    return shown_names(changed(recorded, now), target.rel_dir)


_BASE_IDS: dict[str, str] = {}  # per process: main_pytest checks many dirs on one base


def _base_id(name: str, runner: commands.Runner) -> str:
    if name not in _BASE_IDS:
        base = engine.inspect_image(name, runner)
        _BASE_IDS[name] = base.id if base else name
    return _BASE_IDS[name]


def shown_names(names: Sequence[str], rel_dir: str) -> list[str]:
    """Input names as a user reads them: repo paths, dependency units' files first."""
    units_dir = unitctx.UNITS_DIR + "/"
    out: list[tuple[int, str]] = []
    for name in names:
        if name == BASE or name.startswith(ARG):
            out.append((0, name))
        elif name.startswith(units_dir):
            rel = name[len(units_dir) :].removeprefix(unitctx.ROOT_COPY + "/")
            out.append((1, f"{rel} (dependency unit)"))
        elif name.startswith(buildctx.INJECTED_DIR + "/"):
            out.append((3, f"{name} (generated)"))
        else:
            out.append((2, name if rel_dir == "." else f"{rel_dir}/{name}"))
    return [text for _, text in sorted(out, key=lambda pair: pair[0])]


def describe(changes: Sequence[str]) -> str:
    shown = ", ".join(changes[:SHOWN])
    more = len(changes) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Policy:
    """What a run does with a missing or stale local image."""

    if_missing: str = "fail"  # "fail" or "build"
    allow_stale: bool = False
    quiet_build: bool = False  # one line per build; the log only when it fails

    def __post_init__(self) -> None:
        if self.if_missing not in ("fail", "build"):
            raise UserError(f"--if-missing {self.if_missing!r}: use fail or build")


def rebuild(target: project.Target, why: str, quiet: bool) -> None:
    from helpers.ops import build

    p = build.prepare(target)
    if p.up_to_date:
        return
    p = build.with_revision(p, build.git_revision(target))
    events.progress(f"build  {target.rel_dir}  {p.ref} ({why})")
    build.execute(p, quiet=quiet)


def _batched(target: project.Target, runner: commands.Runner) -> commands.Runner:
    """One `docker image inspect` for the dir's local image and its base, which the
    version check and the stale check then ask about one at a time (each answer is used
    once: a second ask, after a rebuild, goes to the engine). main_pytest batches all dirs."""
    from helpers.ops import prefetch

    if isinstance(runner, prefetch.Prefetched):
        return runner
    ref = images.ref(target.cfg, "local", target.version, images.user_name())
    base = {"BASE_IMAGE": target.cfg.base_image, **target.cfg.build_args}["BASE_IMAGE"]
    batched = prefetch.Prefetched(runner)
    batched.load_images([ref, base])
    return batched


def choose(
    target: project.Target,
    stage: str,
    version: Optional[str],
    policy: Policy,
    runner: commands.Runner = commands.run,
) -> imagecheck.Chosen:
    """`imagecheck.choose`, with a local image checked for staleness and built when asked."""
    local = stage == "local" and version in (None, target.version)
    if not local:
        return imagecheck.choose(target, stage, version, runner=runner)
    runner = _batched(target, runner)
    if policy.if_missing == "build":
        ref = imagecheck.chosen_ref(target, stage, version, images.user_name())
        image = engine.inspect_image(ref, runner)
        changes = ["no image yet"] if image is None else check(target, image, runner)
        if changes:
            rebuild(
                target, f"{describe(changes)} changed" if image else changes[0], policy.quiet_build
            )
        return imagecheck.choose(target, stage, version, runner=runner)
    chosen = imagecheck.choose(target, stage, version, runner=runner)
    changes = check(target, chosen.image, runner)
    if not changes:
        return chosen
    if policy.allow_stale:
        warning = f"{chosen.ref} is stale ({describe(changes)} changed); running it anyway"
        return dataclasses.replace(chosen, warnings=(*chosen.warnings, warning))
    fix = imagecheck.fix_command(target, stage)
    raise UserError(
        f"{chosen.ref} is stale: {describe(changes)} changed since it was built; run `{fix}` "
        "or pass --if-missing build (--allow-stale runs it as it is)"
    )
