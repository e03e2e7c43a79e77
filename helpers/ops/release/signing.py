"""Whether a release signs, and what its attestations say (from its build plan and the
labels each platform image gets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from helpers import events
from helpers.effects import commands
from helpers.errors import UserError
from helpers.model import images, project
from helpers.ops.images import build
from helpers.ops.release import attest, keys, multiarch, provenance
from helpers.ops.release import steps as rs


@dataclass(frozen=True)
class Release:
    """The parts of a release its provenance describes."""

    target: project.Target
    stage: str
    tag: str
    revision: str
    plan: build.BuildPlan
    native: str
    main: str  # the main repository: local images are <main>:<tag>-<arch>
    lists: tuple[str, ...]


def key_for(target: project.Target) -> Optional[keys.SigningKey]:
    """The release's signing key; without one, a release is unsigned (said once), and with
    `require_signed` it is refused."""
    key = keys.signing_key(target)
    if key is None and target.cfg.require_signed:
        raise UserError(
            "require_signed is true but no signing key is configured: set `signing_key` in "
            f"repo_config.yaml or ${keys.ENV_KEY} (make one with `invoke generate_signing_key "
            "--path P`)"
        )
    if key is None:
        events.progress(
            "unsigned release: no signing_key, so no SBOM or signed provenance is attached "
            "(`invoke generate_signing_key --path P`, then `signing_key: P`)"
        )
    return key


def _dockerfile_digest(p: build.BuildPlan) -> str:
    name = p.context.dockerfile
    data = p.context.injected.get(name)
    if data is None:
        data = (p.context.root / name).read_bytes()
    return provenance.digest_of(data)


def attestor(
    r: Release,
    made: Sequence[rs.PlatformImage],
    bases: Mapping[str, multiarch.Base],
    key: keys.SigningKey,
    runner: commands.Runner = commands.run,
) -> attest.Attestor:
    p = r.plan
    facts = provenance.Facts(
        target=r.target,
        source=provenance.source_uri(r.target, runner),
        revision=r.revision,
        stage=r.stage,
        tag=r.tag,
        dockerfile=p.context.dockerfile,
        dockerfile_digest=_dockerfile_digest(p),
        build_args=p.args,
        lists=r.lists,
        started=provenance.now(),
    )
    base_ref = p.args.get("DEV_IMAGE") or p.args.get("BASE_IMAGE", "")
    native_base = attest.base_of(base_ref, runner) if base_ref else ("", "")
    per_plat = {}
    for item in made:
        plat = item.platform
        ref, digest = native_base if plat == r.native else (bases[plat].ref, bases[plat].identity)
        tested = item.labels.get(multiarch.LABEL_TESTED, "none")
        per_plat[plat] = provenance.PlatformFacts(
            platform=plat,
            inputs_hash=item.labels.get(images.LABEL_INPUTS, ""),
            base=ref,
            base_digest=digest,
            tests=item.labels.get(images.LABEL_TESTS, ""),
            tested_on=() if tested == "none" else tuple(tested.split(",")),
        )
    # What each SBOM is read from: the native image as built (the pushed one adds labels
    # only), a foreign one as built under its per-arch tag.
    local = {item.platform: rs.arch_ref(r.main, r.tag, item.platform) for item in made}
    local[r.native] = p.ref
    return attest.Attestor(facts, per_plat, key, local, runner)
