"""The registry client over an injected transport: a fake registry in memory, no network.

The release decisions read what a registry holds through `registry_api`; here they read
it from a registry that answers like distribution v2 does (a bearer-token challenge
first, manifests by tag and digest, config blobs), so the whole path from HTTP to a
refusal is checked without an engine or a socket."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import pytest

from helpers.effects import registry_api
from helpers.errors import UserError
from helpers.model import config, images, project
from helpers.ops.release import publish
from tests.conftest import make_runnable

HOST = "registry.example.test"
IMAGE = "application/vnd.docker.distribution.manifest.v2+json"
TOKEN = "Bearer t0k"


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class FakeRegistry:
    """Manifests and blobs of one repo; every request needs the token its challenge gives."""

    def __init__(self, repo: str) -> None:
        self.repo = repo
        self.manifests: dict[str, bytes] = {}  # tag or digest -> body
        self.blobs: dict[str, bytes] = {}
        self.seen: list[tuple[str, str]] = []
        self.forbidden = False

    def publish(self, tag: str, labels: Mapping[str, str]) -> str:
        blob = json.dumps({"os": "linux", "architecture": "amd64", "config": {"Labels": labels}})
        self.blobs[_digest(blob.encode())] = blob.encode()
        body = json.dumps({"mediaType": IMAGE, "config": {"digest": _digest(blob.encode())}})
        digest = _digest(body.encode())
        self.manifests[tag] = self.manifests[digest] = body.encode()
        return digest

    def send(
        self,
        method: str,
        url: str,
        body: Optional[bytes],
        headers: Mapping[str, str],
        timeout: float,
    ) -> registry_api.Reply:
        self.seen.append((method, url))
        if url.startswith("https://auth.example.test/token"):
            return 200, {}, json.dumps({"token": "t0k"}).encode()
        if headers.get("Authorization") != TOKEN:
            challenge = 'Bearer realm="https://auth.example.test/token",service="reg"'
            return 401, {"Www-Authenticate": challenge}, b""
        if self.forbidden:
            return 403, {}, b""
        prefix = f"https://{HOST}/v2/{self.repo}/"
        kind, _, ref = url[len(prefix) :].partition("/")
        if kind == "manifests" and method == "PUT":
            assert body is not None
            self.manifests[ref] = self.manifests[_digest(body)] = body
            return 201, {"Docker-Content-Digest": _digest(body)}, b""
        found = (self.manifests if kind == "manifests" else self.blobs).get(ref)
        if found is None:
            return 404, {}, b""
        return 200, {"Content-Type": IMAGE, "Docker-Content-Digest": _digest(found)}, found


@pytest.fixture
def no_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))  # no credentials at all


def test_a_published_tag_with_other_inputs_is_refused_through_the_registrys_answers(
    tmp_path: Path, no_docker_config: None
) -> None:
    reg = FakeRegistry("app")
    reg.publish("dev-1.2.0", {images.LABEL_INPUTS: "o" * 64, images.LABEL_VERSION: "1.2.0"})
    client = registry_api.Client(HOST, send=reg.send)
    published = registry_api.inspect(f"{HOST}/app:dev-1.2.0", client)
    assert published is not None and published.platforms == ("linux/amd64",)
    assert reg.seen[0][0] == "GET" and reg.seen[1][1].startswith("https://auth.example.test/")

    make_runnable(tmp_path, ".", name="app", version="1.2.0")
    target = project.Target(tmp_path, ".", config.Config(image_name="app", registry=HOST))
    expected = publish.Expected(target, "dev-1.2.0", {"linux/amd64": "h" * 64})
    with pytest.raises(publish.RefusedError, match="already published with inputs oooooooooooo"):
        publish.to_push(expected, {f"{HOST}/app": published})
    missing = registry_api.inspect(f"{HOST}/app:dev-1.3.0", client)
    assert missing is None  # 404: nothing there, so a release pushes it
    assert publish.to_push(expected, {f"{HOST}/app": missing}) == (f"{HOST}/app",)


def test_moving_a_tag_puts_the_same_manifest_so_the_digest_is_the_same(
    no_docker_config: None,
) -> None:
    reg = FakeRegistry("app")
    old = reg.publish("dev-1.0.0", {images.LABEL_VERSION: "1.0.0"})
    reg.publish("dev", {images.LABEL_VERSION: "1.1.0"})
    client = registry_api.Client(HOST, send=reg.send)
    assert registry_api.copy_tag(f"{HOST}/app:dev-1.0.0", "dev", client) == old
    moved = registry_api.inspect(f"{HOST}/app:dev", client)
    assert (
        moved is not None and moved.digest == old and moved.labels[images.LABEL_VERSION] == "1.0.0"
    )


def test_a_registry_that_refuses_or_does_not_answer_is_one_line(no_docker_config: None) -> None:
    reg = FakeRegistry("app")
    reg.forbidden = True
    with pytest.raises(UserError, match=f"registry {HOST} asks for login to GET app: run"):
        registry_api.inspect(f"{HOST}/app:dev", registry_api.Client(HOST, send=reg.send))

    def down(*_: object) -> registry_api.Reply:
        raise OSError("connection refused")

    with pytest.raises(UserError) as err:
        registry_api.inspect(f"{HOST}/app:dev", registry_api.Client(HOST, send=down))
    assert err.value.message.startswith(f"registry {HOST} is unreachable (connection refused)")
