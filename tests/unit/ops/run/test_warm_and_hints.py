from __future__ import annotations

import datetime
from pathlib import Path
from typing import Optional

import pytest

from helpers.effects import commands, engine
from helpers.errors import UserError
from helpers.model import config, hints, project
from helpers.ops.run import warm
from tests.conftest import make_runnable
from tests.fakes import FakeRunner, result


def FakeDocker(state: Optional[str], start_ok: bool = True) -> FakeRunner:
    """Answers `docker container inspect` with a state (None: no such container)."""
    return FakeRunner(
        {
            "container inspect": result(0 if state is not None else 1, state or ""),
            "run": result(0 if start_ok else 125, "id\n", "boom"),
        }
    )


def _setup(tmp_path: Path) -> tuple[project.Target, engine.ImageInfo]:
    (tmp_path / ".git").mkdir()
    make_runnable(tmp_path, "infra")
    (tmp_path / "helpers").mkdir()
    target = project.Target(tmp_path, "infra", config.load(tmp_path, "infra", env={}))
    return target, engine.ImageInfo("img:1", "sha256:abc", {}, "amd64")


def _now(seconds_ago: int) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


@pytest.fixture(autouse=True)
def _helpers_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "helpers.ops.run.containers.helpers_inside", lambda root: "/app/helpers_root"
    )


def test_a_young_running_container_is_reused(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    fake = FakeDocker(f"true {_now(60)}")
    name = warm.ensure(target, image, fake)
    assert name.startswith(f"helpers-warm-{target.cfg.image_name}-")
    assert [c[1] for c in fake.argvs] == ["container"]  # no run, no rm


def test_an_old_or_missing_container_is_replaced(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    for state in (f"true {_now(warm.REUSE_FOR + 5)}", None, f"false {_now(5)}"):
        fake = FakeDocker(state)
        name = warm.ensure(target, image, fake)
        run = next(c for c in fake.argvs if c[1] == "run")
        assert run[run.index("--name") + 1] == name and "--detach" in run
        assert run[-2:] == ("sleep", str(warm.LIFETIME))
        assert any(c[1] == "ps" for c in fake.argvs)  # the dir's old ones are looked up


def test_the_name_follows_image_and_env_file(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    first = warm.ensure(target, image, FakeDocker(None))
    other_image = engine.ImageInfo("img:1", "sha256:def", {}, "amd64")
    assert warm.ensure(target, other_image, FakeDocker(None)) != first
    (tmp_path / ".env").write_text("A=1\n")
    assert warm.ensure(target, image, FakeDocker(None)) != first


def test_a_failed_start_is_one_line(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    with pytest.raises(
        UserError, match=r"could not start a warm container .*\(boom\); pass --fresh"
    ):
        warm.ensure(target, image, FakeDocker(None, start_ok=False))


@pytest.mark.parametrize(
    ("ref", "flags"),
    [
        ("acme-infra:local-ann-1.2.0", ("--version", "1.2.0")),
        ("localhost:5000/acme:dev", ("--stage", "dev")),
        ("acme:prod-2.0.1", ("--stage", "prod", "--version", "2.0.1")),
        ("acme", ()),
    ],
)
def test_image_flags(ref: str, flags: tuple[str, ...]) -> None:
    assert hints.image_flags(ref) == flags


def test_task_line() -> None:
    assert hints.task_line("docker_pull", ".", "--stage", "dev") == "invoke docker_pull --stage dev"
    assert hints.task_line("info", "infra") == "invoke info --dir infra"


CONFLICT = (
    'docker: Error response from daemon: Conflict. The container name "/x" is already in use '
    'by container "abc". You have to remove (or rename) that container to be able to reuse '
    "that name.\nSee 'docker run --help'.\n"
)


def test_losing_the_race_for_the_warm_container_uses_the_winners(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    states = iter(["", "false 0001-01-01T00:00:00Z", f"true {_now(1)}"])

    def inspect(argv: tuple[str, ...]) -> commands.Result:
        state = next(states)  # none yet; then the winner's: created, then running
        return result(0 if state else 1, state, "" if state else "No such container")

    fake = FakeRunner({"container inspect": inspect, "run": result(125, "", CONFLICT)})
    name = warm.ensure(target, image, fake)
    assert name.startswith("helpers-warm-")
    assert [c[1] for c in fake.argvs].count("run") == 1  # it did not start a second one


def test_a_failed_start_keeps_dockers_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm, "START_TRIES", 1)
    target, image = _setup(tmp_path)
    fake = FakeRunner(
        {"container inspect": result(1, "", "No such container"), "run": result(125, "", CONFLICT)}
    )
    with pytest.raises(UserError) as err:
        warm.ensure(target, image, fake)
    assert "(docker: Error response from daemon: Conflict." in str(err.value)
    assert "docker run --help" not in str(err.value)
    assert engine.first_line("WARNING: platform differs\nreal reason\nSee x") == "real reason"


def test_a_container_another_run_is_starting_is_waited_for_not_removed(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    states = iter(["false 0001-01-01T00:00:00Z", f"true {_now(1)}"])
    fake = FakeRunner({"container inspect": lambda argv: result(0, next(states))})
    name = warm.ensure(target, image, fake)
    assert name.startswith("helpers-warm-")
    assert [c[1] for c in fake.argvs] == ["container", "container"]  # no rm, no second run


def test_a_name_held_by_a_container_on_its_way_out_is_tried_again(tmp_path: Path) -> None:
    target, image = _setup(tmp_path)
    runs = iter([result(125, "", CONFLICT), result(0, "id\n")])
    fake = FakeRunner(
        {"container inspect": result(1, "", "No such container"), "run": lambda a: next(runs)}
    )
    assert warm.ensure(target, image, fake).startswith("helpers-warm-")
    assert [c[1] for c in fake.argvs].count("run") == 2
