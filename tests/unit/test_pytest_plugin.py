"""The shipped pytest plugin, run for real with pytest in temp trees (no engine needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, make_runnable, write

TEST = "def test_here():\n    pass\n"


def collect(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "helpers.pytest_plugin", "--co", "-q", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    return out.stdout


def tree(tmp_path: Path) -> Path:
    make_runnable(tmp_path, ".")
    make_runnable(tmp_path, "infra")
    write(tmp_path / "tests" / "test_root.py", TEST)
    write(tmp_path / "infra" / "tests" / "test_infra.py", TEST)
    write(tmp_path / "vendored" / ".git", "gitdir: ../.git/modules/vendored\n")
    write(tmp_path / "vendored" / "tests" / "test_vendored.py", TEST)
    return tmp_path


def test_parent_skips_nested_runnable_dirs_and_submodules(tmp_path: Path) -> None:
    out = collect(tree(tmp_path))
    assert "tests/test_root.py::test_here" in out
    assert "infra" not in out and "vendored" not in out


def test_nested_dir_asked_for_explicitly_or_run_from_inside(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert "infra/tests/test_infra.py::test_here" in collect(root, "infra/tests")
    assert "tests/test_infra.py::test_here" in collect(root / "infra")


def test_failures_are_recorded_for_reruns(tmp_path: Path) -> None:
    write(tmp_path / "test_f.py", "def test_ok():\n    pass\n\ndef test_bad():\n    assert 0\n")
    reports = tmp_path / "reports"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "helpers.pytest_plugin", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "HELPERS_REPORT_DIR": str(reports)},
    )
    assert (reports / "failed.txt").read_text() == "test_f.py::test_bad\n"
