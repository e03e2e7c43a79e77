"""A run with no tests names the flag that lets the caller go on: `--allow-no-tests` for the
run_tests family, `--skip-tests` for a release (which has no --allow-no-tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import events
from helpers.model import config, project
from helpers.ops.testing import record, single, testplan
from tests.conftest import write

_EMPTY = '<testsuites><testsuite name="pytest" tests="0" failures="0" errors="0"/></testsuites>'


def _no_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> project.Target:
    """A dir whose pytest collects nothing (exit 5, an empty JUnit file), no engine."""
    report = tmp_path / "reports" / "r"
    write(report / "junit.xml", _EMPTY)
    run = testplan.DirRun("tutorial_x", "img:1", ("docker", "run"), report)
    monkeypatch.setattr(single, "_run", lambda *a, **k: (run, 5))
    monkeypatch.setattr(record, "record_last", lambda *a, **k: None)
    return project.Target(tmp_path, "tutorial_x", config.load(tmp_path, "tutorial_x"))


def test_a_release_with_no_tests_names_skip_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _no_tests(tmp_path, monkeypatch)
    with events.collected() as seen:
        code = single.run_in_image(target, "img:1", ["fast", "slow"])
    said = "\n".join(e.text for e in seen)
    assert code == 1
    assert "--skip-tests" in said
    assert "--allow-no-tests" not in said


def test_run_tests_with_no_tests_names_allow_no_tests(tmp_path: Path) -> None:
    report = tmp_path / "r"
    write(report / "junit.xml", _EMPTY)
    run = testplan.DirRun("tutorial_x", "img:1", ("docker", "run"), report)
    with events.collected() as seen:
        verdict = single._verdict(run, 5, allow_no_tests=False)
    assert verdict.code == 1
    assert any("--allow-no-tests" in e.text for e in seen)
