"""A refusal names what changed between two images' inputs: files of the dir or of a
dependency unit, the base image, a build arg; never only "the hash differs" (16.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers.effects import commands, engine, registry_api
from helpers.errors import UserError
from helpers.model import config, images, project, units
from helpers.ops.images import build, inputs_diff, prod_image, source
from helpers.ops.release import flow as rel
from helpers.ops.release import publish
from tests.conftest import git, make_runnable, write

LIB = "libs/a/src/a/core.py"


def _repo(root: Path) -> project.Target:
    d = make_runnable(root, "apps/b", version="1.0.0")
    write(d / "pyproject.toml", '[project]\nname = "b"\nversion = "1.0.0"\ndependencies = ["a"]\n')
    write(d / "src/b/app.py", "X = 1\n")
    write(root / "libs/a/pyproject.toml", '[project]\nname = "a"\nversion = "1.0.0"\n')
    write(root / LIB, "def f():\n    return 1\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return project.Target(root, "apps/b", config.load(root, "apps/b", env={}))


def _plan(
    target: project.Target, args: tuple[str, ...] = (), base_id: str = "sha256:b"
) -> tuple[units.Workspace, build.BuildPlan]:
    ws = units.load(target.root)
    src = source.read(target, ws)
    base = target.cfg.base_image
    found = {base: engine.ImageInfo(base, base_id, {}, "amd64")}
    p = build.plan(target, build.BuildRequest(build_args=args, user="u"), found, src)
    return ws, p


def test_parts_name_the_dependency_unit_file_the_base_and_a_build_arg(tmp_path: Path) -> None:
    target = _repo(tmp_path)
    _, before = _plan(target)
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    published = {**before.labels, images.LABEL_REVISION: head}
    write(tmp_path / LIB, "def f():\n    return 2\n")
    git(tmp_path, "commit", "-qam", "a changed")
    ws, after = _plan(target, ("PIP=2",), base_id="sha256:other")
    now = inputs_diff.current(target, after.context, after.labels)
    what = inputs_diff.explainer(ws, now)(published)
    assert what == [f"{LIB} (dependency unit)", "build arg PIP", "the base image"]
    # Only the dir's own file: named as a repo path, no other part.
    write(tmp_path / "apps/b/src/b/app.py", "X = 2\n")
    ws, again = _plan(target, ("PIP=2",), base_id="sha256:other")
    later = {**after.labels, images.LABEL_REVISION: git(tmp_path, "rev-parse", "HEAD").strip()}
    now = inputs_diff.current(target, again.context, again.labels)
    assert inputs_diff.explainer(ws, now)(later) == ["apps/b/src/b/app.py"]


def test_an_image_from_an_older_helpers_still_gets_the_files_git_names(tmp_path: Path) -> None:
    target = _repo(tmp_path)
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    write(tmp_path / LIB, "def f():\n    return 2\n")
    ws, p = _plan(target)
    now = inputs_diff.current(target, p.context, p.labels)
    old = {images.LABEL_REVISION: head, images.LABEL_INPUTS: "o" * 64}  # no parts label
    what = inputs_diff.explainer(ws, now)(old)
    assert what[0] == f"{LIB} (dependency unit)" and "older helpers" in what[-1]


def test_to_push_says_what_changed_never_only_the_hash(tmp_path: Path) -> None:
    target = _repo(tmp_path)
    name = registry_api.parse("r1/app:dev-1.0.0")
    labels = {images.LABEL_INPUTS: "o"}
    other = registry_api.RemoteImage(name, "sha256:a", ("linux/amd64",), labels)
    e = publish.Expected(
        target,
        "dev-1.0.0",
        {"linux/amd64": "h" * 64},
        explain=lambda labels: ["libs/a/x.py (dependency unit)", "build arg PIP"],
    )
    with pytest.raises(UserError) as err:
        publish.to_push(e, {"r1/app": other})
    assert "; changed: libs/a/x.py (dependency unit), build arg PIP" in err.value.message


def test_the_dirty_check_sees_dependency_units_and_walks_untracked_files_once(
    tmp_path: Path,
) -> None:
    target = _repo(tmp_path)
    calls: list[tuple[str, ...]] = []

    def runner(argv: Sequence[str], **kw: Any) -> commands.Result:
        calls.append(tuple(argv))
        return commands.run(argv, **kw)

    write(tmp_path / LIB, "def f():\n    return 3\n")
    write(tmp_path / "libs/a/src/a/new.py", "Y = 1\n")  # untracked, listed by the load
    ws = units.load(tmp_path, runner)
    _, p = _plan(target)
    paths = inputs_diff.current(target, p.context, p.labels).paths | {"libs/a/src/a/new.py"}
    with pytest.raises(UserError, match=rf"uncommitted changes in its image inputs \({LIB}"):
        rel.dirty_check(target, ws, paths, False, runner)
    others = [c for c in calls if "--others" in c]
    assert len(others) == 1  # the load's; the dirty check reused its list


def test_prod_refuses_a_dev_image_holding_older_dependency_code(tmp_path: Path) -> None:
    target = _repo(tmp_path)
    ws, dev_plan = _plan(target)
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    labels = {**dev_plan.labels, images.LABEL_REVISION: head}
    dev = prod_image.DevImage("r/app:dev-1.0.0", "sha256:d", labels)
    src = prod_image.read(target, ws)
    prod_image.check_dev_units(target, ws, dev, src)  # the same code: fine
    write(tmp_path / LIB, "def f():\n    return 2\n")
    git(tmp_path, "commit", "-qam", "a changed")
    src = prod_image.read(target, units.load(tmp_path))
    with pytest.raises(UserError) as err:
        prod_image.check_dev_units(target, ws, dev, src)
    holds = "r/app:dev-1.0.0 holds other code of the units it depends on than this work tree"
    assert f"{holds} ({LIB} (dependency unit))" in err.value.message
    # The prod image's own inputs cover the unit's code too.
    req = prod_image.ProdRequest("r/app:dev-1.0.0", "sha256:d", "prod-1.0.0", head)
    first = prod_image.plan(target, req, prod_image.read(target, units.load(tmp_path)), None)
    write(tmp_path / LIB, "def f():\n    return 3\n")
    second = prod_image.plan(target, req, prod_image.read(target, units.load(tmp_path)), None)
    assert first.inputs_hash != second.inputs_hash
