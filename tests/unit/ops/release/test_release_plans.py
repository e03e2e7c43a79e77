"""Release plans without an engine: the steps, their order, and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from helpers.effects import registry_api
from helpers.errors import UserError
from helpers.model import config, images, project
from helpers.ops.images import build_context, platforms
from helpers.ops.release import flow as rel
from helpers.ops.release import multiarch, publish
from helpers.ops.release import steps as rs
from tests.conftest import make_runnable

LABELS = {images.LABEL_INPUTS: "h" * 64, images.LABEL_VERSION: "1.2.0"}


def _spec(tmp_path: Path) -> rs.BuildSpec:
    ctx = build_context.Context(tmp_path, ("devops/Dockerfile",), "devops/Dockerfile")
    return rs.BuildSpec(ctx, {"BASE_IMAGE": "base:1"})


def _argvs(steps: list[rs.Step]) -> list[str]:
    return [s.display() for s in steps]


def _plat(
    plat: str, tests: str, base: str = "", test: Optional[rs.Step] = None
) -> rs.PlatformImage:
    labels = {**LABELS, images.LABEL_TESTS: tests, images.LABEL_INPUTS: plat}
    return rs.PlatformImage(plat, labels, base, test)


def test_each_platform_image_gets_its_own_labels_and_base(tmp_path: Path) -> None:
    foreign_test = rs.Step("test the linux/arm64 image under emulation", call=lambda: 0)
    steps = rs.platform_images(
        "localhost:5000/app",
        "dev-1.2.0",
        "localhost:5000/app:local-ann-1.2.0",
        "linux/amd64",
        (
            _plat("linux/amd64", "passed"),
            _plat("linux/arm64", "passed", "reg/base@sha256:abc", foreign_test),
            _plat("linux/arm/v7", "not-run", "reg/base@sha256:def"),
        ),
        _spec(tmp_path),
    )
    shown = _argvs(steps)
    # the tested native image is relabelled, never rebuilt from source
    assert shown[0].startswith("docker build --force-rm --tag localhost:5000/app:dev-1.2.0-amd64 ")
    assert "FROM localhost:5000/app:local-ann-1.2.0" in shown[0]
    assert "--platform linux/arm64" in shown[1]
    assert "--build-arg BASE_IMAGE=reg/base@sha256:abc" in shown[1]
    assert shown[1].endswith("< context.tar (1 files)")
    # its tests run before its final labels: built saying not-run, labelled passed after
    assert "--label io.helpers.tests=not-run" in shown[1]
    assert "--label io.helpers.inputs-hash=linux/arm64" in shown[1]
    assert steps[2] is foreign_test
    assert steps[3].title == "label the linux/arm64 image" and "--platform linux/arm64" in shown[3]
    assert '"io.helpers.tests"="passed"' in (steps[3].dockerfile_text or "")
    # an untested foreign image says so, and is built on its own base
    assert "--label io.helpers.tests=not-run" in shown[4]
    assert "--build-arg BASE_IMAGE=reg/base@sha256:def" in shown[4]
    assert len(steps) == 5


class _Publisher(publish.Publisher):
    """Records what the steps ask of it instead of asking a registry."""

    def push(self, repo: str, plat: str) -> int:
        self.pushed[(repo, plat)] = registry_api.Manifest("sha256:0", "x", b"")
        return 0

    def write(self, repo: str) -> int:
        self.pushed[(repo, "written")] = registry_api.Manifest("sha256:1", "x", b"")
        return 0


def test_pushes_push_each_platform_then_write_the_version_tag_last(tmp_path: Path) -> None:
    e = publish.Expected(_target(tmp_path), "dev-1.2.0", {"linux/amd64": "a", "linux/arm64": "b"})
    by = _Publisher(e)
    repos = ("localhost:5000/app", "ghcr.io/acme/app")
    steps = rs.pushes(repos, "dev-1.2.0", e.plats, by)
    shown = _argvs(steps)
    assert shown[:3] == [
        "docker push localhost:5000/app:dev-1.2.0-amd64",
        "docker push localhost:5000/app:dev-1.2.0-arm64",
        "registry: PUT localhost:5000/app:dev-1.2.0 = a manifest list of "
        "localhost:5000/app:dev-1.2.0-amd64, localhost:5000/app:dev-1.2.0-arm64 "
        "(only while dev-1.2.0 is unpublished)",
    ]
    assert "docker tag localhost:5000/app:dev-1.2.0-amd64 ghcr.io/acme/app:dev-1.2.0-amd64" in shown
    rs.execute([st for st in steps if st.call is not None])
    assert list(by.pushed) == [
        ("localhost:5000/app", "linux/amd64"),
        ("localhost:5000/app", "linux/arm64"),
        ("localhost:5000/app", "written"),
        ("ghcr.io/acme/app", "linux/amd64"),
        ("ghcr.io/acme/app", "linux/arm64"),
        ("ghcr.io/acme/app", "written"),
    ]
    one = publish.Expected(e.target, "dev-1.2.0", {"linux/amd64": "a"})
    single = rs.pushes(("r/app",), "dev-1.2.0", one.plats, _Publisher(one))
    assert _argvs(single)[1] == (
        "registry: PUT r/app:dev-1.2.0 = the manifest of r/app:dev-1.2.0-amd64 "
        "(only while dev-1.2.0 is unpublished)"
    )


def test_an_interrupted_step_is_an_interrupt_not_a_failed_step() -> None:
    ran: list[str] = []

    def after() -> int:
        ran.append("after")
        return 0

    steps = [rs.Step("test the local image", call=lambda: 130), rs.Step("after", call=after)]
    with pytest.raises(KeyboardInterrupt):
        rs.execute(steps)
    assert ran == []
    with pytest.raises(rs.StepFailedError, match=r"step 1/1 \(x\) failed \(exit 3\)"):
        rs.execute([rs.Step("x", call=lambda: 3)])


def test_a_refusal_at_a_write_is_the_usual_refusal_unwrapped() -> None:
    def refuse() -> int:
        raise publish.RefusedError("r/app:dev-1.2.0 is already published with inputs aaa")

    with pytest.raises(publish.RefusedError) as err:
        rs.execute([rs.Step("push r/app:dev-1.2.0-amd64", call=refuse)])
    assert err.value.message.startswith("r/app:dev-1.2.0 is already published")
    assert err.value.exit_code == 2


def test_test_platforms_default_native_all_or_a_list() -> None:
    plats = ("linux/amd64", "linux/arm64")
    assert multiarch.tested_platforms("native", plats, "linux/amd64") == ("linux/amd64",)
    assert multiarch.tested_platforms("all", plats, "linux/amd64") == plats
    assert multiarch.tested_platforms("linux/arm64", plats, "linux/amd64") == ("linux/arm64",)
    with pytest.raises(UserError, match="--test-platforms linux/386: not released by this run"):
        multiarch.tested_platforms("linux/386", plats, "linux/amd64")


def test_platform_hashes_differ_by_base_and_keep_the_native_one() -> None:
    bases = {"linux/arm64": multiarch.Base("reg/b@sha256:1", "sha256:1")}
    got = multiarch.hashes("n" * 64, ("linux/amd64", "linux/arm64"), "linux/amd64", bases)
    assert got["linux/amd64"] == "n" * 64
    assert got["linux/arm64"] not in ("n" * 64, "")
    other = {"linux/arm64": multiarch.Base("reg/b@sha256:2", "sha256:2")}
    moved = multiarch.hashes("n" * 64, ("linux/amd64", "linux/arm64"), "linux/amd64", other)
    assert moved["linux/arm64"] != got["linux/arm64"]  # another arm64 base: other inputs


def test_moving_tags_come_last_and_only_where_needed(tmp_path: Path) -> None:
    target = _target(tmp_path)
    s = rel.Setting(target, ("r1/app", "r2/app"), ("linux/amd64",), "linux/amd64")
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
    e = publish.Expected(target, "dev-1.2.0", {"linux/amd64": "h" * 64})
    same = _remote("r1/app", "dev-1.2.0", "sha256:a", **{images.LABEL_INPUTS: "h" * 64})
    assert publish.to_push(e, {"r1/app": same}) == ()
    other = _remote("r1/app", "dev-1.2.0", "sha256:a", **{images.LABEL_INPUTS: "o" * 64})
    with pytest.raises(publish.RefusedError) as err:
        publish.to_push(e, {"r1/app": other})
    message = err.value.message
    assert "r1/app:dev-1.2.0 is already published with inputs oooooooooooo" in message
    assert "this build's are hhhhhhhhhhhh" in message
    assert "bump the version with `invoke bump_version --part patch" in message
    assert publish.to_push(e, {"r1/app": None}) == ("r1/app",)
    named = publish.Expected(
        target, "dev-1.2.0", {"linux/amd64": "h" * 64}, explain=lambda labels: ["the base image"]
    )
    with pytest.raises(publish.RefusedError, match=r"; changed: the base image: a published"):
        publish.to_push(named, {"r1/app": other})


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
