from __future__ import annotations

from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.model import workspace
from tests.conftest import make_runnable

FILES = [
    "changelog.txt",
    "devops/Dockerfile",
    "infra/changelog.txt",
    "infra/devops/Dockerfile",
    "infra/etl/changelog.txt",
    "infra/etl/devops/Dockerfile",
    "docs/changelog.txt",  # no Dockerfile: not runnable
    "examples/demo/changelog.txt",
    "examples/demo/devops/Dockerfile",
]


def test_runnable_dirs_root_first_then_by_path() -> None:
    assert workspace.runnable_dirs(FILES) == [".", "examples/demo", "infra", "infra/etl"]


def test_runnable_dirs_ignores() -> None:
    assert workspace.runnable_dirs(FILES, ignore=["examples"]) == [".", "infra", "infra/etl"]


def test_is_under() -> None:
    assert workspace.is_under("infra/etl", "infra")
    assert workspace.is_under("infra", ".")
    assert not workspace.is_under("infrastructure", "infra")


def test_resolve_dir_from_cwd_and_flag(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra")
    deep = tmp_path / "infra" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert workspace.resolve_dir(tmp_path, deep, None) == "infra"
    assert workspace.resolve_dir(tmp_path, tmp_path, None) == "."
    assert workspace.resolve_dir(tmp_path, tmp_path, "infra") == "infra"
    assert workspace.resolve_dir(tmp_path, deep, "../..") == "infra"
    assert workspace.find_repo_root(deep) == tmp_path


def test_resolve_dir_errors(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "docs").mkdir()
    with pytest.raises(UserError, match="is not inside a runnable dir"):
        workspace.resolve_dir(tmp_path, tmp_path / "docs", None)
    with pytest.raises(UserError, match=r"--dir docs is not a runnable dir .*invoke info"):
        workspace.resolve_dir(tmp_path, tmp_path, "docs")
    with pytest.raises(UserError, match="`invoke create_runnable_dir docs` makes it one"):
        workspace.resolve_dir(tmp_path, tmp_path, "docs")
    with pytest.raises(UserError, match=r"^--dir services/nope: no such dir under "):
        workspace.resolve_dir(tmp_path, tmp_path, "services/nope")
    with pytest.raises(UserError, match="is outside the repo"):
        workspace.resolve_dir(tmp_path, tmp_path, "..")


def test_not_in_a_repo(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not inside a git repo"):
        workspace.find_repo_root(tmp_path)
