"""Flaky and quarantined tests, inside the pytest run (registered by helpers.pytest_plugin).

- `$HELPERS_RERUNS=N`: a failing test is run again, up to N more times, in the same
  session (its function-scoped fixtures set up afresh; wider ones kept, as pytest
  keeps them between tests). A failed attempt is reported as `rerun` (`R`); only the
  last attempt counts. A test that failed and then passed is *flaky*.
- `$HELPERS_QUARANTINE` (node ids, one per line; a file or class id covers its tests):
  those tests run, but a failure is reported as xfail ("quarantined"), so it never
  fails the run; `failed.txt` never lists them.
- With `$HELPERS_REPORT_DIR`: `flaky.json` there names the flaky and the quarantined
  tests (and how each quarantined one ended); the JUnit file (`--junitxml`) gets the
  Maven Surefire elements CI dashboards read: `<flakyFailure>`/`<flakyError>` on a
  test that passed on a rerun, `<rerunFailure>`/`<rerunError>` for the earlier
  attempts of one that never passed.

Needs only pytest (7 or newer): it runs in any image, beside the dir's own plugins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import pytest

RERUNS_ENV = "HELPERS_RERUNS"
QUARANTINE_ENV = "HELPERS_QUARANTINE"
FLAKY_FILE = "flaky.json"
QUARANTINED = "quarantined"
RERUN = "rerun"  # the outcome of a failed attempt that is run again


def _is_rerun(report: pytest.TestReport) -> bool:
    return str(report.outcome) == RERUN


def reruns_from_env() -> int:
    try:
        return max(0, int(os.environ.get(RERUNS_ENV, "0") or 0))
    except ValueError:
        return 0


def quarantine_from_env() -> tuple[str, ...]:
    text = os.environ.get(QUARANTINE_ENV, "")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def in_quarantine(nodeid: str, quarantine: tuple[str, ...]) -> bool:
    """`tests/t.py::test_a` covers `tests/t.py::test_a[1]`; a file or class id covers its tests."""
    bare = nodeid.split("[", 1)[0]
    return any(q in (nodeid, bare) or nodeid.startswith(q + "::") for q in quarantine)


def _attempt(report: pytest.TestReport) -> dict[str, str]:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "").strip()
    head = message.split(":", 1)[0].strip()
    kind = head if head.replace(".", "").replace("_", "").isalnum() else ""
    return {
        "when": report.when or "call",
        "message": message.splitlines()[0] if message else f"failed in {report.when}",
        "type": kind,
        "text": report.longreprtext,
        "stdout": report.capstdout,
        "stderr": report.capstderr,
    }


class FlakyPlugin:
    def __init__(self, reruns: int, quarantine: tuple[str, ...], report_dir: Optional[Path]):
        self.reruns = reruns
        self.quarantine = quarantine
        self.report_dir = report_dir
        self.failed_attempts: dict[str, list[dict[str, str]]] = {}
        self.final: dict[str, str] = {}  # nodeid -> passed / failed / skipped / quarantined

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if in_quarantine(item.nodeid, self.quarantine):
                item.add_marker(pytest.mark.xfail(reason=QUARANTINED, strict=False))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Any:
        if self.reruns <= 0:
            return None
        from _pytest.runner import runtestprotocol

        for attempt in range(self.reruns + 1):
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            failed = next((r for r in reports if r.failed), None)
            last = attempt == self.reruns
            if failed is None or last:
                for report in reports:
                    item.ihook.pytest_runtest_logreport(report=report)
            else:
                self.failed_attempts.setdefault(item.nodeid, []).append(_attempt(failed))
                failed.outcome = RERUN  # type: ignore[assignment]
                if failed.when != "teardown":  # JUnit would close the test case there
                    item.ihook.pytest_runtest_logreport(report=failed)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            if failed is None or last:
                break
        return True

    def pytest_report_teststatus(self, report: pytest.TestReport) -> Any:
        if _is_rerun(report):
            return RERUN, "R", ("RERUN", {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if _is_rerun(report):
            return
        if getattr(report, "wasxfail", None) == QUARANTINED:
            outcome = "failed" if report.skipped else "passed"
            self.final[report.nodeid] = f"{QUARANTINED}:{outcome}"
        elif report.failed or report.when == "call" or report.nodeid not in self.final:
            self.final[report.nodeid] = report.outcome

    def flaky(self) -> list[str]:
        return [n for n in self.failed_attempts if self.final.get(n) == "passed"]

    def quarantined(self) -> dict[str, str]:
        return {
            n: state.split(":", 1)[1]
            for n, state in self.final.items()
            if state.startswith(QUARANTINED + ":")
        }

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for nodeid in self.flaky():
            tries = len(self.failed_attempts[nodeid]) + 1
            terminalreporter.write_line(f"FLAKY {nodeid} (passed on attempt {tries})")
        for nodeid, outcome in self.quarantined().items():
            terminalreporter.write_line(f"QUARANTINED {nodeid} ({outcome})")

    @pytest.hookimpl(trylast=True)  # after the junitxml plugin has written its file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        xmlpath = getattr(session.config.option, "xmlpath", None)
        if xmlpath and self.failed_attempts and os.path.isfile(xmlpath):
            from helpers.model import junit

            text = Path(xmlpath).read_text(encoding="utf-8")
            passed = set(self.flaky())
            entries = {n: (n in passed, a) for n, a in self.failed_attempts.items()}
            Path(xmlpath).write_text(junit.add_reruns(text, entries), encoding="utf-8")
        if self.report_dir is not None:
            data = {"flaky": self.flaky(), "quarantined": self.quarantined()}
            self.report_dir.mkdir(parents=True, exist_ok=True)
            (self.report_dir / FLAKY_FILE).write_text(json.dumps(data, indent=2) + "\n")
