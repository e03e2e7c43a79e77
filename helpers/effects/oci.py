"""Small OCI artifacts in a registry: blobs, manifests by tag or digest (distribution v2 API).

What helpers keeps next to a dir's images that is not an image: test results (the
result cache), signatures and attestations. An artifact is an OCI image manifest
whose config is the empty descriptor and whose layers are the artifact's files, with an
`artifactType` (OCI 1.1; older registries, distribution 2.8 among them, store it as
is). Everything is content-addressed: a blob is pushed under its sha256 digest and
checked against it when read back, so a registry cannot hand back other bytes than
the ones a digest names.

Built on `registry_api.Client` (credentials from docker's config, http for loopback
hosts, a registry that is down is one `UserError`).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from helpers.effects import registry_api
from helpers.errors import UserError

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Layer:
    """One file of an artifact: its media type and bytes."""

    media_type: str
    data: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.data)


def _fail(client: registry_api.Client, what: str, status: int, body: bytes) -> UserError:
    detail = body.decode(errors="replace").strip()[:200]
    return UserError(f"registry {client.host}: {what} gave HTTP {status} {detail}".rstrip())


def has_blob(client: registry_api.Client, repo: str, digest: str) -> bool:
    status, _, _ = client.request("HEAD", repo, f"blobs/{digest}")
    return status == 200


def push_blob(client: registry_api.Client, repo: str, data: bytes) -> str:
    """Upload `data` (monolithic: POST then PUT ?digest=) unless the registry has it; its digest."""
    digest = digest_of(data)
    if has_blob(client, repo, digest):
        return digest
    status, headers, body = client.request("POST", repo, "blobs/uploads/", body=b"")
    lower = {k.lower(): v for k, v in headers.items()}
    location = lower.get("location")
    if status != 202 or not location:
        raise _fail(client, f"POST blob upload to {repo}", status, body)
    url = urllib.parse.urljoin(registry_api.base_url(client.host) + "/", location)
    url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
    status, _, body = client.request(
        "PUT",
        repo,
        "",
        url=url,
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if status not in (201, 204):
        raise _fail(client, f"PUT blob {repo}@{digest}", status, body)
    return digest


def get_blob(client: registry_api.Client, repo: str, digest: str) -> bytes:
    """The blob's bytes, checked against its digest."""
    status, _, body = client.request("GET", repo, f"blobs/{digest}")
    if status != 200:
        raise _fail(client, f"GET blob {repo}@{digest}", status, b"")
    if digest_of(body) != digest:
        raise UserError(f"registry {client.host}: blob {repo}@{digest} does not match its digest")
    return body


def push_manifest(
    client: registry_api.Client, repo: str, reference: str, body: bytes, media_type: str
) -> str:
    """PUT a manifest under a tag (or its digest); the digest the registry gives it."""
    manifest = registry_api.Manifest(digest_of(body), media_type, body)
    return client.put_manifest(registry_api.Name(client.host, repo, reference), manifest)


def get_manifest(
    client: registry_api.Client, repo: str, reference: str
) -> Optional[registry_api.Manifest]:
    """The manifest a tag or digest names; None when the registry has none. A digest
    reference is checked against the bytes."""
    found = client.manifest(registry_api.Name(client.host, repo, reference))
    if found is not None and reference.startswith("sha256:") and digest_of(found.body) != reference:
        raise UserError(f"registry {client.host}: manifest {repo}@{reference} does not match")
    return found


def artifact_manifest(
    artifact_type: str, layers: Sequence[Layer], annotations: Optional[Mapping[str, str]] = None
) -> bytes:
    """An OCI image manifest for an artifact: the empty config, one descriptor per layer."""
    data: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_TYPE, "digest": digest_of(EMPTY), "size": len(EMPTY)},
        "layers": [
            {
                "mediaType": layer.media_type,
                "digest": layer.digest,
                "size": len(layer.data),
                **({"annotations": dict(layer.annotations)} if layer.annotations else {}),
            }
            for layer in layers
        ],
    }
    if annotations:
        data["annotations"] = dict(annotations)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def push_artifact(
    client: registry_api.Client,
    repo: str,
    tag: str,
    artifact_type: str,
    layers: Sequence[Layer],
    annotations: Optional[Mapping[str, str]] = None,
) -> str:
    """Blobs first (config, layers), then the manifest under `tag`; the manifest's digest."""
    push_blob(client, repo, EMPTY)
    for layer in layers:
        push_blob(client, repo, layer.data)
    body = artifact_manifest(artifact_type, layers, annotations)
    return push_manifest(client, repo, tag, body, MANIFEST_TYPE)


@dataclass(frozen=True)
class Artifact:
    digest: str
    artifact_type: str
    layers: tuple[Layer, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


def _descriptors(data: Mapping[str, object]) -> list[Mapping[str, object]]:
    layers = data.get("layers")
    return [d for d in layers if isinstance(d, dict)] if isinstance(layers, list) else []


def pull_artifact(client: registry_api.Client, repo: str, reference: str) -> Optional[Artifact]:
    """The artifact a tag or digest names, every layer read and checked; None: no such tag."""
    manifest = get_manifest(client, repo, reference)
    if manifest is None:
        return None
    data = manifest.data()
    layers = tuple(
        Layer(
            str(d.get("mediaType", "")),
            get_blob(client, repo, str(d.get("digest", ""))),
            {str(k): str(v) for k, v in dict(d.get("annotations") or {}).items()},  # type: ignore[call-overload]
        )
        for d in _descriptors(data)
    )
    notes = data.get("annotations")
    return Artifact(
        manifest.digest,
        str(data.get("artifactType", "")),
        layers,
        {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {},
    )


def image_config_digest(
    client: registry_api.Client, repo: str, reference: str, platform: str
) -> Optional[tuple[str, dict[str, object]]]:
    """(config digest, config JSON) of the image a tag names, for `platform` when the tag
    holds a list. The config digest is the image id the engine gives it once pulled."""
    manifest = get_manifest(client, repo, reference)
    if manifest is None:
        return None
    if manifest.is_list:
        wanted = [
            d for p, d in manifest.children() if p == platform or p.startswith(platform + "/")
        ]
        if not wanted:
            return None
        manifest = get_manifest(client, repo, wanted[0])
        if manifest is None:
            return None
    config = manifest.data().get("config")
    digest = str(config.get("digest", "")) if isinstance(config, dict) else ""
    if not digest:
        return None
    body = get_blob(client, repo, digest)
    loaded = json.loads(body)
    return digest, loaded if isinstance(loaded, dict) else {}
