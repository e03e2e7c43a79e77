"""Images from the registry instead of a build, and layer cache for the builds that run.

`image_cache: shared` (or $HELPERS_IMAGE_CACHE=shared), with a registry for the caches
(`cache_registry`, default `registry`):

  - after every local build, the image is pushed as `<repo>:cache-<inputs hash>` (never
    a version tag; an existing one is left as it is) and as `<repo>:cache`, the dir's
    last cached image;
  - a build whose local image is missing (a fresh CI runner) first asks the registry
    for an image with the very same inputs: `cache-<inputs hash>`, or the released
    `dev-<version>` when its inputs-hash label is equal. It is pulled and tagged as
    the local image instead of building, and the run says so;
  - a build that does run with no local image of the dir pulls `<repo>:cache` first
    and passes it as `--cache-from` (the classic builder only uses pulled images), so
    an edit near the end of a Dockerfile rebuilds only the layers after it.

A registry that does not answer is one warning line and a normal build: the cache only
ever saves work. What is pulled is checked: its inputs-hash label must equal the
build's, else it is not used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from helpers import events
from helpers.effects import commands, engine, oci, registry_api
from helpers.errors import UserError
from helpers.model import config, images, project
from helpers.ops.images import build, platforms

CACHE_PREFIX = "cache-"
LAST_TAG = "cache"
TIMEOUT = 5.0


def repository(cfg: config.Config) -> Optional[str]:
    """Where a dir's shared caches live: `<cache_registry or registry>/<image_name>`."""
    where = cfg.cache_registry or cfg.registry
    return images.repository(cfg, where) if where else None


def shared(cfg: config.Config) -> bool:
    return cfg.image_cache == "shared" and repository(cfg) is not None


def cache_ref(cfg: config.Config, inputs_hash: str) -> str:
    return f"{repository(cfg)}:{CACHE_PREFIX}{inputs_hash}"


def failed(where: str, err: Exception) -> None:
    """A registry of the shared caches failed: said once per registry and process (for the
    image and the result cache alike), then skipped."""
    if registry_api.mark_down(registry_api.parse(f"{where}:x").host):
        reason = err.message if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        events.warning(
            f"shared caches off for this run: {reason}; using local images and results only"
        )


def is_down(where: str) -> bool:
    return registry_api.is_down(registry_api.parse(f"{where}:x").host)


_NATIVE: list[str] = []  # the engine's platform, asked once per process


def native_platform(runner: commands.Runner = commands.run) -> str:
    """The engine's platform (e.g. linux/amd64): which image of a list a pull would get."""
    if not _NATIVE:
        try:
            _NATIVE.append(platforms.native(runner))
        except UserError:
            return "linux/amd64"
    return _NATIVE[0]


@dataclass(frozen=True)
class Remote:
    """An image in the registry: its ref, and what the engine will know of it once pulled
    (the id is the config's digest; labels and architecture from the config)."""

    ref: str
    image: engine.ImageInfo


def remote(ref: str, platform: str) -> Optional[Remote]:
    name = registry_api.parse(ref)
    client = registry_api.Client(name.host, timeout=TIMEOUT)
    found = oci.image_config_digest(ref, platform, client)
    if found is None:
        return None
    digest, cfg = found
    inner = cfg.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    info = engine.ImageInfo(
        ref,
        digest,
        {str(k): str(v) for k, v in (labels or {}).items()},
        str(cfg.get("architecture", "")),
    )
    return Remote(ref, info)


def find(
    target: project.Target,
    inputs_hash: str,
    platform: Optional[str] = None,
    runner: commands.Runner = commands.run,
) -> Optional[Remote]:
    """An image in the registry built from exactly these inputs: the cache tag, else the
    released dev image of the changelog's version when its label says the same inputs."""
    cfg = target.cfg
    candidates = [cache_ref(cfg, inputs_hash)] if repository(cfg) else []
    if cfg.registry:
        candidates.append(images.ref(cfg, "dev", target.version, ""))
    wanted = platform or native_platform(runner)
    for ref in candidates:
        if is_down(ref):
            continue
        try:
            found = remote(ref, wanted)
        except (UserError, OSError, ValueError) as err:
            failed(ref, err)
            continue
        if found is not None and found.image.labels.get(images.LABEL_INPUTS) == inputs_hash:
            return found
    return None


def pull_as(remote: Remote, local_ref: str, runner: commands.Runner = commands.run) -> bool:
    """Pull `remote` and tag it `local_ref`; False (nothing tagged) when the pull fails or
    the pulled image is not the one the registry described."""
    pulled = runner((engine.DOCKER, "pull", "--quiet", remote.ref))
    if not pulled.ok:
        detail = (pulled.err.strip().splitlines() or ["no output"])[-1]
        failed(remote.ref, UserError(f"docker pull {remote.ref} failed: {detail}"))
        return False
    got = engine.inspect_image(remote.ref, runner)
    if got is None or got.id != remote.image.id:
        return False
    tagged = runner((engine.DOCKER, "tag", remote.ref, local_ref)).ok
    if CACHE_PREFIX in remote.ref.rsplit(":", 1)[-1]:
        runner((engine.DOCKER, "rmi", remote.ref))  # the cache tag only: the local ref holds it
    return tagged


def with_cache_from(
    target: project.Target, p: build.BuildPlan, runner: commands.Runner = commands.run
) -> build.BuildPlan:
    """The plan with `--cache-from` the dir's last cached image, pulled first (the classic
    builder uses pulled images only). Unchanged when there is none or it cannot be pulled."""
    repo = repository(target.cfg)
    if repo is None or is_down(repo):
        return p
    last = f"{repo}:{LAST_TAG}"
    pulled = runner((engine.DOCKER, "pull", "--quiet", last))
    if not pulled.ok:
        return p  # no cached image yet (or none for this platform): a plain build
    argv = list(p.argv)
    argv[-1:-1] = ["--cache-from", last]
    return dataclasses.replace(p, argv=tuple(argv))


def push(
    target: project.Target, p: build.BuildPlan, runner: commands.Runner = commands.run
) -> None:
    """Push what the build made as `cache-<inputs hash>` (unless the registry has that tag
    already: first writer wins) and as the dir's last cached image `cache`."""
    repo = repository(target.cfg)
    if repo is None or is_down(repo):
        return
    ref = cache_ref(target.cfg, p.inputs_hash)
    try:
        have = remote(ref, p.platform or native_platform(runner))
    except (UserError, OSError, ValueError) as err:
        failed(ref, err)
        return
    if have is None:
        runner((engine.DOCKER, "tag", p.ref, ref))
        pushed = runner((engine.DOCKER, "push", "--quiet", ref))
        runner((engine.DOCKER, "rmi", ref))  # the local tag only; the image stays
        if not pushed.ok:
            detail = (pushed.err.strip().splitlines() or ["no output"])[-1]
            failed(ref, UserError(f"docker push {ref} failed: {detail}"))
            return
        events.progress(f"cached {target.rel_dir}'s image as {ref}")
    try:  # the dir's last cached image: that manifest under `cache` too (no second push)
        name = registry_api.parse(ref)
        client = registry_api.Client(name.host, timeout=TIMEOUT)
        registry_api.copy_tag(ref, LAST_TAG, client)
    except (UserError, OSError, ValueError) as err:
        failed(ref, err)


def produce(
    target: project.Target,
    p: build.BuildPlan,
    *,
    quiet: bool,
    announce: str,
    runner: commands.Runner = commands.run,
) -> str:
    """Make the plan's image: pulled when the registry holds one with the same inputs
    (image_cache: shared, no local image), else built (`announce` said first) and pushed.
    What happened, for the caller's line: "built" or "pulled <ref>"."""
    cache = shared(target.cfg) and not p.no_cache
    fresh_runner = cache and engine.inspect_image(p.ref, runner) is None
    if fresh_runner:
        found = find(target, p.inputs_hash, p.platform, runner)
        if found is not None and pull_as(found, p.ref, runner):
            events.progress(
                f"pull   {target.rel_dir}  {found.ref} (same inputs as {p.ref}: not built)"
            )
            return f"pulled {found.ref}"
        p = with_cache_from(target, p, runner)
    events.progress(announce)
    try:
        build.execute(p, runner, quiet=quiet)
    finally:
        if "--cache-from" in p.argv:  # the pulled layer cache: untagged (the build keeps
            runner((engine.DOCKER, "rmi", p.argv[p.argv.index("--cache-from") + 1]))  # its layers)
    if cache:
        push(target, p, runner)
    return "built"
