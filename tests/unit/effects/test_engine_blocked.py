from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers.effects import commands, engine


def test_unit_tests_cannot_start_docker() -> None:
    with pytest.raises(commands.EngineBlockedError, match="docker version"):
        engine.status()


def test_missing_executable_is_127() -> None:
    result = commands.run(["definitely-not-a-command-xyz"])
    assert result.code == 127 and not result.ok


def test_run_captures_output_and_code() -> None:
    result = commands.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.code, result.out, result.err) == (3, "out\n", "err\n")


def test_socket_path_probe() -> None:
    assert engine.socket_path({"DOCKER_HOST": "tcp://h:2375"}) is None
    assert str(engine.socket_path({"DOCKER_HOST": "unix:///x.sock"})) == "/x.sock"
    assert str(engine.socket_path({})) == engine.DEFAULT_SOCKET
    assert not engine.socket_mountable({"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert engine.with_tag("localhost:5000/x") == "localhost:5000/x:latest"
    assert engine.with_tag("a/b:1") == "a/b:1"


def test_the_socket_is_asked_only_where_the_cli_would_ask_it(tmp_path: Path) -> None:
    plain = {"DOCKER_CONFIG": str(tmp_path / "none")}
    assert engine.local_socket(plain) == engine.DEFAULT_SOCKET
    assert engine.local_socket({**plain, "DOCKER_HOST": "unix:///x.sock"}) == "/x.sock"
    assert engine.local_socket({**plain, "DOCKER_HOST": "tcp://h:2375"}) is None
    assert engine.local_socket({**plain, "DOCKER_CONTEXT": "colima"}) is None
    assert engine.local_socket({**plain, commands.BLOCK_ENGINE_ENV: "1"}) is None
    cfg = {"DOCKER_CONFIG": str(tmp_path)}
    for text, socket in [
        ('{"currentContext": "desktop-linux"}', None),
        ('{"currentContext": "default", "auths": {}}', engine.DEFAULT_SOCKET),
        ('{"auths": {}}', engine.DEFAULT_SOCKET),
        ("{not json", None),  # the CLI decides, and says what is wrong
    ]:
        (tmp_path / "config.json").write_text(text)
        assert engine.local_socket(cfg) == socket, text


def test_an_injected_runner_sees_the_cli_call_not_the_socket() -> None:
    asked: list[tuple[str, ...]] = []

    def runner(argv: Sequence[str], **_: object) -> commands.Result:
        asked.append(tuple(argv))
        return commands.Result(tuple(argv), 1, "", "Error: No such image: a:1\n")

    assert engine.inspect_json(["a:1"], runner) == {"a:1": None}
    assert asked == [(*engine.IMAGE_INSPECT, "a:1")]
