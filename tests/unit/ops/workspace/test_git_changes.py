"""Change detection on real git repos in tmp_path: what changed, since when, and what it reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.effects import git
from helpers.errors import UserError
from helpers.model import units
from helpers.ops.workspace import bookmarks, changes
from tests.conftest import git as run_git
from tests.conftest import make_runnable, write


def commit(root: Path, message: str = "c") -> str:
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", message)
    return run_git(root, "rev-parse", "HEAD").strip()


def package(root: Path, rel: str, name: str, deps: tuple[str, ...] = ()) -> None:
    listed = ", ".join(f'"{d}"' for d in deps)
    write(root / rel / "pyproject.toml", f'[project]\nname = "{name}"\ndependencies = [{listed}]\n')
    write(root / rel / "src.py", "x = 1\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A client repo: a root runnable dir, infra (runnable) holding pkg, and libs a <- b <- c."""
    root = tmp_path / "client"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, ".")
    make_runnable(root, "infra")
    write(root / "tasks.py", "from helpers.tasks import ns\n")
    write(root / "README.md", "hi\n")
    package(root, "libs/a", "lib-a")
    package(root, "libs/b", "Lib_B", ("lib-a>=1",))
    package(root, "libs/c", "lib.c", ("lib-b",))
    package(root, "infra/pkg", "infra-pkg", ("lib-c; python_version>'3'",))
    commit(root, "init")
    return root


def _released(root: Path, rel_dir: str, version: str) -> bool:
    return True  # as if every dir's version were in its registry


def changed_since(
    root: Path, since: str, released: changes.Released = _released
) -> changes.ChangeSet:
    ws = units.load(root)
    base = bookmarks.base(root, since, bookmarks.WHOLE_REPO)
    return changes.compute(ws, base, released=released)


def test_nothing_changed(repo: Path) -> None:
    cs = changed_since(repo, "HEAD")
    assert (cs.files, cs.changed, cs.affected, cs.rebuild, cs.bump) == ((), (), (), (), ())


def test_transitive_chain_reaches_dependents_only(repo: Path) -> None:
    write(repo / "libs/a/src.py", "x = 2\n")
    cs = changed_since(repo, "HEAD")
    assert cs.changed == ("libs/a",)
    assert cs.affected == (".", "infra", "infra/pkg", "libs/a", "libs/b", "libs/c")
    assert cs.rebuild == (".", "infra")

    run_git(repo, "checkout", "-q", "--", ".")
    write(repo / "libs/b/src.py", "x = 2\n")
    cs = changed_since(repo, "HEAD")
    assert cs.affected == (".", "infra", "infra/pkg", "libs/b", "libs/c")
    assert "libs/a" not in cs.affected


def test_untracked_staged_unstaged_and_ignored(repo: Path) -> None:
    write(repo / ".gitignore", "*.log\n")
    base = commit(repo, "ignore logs")
    write(repo / "libs/a/new.py")  # untracked
    write(repo / "libs/b/src.py", "staged\n")
    run_git(repo, "add", "libs/b/src.py")
    write(repo / "libs/c/src.py", "unstaged\n")
    write(repo / "libs/c/debug.log", "ignored\n")
    files = git.changed_since(repo, base)
    assert files == ["libs/a/new.py", "libs/b/src.py", "libs/c/src.py"]


def test_rename_counts_both_sides_and_deletion(repo: Path) -> None:
    base = run_git(repo, "rev-parse", "HEAD").strip()
    write(repo / "libs/a/big.py", "".join(f"line {i}\n" for i in range(50)))
    commit(repo, "big")
    run_git(repo, "mv", "libs/a/big.py", "infra/big.py")
    run_git(repo, "rm", "-q", "libs/c/src.py")
    commit(repo, "move and delete")
    assert git.diff_paths(repo, base) == ["infra/big.py", "libs/c/src.py"]  # net since base
    parent = run_git(repo, "rev-parse", "HEAD~1").strip()
    assert git.diff_paths(repo, parent) == ["libs/a/big.py", "infra/big.py", "libs/c/src.py"]
    cs = changed_since(repo, "HEAD~1")
    assert cs.changed == ("infra", "libs/a", "libs/c")


def test_parse_name_status_keeps_both_rename_sides() -> None:
    out = "R087\0old name\0new\nname\0D\0gone\0M\0kept\0"
    assert git.parse_name_status(out) == ["old name", "new\nname", "gone", "kept"]


def test_spaces_and_newlines_in_paths(repo: Path) -> None:
    package(repo, "odd dir/with space", "odd")
    base = commit(repo, "odd")
    write(repo / "odd dir/with space/new\nline.py", "x\n")
    run_git(repo, "add", "-A")
    write(repo / "odd dir/with space/un tracked.py", "y\n")
    assert git.changed_since(repo, base) == [
        "odd dir/with space/new\nline.py",
        "odd dir/with space/un tracked.py",
    ]
    cs = changed_since(repo, base)
    assert cs.changed == ("odd dir/with space",)
    assert cs.rebuild == (".",)  # held by the root runnable dir


def test_merge_base_not_two_dot(repo: Path) -> None:
    run_git(repo, "checkout", "-qb", "feature")
    write(repo / "libs/c/src.py", "feature\n")
    commit(repo, "feature work")
    run_git(repo, "checkout", "-q", "main")
    write(repo / "libs/a/src.py", "main moved on\n")
    commit(repo, "main work after the branch point")
    run_git(repo, "checkout", "-q", "feature")
    cs = changed_since(repo, "main")
    assert cs.files == ("libs/c/src.py",)  # two-dot would also list libs/a/src.py
    assert cs.changed == ("libs/c",)
    assert "libs/a" not in cs.affected


def test_unknown_ref_is_named(repo: Path) -> None:
    with pytest.raises(UserError) as err:
        changed_since(repo, "no-such-branch")
    assert str(err.value) == (
        f"--since no-such-branch: no such commit, branch or tag in {repo}; "
        "check the spelling or `git fetch` it"
    )


def test_shallow_clone_is_reported_not_read_as_everything(repo: Path, tmp_path: Path) -> None:
    first = run_git(repo, "rev-parse", "HEAD").strip()
    run_git(repo, "checkout", "-qb", "feature")
    write(repo / "libs/c/src.py", "feature\n")
    commit(repo, "feature")
    run_git(repo, "checkout", "-q", "main")
    write(repo / "libs/a/src.py", "main\n")
    commit(repo, "main")
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", "--depth", "1", "-b", "feature", f"file://{repo}", str(clone))
    assert git.is_shallow(clone)
    with pytest.raises(UserError, match=r"--since .*shallow clone; run `git fetch --unshallow`"):
        changed_since(clone, first)
    run_git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    with pytest.raises(UserError) as err:
        changed_since(clone, "origin/main")
    assert str(err.value) == (
        "--since origin/main: this clone is shallow and its history does not reach the merge "
        "base of origin/main and HEAD; run `git fetch --unshallow` (in CI: fetch-depth: 0 on "
        "actions/checkout)"
    )


def test_global_inputs_default_and_configured(repo: Path) -> None:
    write(repo / "tasks.py", "# changed\n")
    cs = changed_since(repo, "HEAD")
    assert cs.global_files == ("tasks.py",)
    assert cs.affected == tuple(units.load(repo).units)
    write(repo / "repo_config.yaml", "global_inputs: ['ci/*.yml']\n")
    commit(repo, "configure")
    write(repo / "tasks.py", "# changed again\n")
    write(repo / "README.md", "root runnable dir's own file\n")
    cs = changed_since(repo, "HEAD")
    assert (cs.global_files, cs.changed) == ((), (".",))  # tasks.py no longer global
    write(repo / "ci/build.yml", "on: push\n")
    assert changed_since(repo, "HEAD").global_files == ("ci/build.yml",)


def test_files_outside_units_affect_nothing_by_default(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, "svc")
    write(root / "docs/guide.md", "x\n")
    write(root / "tutorial_x/notebook.ipynb", "{}\n")  # a dir not runnable yet
    write(root / "README.md", "x\n")
    commit(root)
    for path in ("docs/guide.md", "tutorial_x/notebook.ipynb", "README.md"):
        write(root / path, "changed\n")
    cs = changed_since(root, "HEAD")
    assert (cs.global_files, cs.affected, cs.rebuild) == ((), (), ())
    assert cs.ignored == ("README.md", "docs/guide.md", "tutorial_x/notebook.ipynb")
    text = changes.render_text(cs)
    assert "ignored (outside every unit, not a global input; `global_inputs` in the root" in text
    for path in ("conftest.py", ".github/workflows/helpers.yml", "invoke.yaml"):
        write(root / path, "changed\n")
        cs = changed_since(root, "HEAD")
        assert path in cs.global_files and cs.affected == ("svc",)
    text = changes.render_text(cs)
    assert "global inputs changed, so everything is affected: .github/workflows/helpers.yml" in text
    assert "(`global_inputs` in the root repo_config.yaml chooses what is global)" in text
    write(root / ".github/dependabot.yml", "x\n")  # not the CI workflow
    assert ".github/dependabot.yml" in changed_since(root, "HEAD").ignored


def test_outside_files_ignored_when_global_inputs_set(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, "svc")
    write(root / "notes.txt", "x\n")
    write(root / "repo_config.yaml", "global_inputs: [Makefile]\n")
    commit(root)
    write(root / "notes.txt", "y\n")
    cs = changed_since(root, "HEAD")
    assert (cs.ignored, cs.global_files, cs.affected) == (("notes.txt",), (), ())
    write(root / "Makefile", "all:\n")
    assert changed_since(root, "HEAD").affected == ("svc",)


def test_depends_on_watches_paths_and_adds_edges(repo: Path) -> None:
    write(repo / "infra/repo_config.yaml", "depends_on: [schemas, libs/a]\n")
    write(repo / "schemas/user.json", "{}\n")
    commit(repo, "deps")
    ws = units.load(repo)
    assert ws.deps["infra"] == ("libs/a",)
    assert ws.watches == (("schemas", "infra"),)
    write(repo / "schemas/user.json", '{"a": 1}\n')
    cs = changed_since(repo, "HEAD")  # schemas/ is the root dir's; infra watches it
    assert (cs.changed, cs.affected) == ((".", "infra"), (".", "infra"))


def test_depends_on_a_missing_path_is_an_error(repo: Path) -> None:
    write(repo / "infra/repo_config.yaml", "depends_on: [libs/nope]\n")
    with pytest.raises(UserError) as err:
        units.load(repo)
    assert str(err.value) == (
        "infra/repo_config.yaml: depends_on 'libs/nope' matches no file in the repo; "
        "fix the path (relative to the repo root)"
    )


def test_cycle_is_an_error_with_its_path(repo: Path) -> None:
    package(repo, "libs/a", "lib-a", ("lib.c",))
    with pytest.raises(UserError) as err:
        units.load(repo)
    assert str(err.value) == (
        "dependency cycle: libs/a → libs/c → libs/b → libs/a; remove one of these dependencies "
        "(pyproject.toml dependencies or depends_on in repo_config.yaml)"
    )


def test_deleted_unit_is_reported_not_global(repo: Path) -> None:
    package(repo, "libs/old", "old")
    commit(repo, "old")
    run_git(repo, "rm", "-rq", "libs/old")
    cs = changed_since(repo, "HEAD")
    assert (cs.deleted, cs.global_files, cs.changed) == (("libs/old",), (), ())


def test_version_bump_detection(repo: Path) -> None:
    write(repo / "infra/app.py", "x\n")
    cs = changed_since(repo, "HEAD")
    assert [(b.dir, b.version) for b in cs.bump] == [("infra", "0.1.0")]
    write(repo / "infra/changelog.txt", "# infra-0.1.0\n- 2026-11-22\n- first, reworded\n")
    assert [b.dir for b in changed_since(repo, "HEAD").bump] == ["infra"]  # notes only
    write(repo / "infra/changelog.txt", "# infra-0.2.0\n- new\n\n# infra-0.1.0\n- first\n")
    assert changed_since(repo, "HEAD").bump == ()
    make_runnable(repo, "svc")
    cs = changed_since(repo, "HEAD")
    assert "svc" in cs.rebuild and all(b.dir != "svc" for b in cs.bump)  # new: no bump


def test_a_dir_never_released_needs_no_bump(repo: Path) -> None:
    write(repo / "infra/app.py", "x\n")
    asked: list[tuple[str, str]] = []

    def never(root: Path, rel_dir: str, version: str) -> bool:
        asked.append((rel_dir, version))
        return False

    assert changed_since(repo, "HEAD", released=never).bump == ()
    assert asked == [("infra", "0.1.0")]
    # The default: no registry configured, so nowhere it could have been released.
    assert changes.published(repo, "infra", "0.1.0") is False
    assert changed_since(repo, "HEAD", released=changes.published).bump == ()


def test_package_change_needs_bump_of_the_dir_holding_it(repo: Path) -> None:
    write(repo / "infra/pkg/src.py", "x = 3\n")
    cs = changed_since(repo, "HEAD")
    assert cs.changed == ("infra/pkg",)
    assert [b.dir for b in cs.bump] == ["infra"]


def test_render_formats(repo: Path) -> None:
    write(repo / "infra/pkg/src.py", "x = 3\n")
    cs = changed_since(repo, "HEAD")
    assert changes.render(cs, "github-matrix") == '{"include": [{"dir": "infra"}]}'
    text = changes.render(cs, "text")
    assert "changed units (1):\n  infra/pkg\n" in text
    assert 'infra 0.1.0: run `invoke bump_version --dir infra --part patch -m "..."`' in text
    with pytest.raises(UserError, match="--format 'yaml' is not one of text, json"):
        changes.render(cs, "yaml")


def test_watched_outside_file_is_its_watchers_not_global(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    run_git(root, "init", "-q")
    make_runnable(root, "svc")
    make_runnable(root, "web")
    write(root / "svc/repo_config.yaml", "depends_on: [shared/schema.json]\n")
    write(root / "shared/schema.json", "{}\n")
    commit(root)
    write(root / "shared/schema.json", '{"v": 2}\n')
    cs = changed_since(root, "HEAD")
    assert (cs.global_files, cs.changed, cs.rebuild) == ((), ("svc",), ("svc",))
    write(root / "shared/other.json", "{}\n")  # nobody watches it: it affects nothing
    cs = changed_since(root, "HEAD")
    assert (cs.global_files, cs.ignored) == ((), ("shared/other.json",))


def test_bytecode_never_counts_as_a_change(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    run_git(tmp_path, "add", "-A")
    run_git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "tests" / "__pycache__").mkdir(parents=True)
    (tmp_path / "tests" / "__pycache__" / "t.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "b.pyc").write_bytes(b"x")
    (tmp_path / "new.py").write_text("y = 2\n")
    assert git.changed_since(tmp_path, "HEAD") == ["new.py"]


def test_check_libs_and_boundaries_name_their_own_flag_in_ref_errors(repo: Path) -> None:
    from helpers.ops.workspace import loader

    loaded = loader.load(repo)
    with pytest.raises(UserError) as err:
        loader.scope(loaded, "no-such-ref")
    assert err.value.message.startswith("--changed-since no-such-ref: no such commit")
    assert "--since" not in err.value.message.replace("--changed-since", "")
    with pytest.raises(UserError) as err:
        loader.scope(loaded, bookmarks.LAST_SUCCESS)
    assert err.value.message.endswith("pass --changed-since REF (e.g. --changed-since origin/main)")
