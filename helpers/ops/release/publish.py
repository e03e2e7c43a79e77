"""A published version is never replaced: the check before a release, and again right
before each write of the version tag.

Each platform image is pushed as `<tag>-<arch>`; the version tag itself is written
last, by helpers over the registry API (one image: the same manifest; several: a
manifest list of them), right after asking the registry once more whether another
release published the version meanwhile, with `If-None-Match: *` for registries that
honour it, and read back after. So of two releases of one version racing with other
inputs, the second to arrive fails with the usual refusal, and the per-arch tags it
pushed are pointed back at the winner's images.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from helpers import events
from helpers.effects import commands, engine, oci, registry_api
from helpers.errors import UserError
from helpers.model import images, project
from helpers.model.hints import task_line


class Attests(Protocol):
    def attest(self, repo: str, plat: str, image: registry_api.Manifest) -> int: ...


class RefusedError(UserError):
    """The version is published with other inputs: the usual refusal, exit 2, at any point."""


@dataclass(frozen=True)
class Expected:
    """What a release would publish under `tag`: each platform's inputs hash, in order."""

    target: project.Target
    tag: str
    hashes: Mapping[str, str]
    # a published image's labels -> what changed since, named (images/inputs_diff.py)
    explain: Callable[[Mapping[str, str]], Sequence[str]] = field(
        default=lambda labels: (), compare=False
    )

    @property
    def plats(self) -> tuple[str, ...]:
        return tuple(self.hashes)


def arch_tag(tag: str, platform: str) -> str:
    return f"{tag}-{images.platform_arch(platform)}"


def published_hashes(ref: str, image: registry_api.RemoteImage) -> dict[str, str]:
    """The inputs-hash label of each platform image `ref` holds."""
    if len(image.platforms) == 1:
        return {image.platforms[0]: image.labels.get(images.LABEL_INPUTS, "")}
    return {
        plat: oci.image_labels(ref, m).get(images.LABEL_INPUTS, "")
        for plat, m in oci.platform_images(ref).items()
    }


def problem(e: Expected, repo: str, image: registry_api.RemoteImage) -> Optional[RefusedError]:
    """None when `repo:tag` (`image`) holds exactly this release's inputs on every platform."""
    fix = task_line("bump_version", e.target.rel_dir, "--part patch -m '...'")
    theirs = published_hashes(f"{repo}:{e.tag}", image)
    for plat, mine in e.hashes.items():
        if plat in theirs and theirs[plat] != mine:
            rev = image.labels.get(images.LABEL_REVISION, "")
            changed = e.explain(image.labels)
            since = f" since {rev[:12]}" if rev else ""
            what = f"; changed{since}: {', '.join(changed)}" if changed else ""
            where = f" ({plat})" if len(e.hashes) > 1 else ""
            return RefusedError(
                f"{repo}:{e.tag}{where} is already published with inputs "
                f"{theirs[plat][:12] or 'unknown'}, this build's are {mine[:12]}{what}: a "
                f"published version is never replaced; bump the version with `{fix}`"
            )
    if set(image.platforms) != set(e.plats):
        return RefusedError(
            f"{repo}:{e.tag} is already published for {', '.join(image.platforms)}, not "
            f"{', '.join(e.plats)}: bump the version with `{fix}` to release other platforms"
        )
    return None


def to_push(
    e: Expected, published: Mapping[str, Optional[registry_api.RemoteImage]]
) -> tuple[str, ...]:
    """Registries that still need the tag; refuses when one holds it with other inputs."""
    todo = []
    for repo, image in published.items():
        if image is None:
            todo.append(repo)
            continue
        refused = problem(e, repo, image)
        if refused is not None:
            raise refused
    return tuple(todo)


def unpublished(e: Expected, repo: str) -> bool:
    """Asked again right before a write: True while nobody published the tag; False when
    another release published the very same inputs; the usual refusal otherwise."""
    image = registry_api.inspect(f"{repo}:{e.tag}")
    if image is None:
        return True
    refused = problem(e, repo, image)
    if refused is not None:
        raise refused
    return False


@dataclass(frozen=True)
class Publisher:
    """Pushes one release's platform images and writes its version tag, per registry.

    Each push asks first whether the version appeared meanwhile, and records the manifest
    the registry then holds under `<tag>-<arch>` (checked to be this image: its config is
    the local image), so the version tag is written from what this release pushed, even
    if a racing release pushes over the per-arch tag after."""

    e: Expected
    attestor: Optional[Attests] = None  # signs what it pushed, before the version tag
    pushed: dict[tuple[str, str], registry_api.Manifest] = field(default_factory=dict)
    theirs: set[tuple[str, str]] = field(default_factory=set)  # won by an identical release

    def push(self, repo: str, plat: str) -> int:
        unpublished(self.e, repo)
        ref = f"{repo}:{arch_tag(self.e.tag, plat)}"
        code = commands.run_live((engine.DOCKER, "push", ref))
        if code != 0:
            return code
        local = engine.inspect_image(ref)
        found = oci.get_manifest(ref)
        config = found.data().get("config") if found else None
        mine = isinstance(config, dict) and local is not None and config.get("digest") == local.id
        if found is None or not mine:
            return self._lost_push(repo, plat, ref)
        self.pushed[(repo, plat)] = found
        return 0

    def _lost_push(self, repo: str, plat: str, ref: str, wait: float = 60.0) -> int:
        """Another release pushed over `ref` right after this one: wait for it to publish
        the version, then refuse the usual way (or keep it, when its inputs are ours)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not after_push(self.e, repo):  # published meanwhile with the same inputs
                found = oci.get_manifest(ref)
                if found is not None:
                    events.progress(f"{ref}: another release of the same inputs won; kept")
                    self.pushed[(repo, plat)] = found
                    self.theirs.add((repo, plat))
                    return 0
            time.sleep(0.5)
        raise UserError(
            f"{ref} changed right after this push: another release of {self.e.tag} is pushing "
            "at the same time and did not publish it within a minute; run this one again"
        )

    def attest(self, repo: str, plat: str) -> int:
        if self.attestor is None or (repo, plat) in self.theirs:
            return 0  # unsigned, or the identical release that won attests its own image
        return self.attestor.attest(repo, plat, self.pushed[(repo, plat)])

    def write(self, repo: str) -> int:
        children = [(p, self.pushed[(repo, p)]) for p in self.e.plats]
        return write_version_tag(self.e, repo, children)


def write_version_tag(
    e: Expected, repo: str, children: Sequence[tuple[str, registry_api.Manifest]]
) -> int:
    """Write `repo:tag` (the one image, or a list of `children`) only while it is still
    unpublished (checked right before, written conditionally, read back after); refused
    like any release when another won."""
    if not after_push(e, repo):
        events.progress(f"{repo}:{e.tag} was published meanwhile with the same inputs; kept")
        return 0
    manifest = children[0][1] if len(children) == 1 else oci.index_of(children)
    with contextlib.suppress(oci.TagTakenError):  # the registry refused: the read-back says
        oci.put_manifest(f"{repo}:{e.tag}", manifest.body, manifest.media_type, if_absent=True)
    now = oci.get_manifest(f"{repo}:{e.tag}")
    if now is not None and now.digest == manifest.digest:
        return 0
    winner = registry_api.inspect(f"{repo}:{e.tag}")
    refused = problem(e, repo, winner) if winner is not None else None
    if refused is None:
        events.progress(f"{repo}:{e.tag} was published meanwhile with the same inputs; kept")
        return 0
    restore_arch_tags(e, repo)
    raise refused


def after_push(e: Expected, repo: str) -> bool:
    """`unpublished`, asked once this release pushed its per-arch tags: when refused, they
    are pointed back at the winner's images first."""
    try:
        return unpublished(e, repo)
    except RefusedError:
        restore_arch_tags(e, repo)
        raise


def restore_arch_tags(e: Expected, repo: str) -> None:
    """The loser of a race pushed `<tag>-<arch>` over the winner's: point them back."""
    for plat, m in oci.platform_images(f"{repo}:{e.tag}").items():
        if plat in e.hashes:
            oci.put_manifest(f"{repo}:{arch_tag(e.tag, plat)}", m.body, m.media_type)
