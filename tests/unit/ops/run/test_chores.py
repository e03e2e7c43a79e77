"""Pure parts of the engine chores: argv, port picking, selections, parsing; fake runners only."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.version import Version

from helpers.errors import UserError
from helpers.model import config, project
from helpers.ops.release import registry
from helpers.ops.run import cleanup, containers, inventory, jupyter
from helpers.outcome import Outcome
from tests.conftest import make_runnable
from tests.fakes import FakeRunner, result

ROOT = "/work/client"
SECRET = "s3cr3t-Pa55"


_result = result


def _target(root: Path, rel: str = ".", **cfg: object) -> project.Target:
    base = config.load(root, rel, env={})
    return project.Target(root, rel, config.Config(**{**base.__dict__, **cfg}))


def _container(
    name: str, state: str = "running", *, ours: bool = True, repo: str = ROOT, image: str = "x:1"
) -> inventory.ContainerRow:
    return inventory.ContainerRow(f"{name}-id" * 4, name, image, state, state, repo, "infra", ours)


def _image(
    id_: str,
    tags: Sequence[str] = (),
    *,
    version: str = "0.1.0",
    repo: str = ROOT,
    rel: str = "infra",
    managed: bool = True,
) -> inventory.ImageRow:
    labels = {
        "org.opencontainers.image.version": version,
        "io.helpers.repo": repo,
        "io.helpers.dir": rel,
    }
    if managed:
        labels["io.helpers.managed"] = "true"
    return inventory.ImageRow(f"sha256:{id_ * 16}", tuple(tags), labels, "2026-11-22T03:00:47Z", 1)


# ---------------------------------------------------------------- jupyter


def test_free_port_is_bindable() -> None:
    port = jupyter.free_port()
    assert 0 < port < 65536
    assert jupyter.port_is_free(port)
    assert jupyter.choose_port(0) > 0


def test_busy_or_bad_port_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind((jupyter.HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match=f"--port {port} is in use on 127.0.0.1"):
            jupyter.choose_port(port)
    with pytest.raises(UserError, match="--port 70000: not a TCP port"):
        jupyter.choose_port(70000)


def test_jupyter_argv_keeps_token_off_the_command_line(tmp_path: Path) -> None:
    make_runnable(tmp_path, "nb")
    target = _target(tmp_path, "nb")
    opts = jupyter.run_options(18888, "helpers-nb-jupyter-1")
    argv = containers.run_argv(target, "img:1", opts, env={})
    text = " ".join(argv)
    assert "--env JUPYTER_TOKEN " in text and "JUPYTER_TOKEN=" not in text
    assert "--publish 127.0.0.1:18888:18888" in text
    launcher = ("sh", "-c", jupyter.LAUNCHER, "jupyter")
    server = ("--ip=0.0.0.0", "--port=18888", "--no-browser")
    assert argv[-8:] == ("img:1", *launcher, *server)
    assert "--label io.helpers.container=true" in text and "--name helpers-nb-jupyter-1" in text
    assert f"--volume {tmp_path}:/app --workdir /app/nb" in text
    assert jupyter.url(18888, "t0k") == "http://127.0.0.1:18888/?token=t0k"
    as_root = jupyter.run_options(18888, "n", as_root=True).command
    assert as_root[-1] == "--allow-root" and "--allow-root" not in opts.command


def test_no_jupyter_message_names_the_dockerfile(tmp_path: Path) -> None:
    make_runnable(tmp_path, "nb")
    message = jupyter.no_jupyter_message("img:1", _target(tmp_path, "nb"))
    assert message.startswith("image img:1 has no jupyter: add it to nb/devops/Dockerfile")
    assert message.endswith("`invoke docker_build_local_image --dir nb`")


# ---------------------------------------------------------------- login


def test_login_secret_goes_to_stdin_never_argv() -> None:
    runner = FakeRunner()
    stdin = io.StringIO(SECRET + "\n")
    assert registry.login("ghcr.io/acme", "ann", True, stdin, runner) == Outcome(
        "logged in to ghcr.io"
    )
    ((argv, given),) = runner.calls
    assert argv == ("docker", "login", "--username", "ann", "--password-stdin", "ghcr.io")
    assert given == SECRET
    assert not any(SECRET in arg for arg in argv)


def test_login_failure_is_one_line_without_the_secret() -> None:
    err = f"Error response from daemon: bad credentials {SECRET}\n"
    runner = FakeRunner({"login": _result(1, err=err)})
    with pytest.raises(UserError) as exc:
        registry.login("127.0.0.1:5000", "ann", True, io.StringIO(SECRET), runner)
    message = str(exc.value)
    assert message.startswith("docker login to 127.0.0.1:5000 failed: Error response")
    assert SECRET not in message and "***" in message and "\n" not in message


def test_login_needs_user_and_a_secret() -> None:
    runner = FakeRunner()
    with pytest.raises(UserError, match="--password-stdin needs --username"):
        registry.login("r.io", None, True, io.StringIO(SECRET), runner)
    with pytest.raises(UserError, match="--password-stdin: stdin is empty"):
        registry.login("r.io", "ann", True, io.StringIO("\n"), runner)
    assert runner.calls == []


def test_login_without_stdin_leaves_the_secret_to_docker() -> None:
    assert registry.login_argv("r.io", None, False) == ("docker", "login", "r.io")
    runner = FakeRunner()
    assert registry.login("r.io/team", None, False, io.StringIO(""), runner).code == 0
    assert runner.calls == [(("docker", "login", "r.io"), None)]


# ---------------------------------------------------------------- pull


def test_pull_ref_needs_a_registry_and_a_pullable_stage(tmp_path: Path) -> None:
    make_runnable(tmp_path, "infra")
    bare = _target(tmp_path, "infra", image_name="infra")
    with pytest.raises(UserError, match="no registry configured for infra: set `registry`"):
        registry.pull_ref(bare, "dev", None)
    with_registry = _target(tmp_path, "infra", image_name="infra", registry="localhost:5000")
    with pytest.raises(UserError, match="--stage 'qa' is not one of local, dev, prod"):
        registry.pull_ref(with_registry, "qa", None)
    with pytest.raises(UserError, match="--stage local images are built here, not pulled"):
        registry.pull_ref(with_registry, "local", None)
    assert registry.pull_ref(with_registry, "dev", None) == "localhost:5000/infra:dev"
    assert registry.pull_ref(with_registry, "prod", "0.1.0") == "localhost:5000/infra:prod-0.1.0"


# ---------------------------------------------------------------- listings


def test_list_containers_parses_and_needs_both_labels() -> None:
    def row(name: str, container: str) -> str:
        data = {
            "id": "c" * 64,
            "name": name,
            "image": "x:1",
            "state": "exited",
            "status": "Exited (0)",
            "repo": ROOT,
            "dir": ".",
            "managed": "true",
            "container": container,
        }
        return json.dumps(data)

    out = row("helpers-a", "true") + "\n" + row("by-hand", "") + "\n"
    runner = FakeRunner({"ps": _result(0, out=out)})
    rows = inventory.list_containers((), include_stopped=True, runner=runner)
    assert [(r.name, r.ours, r.stopped) for r in rows] == [
        ("helpers-a", True, True),
        ("by-hand", False, True),
    ]
    ((argv, _),) = runner.calls
    assert argv[:4] == ("docker", "ps", "--all", "--no-trunc")


def test_engine_down_is_the_engine_message() -> None:
    down = _result(1, err="Cannot connect to the Docker daemon")
    runner = FakeRunner({"ps": down, "version": down})
    with pytest.raises(UserError, match="no container engine answers at"):
        inventory.list_containers(runner=runner)


def test_image_table_rows_only_this_dirs_repositories() -> None:
    old = inventory.ImageRow(
        "sha256:o", ("acme-infra:local-ann-0.0.9",), {}, "2025-01-01T00:00:00Z"
    )
    found = [
        old,
        _image("b", ["acme-infra:dev-0.1.0", "acme-infra:dev"], version="0.1.0"),
        _image("a", ["acme:local-ann-0.2.0", "other:1"], version="0.2.0"),
    ]
    rows = inventory.image_table_rows({"acme": ".", "acme-infra": "infra"}, found)
    assert rows == [
        (".", "acme:local-ann-0.2.0", "0.2.0", "2026-11-22 03:00:47", "1B"),
        ("infra", "acme-infra:dev", "0.1.0", "2026-11-22 03:00:47", "1B"),
        ("infra", "acme-infra:dev-0.1.0", "0.1.0", "2026-11-22 03:00:47", "1B"),
        ("infra", "acme-infra:local-ann-0.0.9", "-", "2025-01-01 00:00:00", "0B"),
    ]
    assert inventory.human_size(181_300_000) == "181MB"
    assert inventory.table(("A", "BB"), [("xyz", "1")]) == "A    BB\nxyz  1"


# ---------------------------------------------------------------- kill


def test_select_kill_refuses_names_that_are_not_ours() -> None:
    running = [
        _container("helpers-a"),
        _container("helpers-b", repo="/other"),
        _container("by-hand", ours=False),
    ]
    assert [c.name for c in inventory.select_kill(running, ["helpers-a"], False, None)] == [
        "helpers-a"
    ]
    with pytest.raises(UserError, match="'by-hand' is not a running container started by"):
        inventory.select_kill(running, ["helpers-a", "by-hand"], False, None)
    with pytest.raises(UserError, match="'nope' is not a running container"):
        inventory.select_kill(running, ["nope"], False, None)
    with pytest.raises(UserError, match="needs --name NAME"):
        inventory.select_kill(running, [], False, None)
    every = inventory.select_kill(running, [], True, None)
    assert [c.name for c in every] == ["helpers-a", "helpers-b"]
    assert [c.name for c in inventory.select_kill(running, [], True, ROOT)] == ["helpers-a"]
    assert inventory.kill_argv(every) == ("docker", "kill", "helpers-a", "helpers-b")
    assert inventory.split_names(["a,b", " c "]) == ["a", "b", "c"]


# ---------------------------------------------------------------- cleanup


def _scope(**kw: object) -> cleanup.Scope:
    base: dict[str, object] = {
        "root": ROOT,
        "user": "ann",
        "versions": {"infra": Version("0.2.0"), ".": Version("1.0.0")},
    }
    return cleanup.Scope(**{**base, **kw})  # type: ignore[arg-type]


def test_cleanup_selects_only_labelled_stale_things() -> None:
    boxes = [
        _container("helpers-stopped", "exited"),
        _container("helpers-running", "running", image="acme-infra:local-ann-0.1.5"),
        _container("by-hand-stopped", "exited", ours=False),
    ]
    imgs = [
        _image("d"),  # dangling, ours
        _image("o", ["acme-infra:local-ann-0.1.0"], version="0.1.0"),  # older: goes
        _image("c", ["acme-infra:local-ann-0.2.0"], version="0.2.0"),  # current: stays
        _image("u", ["acme-infra:local-bob-0.1.0"], version="0.1.0"),  # bob's: stays
        _image("r", ["acme-infra:local-ann-0.1.5"], version="0.1.5"),  # in use: stays
        _image("x", ["x:local-ann-0.0.1"], version="0.0.1", repo="/other"),  # other repo
        _image("g", ["acme-gone:local-ann-0.0.1"], version="0.0.1", rel="gone"),  # no dir
        _image("n", managed=False),  # unlabelled dangling: never
    ]
    plan = cleanup.select(boxes, imgs, _scope())
    assert [r.what for r in plan.containers] == ["helpers-stopped"]
    assert [r.what for r in plan.images] == [f"sha256:{'d' * 16}", "acme-infra:local-ann-0.1.0"]
    assert "older than infra's changelog 0.2.0" in plan.images[1].why
    assert plan.argvs() == [
        ("docker", "rm", "--volumes", "helpers-stopped"),
        ("docker", "rmi", f"sha256:{'d' * 16}", "acme-infra:local-ann-0.1.0"),
    ]


def test_cleanup_keeps_images_of_containers_it_keeps() -> None:
    stopped = _container("helpers-s", "exited", image=f"sha256:{'d' * 16}")
    imgs = [_image("d")]
    both = cleanup.select([stopped], imgs, _scope())
    assert [r.what for r in both.images] == [f"sha256:{'d' * 16}"]  # its container goes too
    only_images = cleanup.select([stopped], imgs, _scope(containers=False))
    assert only_images.containers == () and only_images.images == ()
    short = _container("helpers-s", "running", image="d" * 12)
    assert cleanup.select([short], imgs, _scope()).images == ()


def test_cleanup_repo_only_skips_other_repos() -> None:
    boxes = [_container("helpers-other", "exited", repo="/other")]
    imgs = [_image("d", repo="/other")]
    wide = cleanup.select(boxes, imgs, _scope())
    assert len(wide.containers) == 1 and wide.images == ()  # another repo's image: never
    narrow = cleanup.select(boxes, imgs, _scope(repo_only=True))
    assert narrow.containers == () and narrow.images == () and narrow.argvs() == []


def test_one_table_renderer_aligns_rules_and_cuts_trailing_blanks() -> None:
    from helpers import tables

    rows = [("a", "bbb", ""), ("cccc", "d", "x")]
    assert tables.render(rows) == "a     bbb\ncccc  d    x"
    assert tables.render(rows, rule=True) == "a     bbb\n----  ---  -\ncccc  d    x"


def test_remove_labelled_lists_by_label_and_spares_keep() -> None:
    from helpers.effects import engine

    runner = FakeRunner({"ps": result(out="a\nkeep\nb\n")})
    assert engine.remove_labelled("io.helpers.run", "r1", runner, keep="keep") == 2
    assert runner.argvs == [
        ("docker", "ps", "--all", "--filter", "label=io.helpers.run=r1", "--format", "{{.Names}}"),
        ("docker", "rm", "--force", "--volumes", "a", "b"),
    ]
    quiet = FakeRunner()
    assert engine.remove_labelled("io.helpers.warm", "x", quiet) == 0
    assert [argv[1] for argv in quiet.argvs] == ["ps"]
