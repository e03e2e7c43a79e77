"""--shard and --merge-reports over report files: no engine, real files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

import pytest

from helpers.cli.main_pytest import main
from helpers.errors import UserError
from helpers.model import junit
from helpers.ops.testing import merge, parallel, report, shards

DIRS = [".", "a", "a/b", "c", "d", "e", "f"]


def test_parse_shard() -> None:
    assert shards.parse("2/4") == shards.Shard(2, 4)
    assert shards.parse(" 1 / 1 ") == shards.Shard(1, 1)
    for bad in ("5/4", "0/4", "1/0", "x/4", "1-4", ""):
        with pytest.raises(UserError, match="--shard"):
            shards.parse(bad)


def test_every_dir_in_exactly_one_shard_by_count() -> None:
    parts = shards.assign(DIRS, 3)
    flat = [d for p in parts for d in p]
    assert sorted(flat) == sorted(DIRS) and len(flat) == len(DIRS)
    assert sorted(len(p) for p in parts) == [2, 2, 3]
    # Deterministic, and each shard keeps the input order.
    assert parts == shards.assign(DIRS, 3)
    for p in parts:
        assert list(p) == [d for d in DIRS if d in p]


def test_more_shards_than_dirs_leaves_some_empty() -> None:
    parts = shards.assign(["a", "b"], 4)
    assert [len(p) for p in parts] == [1, 1, 0, 0]


def test_durations_balance_the_load() -> None:
    durations = {"a": 100.0, "b": 10.0, "c": 10.0, "d": 10.0, "e": 10.0}
    parts = shards.assign(["a", "b", "c", "d", "e"], 2, durations)
    assert parts[0] == ("a",)  # the slow dir alone; the four quick ones together
    assert parts[1] == ("b", "c", "d", "e")
    # A new dir weighs the mean of the known ones.
    with_new = shards.assign(["a", "b", "new"], 2, {"a": 5.0, "b": 1.0})
    assert ("a",) in with_new


def _result(rel: str, passed: int = 1, failed: int = 0, seconds: float = 1.0) -> parallel.DirResult:
    code = 1 if failed else 0
    counts = junit.Counts(passed=passed, failed=failed)
    return parallel.DirResult(rel, f"img-{rel}", code, counts, seconds, "")


def _junit(rels: list[str], failed: tuple[str, ...] = ()) -> str:
    suites = "".join(
        f'<testsuite name="{r}" tests="1" time="0.5"><testcase classname="{r}.t" name="test_x">'
        + ("<failure/>" if r in failed else "")
        + "</testcase></testsuite>"
        for r in rels
    )
    return f"<testsuites>{suites}</testsuites>"


def _write_shard(
    base: Path,
    index: Optional[int],
    total: int,
    rels: list[str],
    failed: tuple[str, ...] = (),
    not_run: tuple[tuple[str, str], ...] = (),
) -> Path:
    d = base / f"shard-{index}"
    d.mkdir(parents=True)
    results = [_result(r, 0 if r in failed else 1, 1 if r in failed else 0) for r in rels]
    code = 1 if failed else 0
    extra = {"shard": shards.Shard(index, total).as_json(rels)} if index else None
    (d / "report.json").write_text(report.to_json(f"run{index}", code, results, not_run, extra))
    (d / "junit.xml").write_text(_junit(rels, failed))
    return d


def _shards(tmp_path: Path, failed: tuple[str, ...] = ()) -> list[Path]:
    parts = shards.assign(DIRS, 3)
    return [_write_shard(tmp_path, i + 1, 3, list(p), failed) for i, p in enumerate(parts)]


def test_merge_totals_junit_json_and_exit_code(tmp_path: Path) -> None:
    dirs = _shards(tmp_path / "in", failed=("c",))
    m = merge.merge(dirs)
    assert [r.rel_dir for r in m.results] == DIRS
    assert report.totals(m.results).passed == 6 and report.totals(m.results).failed == 1
    assert m.exit_code == 1 and m.missing == ()
    xml = ET.fromstring(m.junit_xml)
    assert xml.get("tests") == "7" and xml.get("failures") == "1"
    assert sorted(s.get("name") or "" for s in xml.iter("testsuite")) == sorted(DIRS)
    data = json.loads(m.to_json())
    assert data["format"] == shards.REPORT_FORMAT and len(data["merged_from"]) == 3
    # The merged report balances the next run.
    (tmp_path / "merged.json").write_text(m.to_json())
    assert set(shards.load_durations(tmp_path / "merged.json")) == set(DIRS)


def test_merge_all_green_is_zero(tmp_path: Path) -> None:
    assert merge.merge(_shards(tmp_path)).exit_code == 0


def test_missing_shard_is_exit_2_naming_it(tmp_path: Path, capsys: Any) -> None:
    dirs = _shards(tmp_path / "in")
    code = main(["--merge-reports", str(dirs[0]), str(dirs[2])], cwd=tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "shard 2/3" in err


def test_missing_matrix_dir_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    one = _write_shard(tmp_path / "in", None, 1, ["a"])
    matrix = json.dumps({"include": [{"dir": "a"}, {"dir": "b"}]})
    assert main(["--merge-reports", str(one), "--expect-matrix", matrix], cwd=tmp_path) == 2
    assert "dir b" in capsys.readouterr().err


def test_artifact_layout_one_level_down(tmp_path: Path) -> None:
    _shards(tmp_path / "artifacts")
    assert len(merge.merge([tmp_path / "artifacts"]).results) == len(DIRS)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_bad_reports_one_line_exit_2_nothing_written(tmp_path: Path, capsys: Any) -> None:
    good = _shards(tmp_path / "in")
    out = tmp_path / "out.json"
    cases: dict[str, str] = {
        "malformed": "{not json",
        "foreign": json.dumps({"dirs": [], "exit_code": 0}),
        "broken": json.dumps({"format": shards.REPORT_FORMAT, "dirs": [{"dir": 1}]}),
    }
    for name, text in cases.items():
        bad = tmp_path / name
        bad.mkdir()
        (bad / "report.json").write_text(text)
        code = main(["--merge-reports", str(good[0]), str(bad), "--json", str(out)], cwd=tmp_path)
        assert code == 2
        assert str(bad) in _one_line(capsys)
        assert not out.exists()


def test_duplicate_dir_or_shard_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    a = _write_shard(tmp_path / "x", 1, 2, ["a", "b"])
    b = _write_shard(tmp_path / "y", 2, 2, ["b", "c"])
    assert main(["--merge-reports", str(a), str(b)], cwd=tmp_path) == 2
    assert "dir b is in two reports" in _one_line(capsys)
    assert main(["--merge-reports", str(a), str(a)], cwd=tmp_path) == 2
    assert "shard 1/2 twice" in _one_line(capsys)
    c = _write_shard(tmp_path / "z", 3, 3, ["d"])
    assert main(["--merge-reports", str(a), str(c)], cwd=tmp_path) == 2
    assert "different splits" in _one_line(capsys)


def test_no_report_in_dir(tmp_path: Path, capsys: Any) -> None:
    assert main(["--merge-reports", str(tmp_path)], cwd=tmp_path) == 2
    assert "no report.json" in _one_line(capsys)


def test_github_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    dirs = _shards(tmp_path / "in", failed=("d",))
    assert main(["--merge-reports", *map(str, dirs)], cwd=tmp_path) == 1
    text = summary.read_text()
    assert "| dir | image |" in text and "`d` ❌" in text and "6 passed, 1 failed" in text


def test_bad_shard_flag_is_one_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["--shard", "5/4"], cwd=tmp_path) == 2
    assert "--shard 5/4" in _one_line(capsys)
    assert main(["--durations", str(tmp_path / "x.json")], cwd=tmp_path) == 2
    assert "--durations needs --shard" in _one_line(capsys)
    (tmp_path / "foreign.json").write_text("[1, 2]")
    assert main(["--shard", "1/2", "--durations", str(tmp_path / "foreign.json")]) == 2
    assert "not a main_pytest JSON report" in _one_line(capsys)


def test_narrow_and_exact_keep_the_selection_shape() -> None:
    from helpers.ops.testing.selection import Selection

    sel = Selection(Path("/r"), tuple(DIRS), unaffected=(("z", "not affected since x"),))
    first = shards.narrow(sel, shards.Shard(1, 3))
    second = shards.narrow(sel, shards.Shard(2, 3))
    assert first.unaffected == sel.unaffected and second.unaffected == ()  # listed once
    assert set(first.dirs).isdisjoint(second.dirs)
    assert shards.exact(sel, "a").dirs == ("a",)
    with pytest.raises(UserError, match="--exact: nope is not a runnable dir"):
        shards.exact(sel, "nope")


def test_packages_whose_tests_no_run_covers_are_found() -> None:
    from helpers.ops.testing import selection

    files = [
        "libs/core/pyproject.toml",
        "libs/core/src/core/__init__.py",
        "libs/core/tests/test_core.py",
        "libs/util/pyproject.toml",  # no tests: nothing to say
        "libs/util/src/util/__init__.py",
        "services/api/pyproject.toml",  # runnable: its run covers its tests
        "services/api/tests/test_api.py",
        "services/api/libs/inner/pyproject.toml",  # inside a runnable dir: covered
        "services/api/libs/inner/test_inner.py",
        "vendor/x/pyproject.toml",  # ignored dir
        "vendor/x/tests/test_x.py",
    ]
    runnable = ["services/api"]
    assert selection.untested_packages(files, runnable, ".", ["vendor"]) == ("libs/core",)
    assert selection.untested_packages(files, runnable, "services", ["vendor"]) == ()
    assert selection.untested_packages(files, [], "libs", ()) == ("libs/core",)


def test_report_flags_create_their_parent_dirs(tmp_path: Path) -> None:
    m = merge.merge(_shards(tmp_path / "in"))
    junit_path, json_path = tmp_path / "out/a/junit.xml", tmp_path / "out/b/report.json"
    merge.write_outputs(m, tmp_path, junit_path, json_path)
    assert ET.fromstring(junit_path.read_text()).get("tests") == str(len(DIRS))
    assert json.loads(json_path.read_text())["format"] == shards.REPORT_FORMAT
