"""The watch's choices, engine-free: which files it watches, which test files run first, what
counts as an image input; and the debounced batches from real file events."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.model import config, project
from helpers.ops.testing import single, watch
from tests.conftest import git, make_runnable, write


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra")
    write(tmp_path / "src/shop/cart.py", "def total():\n    return 0\n")
    write(tmp_path / "src/shop/__init__.py")
    write(tmp_path / "tests/test_cart.py", "from shop.cart import total\n\ndef test_t(): pass\n")
    write(tmp_path / "tests/test_misc.py", "import os\n\ndef test_m(): pass\n")
    write(tmp_path / "tests/unit/db_test.py", "from shop import cart\n\ndef test_d(): pass\n")
    write(tmp_path / "infra/tests/test_infra.py", "from shop.cart import total\n")
    (tmp_path / "vendor/helpers").mkdir(parents=True)
    write(tmp_path / "vendor/helpers/tests/test_helpers.py")  # not the dir's own tests
    git(tmp_path / "vendor/helpers", "init", "-q")  # as a submodule's checkout is
    git(tmp_path, "init", "-q")
    return tmp_path


def _target(root: Path, rel: str = ".") -> project.Target:
    return project.Target(root, rel, config.load(root, rel))


def test_test_files_leave_out_nested_runnable_dirs(repo: Path) -> None:
    files = watch.test_files(_target(repo))
    assert files == ["tests/test_cart.py", "tests/test_misc.py", "tests/unit/db_test.py"]


def test_affected_first_edited_test_and_importers(repo: Path) -> None:
    t = _target(repo)
    tests = watch.test_files(t)
    edited_test = watch.affected_first(t, [repo / "tests/test_misc.py"], tests)
    assert edited_test == ["tests/test_misc.py"]
    module = watch.affected_first(t, [repo / "src/shop/cart.py"], tests)
    assert module == ["tests/test_cart.py", "tests/unit/db_test.py"]
    package = watch.affected_first(t, [repo / "src/shop/__init__.py"], tests)
    assert package == ["tests/test_cart.py", "tests/unit/db_test.py"]  # `shop` named by both
    assert watch.affected_first(t, [repo / "README.md", repo / "conftest.py"], tests) == []


def test_submodules_are_not_the_dirs_files(repo: Path) -> None:
    roots = [repo]
    assert watch._in_submodule(repo / "vendor/helpers/helpers/x.py", roots)
    assert not watch._in_submodule(repo / "src/shop/cart.py", roots)


def test_roots_and_image_inputs(repo: Path) -> None:
    t = _target(repo)
    roots, fenced = watch._roots(t)
    assert roots[0] == repo and fenced == (repo / "infra",)
    inputs = watch._image_inputs(t)
    assert (repo / "devops/Dockerfile").resolve() in inputs
    assert (repo / "repo_config.yaml").resolve() in inputs
    assert (repo / "src/shop/cart.py").resolve() not in inputs  # code comes through the mount


def test_rerun_runs_affected_first_then_the_rest(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    def one_run(session: watch.Session, req: single.RunRequest, opts: str) -> int:
        ran.append(opts)
        return 0

    monkeypatch.setattr(watch, "_one_run", one_run)
    session = watch.Session(_target(repo), single.Where(None), frozenset(), (repo,), ())
    req = single.RunRequest(pytest_opts="-x")
    watch.rerun(session, req, [repo / "src/shop/cart.py"])
    assert ran == [
        "-x tests/test_cart.py tests/unit/db_test.py",
        "-x --deselect tests/test_cart.py --deselect tests/unit/db_test.py",
    ]
    ran.clear()
    watch.rerun(session, req, [repo / "README.md"])  # nothing in particular: everything once
    assert ran == ["-x"]


def test_batches_come_debounced_from_real_file_events(repo: Path) -> None:
    fenced = (repo / "infra",)
    session = watch.Session(_target(repo), single.Where(None), frozenset(), (repo,), fenced)
    batches = watch._batches([session])
    assert next(batches) == []  # the watches are in place: what happens now is seen
    write(repo / "infra/tests/test_infra.py", "# another unit's file: fenced off\n")
    write(repo / ".helpers/reports/x.xml", "<x/>")  # run state: ignored
    write(repo / "vendor/helpers/helpers/y.py", "")  # a submodule: ignored
    write(repo / "src/shop/cart.py", "def total():\n    return 1\n")
    write(repo / "tests/test_cart.py", "# edited\n")
    batch = next(b for b in batches if b)
    assert batch == sorted(
        {(repo / "src/shop/cart.py").resolve(), (repo / "tests/test_cart.py").resolve()}
    )
    batches.close()
