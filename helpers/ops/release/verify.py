"""verify_image: is what a tag names signed by our key, and about that very image?

The tag is resolved to a digest (a manifest list: every platform image in it); for each
image, its `sha256-<digest>.att` is fetched, every DSSE envelope's signature checked
with the public key, and each statement's subject must be that digest. Both the SLSA
provenance and the CycloneDX SBOM must be there. Anything else is exit 1 with one line:
unsigned, bad signature, wrong key, subject mismatch. `require_signed: true` runs the
same check before `docker_pull` and before a prod release builds on a dev image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from helpers.effects import oci
from helpers.errors import EXIT_FAILED, UserError
from helpers.model import images, project
from helpers.ops.release import attest, dsse, keys, provenance, sbom
from helpers.outcome import Outcome


class VerifyFailedError(UserError):
    """The image is not what a signed release made: exit 1, one line."""

    exit_code = EXIT_FAILED


@dataclass(frozen=True)
class Verified:
    platform: str
    digest: str
    facts: dict[str, str]
    python: int
    debian: int


def platform_digests(ref: str) -> tuple[str, list[tuple[str, str]]]:
    """The digest `ref` names and the (platform, digest) of each image behind it."""
    top = oci.get_manifest(ref)
    if top is None:
        raise UserError(f"{ref} is not in the registry: check --stage/--version (and the tag)")
    if not top.is_list:
        config = oci.image_config(ref, top)
        return top.digest, [
            (f"{config.get('os', '?')}/{config.get('architecture', '?')}", top.digest)
        ]
    children = [(p, d) for p, d in top.children() if not p.startswith("unknown/")]
    return top.digest, children


def _fail(kind: str, what: str, detail: str) -> VerifyFailedError:
    return VerifyFailedError(f"{kind}: {what} {detail}")


def _statement(repo: str, plat: str, digest: str, notes: dict[str, str], blob: bytes,
               key: keys.VerifyKey) -> dict[str, Any]:  # fmt: skip
    what = f"{repo}@{digest} ({plat})"
    try:
        opened = dsse.open_envelope(blob, key)
    except dsse.MalformedError as err:
        raise _fail("bad signature", what, f"has an attestation that is {err}") from None
    kind = notes.get(attest.PREDICATE_ANNOTATION, "an attestation")
    if not opened.verified:
        signer = notes.get(attest.KEYID_ANNOTATION, "")
        mine = f"{key.keyid[:16]} ({key.where})"
        if signer and signer != key.keyid:
            detail = f"is signed by key {signer[:16]}, not by {mine}: use the key that signed it"
            raise _fail("wrong key", what, detail)
        detail = f"has a {kind} statement its signature does not match (key {mine}): changed"
        raise _fail("bad signature", what, detail + " after it was signed")
    try:
        body = json.loads(opened.payload)
        named = [str(s["digest"]["sha256"]) for s in body["subject"]]
    except (ValueError, KeyError, TypeError):
        detail = f"has a signed {kind} that is no in-toto statement"
        raise _fail("bad signature", what, detail) from None
    if digest.removeprefix("sha256:") not in named:
        other = named[0][:12] if named else "nothing"
        raise _fail("subject mismatch", what, f"has a {kind} statement about sha256:{other}…, "
                    "not about this image: it was copied from another image")  # fmt: skip
    return body if isinstance(body, dict) else {}


def verify_one(repo: str, plat: str, digest: str, key: keys.VerifyKey) -> Verified:
    what = f"{repo}@{digest} ({plat})"
    found = attest.read(repo, digest)
    if found is None or not found.layers:
        tag = f"{repo}:{attest.attached(digest, attest.ATT)}"
        raise _fail("unsigned", what, f"has no attestations ({tag} is missing): release it "
                    "with a signing_key")  # fmt: skip
    by_type: dict[str, dict[str, Any]] = {}
    for notes, blob in found.layers:
        body = _statement(repo, plat, digest, dict(notes), blob, key)
        by_type[str(body.get("predicateType", ""))] = body
    for needed, name in ((provenance.PREDICATE_TYPE, "provenance"), (sbom.PREDICATE_TYPE, "SBOM")):
        if needed not in by_type:
            raise _fail("unsigned", what, f"has no signed {name} ({needed})")
    facts = provenance.summary(by_type[provenance.PREDICATE_TYPE].get("predicate") or {})
    python, debian = sbom.counts(by_type[sbom.PREDICATE_TYPE].get("predicate") or {})
    return Verified(plat, digest, facts, python, debian)


def verify_ref(ref: str, key: keys.VerifyKey) -> tuple[str, list[Verified]]:
    repo = oci.repo_of(ref)
    top, children = platform_digests(ref)
    return top, [verify_one(repo, plat, digest, key) for plat, digest in children]


def line(ref: str, v: Verified, key: keys.VerifyKey) -> str:
    f = v.facts
    name = f["base"].split("@", 1)[0] if f["base_digest"] else f["base"]  # pinned: once
    base = name + (f"@sha256:{f['base_digest'][:12]}…" if f["base_digest"] else "")
    ran = f" ({f['lists'] or '-'} on {f['ran_on']})" if f["ran_on"] != "none" else ""
    return (
        f"verified {ref} {v.platform} {v.digest[:19]}…: commit {f['commit'][:12]} ({f['dirty']}), "
        f"tests {f['tests']}{ran}, base {base}, SBOM "
        f"{v.python} Python + {v.debian} Debian packages; signed by key {key.keyid[:16]}"
    )


def require(target: project.Target, ref: str, key_flag: Optional[str] = None) -> str:
    """`require_signed`: the digest `ref` names, once every image behind it verified."""
    key = keys.verify_key(target, key_flag)
    top, _ = verify_ref(ref, key)
    return top


def verify_image(
    dir_flag: Optional[str], stage: str, version: Optional[str], key_flag: Optional[str]
) -> Outcome:
    target = project.target(dir_flag)
    if stage not in ("dev", "prod"):
        raise UserError(f"--stage {stage!r}: only dev and prod images are signed; use one of them")
    if not target.cfg.registry:
        raise UserError(f"no registry configured for {target.rel_dir}: set `registry` to verify")
    tag = f"{stage}-{images.check_version(version)}" if version else stage
    ref = f"{images.repository(target.cfg)}:{tag}"
    key = keys.verify_key(target, key_flag)
    _, verified = verify_ref(ref, key)
    return Outcome.of(line(ref, v, key) for v in verified)
