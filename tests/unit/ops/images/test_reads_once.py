"""The workspace is read once per command, through the injected runner, and handed down;
`build.plan` and the stale check's computation start no process and open no file; the
stale check of one dir reads its own closure, not every unit of the repo (issue 17.3)."""

from __future__ import annotations

import builtins
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from helpers.effects import commands, engine
from helpers.model import config, project, units
from helpers.ops.images import build, freshness, install_inputs, source
from helpers.ops.run import shell
from tests.conftest import fresh_python, git, make_runnable, write

OTHERS = 12  # packages nothing in the tested dir's closure depends on
NOT_LOADED = ("tarfile", "platform")  # by a docker_cmd that builds nothing


@dataclass
class Recorded:
    """Every file open, directory listing and process start while recording is on."""

    opened: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    started: list[tuple[str, ...]] = field(default_factory=list)
    on: bool = False

    def clear(self) -> None:
        self.opened.clear()
        self.listed.clear()
        self.started.clear()


def _shown(path: Any) -> str:
    return f"fd {path}" if isinstance(path, int) else os.fsdecode(path)


def _noting(rec: Recorded, into: list[str], real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, its first argument (a path, "." by default) noted in `into` while recording."""

    def patched(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
        if rec.on:
            into.append(_shown(path))
        return real(path, *args, **kwargs)

    return patched


@pytest.fixture()
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    """Patch the ways Python opens a file, lists a dir or starts a process; record each."""
    rec = Recorded()
    opening = _noting(rec, rec.opened, io.open)
    real_popen_init = subprocess.Popen.__init__

    def starting(self: subprocess.Popen[Any], args: Any, *more: Any, **kwargs: Any) -> None:
        if rec.on:
            rec.started.append(tuple(map(str, args)))
        real_popen_init(self, args, *more, **kwargs)

    for target, name, patched in (
        (builtins, "open", opening),
        (io, "open", opening),
        (os, "open", _noting(rec, rec.opened, os.open)),
        (os, "scandir", _noting(rec, rec.listed, os.scandir)),
        (os, "listdir", _noting(rec, rec.listed, os.listdir)),
        (subprocess.Popen, "__init__", starting),
    ):
        monkeypatch.setattr(target, name, patched)
    monkeypatch.setattr(config, "_READ_ONCE", {})
    monkeypatch.setattr(freshness, "_BASE_IDS", {})
    yield rec


class RecordingRunner:
    """The injected runner: git runs for real (and is recorded), `docker image inspect`
    answers from `images`; anything else the engine is asked fails the test."""

    def __init__(self, known: Optional[Mapping[str, tuple[str, Mapping[str, str]]]] = None):
        self.known = dict(known or {})
        self.calls: list[tuple[str, ...]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Optional[Path] = None,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> commands.Result:
        given = tuple(argv)
        self.calls.append(given)
        if given[0] == "git":
            return commands.run(given, cwd=cwd, input=input, env=env)
        assert given[1:3] == ("image", "inspect"), f"unexpected engine call {given}"
        lines = [
            json.dumps({"Id": i, "RepoTags": [r], "Config": {"Labels": labels}})
            for r, (i, labels) in self.known.items()
            if r in given[5:]
        ]
        code = 0 if len(lines) == len(given[5:]) else 1
        return commands.Result(given, code, "\n".join(lines) + "\n", "")


def _settle(root: Path) -> None:
    """Files as a user's are: written a while ago (caches trust only settled stats)."""
    old = time.time() - 60
    for path in root.rglob("*"):
        if ".git" not in path.parts and path.is_file():
            os.utime(path, (old, old))


def _repo(root: Path) -> project.Target:
    """apps/b (its Dockerfile named by the `dockerfile` key) depends on libs/a; OTHERS
    packages and a second runnable dir sit beside them, in nobody's closure."""
    d = make_runnable(root, "apps/b", version="1.0.0")
    (d / "devops/Dockerfile").unlink()
    write(d / "repo_config.yaml", "dockerfile: Dockerfile\ncontainer_env: {A: '1'}\n")
    write(
        d / "Dockerfile",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY devops/settings.ini /etc/b.ini\n",
    )
    write(d / "devops/settings.ini", "[b]\n")
    write(d / "pyproject.toml", '[project]\nname = "b"\nversion = "1.0.0"\ndependencies = ["a"]\n')
    write(d / "src/b/__init__.py")
    write(root / "libs/a/pyproject.toml", '[project]\nname = "a"\nversion = "1.0.0"\n')
    write(root / "libs/a/src/a/__init__.py")
    for i in range(OTHERS):
        write(root / f"libs/x{i}/pyproject.toml", f'[project]\nname = "x{i}"\nversion = "1.0"\n')
        write(root / f"libs/x{i}/src/x{i}/__init__.py")
    other = make_runnable(root, "apps/other")
    write(other / "repo_config.yaml", "container_env: {B: '2'}\n")
    write(root / "repo_config.yaml", "build_args: {PIP: '1'}\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    _settle(root)
    return project.Target(root, "apps/b", config.load(root, "apps/b", env={}))


def _unrelated(paths: Sequence[str], root: Path) -> list[str]:
    return [p for p in paths if p.startswith(str(root / "libs/x")) or "apps/other" in p]


def test_plan_and_the_stale_computation_start_nothing_and_read_nothing(
    tmp_path: Path, recording: Recorded
) -> None:
    target = _repo(tmp_path)
    runner = RecordingRunner()
    recording.on = True
    ws = units.load(tmp_path, runner)  # the command's one read of the workspace
    assert [c[3:5] for c in runner.calls] == [("ls-files", "-z"), ("ls-files", "-z")]
    assert len(recording.started) == len(runner.calls)  # every process went through it
    recording.clear()
    src = source.read(target, ws)
    assert not recording.started  # a dir's source is files, no process
    assert recording.opened and not _unrelated(recording.opened + recording.listed, tmp_path)

    req = build.BuildRequest(user="ann")
    recording.clear()
    p = build.plan(target, req, {}, src)
    image = engine.ImageInfo(p.ref, "sha256:1", dict(p.labels), "amd64")
    again = build.plan(target, req, {p.ref: image}, src)
    base_id = target.cfg.base_image  # not here: its name stands for its id
    fresh = freshness.stale(target, image, src, base_id)
    recording.on = False
    assert (recording.opened, recording.listed, recording.started) == ([], [], [])
    assert (p.up_to_date, again.up_to_date, fresh) == (False, True, [])
    assert "Dockerfile" in p.context.files and "--file" in p.argv
    # The stale check's own read digests only the install inputs, yet agrees.
    small = source.read(target, ws, every_file=False)
    assert set(small.digests) < set(src.digests)
    assert freshness.stale(target, image, small, base_id) == []


def test_the_stale_check_reads_its_closure_and_each_config_once(
    tmp_path: Path, recording: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker_cmd, start to `docker run`: the unit index comes from its stat-keyed cache,
    every repo_config.yaml is read at most once, unrelated units are never opened."""
    target = _repo(tmp_path)
    ws = units.load(tmp_path, RecordingRunner())  # a first command fills the unit index
    base = target.cfg.base_image
    here = {base: engine.ImageInfo(base, "b", {}, "amd64")}
    built = build.plan(target, build.BuildRequest(), here, source.read(target, ws))
    runner = RecordingRunner({built.ref: ("sha256:1", built.labels), base: ("b", {})})
    started: list[tuple[str, ...]] = []

    def run_live(argv: Sequence[str], **kw: Any) -> int:
        started.append(tuple(argv))
        return 0

    monkeypatch.setattr(commands, "run_live", run_live)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "_READ_ONCE", {})
    import helpers.ops.run as run_pkg

    for name in ("services", "inventory"):  # a dir with no services never loads them
        monkeypatch.delitem(sys.modules, f"helpers.ops.run.{name}", raising=False)
        monkeypatch.delattr(run_pkg, name, raising=False)
    for name in NOT_LOADED:  # nor what only a build or a report needs
        monkeypatch.delitem(sys.modules, name, raising=False)
    recording.clear()
    recording.on = True
    assert shell.cmd("true", "apps/b", "local", None, runner=runner).code == 0
    recording.on = False
    assert started and started[0][:2] == ("docker", "run")
    loaded = {"helpers.ops.run.services", "helpers.ops.run.inventory", *NOT_LOADED}
    assert not loaded & set(sys.modules), loaded & set(sys.modules)
    assert started[0][-4:] == (built.ref, "sh", "-c", "true")
    configs = [p for p in recording.opened if p.endswith(config.FILENAME)]
    assert sorted(configs) == sorted({*configs}), configs  # none read twice
    assert str(tmp_path / "apps/other" / config.FILENAME) not in configs
    assert not _unrelated(recording.opened + recording.listed, tmp_path)
    git_calls = [c for c in runner.calls if c[0] == "git"]
    assert len(git_calls) == 2 and len(recording.started) == len(git_calls)
    assert [c[1:3] for c in runner.calls if c[0] == "docker"] == [("image", "inspect")]


def test_a_new_package_still_counts_with_the_unit_index_cached(tmp_path: Path) -> None:
    """The index is keyed by each file's stat: an edit or a new package is seen at once."""
    _repo(tmp_path)
    first = units.load(tmp_path)
    assert "libs/a" in first.units and first.units["libs/a"].project == "a"
    assert (tmp_path / ".helpers/units.json").is_file()
    write(tmp_path / "libs/a/pyproject.toml", '[project]\nname = "a2"\nversion = "1.0.0"\n')
    write(tmp_path / "libs/new/pyproject.toml", '[project]\nname = "new"\nversion = "1.0"\n')
    again = units.load(tmp_path)
    assert again.units["libs/a"].project == "a2" and "libs/new" in again.units


def test_install_inputs_are_one_definition_for_every_dockerfile_location(tmp_path: Path) -> None:
    """The stale check's inputs are the build's, wherever the `dockerfile` key puts it."""
    target = _repo(tmp_path)
    ws = units.load(tmp_path)
    src = source.read(target, ws)
    args = source.build_args(target)
    built = install_inputs.install_inputs(src.context, args, "b", src.dockerfile_text, src.digests)
    assert {"Dockerfile", "devops/settings.ini", "pyproject.toml"} <= set(built)
    labels = {install_inputs.LABEL: install_inputs.encode(built)}
    image = engine.ImageInfo("x", "sha256:1", labels, "amd64")
    assert freshness.stale(target, image, source.read(target, ws, every_file=False), "b") == []
    write(tmp_path / "apps/b/devops/settings.ini", "[b]\nx = 1\n")
    assert freshness.check(target, image, RecordingRunner({target.cfg.base_image: ("b", {})})) == [
        "apps/b/devops/settings.ini"
    ]


def test_importing_the_run_path_loads_nothing_only_a_build_or_a_write_needs() -> None:
    """What `docker_cmd` imports before it starts work (a new process, as a user's has)."""
    code = (
        "import json, sys\n"
        "from helpers.ops.run import shell\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(json.loads(fresh_python(code)))
    assert "helpers.ops.images.choice" in loaded  # the stale check is there
    unwanted = {*NOT_LOADED, "tempfile", "shutil", "helpers.ops.run.services"}
    assert sorted(unwanted & loaded) == []
