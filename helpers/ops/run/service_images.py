"""The image each service runs: an `image` is used as it is or pulled; a `dockerfile` is
built like a dir's own image and kept until what it installs changes.

A built service image is `<registry>/<declaring dir's image>-service-<name>:local-<user>`,
labelled like every image these tools build (managed, dir, repo, inputs hash, install
inputs) plus `io.helpers.service`. Its build context is the declaring dir, with its
`.dockerignore` and the extra CA files under `.helpers/` (so `COPY .helpers/ ...` and
`install-ca.sh` work as in the dir's Dockerfile). It is stale by the same rule as a
dir's local image: its install inputs (the Dockerfile, the base image, build args, the
files a COPY names, manifests) changed. Unlike the dir's own image it is built when
missing or stale without asking, since it is a test fixture, never released.

An `image` missing here is pulled; with `registry` configured and no registry host in
the reference, from `<registry>/<image>` first (a mirror), then as written.
"""

from __future__ import annotations

import threading
from pathlib import Path

from helpers import events
from helpers.effects import commands, digestcache, engine
from helpers.errors import UserError
from helpers.model import images, project, workspace
from helpers.model.services import Service
from helpers.ops.images import build, build_context, cacerts, depunits, dockerfile, install_inputs
from helpers.ops.run.services import LABEL_SERVICE, Resolved

_guard = threading.Lock()
_building: dict[str, threading.Lock] = {}  # ref -> held while one thread builds it


def _own_unit(path: Path) -> bool:
    return (path / ".git").exists() or workspace.is_runnable(path)


def _declaring(target: project.Target, svc: Service) -> project.Target:
    """The dir whose repo_config.yaml declares the service, with its own config."""
    if svc.context_dir == target.rel_dir:
        return target
    return project.Target.load(target.root, svc.context_dir)


def service_ref(decl: project.Target, svc: Service) -> str:
    repo = images.repository(decl.cfg)
    return f"{repo}-service-{svc.name}:local-{images.user_name()}"


def _has_host(ref: str) -> bool:
    first, sep, _ = ref.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def _pulled(target: project.Target, svc: Service, runner: commands.Runner) -> Resolved:
    assert svc.image is not None
    registry = target.cfg.registry
    mirror = f"{registry}/{svc.image}" if registry and not _has_host(svc.image) else None
    found = engine.inspect_images([r for r in (svc.image, mirror) if r], runner)
    for ref in (svc.image, mirror):
        info = found.get(ref) if ref else None
        if info is not None:
            return Resolved(ref or "", info.id)
    reasons = []
    for ref in (mirror, svc.image):
        if ref is None:
            continue
        events.progress(f"pull   service {svc.name}  {ref}")
        result = runner((engine.DOCKER, "pull", "--quiet", ref))
        info = engine.inspect_image(ref, runner) if result.ok else None
        if info is not None:
            return Resolved(ref, info.id)
        reasons.append(f"{ref}: {(result.err.strip().splitlines() or ['not found'])[-1]}")
    raise UserError(
        f"{svc.where}: service {svc.name}'s image {svc.image} is not here and cannot be "
        f"pulled ({'; '.join(reasons)}); push it to your registry or use a dockerfile"
    )


def _context(decl: project.Target, svc: Service) -> build_context.Context:
    assert svc.dockerfile is not None
    if not (decl.path / svc.dockerfile).is_file():
        shown = (decl.path / svc.dockerfile).relative_to(decl.root).as_posix()
        raise UserError(
            f"{svc.where}: service {svc.name}'s dockerfile {shown} does not exist; "
            "fix the path (it is relative to the dir of that repo_config.yaml)"
        )
    injected = cacerts.build_files(decl.cfg.extra_ca_certs, decl.root)
    return build_context.collect(
        decl.path,
        svc.dockerfile,
        injected,
        skip_dir=_own_unit,
        secrets=depunits.env_file_in(decl),
    )


def _built(target: project.Target, svc: Service, runner: commands.Runner) -> Resolved:
    decl = _declaring(target, svc)
    ref = service_ref(decl, svc)
    args = {"BASE_IMAGE": decl.cfg.base_image, **decl.cfg.build_args}
    with _guard:
        lock = _building.setdefault(ref, threading.Lock())
    with lock:  # dirs sharing a repo-wide service build it once
        found = engine.inspect_images([ref, args["BASE_IMAGE"]], runner)
        base = found.get(args["BASE_IMAGE"])
        ctx = _context(decl, svc)
        cache = digestcache.for_repo(decl.root)
        digests = build_context.file_digests(ctx, None, cache)
        text = dockerfile.read_text(decl.path / ctx.dockerfile)
        base_id = base.id if base else args["BASE_IMAGE"]
        inputs = install_inputs.install_inputs(ctx, args, base_id, text, digests)
        have = found.get(ref)
        recorded = install_inputs.decode(have.labels.get(install_inputs.LABEL)) if have else None
        if have is not None and recorded == inputs:
            return Resolved(ref, have.id)
        why = "no image yet" if have is None else "its install inputs changed"
        settings = {f"arg:{k}": v for k, v in args.items()}
        settings.update(dockerfile=ctx.dockerfile, base_id=base_id)
        labels = {
            images.LABEL_MANAGED: "true",
            images.LABEL_DIR: decl.rel_dir,
            images.LABEL_REPO: str(decl.root),
            images.LABEL_STAGE: "local",
            images.LABEL_INPUTS: build_context.inputs_hash(ctx, settings, digests),
            images.LABEL_REVISION: build.git_revision(decl, runner),
            install_inputs.LABEL: install_inputs.encode(inputs),
            LABEL_SERVICE: svc.name,
        }
        cache.save()
        events.progress(f"build  service {svc.name}  {ref} ({why})")
        why_built = f"service {svc.name}"
        plan = build.new_plan(
            ref, ctx, args, labels, inputs_hash=labels[images.LABEL_INPUTS], reason=why_built
        )
        build.execute(plan, runner, quiet=True)
        info = engine.inspect_image(ref, runner)
        if info is None:
            raise build.BuildFailedError(f"the build of {ref} left no image")
        return Resolved(ref, info.id)


def resolve(
    target: project.Target, svc: Service, runner: commands.Runner = commands.run
) -> Resolved:
    """The image `svc` runs, pulled or built first when needed."""
    return _pulled(target, svc, runner) if svc.image else _built(target, svc, runner)
