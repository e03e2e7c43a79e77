"""`run_tests --no-docker` runs the active virtualenv's python, else the thin env's."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.ops.testing import testplan
from tests.conftest import write


def test_the_active_virtualenv_wins(tmp_path: Path) -> None:
    python = write(tmp_path / "venv" / "bin" / "python", "")
    assert testplan.host_python({"VIRTUAL_ENV": str(tmp_path / "venv")}) == str(python)


def test_no_or_a_broken_virtualenv_is_the_thin_env(tmp_path: Path) -> None:
    assert testplan.host_python({}) == sys.executable
    assert testplan.host_python({"VIRTUAL_ENV": str(tmp_path / "gone")}) == sys.executable
