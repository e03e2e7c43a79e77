"""pytest plugin shipped to client repos (needs only pytest; importable in any image).

- registers the `slow` and `superslow` markers (unmarked tests are `fast`);
- a runnable dir never collects a nested runnable dir's tests: those run in
  their own container (also for a plain `pytest` at the client root); nor those
  of submodules and nested git repos (helpers itself among them);
- per-test-list time-outs from $HELPERS_TEST_TIMEOUTS ("fast=60,slow=600,...")
  through pytest-timeout when the image has it (said once when it does not);
- records the node ids of failed tests in $HELPERS_REPORT_DIR/failed.txt so
  `invoke pytest_failed` can rerun them;
- reruns failing tests ($HELPERS_RERUNS) and quarantines tests ($HELPERS_QUARANTINE):
  see helpers.pytest_flaky.

Load it with `-p helpers.pytest_plugin` or `pytest_plugins = ["helpers.pytest_plugin"]`
in the client's root conftest.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.model.testlists import LISTS, test_list_of


def _is_runnable(path: Path) -> bool:
    """helpers.model.workspace.is_runnable without yaml (not in every image): a changelog plus
    devops/Dockerfile or a repo_config.yaml naming a `dockerfile` that exists."""
    if not (path / "changelog.txt").is_file():
        return False
    if (path / "devops" / "Dockerfile").is_file():
        return True
    cfg = path / "repo_config.yaml"
    text = cfg.read_text(encoding="utf-8", errors="replace") if cfg.is_file() else ""
    named = re.search(r"^dockerfile:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(#.*)?$", text, re.M)
    return named is not None and (path / named.group(1).strip()).is_file()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs in the slow test list")
    config.addinivalue_line("markers", "superslow: runs in the superslow test list")
    report_dir = os.environ.get("HELPERS_REPORT_DIR")
    if report_dir and not config.pluginmanager.has_plugin("helpers-failures"):
        config.pluginmanager.register(_FailureRecorder(Path(report_dir)), "helpers-failures")
    from helpers import pytest_flaky

    reruns, quarantine = pytest_flaky.reruns_from_env(), pytest_flaky.quarantine_from_env()
    if (reruns or quarantine) and not config.pluginmanager.has_plugin("helpers-flaky"):
        where = Path(report_dir) if report_dir else None
        plugin = pytest_flaky.FlakyPlugin(reruns, quarantine, where)
        config.pluginmanager.register(plugin, "helpers-flaky")


def _own_project(path: Path) -> bool:
    """A nested runnable dir, submodule or git repo: tested on its own, never by a parent."""
    return (path / ".git").exists() or _is_runnable(path)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> Any:
    if not collection_path.is_dir() or not _own_project(collection_path):
        return None
    start = Path(config.invocation_params.dir).resolve()
    here = collection_path.resolve()
    if here == start or here in start.parents:
        return None
    for arg in config.args:
        target = (start / arg.split("::")[0]).resolve()
        if target == here or here in target.parents:
            return None  # asked for explicitly
    return True


def _timeouts() -> dict[str, float]:
    out = {}
    for part in os.environ.get("HELPERS_TEST_TIMEOUTS", "").split(","):
        name, _, value = part.partition("=")
        if name in LISTS and value:
            out[name] = float(value)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    timeouts = _timeouts()
    if not timeouts:
        return
    if not config.pluginmanager.hasplugin("timeout"):
        print("helpers: pytest-timeout is not installed in this image; per-list time-outs are off")
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            seconds = timeouts.get(test_list_of({m.name for m in item.iter_markers()}))
            if seconds:
                item.add_marker(pytest.mark.timeout(seconds))


class _FailureRecorder:
    """Writes the node ids of this run's failures where the runner can find them."""

    def __init__(self, report_dir: Path) -> None:
        self.path = report_dir / "failed.txt"
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self.failed:
            self.failed.append(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid not in self.failed:
            self.failed.append(report.nodeid)

    def pytest_sessionfinish(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(f"{n}\n" for n in self.failed), encoding="utf-8")
