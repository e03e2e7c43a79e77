"""helpers' own reruns and quarantine (helpers.pytest_flaky), run by pytest in-process.

The seeded flaky suite: 3 tests that each fail 30 % of their attempts, 50 runs with
`HELPERS_RERUNS=2`. Each attempt's fate is drawn from a seeded RNG, so the suite is the
same every time and the tests check the exact rule: a test is red only if it failed all
three attempts, flaky (named, green) if it failed and then passed.

An honest note on the numbers: with independent 30 % failures a test fails all three
attempts 2.7 % of the time, so 50 runs of 3 such tests hold about 4 red runs; no number of
reruns makes that go away. SEED is one of the seeds (about 1 in 60) whose 50 runs have
none, which is what "no red run caused by them" can mean; another seed shows the red ones.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ("pytester",)

SEED = 318
RUNS = 50
FLAKY = ("test_a", "test_b", "test_c")
RERUNS = 2
# One pytest session holds the 50 runs: each test is parametrized by its run, so a run's
# three tests are `test_a[7]`, `test_b[7]`, `test_c[7]` (what one session does per test is
# what 50 sessions would do; one session keeps the unit suite fast).
SUITE = """import os
import random
from pathlib import Path
from typing import Any

import pytest

SEED = {seed}
RUNS = range({runs})


def _fails(name, run):
    counter = Path(os.environ["COUNTERS"]) / f"{{name}}-{{run}}"
    attempt = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(attempt + 1))
    return random.Random(f"{{SEED}}-{{run}}-{{name}}-{{attempt}}").random() < 0.3


@pytest.mark.parametrize("run", RUNS)
def test_a(run):
    assert not _fails("test_a", run), "flaky a"


@pytest.mark.parametrize("run", RUNS)
def test_b(run):
    assert not _fails("test_b", run), "flaky b"


@pytest.mark.parametrize("run", RUNS)
def test_c(run):
    assert not _fails("test_c", run), "flaky c"


def test_steady():
    pass
"""
REAL_FAILURE = "\n\ndef test_real():\n    assert 1 == 2, 'a real failure'\n"


def fails(seed: int, run: int, name: str, attempt: int) -> bool:
    return random.Random(f"{seed}-{run}-{name}-{attempt}").random() < 0.3


def predicted(seed: int, runs: int = RUNS) -> tuple[list[str], list[str]]:
    """(flaky, failed) node ids the seeded draws make, with RERUNS retries."""
    flaky, failed = [], []
    for name in FLAKY:
        for run in range(runs):
            fates = [fails(seed, run, name, a) for a in range(RERUNS + 1)]
            if all(fates):
                failed.append(f"test_suite.py::{name}[{run}]")
            elif fates[0]:
                flaky.append(f"test_suite.py::{name}[{run}]")
    return flaky, failed


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[int, dict[str, Any], Path]:
    counters = pytester.path / "counters"
    counters.mkdir()
    reports = pytester.path / "reports"
    monkeypatch.setenv("COUNTERS", str(counters))
    monkeypatch.setenv("HELPERS_REPORT_DIR", str(reports))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    junit = reports / "junit.xml"
    outcome = pytester.runpytest_inprocess(
        "-p", "helpers.pytest_plugin", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"
    )
    data = json.loads((reports / "flaky.json").read_text())
    return int(outcome.ret), data, reports


def test_the_seeded_flaky_suite_is_never_red_because_of_its_flaky_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE.format(seed=SEED, runs=RUNS))
    code, data, reports = _run(pytester, monkeypatch, HELPERS_RERUNS=str(RERUNS))
    flaky, failed = predicted(SEED)
    assert failed == [] and len(flaky) > 30  # no test fails 3 times in a row; many fail once
    assert code == 0  # so no run is red, though many runs had a failing attempt
    assert sorted(data["flaky"]) == sorted(flaky)  # and each flaky test is named
    assert (reports / "failed.txt").read_text() == ""


def test_a_test_failing_every_attempt_is_red_and_named(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another seed, where some draws fail all three attempts: exactly those fail."""
    seed = next(s for s in range(1000) if predicted(s, 10)[1])
    pytester.makepyfile(test_suite=SUITE.format(seed=seed, runs=10))
    code, data, reports = _run(pytester, monkeypatch, HELPERS_RERUNS=str(RERUNS))
    flaky, failed = predicted(seed, 10)
    assert code == 1
    assert sorted((reports / "failed.txt").read_text().split()) == sorted(failed)
    assert sorted(data["flaky"]) == sorted(flaky)


def test_a_real_failure_among_flaky_ones_is_still_red(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE.format(seed=SEED, runs=10) + REAL_FAILURE)
    code, data, reports = _run(pytester, monkeypatch, HELPERS_RERUNS=str(RERUNS))
    assert code == 1
    assert (reports / "failed.txt").read_text().split() == ["test_suite.py::test_real"]
    one = next(n for n in predicted(SEED, 10)[0] if "test_a" in n).split("::")[1]
    assert f"test_suite.py::{one}" in data["flaky"]
    cases = {c.get("name"): c for c in ET.parse(reports / "junit.xml").iter("testcase")}
    assert [c.tag for c in cases[one]].count("flakyFailure") >= 1  # Surefire's form
    assert "failure" not in [c.tag for c in cases[one]]
    real = [c.tag for c in cases["test_real"]]
    assert real.count("failure") == 1 and real.count("rerunFailure") == RERUNS
    flaky_failure = cases[one].find("flakyFailure")
    assert flaky_failure is not None
    assert flaky_failure.get("message") == "AssertionError: flaky a"
    assert flaky_failure.get("type") == "AssertionError"
    trace = flaky_failure.find("stackTrace")
    assert trace is not None and "flaky a" in (trace.text or "")


def test_without_reruns_a_flaky_failure_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE.format(seed=SEED, runs=10))
    monkeypatch.delenv("HELPERS_RERUNS", raising=False)
    monkeypatch.setenv("HELPERS_QUARANTINE", "test_suite.py::test_steady")  # the plugin is on
    code, data, reports = _run(pytester, monkeypatch)
    first = sorted(
        f"test_suite.py::{n}[{r}]" for n in FLAKY for r in range(10) if fails(SEED, r, n, 0)
    )
    assert code == 1 and data["flaky"] == []
    assert sorted((reports / "failed.txt").read_text().split()) == first


def test_quarantined_tests_run_but_never_fail_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_q="""
import pytest

def test_broken():
    assert 0, "known broken"

def test_fixed():
    pass

class TestGroup:
    def test_in_class(self):
        assert 0

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1

def test_other():
    pass
"""
    )
    quarantine = "\n".join(
        [
            "test_q.py::test_broken",
            "test_q.py::test_fixed",
            "test_q.py::TestGroup",
            "test_q.py::test_param",
        ]
    )
    code, data, reports = _run(pytester, monkeypatch, HELPERS_QUARANTINE=quarantine)
    assert code == 0
    assert data["quarantined"] == {
        "test_q.py::test_broken": "failed",
        "test_q.py::test_fixed": "passed",
        "test_q.py::TestGroup::test_in_class": "failed",
        "test_q.py::test_param[1]": "passed",
        "test_q.py::test_param[2]": "failed",
    }
    assert (reports / "failed.txt").read_text() == ""  # pytest_failed has nothing to rerun
    cases = {c.get("name"): c for c in ET.parse(reports / "junit.xml").iter("testcase")}
    skipped = cases["test_broken"].find("skipped")
    assert skipped is not None and skipped.get("message") == "quarantined"
