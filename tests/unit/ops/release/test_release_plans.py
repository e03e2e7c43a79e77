"""Release plans without an engine: the steps, their order, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.effects import registry_api
from helpers.errors import UserError
from helpers.model import config, images, project
from helpers.ops.images import build_context, platforms
from helpers.ops.release import flow as rel
from helpers.ops.release import steps as rs
from tests.conftest import make_runnable

LABELS = {images.LABEL_INPUTS: "h" * 64, images.LABEL_VERSION: "1.2.0"}


def _spec(tmp_path: Path) -> rs.BuildSpec:
    ctx = build_context.Context(tmp_path, ("devops/Dockerfile",), "devops/Dockerfile")
    return rs.BuildSpec(ctx, {"BASE_IMAGE": "base:1"})


def _argvs(steps: list[rs.Step]) -> list[str]:
    return [s.display() for s in steps]


def test_classic_multiarch_plan_labels_native_builds_foreign_then_lists(tmp_path: Path) -> None:
    repos = ("localhost:5000/app", "ghcr.io/acme/app")
    steps = rs.classic(
        repos,
        "dev-1.2.0",
        "localhost:5000/app:local-ann-1.2.0",
        ("linux/amd64", "linux/arm64"),
        "linux/amd64",
        LABELS,
        _spec(tmp_path),
        {"linux/arm64": "reg/base@sha256:abc"},
    )
    shown = _argvs(steps)
    # the tested native image is relabelled, never rebuilt from source
    assert shown[0].startswith("docker build --force-rm --tag localhost:5000/app:dev-1.2.0-amd64 ")
    assert "FROM localhost:5000/app:local-ann-1.2.0" in shown[0]
    assert "--platform linux/arm64" in shown[1]
    assert "--build-arg BASE_IMAGE=reg/base@sha256:abc" in shown[1]
    assert shown[1].endswith("< context.tar (1 files)")
    # each registry: arch images pushed, then one list under the version tag
    assert "docker manifest create --insecure --amend localhost:5000/app:dev-1.2.0 " in shown[4]
    assert shown[5] == "docker manifest push --insecure --purge localhost:5000/app:dev-1.2.0"
    assert "docker tag localhost:5000/app:dev-1.2.0-amd64 ghcr.io/acme/app:dev-1.2.0-amd64" in shown
    # https registries get no --insecure
    assert any(
        s.startswith("docker manifest push --purge ghcr.io/acme/app:dev-1.2.0") for s in shown
    )
    assert not any("move" in s.title for s in steps)  # moving tags are a separate, last step


def test_classic_native_only_pushes_a_plain_image(tmp_path: Path) -> None:
    steps = rs.classic(
        ("localhost:5000/app",), "dev-1.2.0", "app:local", ("linux/amd64",), "linux/amd64",
        LABELS, _spec(tmp_path), {},
    )  # fmt: skip
    assert [s.title for s in steps] == [
        "label the linux/amd64 image",
        "push localhost:5000/app:dev-1.2.0",
    ]


def test_buildx_plan_is_one_build_for_every_platform_and_registry(tmp_path: Path) -> None:
    steps = rs.buildx(
        ("localhost:5000/app", "ghcr.io/acme/app"),
        "dev-1.2.0",
        ("linux/amd64", "linux/arm64"),
        LABELS,
        _spec(tmp_path),
    )
    assert len(steps) == 1
    argv = steps[0].argv
    assert argv[:5] == ("docker", "buildx", "build", "--platform", "linux/amd64,linux/arm64")
    assert argv[-2:] == ("--push", "-")
    tags = [argv[i + 1] for i, a in enumerate(argv) if a == "--tag"]
    assert tags == ["localhost:5000/app:dev-1.2.0", "ghcr.io/acme/app:dev-1.2.0"]
    move = rs.move("ghcr.io/acme/app", "dev-1.2.0", "dev")  # same manifest, same digest
    assert move.copy == ("ghcr.io/acme/app:dev-1.2.0", "dev") and move.argv == ()


def test_moving_tags_come_last_and_only_where_needed(tmp_path: Path) -> None:
    target = _target(tmp_path)
    s = rel.Setting(target, ("r1/app", "r2/app"), ("linux/amd64",), "linux/amd64", False)
    same = _remote("r2/app", "dev-1.2.0", "sha256:aaa")
    published = {"r1/app": None, "r2/app": same}
    moving = {"r1/app": None, "r2/app": _remote("r2/app", "dev", "sha256:aaa")}
    steps = rel.moves(s, ("r1/app",), published, moving, "dev-1.2.0", "dev")
    assert [st.copy for st in steps] == [("r1/app:dev-1.2.0", "dev")]  # r2 already points there


def _target(root: Path) -> project.Target:
    make_runnable(root, ".", name="app", version="1.2.0")
    return project.Target(root, ".", config.Config(image_name="app", registry="r1"))


def _remote(repo: str, tag: str, digest: str, **labels: str) -> registry_api.RemoteImage:
    name = registry_api.parse(f"{repo}:{tag}")
    return registry_api.RemoteImage(name, digest, ("linux/amd64",), labels)


def test_to_push_refuses_other_inputs_and_skips_same(tmp_path: Path) -> None:
    target = _target(tmp_path)
    same = _remote("r1/app", "dev-1.2.0", "sha256:a", **{images.LABEL_INPUTS: "h" * 64})
    assert rel.to_push(target, {"r1/app": same}, "dev-1.2.0", "h" * 64, ("linux/amd64",)) == ()
    other = _remote("r1/app", "dev-1.2.0", "sha256:a", **{images.LABEL_INPUTS: "o" * 64})
    with pytest.raises(UserError) as err:
        rel.to_push(target, {"r1/app": other}, "dev-1.2.0", "h" * 64, ("linux/amd64",))
    message = err.value.message
    assert "r1/app:dev-1.2.0 is already published with inputs oooooooooooo" in message
    assert "this build's are hhhhhhhhhhhh" in message
    assert "bump the version with `invoke bump_version --part patch" in message
    missing = rel.to_push(target, {"r1/app": None}, "dev-1.2.0", "h" * 64, ("linux/amd64",))
    assert missing == ("r1/app",)


def test_release_never_moves_a_moving_tag_back(tmp_path: Path) -> None:
    newer = _remote("r1/app", "dev", "sha256:b", **{images.LABEL_VERSION: "1.10.0"})
    with pytest.raises(UserError, match=r"r1/app:dev is version 1.10.0, newer than 1.9.0"):
        rel.not_older({"r1/app": newer}, "dev", "1.9.0", ".")
    rel.not_older({"r1/app": newer}, "dev", "1.10.1", ".")  # a newer release moves it on


def test_platform_parsing_and_emulator_message(tmp_path: Path) -> None:
    assert images.parse_platforms("linux/amd64, linux/arm64") == ("linux/amd64", "linux/arm64")
    with pytest.raises(UserError, match="unknown architecture in 'linux/sparc'"):
        images.parse_platforms("linux/sparc")
    with pytest.raises(UserError, match="'amd64' is not a platform"):
        images.parse_platforms("amd64")
    assert images.platform_arch("linux/arm64/v8") == "arm64v8"
    assert not platforms.is_foreign("linux/386", "linux/amd64")
    assert platforms.is_foreign("linux/arm64", "linux/amd64")
    assert platforms.emulator_missing(("linux/arm64",), "linux/amd64", binfmt=tmp_path) is None
    (tmp_path / "status").write_text("enabled\n")  # binfmt_misc is mounted: now it can tell
    missing = platforms.emulator_missing(("linux/arm64",), "linux/amd64", binfmt=tmp_path)
    assert missing is not None and "bootstrap.sh --qemu" in missing
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64\n")
    assert platforms.emulator_missing(("linux/arm64",), "linux/amd64", binfmt=tmp_path) is None


def test_registry_names_parse_like_docker() -> None:
    assert registry_api.parse("localhost:5000/app:dev-1") == registry_api.Name(
        "localhost:5000", "app", "dev-1"
    )
    assert registry_api.parse("python:3.12") == registry_api.Name(
        "docker.io", "library/python", "3.12"
    )
    assert registry_api.parse("ghcr.io/a/b@sha256:00").reference == "sha256:00"
    assert registry_api.is_loopback("127.0.0.1:5000") and not registry_api.is_loopback("ghcr.io")
    assert registry_api.base_url("docker.io") == "https://registry-1.docker.io"


def test_config_registries_list_and_conflict(tmp_path: Path) -> None:
    (tmp_path / "repo_config.yaml").write_text("registries: [localhost:5000, ghcr.io/acme]\n")
    cfg = config.load(tmp_path, ".", env={})
    assert cfg.registry == "localhost:5000"
    assert images.repositories(cfg) == ("localhost:5000/" + cfg.image_name,
                                        "ghcr.io/acme/" + cfg.image_name)  # fmt: skip
    (tmp_path / "repo_config.yaml").write_text("registry: a.io\nregistries: [b.io]\n")
    with pytest.raises(UserError, match="'registry' 'a.io' is not in 'registries'"):
        config.load(tmp_path, ".", env={})
    env_cfg = config.load(tmp_path, ".", env={"HELPERS_REGISTRY": "c.io"})
    assert env_cfg.registries == ("c.io",)


def test_labels_go_in_one_instruction_escaped_as_docker_reads_them() -> None:
    from helpers.model import images as img

    text = img.labelled_dockerfile("reg/app:local", {"b": 'say "$HOME" \\ok', "a": "/x y"})
    lines = text.splitlines()
    assert lines[0] == "FROM reg/app:local"
    assert lines[1] == 'LABEL "a"="/x y" \\'  # one LABEL, sorted, continued
    assert lines[2].strip() == '"b"="say \\"\\$HOME\\" \\\\ok"'
    with pytest.raises(UserError, match="line break"):
        img.labelled_dockerfile("x", {"a": "1\n2"})
