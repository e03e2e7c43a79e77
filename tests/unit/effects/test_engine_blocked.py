from __future__ import annotations

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
