"""Release messages whose fix must work when followed, and the dirty check (real git)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import pytest

from helpers.effects import commands, oci
from helpers.errors import UserError
from helpers.model import project, units
from helpers.ops.release import dev, rollback
from helpers.ops.release import flow as rel
from tests.conftest import git, make_runnable, write


def _repo(tmp_path: Path, version: str = "1.2.0") -> Path:
    root = tmp_path / "client"
    make_runnable(root, ".", name="app", version=version)
    write(root / "repo_config.yaml", "registry: r1.io\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def _no_images(
    argv: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    input: Optional[str] = None,
    env: object = None,
) -> commands.Result:
    """The engine answers: none of the asked images is here."""
    if list(argv[:3]) == ["docker", "image", "inspect"]:
        refs = argv[5:]
        return commands.Result(tuple(argv), 1, "", "\n".join(f"No such image: {r}" for r in refs))
    if argv[0] == "git":
        return commands.run(argv, cwd=cwd)
    return commands.Result(tuple(argv), 0, "", "")


def test_a_version_other_than_the_changelogs_is_never_suggested_as_buildable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    monkeypatch.chdir(root)
    with pytest.raises(UserError) as tag:
        dev.tag_local_as_dev(rel.Request(version="1.1.0"), _no_images)
    assert "1.1.0 is not the version of changelog.txt (1.2.0)" in tag.value.message
    assert "docker_build_local_image" not in tag.value.message  # it would build 1.2.0
    with pytest.raises(UserError) as push:
        dev.push_dev(rel.Request(version="1.1.0"), _no_images)
    assert "docker_tag_local_image_as_dev" not in push.value.message
    assert "check out the commit whose changelog says 1.1.0" in push.value.message
    with pytest.raises(UserError) as same:  # the changelog's version: the fix is the usual one
        dev.push_dev(rel.Request(), _no_images)
    assert "run `invoke docker_tag_local_image_as_dev` first" in same.value.message


def test_require_signed_refuses_the_unsigned_manual_push_before_asking_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    write(root / "repo_config.yaml", "registry: r1.io\nrequire_signed: true\n")
    monkeypatch.chdir(root)
    asked: list[Sequence[str]] = []

    def engine(argv: Sequence[str], **kwargs: object) -> commands.Result:
        asked.append(argv)
        return _no_images(argv)

    with pytest.raises(UserError) as push:
        dev.push_dev(rel.Request(), engine)
    assert "require_signed is true" in push.value.message
    assert push.value.message.endswith("run `invoke docker_release_dev_image`")
    assert [a for a in asked if a[0] == "docker"] == []


def test_rollback_suggests_only_versions_every_registry_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = {
        "r1.io/app": ["dev", "dev-1.0.0", "dev-1.1.0", "dev-1.2.0-amd64", "prod-1234567", "dev-x"],
        "r2.io/app": ["dev-1.1.0", "dev-1.0.0", "prod-1.0.0"],
    }
    monkeypatch.setattr(oci, "list_tags", lambda repo, client=None: held[repo])
    assert rollback.published_versions(("r1.io/app", "r2.io/app"), "dev") == ["1.0.0", "1.1.0"]
    assert rollback.published_versions(("r1.io/app",), "prod") == []  # a candidate is no version
    assert rollback.published_versions(("r2.io/app",), "prod") == ["1.0.0"]


def test_an_uncommitted_bump_is_a_dirty_release(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    target = project.target(".", cwd=root)
    ws = units.load(root)
    assert rel.dirty_check(target, ws, {"devops/Dockerfile"}, allow=False) is False
    changelog = root / "changelog.txt"
    changelog.write_text("# app-1.3.0\n- 2026-12-01\n- next\n\n" + changelog.read_text())
    with pytest.raises(
        UserError, match=r"uncommitted changes in its image inputs \(changelog.txt\)"
    ):
        # the dev context (`*` then `!devops/`) does not hold the changelog: still an input
        rel.dirty_check(target, units.load(root), {"devops/Dockerfile"}, allow=False)
    assert rel.dirty_check(target, units.load(root), {"devops/Dockerfile"}, allow=True) is True


def test_an_index_names_each_platform_image_by_digest() -> None:
    from helpers.effects.registry_api import Manifest

    amd = Manifest("sha256:aa", oci.DOCKER_MANIFEST, b"{}")
    arm = Manifest("sha256:bb", oci.DOCKER_MANIFEST, b"{ }")
    index = oci.index_of([("linux/amd64", amd), ("linux/arm64/v8", arm)])
    data = json.loads(index.body)
    assert index.media_type == oci.DOCKER_LIST == data["mediaType"]
    assert [m["digest"] for m in data["manifests"]] == ["sha256:aa", "sha256:bb"]
    assert data["manifests"][1]["platform"] == {
        "os": "linux",
        "architecture": "arm64",
        "variant": "v8",
    }
    assert data["manifests"][1]["size"] == 3
    assert index.digest == oci.sha256(index.body)
    mixed = oci.index_of([("linux/amd64", Manifest("sha256:cc", oci.OCI_MANIFEST, b"{}"))])
    assert mixed.media_type == oci.OCI_INDEX
