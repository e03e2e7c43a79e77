"""Flaky and quarantined tests on the host: the run's record, the report, the streaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.ops.testing import merge, parallel, report, reruns, testplan
from tests.conftest import write


def test_the_plugins_record_becomes_the_dirs_result(tmp_path: Path) -> None:
    write(
        tmp_path / "flaky.json",
        json.dumps({"flaky": ["t.py::a"], "quarantined": {"t.py::q": "failed"}}),
    )
    assert reruns.read(tmp_path) == (("t.py::a",), ("t.py::q",))
    assert reruns.outcomes(tmp_path) == {"t.py::q": "failed"}
    assert reruns.read(tmp_path / "none") == ((), ())  # a run without reruns or quarantine


def test_report_table_json_and_merge_name_flaky_and_quarantined() -> None:
    result = parallel.DirResult(
        "infra", "img", 0, None, 1.0, "", flaky=("t.py::a",), quarantined=("t.py::q",)
    )
    table = report.table([result])
    assert table.splitlines()[0].split() == [*report.HEADERS]
    assert table.splitlines()[2].split()[6] == "1"  # the flaky column
    assert "infra: flaky (failed, then passed on a rerun): t.py::a" in table
    assert "infra: quarantined (cannot fail the run): t.py::q" in table
    data = json.loads(report.to_json("r", 0, [result], []))
    assert data["dirs"][0]["flaky"] == ["t.py::a"]
    assert data["dirs"][0]["quarantined"] == ["t.py::q"]
    back = merge._result(data["dirs"][0])
    assert back.flaky == ("t.py::a",) and back.quarantined == ("t.py::q",)


def test_a_quarantined_test_passing_three_runs_in_a_row_can_leave(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    outcomes = ["passed", "failed", "passed", "passed", "passed"]
    said = []
    for outcome in outcomes:
        write(run_dir / "flaky.json", json.dumps({"quarantined": {"t.py::q": outcome}}))
        said.append(reruns.record(tmp_path, {"infra": run_dir}))
    assert said[:4] == [[], [], [], []]  # a failure starts the count again
    assert said[4] == [
        "infra: t.py::q passed 3 runs in a row: it can leave quarantine "
        "(drop it from the dir's `quarantine` in repo_config.yaml)"
    ]


def test_streaks_forget_tests_no_longer_quarantined() -> None:
    before = {"infra": {"t.py::old": 2, "t.py::q": 1}, "web": {"w.py::x": 1}}
    after = reruns.update_streaks(before, {"infra": {"t.py::q": "passed"}})
    assert after == {"infra": {"t.py::q": 2}, "web": {"w.py::x": 1}}


@pytest.mark.parametrize(("given", "count"), [(None, None), ("", None), ("2", 2), (3, 3)])
def test_the_reruns_flag(given: object, count: object) -> None:
    assert reruns.parse_flag(given) == count


@pytest.mark.parametrize("bad", ["x", "-1", "11"])
def test_a_bad_reruns_flag_is_one_line(bad: str) -> None:
    with pytest.raises(UserError, match=rf"--reruns {bad}: give a number of retries from 0 to 10"):
        reruns.parse_flag(bad)


def test_reruns_and_quarantine_reach_the_plugin_through_the_env(tmp_path: Path) -> None:
    from helpers.model import config, project
    from tests.conftest import make_runnable

    make_runnable(tmp_path, ".")
    write(tmp_path / "repo_config.yaml", "reruns: 2\nquarantine: [t/a.py::x, t/b.py::y]\n")
    target = project.Target(tmp_path, ".", config.load(tmp_path, ".", env={}))
    assert testplan.flaky_env(target, None) == {
        "HELPERS_RERUNS": "2",
        "HELPERS_QUARANTINE": "t/a.py::x\nt/b.py::y",
    }
    assert testplan.flaky_env(target, 0) == {"HELPERS_QUARANTINE": "t/a.py::x\nt/b.py::y"}
