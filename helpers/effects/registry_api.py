"""What a registry holds, read and written over its HTTP API (distribution v2 / OCI).

Used where the truth is in the registry, not in the local engine: the labels of a
published tag (immutability checks), the platforms of a manifest list, and moving
a tag to the exact manifest another tag holds (promotion, rollback: the same
bytes under a new name, so the digest is the same and nothing is rebuilt).

Loopback registries (localhost, 127.0.0.0/8, ::1) are spoken to over http, as
dockerd does; every other host over https. Credentials come from where docker
keeps them (config.json `auths`, `credHelpers`, `credsStore`); a secret is never
put on a command line.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from helpers.effects import commands
from helpers.errors import UserError

LIST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
IMAGE_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
ACCEPT = ", ".join((*LIST_TYPES, *IMAGE_TYPES))
DOCKER_HUB = "registry-1.docker.io"
TIMEOUT = 20.0


@dataclass(frozen=True)
class Name:
    """`host/repo:tag` split the way docker reads it (`docker.io/library/x` for `x`)."""

    host: str
    repo: str
    reference: str  # a tag or a sha256 digest

    @property
    def display(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.host}/{self.repo}{sep}{self.reference}"


def parse(ref: str) -> Name:
    rest, reference = ref, "latest"
    if "@" in rest:
        rest, reference = rest.split("@", 1)
    elif ":" in rest.rsplit("/", 1)[-1]:
        rest, reference = rest.rsplit(":", 1)
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, remainder
    else:
        host, repo = "docker.io", rest
        if "/" not in repo:
            repo = f"library/{repo}"
    return Name(host, repo, reference)


def has_registry_host(ref: str) -> bool:
    """True when the ref names its registry (`localhost:5000/x`, `ghcr.io/a/x`)."""
    first, _, remainder = ref.partition("/")
    return bool(remainder) and ("." in first or ":" in first or first == "localhost")


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in ("localhost", "[::1]", "::1") or name.startswith("127.")


def base_url(host: str) -> str:
    scheme = "http" if is_loopback(host) else "https"
    return f"{scheme}://{DOCKER_HUB if host == 'docker.io' else host}"


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    @property
    def is_list(self) -> bool:
        return self.media_type in LIST_TYPES

    def data(self) -> dict[str, object]:
        loaded = json.loads(self.body)
        return loaded if isinstance(loaded, dict) else {}

    def children(self) -> list[tuple[str, str]]:
        """(platform, digest) of each image in a manifest list: `linux/arm64` and so on."""
        out = []
        for item in self.data().get("manifests") or []:  # type: ignore[attr-defined]
            plat = item.get("platform") or {}
            name = f"{plat.get('os', '?')}/{plat.get('architecture', '?')}"
            if plat.get("variant"):
                name += f"/{plat['variant']}"
            out.append((name, str(item["digest"])))
        return out


@dataclass(frozen=True)
class RemoteImage:
    """A tag as the registry holds it: its digest, platforms and (first image's) labels."""

    name: Name
    digest: str
    platforms: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- credentials


def _docker_config() -> dict[str, object]:
    home = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        data = json.loads((Path(home) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def credentials(host: str, runner: commands.Runner = commands.run) -> Optional[tuple[str, str]]:
    """(user, secret) for `host` from docker's config or its credential helper; None if none."""
    cfg = _docker_config()
    helpers_by_host = cfg.get("credHelpers") or {}
    helper = helpers_by_host.get(host) if isinstance(helpers_by_host, dict) else None
    helper = helper or cfg.get("credsStore")
    if isinstance(helper, str) and helper:
        result = runner((f"docker-credential-{helper}", "get"), input=host)
        if result.ok:
            try:
                found = json.loads(result.out)
                return str(found["Username"]), str(found["Secret"])
            except (ValueError, KeyError, TypeError):
                return None
    auths = cfg.get("auths") or {}
    entry = auths.get(host) if isinstance(auths, dict) else None
    if isinstance(entry, dict) and entry.get("auth"):
        user, _, secret = base64.b64decode(str(entry["auth"])).decode().partition(":")
        return user, secret
    return None


# ---------------------------------------------------------------- hosts that failed

_down_lock = threading.Lock()
_down: set[str] = set()  # hosts that failed in this process (the caches skip them)


def mark_down(host: str) -> bool:
    """Remember that `host` did not answer (or refused us) in this process; True the first
    time, so the caller says it once."""
    with _down_lock:
        first = host not in _down
        _down.add(host)
    return first


def is_down(host: str) -> bool:
    with _down_lock:
        return host in _down


# ---------------------------------------------------------------- HTTP


Reply = tuple[int, Mapping[str, str], bytes]  # status, headers, body
# One HTTP exchange: (method, url, body, headers, timeout) -> the reply; an answer with
# any status (4xx, 5xx) is a reply; a host that does not answer raises OSError.
Send = Callable[[str, str, Optional[bytes], Mapping[str, str], float], Reply]


def http_send(
    method: str, url: str, body: Optional[bytes], headers: Mapping[str, str], timeout: float
) -> Reply:
    """The real transport: urllib (lazy: http.client and ssl cost ~40 ms; most runs ask
    nothing of a registry)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method)
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
    except urllib.error.URLError as err:
        raise OSError(str(err.reason)) from None


class Client:
    """One registry host; remembers the token its auth challenge gave. `send` is the HTTP
    transport (a test hands in a fake registry)."""

    def __init__(
        self,
        host: str,
        runner: commands.Runner = commands.run,
        timeout: float = TIMEOUT,
        send: Send = http_send,
    ) -> None:
        self.host = host
        self.runner = runner
        self.timeout = timeout
        self.send = send
        self._auth: Optional[str] = None

    def _login_error(self, what: str) -> UserError:
        return UserError(
            f"registry {self.host} asks for login to {what}: run "
            f"`invoke docker_login --registry {self.host}` (or `docker login {self.host}`)"
        )

    def _token(self, challenge: str, repo: str) -> Optional[str]:
        import urllib.parse

        kind, _, params = challenge.partition(" ")
        creds = credentials(self.host, self.runner)
        if kind.lower() == "basic":
            if creds is None:
                return None
            return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in fields:
            return None
        query = {"service": fields.get("service", ""), "scope": f"repository:{repo}:pull,push"}
        headers: dict[str, str] = {}
        if creds is not None:
            basic = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        url = f"{fields['realm']}?{urllib.parse.urlencode(query)}"
        try:
            status, _, body = self.send("GET", url, None, headers, self.timeout)
            data = json.loads(body) if status == 200 else {}
        except (OSError, ValueError):
            return None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        return f"Bearer {token}" if token else None

    def request(
        self,
        method: str,
        repo: str,
        path: str,
        *,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        url: Optional[str] = None,
    ) -> Reply:
        """Status, headers and body; 404 is an answer, not an error. `url`: an absolute URL
        the registry handed out (a blob upload's Location) instead of `/v2/<repo>/<path>`."""
        url = url or f"{base_url(self.host)}/v2/{repo}/{path}"
        for attempt in (1, 2):
            sent = dict(headers or {})
            if self._auth:
                sent["Authorization"] = self._auth
            try:
                status, got, data = self.send(method, url, body, sent, self.timeout)
            except OSError as err:
                raise UserError(
                    f"registry {self.host} is unreachable ({err}): check the registry "
                    "setting (`invoke print_setup` shows its value and where it comes from), "
                    "that the registry runs (local: dev_scripts/engine/bootstrap.sh "
                    "--registry) and the network"
                ) from None
            if status == 401 and attempt == 1:
                challenge = {k.lower(): v for k, v in got.items()}.get("www-authenticate", "")
                self._auth = self._token(challenge, repo)
                if self._auth:
                    continue
            if status in (401, 403):
                raise self._login_error(f"{method} {repo}")
            return status, got, data
        raise AssertionError("unreachable")  # pragma: no cover

    def manifest(self, name: Name) -> Optional[Manifest]:
        status, headers, body = self.request(
            "GET", name.repo, f"manifests/{name.reference}", headers={"Accept": ACCEPT}
        )
        if status == 404:
            return None
        if status != 200:
            raise UserError(f"registry {self.host}: GET manifest {name.display} gave HTTP {status}")
        lower = {k.lower(): v for k, v in headers.items()}
        media = lower.get("content-type", "").split(";")[0].strip()
        media = media or str(json.loads(body).get("mediaType", ""))
        digest = lower.get("docker-content-digest") or _sha256(body)
        return Manifest(digest, media, body)

    def put_manifest(self, name: Name, manifest: Manifest) -> str:
        status, headers, body = self.request(
            "PUT",
            name.repo,
            f"manifests/{name.reference}",
            body=manifest.body,
            headers={"Content-Type": manifest.media_type},
        )
        if status not in (200, 201):
            detail = body.decode(errors="replace").strip()[:200]
            raise UserError(f"registry {self.host}: PUT {name.display} gave HTTP {status} {detail}")
        lower = {k.lower(): v for k, v in headers.items()}
        return lower.get("docker-content-digest", manifest.digest)

    def blob_json(self, repo: str, digest: str) -> dict[str, object]:
        status, _, body = self.request("GET", repo, f"blobs/{digest}")
        if status != 200:
            raise UserError(f"registry {self.host}: GET blob {repo}@{digest} gave HTTP {status}")
        data = json.loads(body)
        return data if isinstance(data, dict) else {}

    def tags(self, repo: str) -> list[str]:
        status, _, body = self.request("GET", repo, "tags/list")
        if status == 404:
            return []
        if status != 200:
            raise UserError(f"registry {self.host}: GET tags of {repo} gave HTTP {status}")
        return list(json.loads(body).get("tags") or [])


def _sha256(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


def _labels(client: Client, name: Name, manifest: Manifest) -> tuple[str, dict[str, str]]:
    """(platform, labels) of a single-image manifest, from its config blob."""
    config_ref = manifest.data().get("config") or {}
    digest = str(config_ref.get("digest", "")) if isinstance(config_ref, dict) else ""
    blob = client.blob_json(name.repo, digest) if digest else {}
    inner = blob.get("config") or {}
    labels = (inner.get("Labels") if isinstance(inner, dict) else None) or {}
    plat = f"{blob.get('os', '?')}/{blob.get('architecture', '?')}"
    return plat, {str(k): str(v) for k, v in labels.items()}


def inspect(
    ref: str, client: Optional[Client] = None, runner: commands.Runner = commands.run
) -> Optional[RemoteImage]:
    """The tag as the registry holds it, or None when the registry has no such tag."""
    name = parse(ref)
    client = client or Client(name.host, runner)
    manifest = client.manifest(name)
    if manifest is None:
        return None
    if not manifest.is_list:
        plat, own = _labels(client, name, manifest)
        return RemoteImage(name, manifest.digest, (plat,), own)
    children = manifest.children()
    first: dict[str, str] = {}
    if children:
        child = client.manifest(Name(name.host, name.repo, children[0][1]))
        if child is not None:
            first = _labels(client, name, child)[1]
    return RemoteImage(name, manifest.digest, tuple(p for p, _ in children), first)


def copy_tag(source: str, dest_tag: str, client: Optional[Client] = None) -> str:
    """Put the exact manifest `source` holds under `dest_tag` (same repo); returns its digest."""
    name = parse(source)
    client = client or Client(name.host)
    manifest = client.manifest(name)
    if manifest is None:
        raise UserError(f"{name.display} is not in the registry; nothing to point {dest_tag} at")
    return client.put_manifest(Name(name.host, name.repo, dest_tag), manifest)


def platform_digest(ref: str, platform: str, client: Optional[Client] = None) -> Optional[str]:
    """The digest of `platform`'s image in the manifest list `ref` holds (None: not a list)."""
    name = parse(ref)
    client = client or Client(name.host)
    manifest = client.manifest(name)
    if manifest is None or not manifest.is_list:
        return None
    for plat, digest in manifest.children():
        if plat == platform or plat.startswith(platform + "/"):
            return digest
    return ""
