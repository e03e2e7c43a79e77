"""The platforms of one release: each foreign platform's base, each platform's inputs hash,
and which platforms' tests run (`--test-platforms`).

Every platform image carries labels of its own: its inputs hash covers its own base
(a foreign half built on another base has other inputs than the native half), and
`io.helpers.tests` says `passed` only on an image whose tests ran in that image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import images, project

LABEL_TESTED = "io.helpers.tests-platforms"  # the platforms whose tests ran in this release


@dataclass(frozen=True)
class Base:
    """A foreign platform's base: the ref its build uses, and what identifies its content."""

    ref: str
    identity: str


def _registry_base(base: str, plat: str, fix: str) -> Base:
    digest = registry_api.platform_digest(base, plat)
    if digest:
        return Base(f"{base.rsplit('@', 1)[0].rsplit(':', 1)[0]}@{digest}", digest)
    if digest == "":
        raise UserError(f"base image {base} has no {plat} image in its list: {fix}")
    image = registry_api.inspect(base)
    if image is None or plat not in image.platforms:
        raise UserError(f"base image {base} is not built for {plat}: {fix}")
    return Base(base, image.digest)


def sibling(base: str, plat: str) -> str:
    """The local per-platform image of a local base: `helpers-python:3.11-bookworm-arm64`
    (what `bootstrap.sh --base --arch arm64` makes)."""
    return f"{engine.with_tag(base)}-{images.platform_arch(plat)}"


def foreign_bases(
    target: project.Target,
    plats: Sequence[str],
    native: str,
    base: str,
    runner: commands.Runner = commands.run,
) -> dict[str, Base]:
    """BASE_IMAGE for each foreign platform: the platform's own image of a multi-arch base
    in a registry, or the local base's per-platform sibling image."""
    foreign = [p for p in plats if p != native]
    if not foreign:
        return {}
    origin = target.cfg.origin.get("base_image", "the default")
    fix = (
        f"make base_image (set by {origin}) a multi-arch image in a registry, "
        "or release fewer --platforms"
    )
    if registry_api.has_registry_host(base):
        return {plat: _registry_base(base, plat, fix) for plat in foreign}
    found = engine.inspect_images([base, *(sibling(base, p) for p in foreign)], runner)
    local = found[base]
    out = {}
    for plat in foreign:
        if local is None or f"linux/{local.architecture}" == plat:
            out[plat] = Base(base, base)  # docker pulls the platform's image itself
            continue
        near = found[sibling(base, plat)]
        if near is None or f"linux/{near.architecture}" != plat:
            arch = plat.split("/")[1]
            raise UserError(
                f"base image {base} is here only for linux/{local.architecture} (a local "
                f"image, no {plat} variant {sibling(base, plat)}): {fix}; for the local "
                f"base, `dev_scripts/engine/bootstrap.sh --base --arch {arch}` makes it"
            )
        out[plat] = Base(near.ref, near.id)
    return out


def platform_hash(native_hash: str, plat: str, base: Base) -> str:
    """A foreign platform's inputs hash: everything the native build's hash covers, its
    platform, and its own base."""
    text = "\0".join(("helpers-platform-inputs", native_hash, plat, base.identity))
    return hashlib.sha256(text.encode()).hexdigest()


def hashes(
    native_hash: str, plats: Sequence[str], native: str, bases: Mapping[str, Base]
) -> dict[str, str]:
    """Each platform's inputs hash, in release order."""
    return {
        p: native_hash if p == native else platform_hash(native_hash, p, bases[p]) for p in plats
    }


def tested_platforms(text: str, plats: Sequence[str], native: str) -> tuple[str, ...]:
    """`--test-platforms`: `native` (default), `all`, or a list of the released platforms;
    a foreign one runs its tests under qemu."""
    if text in ("", "native"):
        if native not in plats:
            events.warning(
                f"this machine is {native}, which --platforms leaves out: no platform's tests "
                f"run; pass --test-platforms {plats[0]} to run them under emulation"
            )
            return ()
        return (native,)
    if text == "all":
        return tuple(plats)
    chosen = images.parse_platforms(text, "--test-platforms")
    extra = [p for p in chosen if p not in plats]
    if extra:
        raise UserError(
            f"--test-platforms {','.join(extra)}: not released by this run "
            f"(--platforms {','.join(plats)}); pick from those, `native` or `all`"
        )
    return tuple(p for p in plats if p in chosen)
