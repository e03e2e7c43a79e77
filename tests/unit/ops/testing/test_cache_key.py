"""The test key's mutation suite: every input a test can see makes a miss that names it,
reverting makes the same key again, and what a test cannot see changes nothing.

Over a real git repo: `infra` (a runnable dir whose pyproject depends on the in-repo
package `libs/a`, a Dockerfile that COPYs a script, a repo_config.yaml with a build arg
and container_env), the unrelated package `libs/b`, an `.env`, a `.gitignore`. A change
that would rebuild the image (Dockerfile, COPY'd file, manifest, base image, build arg)
is paired with the image such a build makes (`build.plan` over the changed tree, an id
that commits to its labels), as a real run would see it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

import pytest

from helpers.effects import engine
from helpers.model import config, project, units
from helpers.ops.images import build, install_inputs, source
from helpers.ops.testing import cache_key, cache_run
from tests.conftest import git, make_runnable, write

BASE = "helpers-base:1"
INFRA_TOML = """[project]
name = "infra"
version = "0.1.0"
dependencies = ["liba"]
"""
LIBA_TOML = '[project]\nname = "liba"\nversion = "1.0.0"\ndependencies = []\n'
LIBB_TOML = '[project]\nname = "libb"\nversion = "1.0.0"\ndependencies = []\n'
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY devops/entry.sh /usr/local/bin/entry.sh
COPY .helpers/ /tmp/helpers-build/
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("USER", "t")
    root = tmp_path / "client repo"
    make_runnable(root, "infra")
    files = {
        "infra/devops/Dockerfile": DOCKERFILE,
        "infra/devops/entry.sh": "#!/bin/sh\necho hi\n",
        "infra/pyproject.toml": INFRA_TOML,
        "infra/src/infra/x.py": "X = 1\n",
        "infra/tests/test_x.py": "def test_x():\n    assert 'infra'.startswith('in')\n",
        "infra/repo_config.yaml": "build_args: {FLAVOR: plain}\ncontainer_env: {MODE: a}\n",
        "libs/a/pyproject.toml": LIBA_TOML,
        "libs/a/src/liba/core.py": "CORE = 1\n",
        "libs/b/pyproject.toml": LIBB_TOML,
        "libs/b/src/libb/m.py": "M = 1\n",
        "tasks.py": "from helpers.tasks import ns  # noqa: F401\n",
        "repo_config.yaml": f"base_image: {BASE}\n",
        ".gitignore": ".env\n*.log\n",
        ".env": "TOKEN=s3cret-value\n",
    }
    for rel, text in files.items():
        write(root / rel, text)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@dataclasses.dataclass
class Run:
    """How the key of `infra` is asked for: the lists, options, base id, helpers, and the
    local image so far (kept while it is fresh, as `--if-missing build` does)."""

    lists: tuple[str, ...] = ("fast",)
    opts: str = ""
    base_id: str = "sha256:base-one"
    helpers: str = ""
    image: Optional[engine.ImageInfo] = None


def image_for(target: project.Target, run: Run) -> engine.ImageInfo:
    """The image a run uses: the one it has while its install inputs are unchanged (fresh),
    else what a build of the work tree makes: its labels, an id committing to them."""
    found = {BASE: engine.ImageInfo(BASE, run.base_id, {}, "amd64")}
    src = source.read(target, units.load(target.root))
    p = build.plan(target, build.BuildRequest(user="t"), found, src)
    labels = dict(p.labels)
    have = run.image
    if have is not None and have.labels[install_inputs.LABEL] == labels[install_inputs.LABEL]:
        return have
    image_id = "sha256:" + hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()
    run.image = engine.ImageInfo(p.ref, image_id, labels, "amd64")
    return run.image


def key(root: Path, run: Run) -> cache_key.TestKey:
    s = cache_run.survey(root)
    if run.helpers:
        s = dataclasses.replace(s, helpers=run.helpers)
    target = project.Target(root, "infra", config.load(root, "infra", env={}))
    found = cache_run.key_of(s, target, image_for(target, run), run.lists, run.opts)
    assert isinstance(found, cache_key.TestKey), found
    return found


Mutation = Callable[[Path, Run], Iterator[None]]


def edit(rel: str, text: str) -> Mutation:
    """Replace a file's text; put it back (or remove it) after."""

    def mutate(root: Path, run: Run) -> Iterator[None]:
        path = root / rel
        old = path.read_text() if path.exists() else None
        write(path, text)
        yield
        if old is None:
            path.unlink()
        else:
            path.write_text(old)

    return mutate


def setting(name: str, value: object) -> Mutation:
    def mutate(root: Path, run: Run) -> Iterator[None]:
        old = getattr(run, name)
        setattr(run, name, value)
        yield
        setattr(run, name, old)

    return mutate


CASES = {
    "dir code": (edit("infra/src/infra/x.py", "X = 2\n"), "infra/src/infra/x.py changed"),
    "test file": (
        edit("infra/tests/test_x.py", "def test_x():\n    assert 1\n"),
        "infra/tests/test_x.py changed",
    ),
    "untracked file": (edit("infra/src/infra/new.py", "N = 1\n"), "infra/src/infra/new.py added"),
    "dependency unit code": (
        edit("libs/a/src/liba/core.py", "CORE = 2\n"),
        "libs/a/src/liba/core.py changed",
    ),
    "dependency manifest": (
        edit("libs/a/pyproject.toml", LIBA_TOML.replace("[]", '["attrs"]')),
        "libs/a/pyproject.toml changed",
    ),
    "Dockerfile": (
        edit("infra/devops/Dockerfile", DOCKERFILE + "RUN true\n"),
        "infra/devops/Dockerfile changed",
    ),
    "COPY'd file": (
        edit("infra/devops/entry.sh", "#!/bin/sh\necho bye\n"),
        "infra/devops/entry.sh changed",
    ),
    "base image": (setting("base_id", "sha256:base-two"), "base image changed (image rebuilt)"),
    "build arg": (
        edit("infra/repo_config.yaml", "build_args: {FLAVOR: spicy}\ncontainer_env: {MODE: a}\n"),
        "build arg FLAVOR changed",
    ),
    ".env value": (edit(".env", "TOKEN=other-value\n"), ".env TOKEN changed"),
    "container_env": (
        edit("infra/repo_config.yaml", "build_args: {FLAVOR: plain}\ncontainer_env: {MODE: b}\n"),
        "container_env MODE changed",
    ),
    "service config": (
        edit(
            "infra/repo_config.yaml",
            "build_args: {FLAVOR: plain}\ncontainer_env: {MODE: a}\n"
            "services: {db: {image: pg:1, env: {A: b}}}\n",
        ),
        "service db added",
    ),
    "test list": (setting("lists", ("fast", "slow")), "test list differs (fast -> fast,slow)"),
    "pytest opts": (setting("opts", "-x"), "pytest options differ"),
    "global input": (edit("tasks.py", "# changed\n"), "tasks.py changed (global input)"),
    "helpers version": (setting("helpers", "0.2.0 code abc"), "helpers changed"),
}


@pytest.mark.parametrize("category", sorted(CASES))
def test_a_change_misses_naming_it_and_reverting_hits_again(repo: Path, category: str) -> None:
    mutation, named = CASES[category]
    run = Run()
    before = key(repo, run)
    changes = mutation(repo, run)
    next(changes)
    after = key(repo, run)
    assert after.key != before.key
    assert cache_key.explain(before.explained(), after).startswith(named)
    next(changes, None)
    assert key(repo, run).key == before.key


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("infra/debug.log", "ignored by .gitignore\n"),
        ("libs/b/src/libb/m.py", "M = 2  # an unrelated unit\n"),
        ("libs/b/src/libb/new.py", "N = 1\n"),
        ("docs/guide.md", "outside every unit, no global input: `changes` ignores it too\n"),
    ],
)
def test_what_the_tests_cannot_see_changes_nothing(repo: Path, rel: str, text: str) -> None:
    run = Run()
    before = key(repo, run)
    write(repo / rel, text)
    assert key(repo, run).key == before.key


def test_a_removed_file_is_named(repo: Path) -> None:
    before = key(repo, Run())
    (repo / "infra/src/infra/x.py").unlink()
    assert cache_key.explain(before.explained(), key(repo, Run())) == "infra/src/infra/x.py changed"


def test_several_changed_files_name_the_first_and_count_the_rest(repo: Path) -> None:
    before = key(repo, Run())
    write(repo / "infra/src/infra/x.py", "X = 3\n")
    write(repo / "infra/tests/test_x.py", "# other\n")
    why = cache_key.explain(before.explained(), key(repo, Run()))
    assert why == "infra/src/infra/x.py changed (and 1 more)"


def test_no_record_is_never_run_here(repo: Path) -> None:
    assert cache_key.explain(None, key(repo, Run())) == "never run here"


def test_the_key_names_no_env_value_nor_a_plain_hash_of_one(repo: Path) -> None:
    found = key(repo, Run())
    plain = hashlib.sha256(b"s3cret-value").hexdigest()
    named = hashlib.sha256(b".env TOKEN=s3cret-value").hexdigest()
    shown = json.dumps(found.explained())
    assert "s3cret" not in shown and plain not in shown and named not in shown
    in_key = [i for i in found.inputs if i.in_key and i.category == "env"]
    assert [i.name for i in in_key if ".env" in i.name] == []  # only the stretched digest


def test_the_key_is_the_same_on_another_machine(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-machine parts (the local secret for per-variable digests) stay out of the key."""
    first = key(repo, Run())
    monkeypatch.setenv("HELPERS_CACHE_HOME", str(tmp_path / "other machine"))
    second = key(repo, Run())
    assert second.key == first.key
    assert second.explained()["env\t.env TOKEN"] != first.explained()["env\t.env TOKEN"]


def test_sibling_docker_and_outside_mounts_are_never_cached(repo: Path, tmp_path: Path) -> None:
    s = cache_run.survey(repo)
    image = engine.ImageInfo("x", "sha256:1", {}, "amd64")
    for extra, why in (
        ("sibling_docker: true\n", "sibling_docker"),
        (f"mounts: ['{tmp_path}:/data']\n", "is outside the repo"),
    ):
        write(repo / "infra/repo_config.yaml", extra)
        target = project.Target(repo, "infra", config.load(repo, "infra", env={}))
        found = cache_run.key_of(s, target, image, ("fast",), "")
        assert isinstance(found, str) and why in found


def test_a_mount_inside_the_repo_makes_its_files_count(repo: Path) -> None:
    config_text = "build_args: {FLAVOR: plain}\ncontainer_env: {MODE: a}\n"
    write(repo / "infra/repo_config.yaml", config_text + "mounts: ['libs/b/src:/data']\n")
    run = Run()
    before = key(repo, run)
    write(repo / "libs/b/src/libb/m.py", "M = 2  # unrelated, but mounted into infra's runs\n")
    assert cache_key.explain(before.explained(), key(repo, run)) == "libs/b/src/libb/m.py changed"


def test_pytest_files_above_the_dir_count_the_parent_units_code_does_not(tmp_path: Path) -> None:
    """A root runnable dir holding infra: pytest reads the root's conftest.py and ini files
    when it runs infra's tests, not the root's code (another unit's)."""
    root = tmp_path / "nested"
    make_runnable(root, ".")
    make_runnable(root, "infra")
    for rel, text in {
        "conftest.py": "# root conftest\n",
        "pytest.ini": "[pytest]\n",
        "src/app.py": "A = 1\n",
        "infra/tests/test_x.py": "def test_x():\n    pass\n",
    }.items():
        write(root / rel, text)
    git(root, "init", "-q")
    image = engine.ImageInfo("x", "sha256:1", {}, "amd64")

    def infra_key() -> cache_key.TestKey:
        s = cache_run.survey(root)
        target = project.Target(root, "infra", config.load(root, "infra", env={}))
        found = cache_run.key_of(s, target, image, ("fast",), "")
        assert isinstance(found, cache_key.TestKey)
        return found

    before = infra_key()
    write(root / "src/app.py", "A = 2\n")
    assert infra_key().key == before.key
    for rel in ("conftest.py", "pytest.ini"):
        old = (root / rel).read_text()
        write(root / rel, "# changed\n")
        glob = " (global input)" if rel == "conftest.py" else ""  # a root conftest is one
        assert cache_key.explain(before.explained(), infra_key()) == f"{rel} changed{glob}"
        write(root / rel, old)
