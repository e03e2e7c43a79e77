"""Bookmarks inside .git, `--since` defaults, and affected-only test runs (no engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import main_pytest
from helpers.errors import UserError
from helpers.model import units
from helpers.ops.testing import selection, single
from helpers.ops.workspace import bookmarks, changes
from tests.conftest import REPO, make_runnable, write
from tests.conftest import git as run_git
from tests.unit.ops.workspace.test_git_changes import commit, package


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "client"
    root.mkdir()
    run_git(root, "init", "-q")
    write(root / "tasks.py", "from helpers.tasks import ns\n")
    write(root / "invoke.yaml", "tasks:\n  auto_dash_names: false\n")
    make_runnable(root, "svc")
    make_runnable(root, "web")
    package(root, "libs/core", "core")
    package(root, "web/app", "app", ("core",))
    write(root / "svc/tests/test_ok.py", "def test_ok():\n    assert 1 + 1 == 2\n")
    commit(root, "init")
    return root


def test_record_lives_inside_the_git_dir_and_reads_back(repo: Path) -> None:
    head = run_git(repo, "rev-parse", "HEAD").strip()
    mark = bookmarks.record(repo, "main_pytest . fast")
    path = repo / ".git" / "helpers" / "bookmarks.json"
    assert json.loads(path.read_text())["main_pytest . fast"]["commit"] == head
    assert run_git(repo, "status", "--porcelain", "--ignored") == ""  # invisible to git
    assert bookmarks.find(repo, "main_pytest . fast") == mark
    assert bookmarks.find(repo, bookmarks.WHOLE_REPO) == mark
    assert not mark.dirty
    write(repo / "svc/x.py")
    assert bookmarks.record(repo, "run_tests svc fast").dirty


def test_worktree_keeps_its_own_bookmarks(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "wt"
    run_git(repo, "worktree", "add", "-q", str(other))
    bookmarks.record(other, "main_pytest . fast")
    assert bookmarks.store(other) == repo / ".git/worktrees/wt/helpers/bookmarks.json"
    assert bookmarks.find(repo, "main_pytest . fast") is None


def test_last_success_compares_with_the_tested_commit_itself(repo: Path) -> None:
    bookmarks.record(repo, "main_pytest . fast,slow")
    run_git(repo, "checkout", "-qb", "other", "HEAD")
    write(repo / "libs/core/src.py", "x = 2\n")
    commit(repo, "core")
    write(repo / "svc/new.py", "untracked\n")
    base = changes.since(repo, None, env={})
    assert base.ref == bookmarks.LAST_SUCCESS
    assert base.label.startswith("last-success of `main_pytest . fast,slow` (")
    cs = changes.compute(units.load(repo), base)
    assert cs.changed == ("libs/core", "svc")
    assert cs.rebuild == ("svc", "web")


def test_no_bookmark_and_no_ref_says_pass_since(repo: Path) -> None:
    with pytest.raises(UserError) as err:
        changes.since(repo, None, env={})
    store = repo / ".git" / "helpers" / "bookmarks.json"
    assert str(err.value) == (
        f"no successful test run of `main_pytest . (any test lists)` is recorded in {store}: "
        "pass --since REF (e.g. --since origin/main) or set $HELPERS_CHANGED_SINCE"
    )


def test_env_var_gives_the_ref_in_ci(repo: Path) -> None:
    base = changes.since(repo, None, env={bookmarks.ENV: "HEAD"})
    assert (base.ref, base.commit) == ("HEAD", run_git(repo, "rev-parse", "HEAD").strip())
    assert changes.since(repo, "HEAD~0", env={bookmarks.ENV: "nope"}).ref == "HEAD~0"


def test_explicit_ref_narrowing_does_not_move_the_bookmark(repo: Path) -> None:
    assert bookmarks.record_success(repo, "main_pytest . fast", "origin/main") is None
    assert bookmarks.find(repo, "main_pytest . fast") is None
    note = bookmarks.record_success(repo, "main_pytest . fast", bookmarks.LAST_SUCCESS)
    assert note is not None and note.startswith("recorded last-success of `main_pytest . fast`")


def test_narrow_keeps_affected_dirs_and_says_why_the_rest(repo: Path) -> None:
    write(repo / "libs/core/src.py", "x = 3\n")
    sel = selection.Selection(repo, ("svc", "web"))
    narrowed = selection.narrow(sel, "HEAD", "main_pytest . fast")
    assert narrowed.dirs == ("web",)
    head = run_git(repo, "rev-parse", "HEAD").strip()[:8]
    why = f"not affected since HEAD (merge base {head})"
    assert narrowed.unaffected == (("svc", why),)
    assert narrowed.skipped == ()


def test_main_pytest_with_nothing_affected_exits_0(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main_pytest.main(["--changed-since", "HEAD", "--test-list", "fast"], cwd=repo)
    out = capsys.readouterr().out
    assert code == 0
    assert "--changed-since HEAD: 0 of 2 dirs affected" in out
    assert "svc: not run (not affected since HEAD (merge base " in out
    assert "web: not run (not affected since HEAD" in out


def test_run_tests_skips_an_unaffected_dir(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo / "svc")
    write(repo / "web/app/src.py", "x = 9\n")
    done = single.run_tests(
        single.RunRequest(test_list="fast", no_docker=True, changed_since="HEAD")
    )
    assert done.code == 0
    assert done.text.startswith("svc: not run (not affected since HEAD (merge base")
    assert capsys.readouterr().out == ""  # returned, not printed: the edge shows it


def test_run_tests_on_the_host_records_the_bookmark_on_success(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "svc")
    write(repo / "svc/tests/test_ok.py", "def test_ok():\n    assert 1\n")
    done = single.run_tests(
        single.RunRequest(test_list="fast", no_docker=True, changed_since="HEAD")
    )
    assert done.code == 0 and done.text.startswith("svc: 1 passed, 0 failed (host)")
    mark = bookmarks.find(repo, "run_tests svc fast")
    assert mark is not None and mark.dirty
    assert mark.commit == run_git(repo, "rev-parse", "HEAD").strip()


def _invoke(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "invoke", *args]
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)


def test_tasks_end_to_end_and_cycle_exit_2(repo: Path) -> None:
    write(repo / "web/app/src.py", "x = 9\n")
    done = _invoke(repo, "changes", "--since", "HEAD", "--format", "github-matrix")
    assert (done.returncode, done.stdout) == (0, '{"include": [{"dir": "web"}]}\n')
    done = _invoke(repo, "deps", "--unit", "core", "--reverse")
    assert (done.returncode, done.stdout) == (0, "libs/core\n└── web/app\n")
    package(repo, "libs/core", "core", ("app",))
    for task in (("changes", "--since", "HEAD"), ("deps",), ("info", "--since", "HEAD")):
        done = _invoke(repo, *task)
        assert done.returncode == 2, task
        assert done.stderr == (
            "error: dependency cycle: libs/core → web/app → libs/core; remove one of these "
            "dependencies (pyproject.toml dependencies or depends_on in repo_config.yaml)\n"
        )
