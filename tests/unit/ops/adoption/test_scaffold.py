"""create_runnable_dir on dirs people already have: poetry-only packages, runnable dirs with
history, submodules, src/ folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import events
from helpers.errors import UserError
from helpers.ops.adoption import scaffold
from tests.conftest import write
from tests.shapes import POLY_PROJECT

HISTORY = "# svc-1.2.0\n- 2026-11-02\n- Second\n\n# svc-1.1.0\n- 2026-10-01\n- First\n"


def test_a_poetry_only_project_is_made_runnable_at_its_version(tmp_path: Path) -> None:
    write(tmp_path / "projects/api/pyproject.toml", POLY_PROJECT)
    made = scaffold.create(tmp_path, tmp_path, "projects/api")
    assert made.version == "0.0.1"
    log = (tmp_path / "projects/api/changelog.txt").read_text()
    assert log.startswith("# my_fastapi_project-0.0.1\n")
    write(tmp_path / "neither/pyproject.toml", "[tool.black]\n")
    with pytest.raises(UserError, match=r"no \[project\] table \(nor poetry's \[tool.poetry\]\)"):
        scaffold.create(tmp_path, tmp_path, "neither")


def test_force_on_a_runnable_dir_replaces_only_what_the_refusal_listed(tmp_path: Path) -> None:
    svc = tmp_path / "svc"
    write(svc / "changelog.txt", HISTORY)
    write(svc / "devops/Dockerfile", "FROM mine\n")
    write(svc / "tests/test_svc.py", "def test_real():\n    assert 1 + 1 == 2\n")
    with pytest.raises(UserError) as refused:
        scaffold.create(tmp_path, tmp_path, "svc")
    assert "svc/devops/Dockerfile already exist(s)" in refused.value.message
    assert "changelog" not in refused.value.message.split(";")[0]
    assert (svc / "devops/Dockerfile").read_text() == "FROM mine\n"  # nothing written
    assert not (svc / ".dockerignore").exists()
    made = scaffold.create(tmp_path, tmp_path, "svc", force=True)
    assert made.written == ("svc/.dockerignore", "svc/devops/Dockerfile")
    assert made.kept == ("svc/changelog.txt", "svc/tests/test_svc.py")
    assert made.version == "1.2.0"  # the changelog's, history and all
    assert (svc / "changelog.txt").read_text() == HISTORY
    assert "test_real" in (svc / "tests/test_svc.py").read_text()
    # A new package's files come all together or not at all: no stub next to real tests.
    assert not (svc / "pyproject.toml").exists() and not (svc / "src").exists()


def test_a_dir_inside_a_submodule_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "helpers_root/.git", "gitdir: ../.git/modules/helpers_root\n")
    with pytest.raises(UserError, match=r"helpers_root/x is inside a git submodule"):
        scaffold.create(tmp_path, tmp_path, "helpers_root/x")
    assert not (tmp_path / "helpers_root/x").exists()


def test_a_dir_inside_a_src_folder_is_made_with_a_warning(tmp_path: Path) -> None:
    with events.collected() as seen:
        made = scaffold.create(tmp_path, tmp_path, "tools/src/runner")
    assert made.rel_dir == "tools/src/runner"
    warned = [e.text for e in seen if e.kind is events.Kind.WARNING]
    assert len(warned) == 1 and "is inside a src/ folder" in warned[0]
    with events.collected() as seen:
        scaffold.create(tmp_path, tmp_path, "apps/web")
    assert not seen
