"""Batched engine look-ups: answered once from one call, everything else passed through."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from helpers.effects import commands, engine, prefetch

IMAGE = {"Id": "sha256:1", "RepoTags": ["app:local-x-1.0.0"], "Config": {"Labels": {"a": "b"}}}


class Engine:
    """A scripted stand-in for the docker CLI that records what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Optional[Path] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> commands.Result:
        key = tuple(argv)
        self.calls.append(key)
        if key[:3] == ("docker", "image", "inspect"):
            return commands.Result(key, 1, json.dumps(IMAGE) + "\n", "Error: No such image: gone")
        if key[:2] == ("docker", "ps"):
            return commands.Result(key, 0, "warm-1\n", "")
        if key[:3] == ("docker", "container", "inspect"):
            return commands.Result(key, 0, "/warm-1\ttrue 2026-11-29T10:00:00Z\n", "")
        return commands.Result(key, 0, "other\n", "")


def test_one_call_answers_every_dir_once() -> None:
    fake = Engine()
    runner = prefetch.Prefetched(fake)
    runner.load_images(["app:local-x-1.0.0", "gone:1"])
    runner.load_containers("{{.State.Running}} {{.State.StartedAt}}")
    before = len(fake.calls)
    found = engine.inspect_images(["app:local-x-1.0.0"], runner)["app:local-x-1.0.0"]
    assert found is not None and found.id == "sha256:1" and found.labels == {"a": "b"}
    assert engine.inspect_images(["gone:1"], runner)["gone:1"] is None
    fmt = "{{.State.Running}} {{.State.StartedAt}}"
    state = runner(("docker", "container", "inspect", "--format", fmt, "warm-1"))
    assert state.out.strip() == "true 2026-11-29T10:00:00Z"
    absent = runner(("docker", "container", "inspect", "--format", fmt, "warm-2"))
    assert not absent.ok
    assert len(fake.calls) == before  # the batch said the image is absent: nothing more asked
    # A second ask (after a rebuild or a start) goes to the engine.
    runner(("docker", "container", "inspect", "--format", fmt, "warm-1"))
    runner(("docker", "rm", "-f", "x"))
    assert fake.calls[-2:] == [
        ("docker", "container", "inspect", "--format", fmt, "warm-1"),
        ("docker", "rm", "-f", "x"),
    ]


def test_absent_images_need_no_engine_check_but_a_silent_engine_does() -> None:
    from helpers.errors import UserError
    from tests.fakes import FakeRunner, result

    missing = "\n".join(f"Error response from daemon: No such image: {r}" for r in ("a:1", "b:1"))
    up = FakeRunner({"image inspect": result(1, "", missing + "\n")})
    assert engine.inspect_images(["a:1", "b:1"], up) == {"a:1": None, "b:1": None}
    assert [argv[1] for argv in up.argvs] == ["image"]  # no `docker version` asked
    refused = "Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?"
    down = FakeRunner({"image inspect": result(1, "", refused), "version": result(1, "", refused)})
    try:
        engine.inspect_images(["a:1", "b:1"], down)
    except UserError as err:
        assert err.message.startswith("no container engine answers at")
    else:
        raise AssertionError("an engine that does not answer must be an error")
    assert [argv[1] for argv in down.argvs] == ["image", "version"]
