"""The image cache: pull an image with the same inputs instead of building, layer cache for
the builds that run, and what is pushed after them (engine faked, registry answers faked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from helpers import events
from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import config, images, project, units
from helpers.ops.images import build, image_cache, source
from tests.conftest import git, make_runnable
from tests.fakes import FakeRunner, result

HASH = "a" * 64


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    registry_api._down.clear()
    image_cache._NATIVE[:] = ["linux/amd64"]
    yield
    registry_api._down.clear()


def target(tmp_path: Path, **cfg: object) -> project.Target:
    make_runnable(tmp_path, ".")
    git(tmp_path, "init", "-q")
    base = {"image_name": "svc", "registry": "localhost:5000", "image_cache": "shared"}
    return project.Target(tmp_path, ".", config.Config(**{**base, **cfg}))  # type: ignore[arg-type]


def plan(t: project.Target) -> build.BuildPlan:
    p = build.plan(t, build.BuildRequest(user="t"), {}, source.read(t, units.load(t.root)))
    import dataclasses

    return dataclasses.replace(p, inputs_hash=HASH)


class Built:
    def __init__(self) -> None:
        self.argvs: list[tuple[str, ...]] = []

    def __call__(self, p: build.BuildPlan, runner: object = None, quiet: bool = False) -> None:
        self.argvs.append(p.argv)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    seen = Built()
    monkeypatch.setattr(build, "execute", seen)
    return seen


@pytest.fixture(autouse=True)
def copied(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Tags moved over the registry API (faked): (source ref, new tag)."""
    seen: list[tuple[str, str]] = []

    def copy_tag(source: str, dest_tag: str, client: object = None) -> str:
        if source.startswith("127.0.0.1:1/"):
            raise UserError("registry 127.0.0.1:1 is unreachable (refused)")
        seen.append((source, dest_tag))
        return "sha256:" + "d" * 64

    monkeypatch.setattr(registry_api, "copy_tag", copy_tag)
    return seen


def remote_for(found: dict[str, Optional[str]]) -> object:
    """`image_cache.remote` answering from {ref: inputs hash label or None (absent)}."""

    def remote(ref: str, platform: str) -> Optional[image_cache.Remote]:
        label = found.get(ref)
        if label is None:
            return None
        info = engine.ImageInfo(ref, "sha256:" + "c" * 64, {images.LABEL_INPUTS: label}, "amd64")
        return image_cache.Remote(ref, info)

    return remote


def engine_with(pulled_id: str = "sha256:" + "c" * 64) -> FakeRunner:
    def inspect(argv: commands.Argv) -> commands.Result:
        ref = argv[-1]
        if "cache-" in ref:
            return result(0, f'{{"Id": "{pulled_id}", "RepoTags": ["{ref}"]}}\n')
        return result(1, "", f"Error: No such image: {ref}")

    return FakeRunner({"image inspect": inspect})


def test_a_missing_image_with_the_same_inputs_in_the_registry_is_pulled_not_built(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path)
    cache = f"localhost:5000/svc:cache-{HASH}"
    monkeypatch.setattr(image_cache, "remote", remote_for({cache: HASH}))
    runner = engine_with()
    with events.collected() as seen:
        how = image_cache.produce(t, plan(t), quiet=True, announce="build ...", runner=runner)
    assert how == f"pulled {cache}" and built.argvs == []
    words = [argv[1:3] for argv in runner.argvs]
    assert ("pull", "--quiet") in words and ("tag", cache) in words
    assert any(e.text.startswith(f"pull   .  {cache}") for e in seen)


def test_a_released_dev_image_with_the_same_inputs_label_is_pulled_too(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path)
    dev = "localhost:5000/svc:dev-0.1.0"
    monkeypatch.setattr(image_cache, "remote", remote_for({dev: HASH}))
    runner = engine_with()
    runner.answers["image inspect"] = lambda argv: (
        result(0, '{"Id": "sha256:' + "c" * 64 + f'", "RepoTags": ["{argv[-1]}"]}}\n')
        if argv[-1] == dev
        else result(1, "", "Error: No such image")
    )
    how = image_cache.produce(t, plan(t), quiet=True, announce="b", runner=runner)
    assert how == f"pulled {dev}" and built.argvs == []
    assert (engine.DOCKER, "rmi", dev) not in runner.argvs  # a dev tag is the user's: kept


def test_another_inputs_label_is_never_pulled(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path)
    monkeypatch.setattr(
        image_cache, "remote", remote_for({"localhost:5000/svc:dev-0.1.0": "b" * 64})
    )
    how = image_cache.produce(t, plan(t), quiet=True, announce="b", runner=engine_with())
    assert how == "built" and len(built.argvs) == 1


def test_a_build_with_no_local_image_uses_the_last_cached_one_as_layer_cache_and_pushes(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch, copied: list[tuple[str, str]]
) -> None:
    t = target(tmp_path)
    monkeypatch.setattr(image_cache, "remote", remote_for({}))
    runner = engine_with()
    p = plan(t)
    image_cache.produce(t, p, quiet=True, announce="b", runner=runner)
    argv = built.argvs[0]
    last = "localhost:5000/svc:cache"
    assert argv[argv.index("--cache-from") + 1] == last and argv[-1] == "-"
    assert (engine.DOCKER, "pull", "--quiet", last) in runner.argvs
    pushed = [a[-1] for a in runner.argvs if a[1] == "push"]
    assert pushed == [f"localhost:5000/svc:cache-{HASH}"]
    assert copied == [(f"localhost:5000/svc:cache-{HASH}", "cache")]
    assert all(not a[-1].endswith(p.ref) for a in runner.argvs if a[1] == "rmi")


def test_an_existing_cache_tag_is_never_replaced(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch, copied: list[tuple[str, str]]
) -> None:
    t = target(tmp_path)
    cache = f"localhost:5000/svc:cache-{HASH}"
    monkeypatch.setattr(image_cache, "remote", remote_for({cache: "other"}))
    runner = engine_with()
    image_cache.push(t, plan(t), runner)
    assert [a for a in runner.argvs if a[1] == "push"] == []
    assert copied == [(cache, "cache")]  # the last cached image: the first writer's


def test_image_cache_local_asks_no_registry(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path, image_cache="local")

    def no_registry(ref: str, platform: str) -> None:
        raise AssertionError("the registry was asked")

    monkeypatch.setattr(image_cache, "remote", no_registry)
    runner = FakeRunner()
    assert image_cache.produce(t, plan(t), quiet=True, announce="b", runner=runner) == "built"
    assert runner.argvs == [] and "--cache-from" not in built.argvs[0]


def test_a_registry_that_is_down_is_one_warning_and_a_plain_build(
    tmp_path: Path, built: Built
) -> None:
    t = target(tmp_path, registry=None, cache_registry="127.0.0.1:1")
    runner = engine_with()
    runner.answers["pull"] = result(1, "", "Error: connection refused")
    with events.collected() as seen:
        image_cache.produce(t, plan(t), quiet=True, announce="b", runner=runner)
        image_cache.produce(t, plan(t), quiet=True, announce="b", runner=runner)
    warnings = [e.text for e in seen if e.kind == events.Kind.WARNING]
    assert len(warnings) == 1 and "127.0.0.1:1" in warnings[0], warnings
    assert len(built.argvs) == 2 and all("--cache-from" not in a for a in built.argvs)
