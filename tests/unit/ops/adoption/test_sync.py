"""sync_files over real files, the CI workflow template through actionlint, adopt's hints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.ops.adoption import adopt, sync
from tests.conftest import REPO, write

SUB = "vendor/helpers"


def _client(tmp_path: Path) -> sync.Client:
    return sync.Client(tmp_path, REPO, SUB, "1.0.0 (abc)")


def _statuses(client: sync.Client, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    return {s.path: s.status for s in sync.plan(client, exclude)}


def test_plan_apply_then_everything_same(tmp_path: Path) -> None:
    client = _client(tmp_path)
    first = _statuses(client)
    assert set(first.values()) == {"missing"}
    written = sync.apply(client, sync.plan(client))
    assert ".helpers-sync.json" in written and "tasks.py" in written
    assert set(_statuses(client).values()) == {"same"}
    assert sync.apply(client, sync.plan(client)) == []  # idempotent
    workflow = (tmp_path / ".github/workflows/helpers.yml").read_text()
    assert f"./{SUB}/dev_scripts/main_pytest.py" in workflow and "@HELPERS_DIR@" not in workflow


def test_edited_file_differs_untouched_file_is_outdated(tmp_path: Path) -> None:
    client = _client(tmp_path)
    sync.apply(client, sync.plan(client))
    write(tmp_path / "tasks.py", "# mine\n")
    record = tmp_path / ".helpers-sync.json"
    # helpers changed invoke.yaml since: the client's copy matches the record, so it is outdated.
    data = record.read_text()
    write(tmp_path / "invoke.yaml", "tasks:\n  auto_dash_names: false\n")
    old_sha = sync._sha("tasks:\n  auto_dash_names: false\n")
    write(record, data.replace(sync._sha(sync.render(client, "invoke.yaml")), old_sha))
    states = {s.path: s for s in sync.plan(client)}
    assert states["tasks.py"].status == "differs"
    assert states["invoke.yaml"].status == "outdated"
    assert "-# mine" in states["tasks.py"].diff()
    written = sync.apply(client, list(states.values()))
    assert "invoke.yaml" in written and "tasks.py" not in written
    assert (tmp_path / "tasks.py").read_text() == "# mine\n"
    assert _statuses(client, ("tasks.py",))["tasks.py"] == "excluded"


def test_a_read_only_file_is_refused_not_replaced(tmp_path: Path) -> None:
    client = _client(tmp_path)
    sync.apply(client, sync.plan(client))
    tasks = tmp_path / "tasks.py"
    write(tasks, "# mine\n")
    tasks.chmod(0o444)
    with pytest.raises(UserError, match=r"tasks.py: the file is read-only, so sync_files will"):
        sync.apply(client, sync.plan(client), force=True)
    assert tasks.read_text() == "# mine\n"


def test_the_record_drops_the_files_of_dirs_that_are_gone(tmp_path: Path) -> None:
    client = _client(tmp_path)
    write(tmp_path / "svc/changelog.txt", "# svc-0.1.0\n- first\n")
    record = {
        "svc/devops/Dockerfile": {"helpers": "1", "sha256": "x", "template": "devops/Dockerfile"},
        "old/devops/Dockerfile": {"helpers": "1", "sha256": "x", "template": "devops/Dockerfile"},
        "old/.dockerignore": {"helpers": "1", "sha256": "x", "template": "devops/dockerignore"},
    }
    sync._write_record(tmp_path, record)
    sync.apply(client, sync.plan(client))
    kept = sync.load_record(tmp_path)
    assert "svc/devops/Dockerfile" in kept and "tasks.py" in kept
    assert not any(path.startswith("old/") for path in kept)


def test_gitignore_gets_one_line_appended(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", ".env")
    client = _client(tmp_path)
    sync.apply(client, sync.plan(client))
    assert (tmp_path / ".gitignore").read_text() == ".env\n.helpers/\n"


def test_broken_record_is_one_clear_error(tmp_path: Path) -> None:
    write(tmp_path / ".helpers-sync.json", "[1]")
    with pytest.raises(UserError, match=r"\.helpers-sync\.json: not a sync record"):
        sync.plan(_client(tmp_path))


def _actionlint() -> str:
    found = shutil.which("actionlint")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint missing: build the dev thin env (requirements-dev.txt)")
        pytest.skip("actionlint not on PATH (dev thin env: build.sh --dev)")
    return found


def test_workflow_template_passes_actionlint(tmp_path: Path) -> None:
    binary = _actionlint()
    text = sync.render(_client(tmp_path), "github-workflow.yml")
    good = write(tmp_path / ".github/workflows/helpers.yml", text)
    ok = subprocess.run([binary, str(good)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The same check catches a broken one (a job needing a job that does not exist).
    bad = write(tmp_path / ".github/workflows/bad.yml", text.replace("needs: plan", "needs: plann"))
    broken = subprocess.run([binary, str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert broken.returncode == 1 and "plann" in broken.stdout


def test_adopt_lists_dockerfiles_not_runnable_yet() -> None:
    files = [
        "changelog.txt",
        "devops/docker_build/dev.Dockerfile",
        "devops/docker_build/prod.Dockerfile",
        "api/Dockerfile",
        "ok/changelog.txt",
        "ok/devops/Dockerfile",
    ]
    found = {c.dir: c for c in adopt.candidates(files, ["ok"])}
    assert set(found) == {".", "api"}
    root = found["."]
    assert (root.dockerfile, root.prod_dockerfile, root.has_changelog) == (
        "devops/docker_build/dev.Dockerfile",
        "devops/docker_build/prod.Dockerfile",
        True,
    )
    hint = "\n".join(found["api"].hint())
    assert "add api/changelog.txt starting with '# api-0.1.0'" in hint
    assert "add to api/repo_config.yaml:\n    dockerfile: Dockerfile" in hint


def test_adopt_hints_a_packages_changelog_through_create_runnable_dir() -> None:
    """A package's changelog starts at its own version (create_runnable_dir reads it), never
    at a made-up 0.1.0 that would disagree with the pyproject."""
    files = ["projects/web/Dockerfile", "projects/web/pyproject.toml", "api/Dockerfile"]
    found = {c.dir: c for c in adopt.candidates(files, [])}
    hint = "\n".join(found["projects/web"].hint())
    assert (
        "add projects/web/changelog.txt: `invoke create_runnable_dir projects/web` writes it "
        "at the package's version" in hint
    )
    assert "0.1.0" not in hint
    assert "'# api-0.1.0'" in "\n".join(found["api"].hint())  # no package: a first version


def test_the_conftest_template_loads_the_plugin_without_the_thin_env(tmp_path: Path) -> None:
    """Plain `pytest` in an adopted repo, with nothing on PYTHONPATH: the guarded conftest
    finds helpers in the submodule dir it was rendered for (here one with a slash)."""
    text = (REPO / "templates" / "conftest.py").read_text().replace("@HELPERS_DIR@", "vendor/h")
    write(tmp_path / "conftest.py", text)
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "h").symlink_to(REPO)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HELPERS_ROOT")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "@pytest.mark.superslow: runs in the superslow test list" in out.stdout
