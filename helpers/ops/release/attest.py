"""Signed attestations next to each pushed platform image, in the layout cosign uses.

For an image `repo@sha256:H`:
  repo:sha256-H.att   an OCI image manifest whose layers are DSSE envelopes
                      (application/vnd.dsse.envelope.v1+json, annotated with their
                      predicateType): the SLSA v1 provenance and the CycloneDX SBOM, each
                      an in-toto statement whose subject is the image's digest
  repo:sha256-H.sbom  the CycloneDX document itself (application/vnd.cyclonedx+json)
so `cosign verify-attestation --key P.pub --type slsaprovenance1` (or `cyclonedx`)
checks them where cosign exists, and `invoke verify_image` checks them here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from helpers import events
from helpers.effects import commands, engine, oci, registry_api
from helpers.effects.registry_api import Manifest
from helpers.ops.release import dsse, keys, provenance, sbom

ATT = ".att"
SBOM = ".sbom"
DSSE_MEDIA = "application/vnd.dsse.envelope.v1+json"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"  # empty for attestations
PREDICATE_ANNOTATION = "predicateType"
KEYID_ANNOTATION = "io.helpers.signer-keyid"  # for messages only; trust is the signature


def attached(digest: str, suffix: str) -> str:
    """`sha256:abc` -> `sha256-abc.att`: cosign's tag for what is attached to a digest."""
    return digest.replace(":", "-") + suffix


@dataclass(frozen=True)
class Layer:
    data: bytes
    media_type: str
    annotations: Mapping[str, str] = field(default_factory=dict)


def _config(layers: Sequence[oci.Descriptor]) -> bytes:
    """An image config naming the layers, as cosign's own signature images carry."""
    config = {
        "architecture": "",
        "os": "",
        "created": "0001-01-01T00:00:00Z",
        "config": {},
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def put_artifact(repo: str, tag: str, layers: Sequence[Layer]) -> str:
    """Blobs, config and an OCI manifest under `repo:tag`; its digest."""
    pushed = [oci.push_blob(repo, layer.data, layer.media_type) for layer in layers]
    config = oci.push_blob(repo, _config(pushed), CONFIG_MEDIA)
    items = []
    for layer, desc in zip(layers, pushed):
        item: dict[str, object] = desc.data()
        if layer.annotations:
            item["annotations"] = dict(layer.annotations)
        items.append(item)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": config.data(),
            "layers": items,
        },
        separators=(",", ":"),
    ).encode()
    return oci.put_manifest(f"{repo}:{tag}", body, oci.OCI_MANIFEST)


def envelope_layer(envelope: bytes, predicate_type: str, keyid: str) -> Layer:
    notes = {
        SIGNATURE_ANNOTATION: "",
        PREDICATE_ANNOTATION: predicate_type,
        KEYID_ANNOTATION: keyid,
    }
    return Layer(envelope, DSSE_MEDIA, notes)


@dataclass(frozen=True)
class Attached:
    """What is attached to one image digest, as read back (None: nothing)."""

    manifest: Manifest
    layers: tuple[tuple[Mapping[str, str], bytes], ...]  # (annotations, blob)


def read(repo: str, digest: str) -> Optional[Attached]:
    found = oci.get_manifest(f"{repo}:{attached(digest, ATT)}")
    if found is None:
        return None
    layers = []
    for item in found.data().get("layers") or ():  # type: ignore[attr-defined]
        notes = {str(k): str(v) for k, v in (item.get("annotations") or {}).items()}
        layers.append((notes, oci.get_blob(repo, str(item["digest"]))))
    return Attached(found, tuple(layers))


def base_of(ref: str, runner: commands.Runner = commands.run) -> tuple[str, str]:
    """A base image and what identifies it: its registry digest, or the local image id."""
    if "@sha256:" in ref:
        return ref, ref.rsplit("@", 1)[1]
    if registry_api.has_registry_host(ref):
        image = registry_api.inspect(ref)
        if image is not None:
            return ref, image.digest
    local = engine.inspect_image(ref, runner)
    return ref, local.id if local else ""


@dataclass(frozen=True)
class Prefetch:
    """A platform image's inventory read and its SBOM components built, in a thread."""

    thread: threading.Thread
    done: list[tuple[sbom.Inventory, list[Any]]]
    failed: list[BaseException]

    @classmethod
    def start(cls, image: str, plat: str) -> Prefetch:
        pending = sbom.start(image, plat)
        done: list[tuple[sbom.Inventory, list[Any]]] = []
        failed: list[BaseException] = []

        def work() -> None:
            try:
                inv = pending.result()
                done.append((inv, sbom.components(inv)))
            except BaseException as err:  # handed to the thread that waits for it
                failed.append(err)

        thread = threading.Thread(target=work, name=f"sbom-{plat}", daemon=True)
        thread.start()
        return cls(thread, done, failed)

    def result(self) -> tuple[sbom.Inventory, list[Any]]:
        self.thread.join()
        if self.failed:
            raise self.failed[0]
        return self.done[0]


@dataclass(frozen=True)
class Attestor:
    """Makes, signs and attaches the SBOM and provenance of each pushed platform image.

    `local` names the local image of each platform (what the SBOM is read from: the same
    content as the pushed digest); a platform is read once, whatever the registries."""

    facts: provenance.Facts
    platforms: Mapping[str, provenance.PlatformFacts]
    key: keys.SigningKey
    local: Mapping[str, str]
    runner: commands.Runner = commands.run
    inventories: dict[str, sbom.Inventory] = field(default_factory=dict)
    probed: list[provenance.Builder] = field(default_factory=list)  # asked once, when used

    def builder(self) -> provenance.Builder:
        if not self.probed:
            self.probed.append(provenance.builder(self.runner))
        return self.probed[0]

    pending: dict[str, Prefetch] = field(default_factory=dict)

    def prefetch(self, plat: str) -> int:
        """Start reading the platform image's inventory, and building its SBOM components,
        in the background (while the release tests and pushes)."""
        if plat not in self.pending:
            self.pending[plat] = Prefetch.start(self.local[plat], plat)
        return 0

    def inventory(self, plat: str) -> tuple[sbom.Inventory, Optional[list[Any]]]:
        if plat in self.pending:
            return self.pending[plat].result()
        if plat not in self.inventories:
            self.inventories[plat] = sbom.scan(self.local[plat], plat, self.runner)
        return self.inventories[plat], None

    def attest(self, repo: str, plat: str, image: Manifest) -> int:
        began = time.perf_counter()
        inv, parts = self.inventory(plat)
        subject = [(repo, image.digest)]
        doc = sbom.document(inv, repo, image.digest, plat, parts)
        facts, plat_facts = self.facts, self.platforms[plat]
        pred = provenance.predicate(facts, plat_facts, self.builder(), provenance.now())
        signed = [
            (dsse.sign(dsse.statement(subject, provenance.PREDICATE_TYPE, pred), self.key),
             provenance.PREDICATE_TYPE),
            (dsse.sign(dsse.statement(subject, sbom.PREDICATE_TYPE, json.loads(doc)), self.key),
             sbom.PREDICATE_TYPE),
        ]  # fmt: skip
        layers = [envelope_layer(env, kind, self.key.keyid) for env, kind in signed]
        put_artifact(repo, attached(image.digest, ATT), layers)
        put_artifact(repo, attached(image.digest, SBOM), [Layer(doc, sbom.MEDIA_TYPE)])
        events.progress(
            f"attested {repo}@{image.digest[:19]}… ({plat}): SBOM of {len(inv.dists)} Python "
            f"and {len(inv.debs)} Debian packages, provenance, signed by key {self.key.keyid[:16]} "
            f"({time.perf_counter() - began:.1f} s)"
        )
        return 0
