"""`info`: one table, one `docker image inspect` for every ref, `?` when the engine is down."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers.effects import commands
from helpers.model import units
from helpers.ops.workspace import bookmarks, changes, info
from tests.conftest import git as run_git
from tests.conftest import make_runnable, write
from tests.fakes import FakeRunner, result
from tests.unit.ops.workspace.test_git_changes import commit, package


def FakeEngine(present: Sequence[str] = (), up: bool = True) -> FakeRunner:
    """git runs for real; docker answers from `present` (or not at all when `up` is False)."""

    def inspect(argv: commands.Argv) -> commands.Result:
        refs = [a for a in argv[5:] if a in present]
        lines = [json.dumps({"Id": f"sha256:{i}", "RepoTags": [r]}) for i, r in enumerate(refs)]
        return result(0 if len(refs) == len(argv) - 5 else 1, "\n".join(lines))

    if not up:
        down = result(1, err="Cannot connect to the Docker daemon")
        return FakeRunner({"image inspect": down, "version": down}, passthrough=["git"])
    return FakeRunner({"image inspect": inspect}, passthrough=["git"])


def test_image_column_uses_one_inspect_call() -> None:
    fake = FakeEngine(present=["acme-svc:local-u-1.0.0"])
    refs = {"svc": "acme-svc:local-u-1.0.0", "web": "acme-web:local-u-2.0.0"}
    column, note = info.image_column(refs, fake)
    assert (column, note) == ({"svc": "yes", "web": "no"}, None)
    assert fake.argvs == [("docker", "image", "inspect", "--format", "{{json .}}", *refs.values())]


def test_engine_down_is_question_marks_and_one_note() -> None:
    column, note = info.image_column({"svc": "a:1", "web": "b:1"}, FakeEngine(up=False))
    assert column == {"svc": "?", "web": "?"}
    assert note is not None and note.startswith("images: ? = unknown, no container engine answers")


def test_render_table_aligns_columns() -> None:
    rows = [
        info.Row("svc", "runnable", "1.0.0", "yes", "*"),
        info.Row("libs/core", "package", "-", "-", "(*)"),
    ]
    assert info.render_table(rows, ["", "note"]) == (
        "unit       kind      version  local image\n"
        "svc        runnable  1.0.0    yes          *\n"
        "libs/core  package   -        -            (*)\n"
        "\n"
        "note"
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("USER", "u")
    monkeypatch.delenv(bookmarks.ENV, raising=False)
    root = tmp_path / "acme"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, "svc", version="1.0.0")
    make_runnable(root, "web", version="2.0.0")
    package(root, "libs/core", "core")
    package(root, "web/app", "app", ("core",))
    commit(root)
    return root


def test_info_marks_changed_and_affected(repo: Path) -> None:
    write(repo / "libs/core/src.py", "x = 5\n")
    fake = FakeEngine(present=["acme-svc:local-u-1.0.0"])
    out = info.info(repo, "HEAD", fake).splitlines()
    assert out[:5] == [
        "unit       kind      version  local image",
        "libs/core  package   -        -            *",
        "svc        runnable  1.0.0    yes",
        "web        runnable  2.0.0    no           (*)",
        "web/app    package   -        -            (*)",
    ]
    assert out[6].startswith("* changed, (*) affected, since HEAD (merge base ")
    assert len(fake.argvs) == 1


def test_info_without_since_or_bookmark_has_no_marks(repo: Path) -> None:
    write(repo / "libs/core/src.py", "x = 5\n")
    out = info.info(repo, None, FakeEngine(up=False))
    assert "*" not in out.split("\n\n")[0]
    assert "no marks: pass --since REF" in out
    assert out.count("no container engine answers") == 1
    bookmarks.record(repo, "main_pytest . fast")
    row = "libs/core  package   -        -            *"
    assert row in info.info(repo, None, FakeEngine())


def test_a_root_dockerfile_key_naming_no_file_is_said(repo: Path) -> None:
    write(repo / "changelog.txt", "# acme-1.0.0\n- first\n")
    write(repo / "repo_config.yaml", "dockerfile: devops/docker_build/dev.Dockerfile\n")
    out = info.info(repo, None, FakeEngine())
    assert "\n.  " not in out.split("\n\n")[0]  # not in the table: it is not runnable
    assert (
        ".: not a runnable dir: repo_config.yaml says dockerfile: devops/docker_build/"
        "dev.Dockerfile, and there is no such file; fix the key or add the file"
    ) in out
    write(repo / "devops/docker_build/dev.Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    assert "not a runnable dir" not in info.info(repo, None, FakeEngine())


def test_files_helpers_writes_are_no_change_of_a_root_runnable_dir(tmp_path: Path) -> None:
    """The older tool's layout: the repo root is the runnable dir and holds every file;
    what devcontainer_init and sync write there changes nothing, a real edit does."""
    make_runnable(tmp_path, ".")
    write(tmp_path / "app.py", "print(1)\n")
    write(tmp_path / ".devcontainer" / "root" / "devcontainer.json", "{}\n")
    write(tmp_path / ".helpers-sync.json", "{}\n")
    run_git(tmp_path, "init", "-q")
    run_git(tmp_path, "add", "-A")
    ws = units.load(tmp_path)
    assert ".helpers-sync.json" not in ws.files and "app.py" in ws.files
    edited = [".devcontainer/root/devcontainer.json", ".helpers-sync.json", "app.py"]
    by_unit, global_files, _ = changes.classify(ws, edited)
    assert (by_unit, global_files) == ({".": ["app.py"]}, [])


def test_the_older_tools_image_pyproject_is_its_dirs_file_not_a_package(tmp_path: Path) -> None:
    """causify-ai/tutorials' shape: the root and each tutorial are runnable dirs whose
    Dockerfile is devops/docker_build/dev.Dockerfile beside a poetry pyproject.toml (all
    named "amp") listing the image's dependencies; a real package in the dir stays one."""
    spec = '[tool.poetry]\nname = "amp"\nversion = "0.1.0"\n'
    for rel in (".", "tutorial_a", "tutorial_b"):
        d = tmp_path if rel == "." else tmp_path / rel
        write(d / "changelog.txt", f"# {rel}-1.0.0\n- 2026-11-22\n- first\n")
        write(d / "devops/docker_build/dev.Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
        write(d / "devops/docker_build/pyproject.toml", spec)
        write(d / "repo_config.yaml", "dockerfile: devops/docker_build/dev.Dockerfile\n")
    write(tmp_path / "tutorial_a/lib/pyproject.toml", '[project]\nname = "lib"\nversion = "1"\n')
    run_git(tmp_path, "init", "-q")
    run_git(tmp_path, "add", "-A")
    ws = units.load(tmp_path)
    assert sorted(ws.units) == [".", "tutorial_a", "tutorial_a/lib", "tutorial_b"]
    assert [u.project for u in ws.units.values() if u.kind == units.PACKAGE] == ["lib"]
    by_unit, _, _ = changes.classify(ws, ["tutorial_b/devops/docker_build/pyproject.toml"])
    assert by_unit == {"tutorial_b": ["tutorial_b/devops/docker_build/pyproject.toml"]}


def test_a_package_with_code_beside_a_dockerfile_stays_a_package(tmp_path: Path) -> None:
    """The default devops/Dockerfile's dir may hold a real package (its tools): kept,
    with the edge of the dir that depends on it."""
    make_runnable(tmp_path, ".")
    write(tmp_path / "devops/pyproject.toml", '[project]\nname = "devtools"\nversion = "1"\n')
    write(tmp_path / "devops/devtools/__init__.py")
    make_runnable(tmp_path, "svc")
    deps = '[project]\nname = "svc"\nversion = "1"\ndependencies = ["devtools"]\n'
    write(tmp_path / "svc/pyproject.toml", deps)
    run_git(tmp_path, "init", "-q")
    run_git(tmp_path, "add", "-A")
    ws = units.load(tmp_path)
    assert ws.units["devops"].project == "devtools" and ws.deps["svc"] == ("devops",)


def test_a_users_own_devcontainer_files_still_count(tmp_path: Path) -> None:
    """Only the devcontainer.json helpers writes is left out: a Dockerfile the user keeps
    in .devcontainer/ (VS Code's usual place) is the root dir's, and makes it runnable."""
    write(tmp_path / "changelog.txt", "# r-1.0.0\n- 2026-11-22\n- first\n")
    write(tmp_path / "repo_config.yaml", "dockerfile: .devcontainer/Dockerfile\n")
    write(tmp_path / ".devcontainer/Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    write(tmp_path / ".devcontainer/requirements.txt", "pytest\n")
    write(tmp_path / ".devcontainer/root/devcontainer.json", "{}\n")
    run_git(tmp_path, "init", "-q")
    run_git(tmp_path, "add", "-A")
    ws = units.load(tmp_path)
    assert ws.runnable() == ["."]
    assert ".devcontainer/requirements.txt" in ws.files
    assert ".devcontainer/root/devcontainer.json" not in ws.files
