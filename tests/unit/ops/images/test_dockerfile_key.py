"""The per-dir `dockerfile` / `prod_dockerfile` keys: one definition of a runnable dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import pytest_plugin
from helpers.errors import UserError
from helpers.model import config, project, workspace
from helpers.ops.images import build
from tests.conftest import write

OLD = "devops/docker_build/dev.Dockerfile"
PROD = "devops/docker_build/prod.Dockerfile"


def _repo(tmp_path: Path) -> list[str]:
    files = {
        "changelog.txt": "# app-1.0.0\n",
        "repo_config.yaml": f"dockerfile: {OLD}\nprod_dockerfile: {PROD}\n",
        OLD: "FROM x\n",
        "svc/changelog.txt": "# svc-1.0.0\n",
        "svc/repo_config.yaml": "dockerfile: Dockerfile\n",
        "svc/Dockerfile": "FROM x\n",
        "plain/changelog.txt": "# plain-1.0.0\n",
        "plain/devops/Dockerfile": "FROM x\n",
        "named_missing/changelog.txt": "# m-1.0.0\n",
        "named_missing/repo_config.yaml": "dockerfile: Dockerfile\n",
        "no_dockerfile/changelog.txt": "# n-1.0.0\n",
    }
    for rel, text in files.items():
        write(tmp_path / rel, text)
    return sorted(files)


def test_runnable_dirs_follow_the_dockerfile_key(tmp_path: Path) -> None:
    files = _repo(tmp_path)
    assert workspace.runnable_dirs(files, root=tmp_path) == [".", "plain", "svc"]
    # Without the root only the default layout counts (pure over the file list).
    assert workspace.runnable_dirs(files) == ["plain"]
    assert workspace.is_runnable(tmp_path) and workspace.is_runnable(tmp_path / "svc")
    assert not workspace.is_runnable(tmp_path / "named_missing")
    assert not workspace.is_runnable(tmp_path / "no_dockerfile")
    # The pytest plugin (no yaml in every image) agrees.
    for rel in (".", "svc", "plain", "named_missing", "no_dockerfile"):
        d = tmp_path / rel
        assert pytest_plugin._is_runnable(d) == workspace.is_runnable(d), rel


def test_target_and_build_argv_use_the_configured_dockerfile(tmp_path: Path) -> None:
    _repo(tmp_path)
    root = project.Target(tmp_path, ".", config.load(tmp_path, "."))
    assert root.dockerfile == OLD
    assert root.prod_dockerfile == PROD
    svc = project.Target(tmp_path, "svc", config.load(tmp_path, "svc"))
    # no prod Dockerfile of its own: prod is the dev image plus the code (generated)
    assert (svc.dockerfile, svc.prod_dockerfile) == ("Dockerfile", None)
    # The repo-wide file's `dockerfile` is the root dir's own, not every dir's.
    plain = project.Target(tmp_path, "plain", config.load(tmp_path, "plain"))
    assert plain.dockerfile == "devops/Dockerfile"
    argv = build.build_argv("img:1", {}, {}, platform=None, no_cache=False, dockerfile=OLD)
    assert argv[:5] == ("docker", "build", "--force-rm", "--file", OLD)


@pytest.mark.parametrize("bad", ["/abs/Dockerfile", "../up/Dockerfile", "", "."])
def test_bad_dockerfile_value_is_one_clear_error(tmp_path: Path, bad: str) -> None:
    write(tmp_path / "repo_config.yaml", f"dockerfile: '{bad}'\n")
    with pytest.raises(UserError, match=r"repo_config.yaml:1: 'dockerfile' must be"):
        config.load(tmp_path, ".")


def test_sync_exclude_key(tmp_path: Path) -> None:
    write(tmp_path / "repo_config.yaml", "sync_exclude: [./conftest.py, .github/]\n")
    assert config.load(tmp_path, ".").sync_exclude == ("conftest.py", ".github")


def test_a_wrong_dockerfile_key_is_not_hidden_by_the_default_file(tmp_path: Path) -> None:
    files = {
        "changelog.txt": "# app-1.0.0\n",
        "typo/changelog.txt": "# typo-1.0.0\n",
        "typo/devops/Dockerfile": "FROM x\n",
        "typo/repo_config.yaml": "dockerfile: devops/Dockerfil\n",
    }
    for rel, text in files.items():
        write(tmp_path / rel, text)
    assert workspace.runnable_dirs(sorted(files), root=tmp_path) == []
    assert not workspace.is_runnable(tmp_path / "typo")
    with pytest.raises(UserError, match="says `dockerfile: devops/Dockerfil`, which does not"):
        workspace.resolve_dir(tmp_path, tmp_path, "typo")
