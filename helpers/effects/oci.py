"""Small OCI artifacts and manifests in a registry, over its HTTP API (distribution v2 / OCI).

General pieces anything may store next to an image: push a blob, put a manifest under
a tag (optionally only when the tag is absent), get a manifest or a blob by tag or
digest, list tags, and join per-platform images into one index. Refs are the usual
`host/repo:tag` or `host/repo@sha256:...`; the host's scheme and credentials are
`registry_api`'s (loopback over http, docker's credentials).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from helpers.effects import registry_api
from helpers.effects.registry_api import Client, Manifest, Name
from helpers.errors import UserError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


class TagTakenError(UserError):
    """A conditional tag write found the tag already there (HTTP 412)."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def data(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def client_for(ref: str, client: Optional[Client] = None) -> tuple[Name, Client]:
    name = registry_api.parse(ref)
    return name, client or Client(name.host)


def repo_of(ref: str) -> str:
    """`host/repo:tag` or `host/repo@digest` -> `host/repo`."""
    name = registry_api.parse(ref)
    return f"{name.host}/{name.repo}"


def get_manifest(ref: str, client: Optional[Client] = None) -> Optional[Manifest]:
    """The manifest a tag or digest names (any media type), or None when absent."""
    name, client = client_for(ref, client)
    return client.manifest(name)


def put_manifest(
    ref: str,
    body: bytes,
    media_type: str,
    *,
    if_absent: bool = False,
    client: Optional[Client] = None,
) -> str:
    """PUT `body` under the tag (or digest) `ref` names; its digest.

    `if_absent` sends `If-None-Match: *`: a registry that honours it refuses with 412
    (TagTakenError) when the tag exists; one that ignores it writes anyway, so callers
    check right before (and read back after) as well."""
    name, client = client_for(ref, client)
    headers = {"Content-Type": media_type}
    if if_absent:
        headers["If-None-Match"] = "*"
    path = f"manifests/{name.reference}"
    status, answer, reply = client.request("PUT", name.repo, path, body=body, headers=headers)
    if status == 412:
        raise TagTakenError(f"{name.display} already exists (the registry refused to replace it)")
    if status not in (200, 201):
        detail = reply.decode(errors="replace").strip()[:200]
        raise UserError(f"registry {name.host}: PUT {name.display} gave HTTP {status} {detail}")
    lower = {k.lower(): v for k, v in answer.items()}
    return lower.get("docker-content-digest") or sha256(body)


def blob_exists(repo_ref: str, digest: str, client: Optional[Client] = None) -> bool:
    name, client = client_for(repo_ref, client)
    status, _, _ = client.request("HEAD", name.repo, f"blobs/{digest}")
    return status == 200


def push_blob(
    repo_ref: str, data: bytes, media_type: str, client: Optional[Client] = None
) -> Descriptor:
    """Upload `data` as a blob of the repo (monolithic POST then PUT); skipped when the
    registry has it already. Its descriptor."""
    name, client = client_for(repo_ref, client)
    digest = sha256(data)
    found = Descriptor(media_type, digest, len(data))
    if blob_exists(repo_ref, digest, client):
        return found
    status, headers, reply = client.request("POST", name.repo, "blobs/uploads/", body=b"")
    location = {k.lower(): v for k, v in headers.items()}.get("location", "")
    if status != 202 or not location:
        raise UserError(f"registry {name.host}: blob upload to {name.repo} gave HTTP {status}")
    path = _upload_path(location, name.repo)
    sep = "&" if "?" in path else "?"
    put_headers = {"Content-Type": "application/octet-stream"}
    status, _, reply = client.request(
        "PUT", name.repo, f"{path}{sep}digest={digest}", body=data, headers=put_headers
    )
    if status not in (201, 204):
        detail = reply.decode(errors="replace").strip()[:200]
        raise UserError(f"registry {name.host}: blob PUT to {name.repo}: HTTP {status} {detail}")
    return found


def _upload_path(location: str, repo: str) -> str:
    """The upload URL the registry gave, relative to `/v2/<repo>/` (what Client.request takes)."""
    marker = f"/v2/{repo}/"
    at = location.find(marker)
    if at < 0:
        raise UserError(f"registry gave an upload location outside {repo}: {location}")
    return location[at + len(marker) :]


def get_blob(repo_ref: str, digest: str, client: Optional[Client] = None) -> bytes:
    """A blob's bytes, checked against its digest."""
    name, client = client_for(repo_ref, client)
    status, _, body = client.request("GET", name.repo, f"blobs/{digest}")
    if status != 200:
        raise UserError(f"registry {name.host}: GET blob {name.repo}@{digest} gave HTTP {status}")
    if sha256(body) != digest:
        raise UserError(f"registry {name.host}: blob {name.repo}@{digest} is not what it names")
    return body


def list_tags(repo_ref: str, client: Optional[Client] = None) -> list[str]:
    name, client = client_for(repo_ref, client)
    return client.tags(name.repo)


def platform_dict(platform: str) -> dict[str, str]:
    """`linux/arm64/v8` -> {"os": "linux", "architecture": "arm64", "variant": "v8"}."""
    parts = platform.split("/")
    out = {"os": parts[0], "architecture": parts[1] if len(parts) > 1 else ""}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


def index_of(children: Sequence[tuple[str, Manifest]]) -> Manifest:
    """One index (a docker manifest list when the images are docker manifests, else an
    OCI index) naming each (platform, image manifest) by digest, in the given order."""
    docker = all(m.media_type == DOCKER_MANIFEST for _, m in children)
    media = DOCKER_LIST if docker else OCI_INDEX
    items = [
        {
            "mediaType": m.media_type,
            "digest": m.digest,
            "size": len(m.body),
            "platform": platform_dict(plat),
        }
        for plat, m in children
    ]
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": media, "manifests": items}, indent=3
    ).encode()
    return Manifest(sha256(body), media, body)


def image_config(
    ref: str, manifest: Manifest, client: Optional[Client] = None
) -> dict[str, object]:
    """The config blob (os, architecture, config.Labels, ...) of a single-image manifest."""
    config_ref = manifest.data().get("config") or {}
    digest = str(config_ref.get("digest", "")) if isinstance(config_ref, dict) else ""
    if not digest:
        return {}
    loaded = json.loads(get_blob(repo_of(ref), digest, client))
    return loaded if isinstance(loaded, dict) else {}


def platform_images(ref: str, client: Optional[Client] = None) -> dict[str, Manifest]:
    """Each platform's image manifest behind `ref`: the children of an index, or the one
    image (its platform read from its config). Empty when the ref is absent."""
    name, client = client_for(ref, client)
    top = client.manifest(name)
    if top is None:
        return {}
    if not top.is_list:
        config = image_config(ref, top, client)
        return {f"{config.get('os', '?')}/{config.get('architecture', '?')}": top}
    out = {}
    for plat, digest in top.children():
        if plat.startswith("unknown/"):
            continue  # buildx's attestation manifests, not images
        child = client.manifest(Name(name.host, name.repo, digest))
        if child is not None:
            out[plat] = child
    return out


def image_labels(ref: str, manifest: Manifest, client: Optional[Client] = None) -> dict[str, str]:
    inner = image_config(ref, manifest, client).get("config") or {}
    labels = (inner.get("Labels") if isinstance(inner, dict) else None) or {}
    return {str(k): str(v) for k, v in labels.items()}


# ---------------------------------------------------------------- artifacts (the result cache)
#
# An artifact is an OCI image manifest whose config is the empty descriptor and whose
# layers are the artifact's files, with an `artifactType` (OCI 1.1; older registries,
# distribution 2.8 among them, store it as is). Everything is content-addressed: blobs
# are read back checked against their digest.

EMPTY = b"{}"


@dataclass(frozen=True)
class Layer:
    """One file of an artifact: its media type and bytes."""

    media_type: str
    data: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.data)


def artifact_manifest(
    artifact_type: str, layers: Sequence[Layer], annotations: Optional[Mapping[str, str]] = None
) -> bytes:
    """An OCI image manifest for an artifact: the empty config, one descriptor per layer."""
    data: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": Descriptor(OCI_EMPTY, sha256(EMPTY), len(EMPTY)).data(),
        "layers": [
            {
                **Descriptor(layer.media_type, layer.digest, len(layer.data)).data(),
                **({"annotations": dict(layer.annotations)} if layer.annotations else {}),
            }
            for layer in layers
        ],
    }
    if annotations:
        data["annotations"] = dict(annotations)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def push_artifact(
    ref: str,
    artifact_type: str,
    layers: Sequence[Layer],
    annotations: Optional[Mapping[str, str]] = None,
    client: Optional[Client] = None,
) -> str:
    """Blobs first (config, layers), then the manifest under `ref`'s tag; its digest."""
    repo = repo_of(ref)
    push_blob(repo, EMPTY, OCI_EMPTY, client)
    for layer in layers:
        push_blob(repo, layer.data, layer.media_type, client)
    body = artifact_manifest(artifact_type, layers, annotations)
    return put_manifest(ref, body, OCI_MANIFEST, client=client)


@dataclass(frozen=True)
class Artifact:
    digest: str
    artifact_type: str
    layers: tuple[Layer, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def pull_artifact(ref: str, client: Optional[Client] = None) -> Optional[Artifact]:
    """The artifact a tag or digest names, every layer read and checked; None: no such tag."""
    manifest = get_manifest(ref, client)
    if manifest is None:
        return None
    data = manifest.data()
    found = data.get("layers")
    descriptors = [d for d in found if isinstance(d, dict)] if isinstance(found, list) else []
    layers = tuple(
        Layer(
            str(d.get("mediaType", "")),
            get_blob(repo_of(ref), str(d.get("digest", "")), client),
            _strings(d.get("annotations")),
        )
        for d in descriptors
    )
    kind = str(data.get("artifactType", ""))
    return Artifact(manifest.digest, kind, layers, _strings(data.get("annotations")))


def image_config_digest(
    ref: str, platform: str, client: Optional[Client] = None
) -> Optional[tuple[str, dict[str, object]]]:
    """(config digest, config JSON) of the image a tag names, for `platform` when the tag
    holds a list. The config digest is the image id the engine gives it once pulled."""
    name, client = client_for(ref, client)
    manifest = client.manifest(name)
    if manifest is not None and manifest.is_list:
        wanted = [
            d for p, d in manifest.children() if p == platform or p.startswith(platform + "/")
        ]
        manifest = client.manifest(Name(name.host, name.repo, wanted[0])) if wanted else None
    config = manifest.data().get("config") if manifest is not None else None
    digest = str(config.get("digest", "")) if isinstance(config, dict) else ""
    if manifest is None or not digest:
        return None
    return digest, image_config(ref, manifest, client)
